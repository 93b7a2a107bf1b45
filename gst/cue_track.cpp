// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "cue_track.h"

#include <algorithm>

namespace blip2caption {
namespace {

inline bool
known (uint64_t t)
{
  return t != kNoTime;
}

inline uint64_t
saturating_add (uint64_t a, uint64_t b)
{
  return (a == kNoTime || b == kNoTime || a > kNoTime - 1 - b) ? kNoTime : a + b;
}

}  // namespace

std::vector<std::string>
CueTrack::texts (const CueSettings &settings) const
{
  if (settings.raw)
    return {caption_};
  return subtitle_pages (caption_, settings.style);
}

uint64_t
CueTrack::pages_min_time (const std::vector<std::string> &pages, const CueSettings &settings)
{
  uint64_t total = 0;
  for (const auto &p : pages)
    total =
        saturating_add (total, min_display_time (p, settings.min_duration, settings.reading_rate));
  return total;
}

namespace {

std::string
joined (const std::vector<std::string> &pages)
{
  std::string text = pages.empty () ? std::string () : pages[0];
  for (size_t i = 1; i < pages.size (); ++i)
    text += "\n" + pages[i];
  return text;
}

}  // namespace

void
CueTrack::emit_open (uint64_t to, const CueSettings &settings, std::vector<Cue> *out)
{
  std::vector<std::string> pages = texts (settings);
  if (pages.empty ())
    return;
  if (!known (from_) || !known (to) || pages.size () == 1 || to <= from_) {
    // One cue; several pages only without a span to share (unknown times).
    out->push_back ({joined (pages), from_, to});
    floor_ = to;
    return;
  }
  const uint64_t span = to - from_;
  // Too short for every page's minimum: the last pages are joined, one at a
  // time, until the minimums fit (at worst one cue with the whole caption).
  while (pages.size () > 1 && pages_min_time (pages, settings) > span) {
    pages[pages.size () - 2] += "\n" + pages.back ();
    pages.pop_back ();
  }
  // Each page gets its minimum, and the time left over is shared in
  // proportion to the pages' lengths.
  const uint64_t minimums = std::min (span, pages_min_time (pages, settings));
  const uint64_t spare = span - minimums;
  size_t total = 0;
  for (const auto &p : pages)
    total += code_points (p);
  uint64_t at = from_, minimum_end = from_;
  size_t done = 0;
  for (size_t i = 0; i < pages.size (); ++i) {
    done += code_points (pages[i]);
    minimum_end += min_display_time (pages[i], settings.min_duration, settings.reading_rate);
    const uint64_t share =
        total == 0 ? 0 : static_cast<uint64_t> (static_cast<long double> (spare) * done / total);
    const uint64_t end = i + 1 == pages.size () ? to : std::min (to, minimum_end + share);
    out->push_back ({pages[i], at, end});
    at = end;
  }
  floor_ = to;
}

std::vector<Cue>
CueTrack::add (std::string_view caption, uint64_t start, uint64_t end, const CueSettings &settings)
{
  std::vector<Cue> out;
  const bool empty = comparison_key (caption).empty ();
  if (open_ && !empty && settings.merge_repeats && same_caption (caption_, caption)) {
    if (!known (end) || (known (end_) && end > end_))
      end_ = end;
    return out;
  }
  if (open_) {
    // Closed by this caption, but shown at least its minimum time.
    uint64_t close = start;
    if (known (end_) && (!known (close) || end_ < close))
      close = end_;
    emit_open (shown_until (close, settings), settings, &out);
    open_ = false;
  }
  if (empty)
    return out;
  if (known (floor_) && known (start) && start < floor_)
    start = floor_;
  if (known (end) && known (start) && end <= start)
    return out;  // no time left to show it
  open_ = true;
  caption_ = std::string (caption);
  start_ = from_ = start;
  end_ = end;
  return out;
}

uint64_t
CueTrack::shown_until (uint64_t at, const CueSettings &settings) const
{
  // every page its own minimum
  uint64_t shortest = saturating_add (start_, pages_min_time (texts (settings), settings));
  if (known (at) && known (shortest) && at < shortest)
    return shortest;
  return at;
}

std::vector<Cue>
CueTrack::close (const CueSettings &settings)
{
  std::vector<Cue> out;
  if (!open_ || !known (end_))
    return out;
  emit_open (shown_until (end_, settings), settings, &out);
  open_ = false;
  return out;
}

std::vector<Cue>
CueTrack::commit_until (uint64_t position, const CueSettings &settings)
{
  std::vector<Cue> out;
  if (!open_ || !known (position) || !known (from_) || position <= from_)
    return out;
  if (known (end_) && position >= end_) {
    emit_open (end_, settings, &out);
    open_ = false;
    return out;
  }
  emit_open (position, settings, &out);
  from_ = position;
  return out;
}

std::vector<Cue>
CueTrack::finish (uint64_t position, const CueSettings &settings)
{
  std::vector<Cue> out;
  if (!open_)
    return out;
  uint64_t close = end_;
  if (known (position) && (!known (close) || position < close))
    close = position;
  if (known (close) && known (from_) && close <= from_) {
    open_ = false;
    return out;
  }
  emit_open (close, settings, &out);
  open_ = false;
  return out;
}

}  // namespace blip2caption
