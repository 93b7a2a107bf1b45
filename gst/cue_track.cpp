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

void
CueTrack::emit_open (uint64_t to, const CueSettings &settings, std::vector<Cue> *out)
{
  std::vector<std::string> pages = texts (settings);
  if (pages.empty ())
    return;
  if (!known (from_) || !known (to) || pages.size () == 1 || to <= from_) {
    // One cue; several pages only without a span to share (unknown times).
    std::string text = pages[0];
    for (size_t i = 1; i < pages.size (); ++i)
      text += "\n" + pages[i];
    out->push_back ({text, from_, to});
    floor_ = to;
    return;
  }
  // Pages share the span in proportion to their length.
  size_t total = 0;
  for (const auto &p : pages)
    total += code_points (p);
  const uint64_t span = to - from_;
  uint64_t at = from_;
  size_t done = 0;
  for (size_t i = 0; i < pages.size (); ++i) {
    done += code_points (pages[i]);
    uint64_t end =
        i + 1 == pages.size ()
            ? to
            : from_ + static_cast<uint64_t> (static_cast<long double> (span) * done / total);
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
  uint64_t shortest = saturating_add (
      start_, min_display_time (caption_, settings.min_duration, settings.reading_rate));
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
