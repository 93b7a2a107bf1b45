// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// cue_track.h — captions in, subtitle cues out. No GStreamer.
//
// The track keeps the newest caption "open": its end is not final while an
// equal caption may still extend it (merge_repeats) or while its end is not
// known yet (the change sampling mode: a caption lasts until the next one).
// A cue is emitted when the open caption is closed by a different caption,
// by the end of the stream, or partly when the text consumer needs the text
// now (commit_until). Emitted cues never overlap.
//
// Minimum time: a caption wrapped into several pages is one cue per page,
// and each page is shown at least min_display_time() of its own text. A
// caption closed by the next one is kept on screen that long for every page
// (the sum): the next caption then starts when it ends, and one that would
// end before it could start is dropped. Where the time cannot grow (the end
// of the stream or segment, a piece sent up to the video position) and is
// too short for every page, the last pages are joined into one cue, one at a
// time, until each cue gets its minimum; with less time than one page's
// minimum, the whole caption is one cue for the time there is. The time left
// over is shared in proportion to the pages' lengths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "caption_style.h"
#include "change_detector.h"  // kNoTime

namespace blip2caption {

struct Cue
{
  std::string text;  // styled page, or the raw caption
  uint64_t start = kNoTime;
  uint64_t end = kNoTime;  // kNoTime: unknown (shown until the next cue)
};

struct CueSettings
{
  bool merge_repeats = true;  // an equal caption extends the open cue
  bool raw = false;           // the model's text as is (no sentence case, no wrapping)
  CaptionStyle style;
  uint64_t min_duration = 0;  // ns a cue stays on screen at least
  double reading_rate = 0.0;  // code points per second a cue must allow (0 = no bound)
};

class CueTrack
{
 public:
  // A caption for [start, end); end = kNoTime when it lasts until the next
  // caption. An empty caption closes the open cue and shows nothing.
  // Returns the cues that became final.
  std::vector<Cue> add (std::string_view caption,
                        uint64_t start,
                        uint64_t end,
                        const CueSettings &settings);

  // The consumer needs the text up to `position`: emits the open cue up to
  // there (at most to its end); the rest stays open and comes out later as a
  // continuation with the same text.
  std::vector<Cue> commit_until (uint64_t position, const CueSettings &settings);

  // Emits the open cue now when its end is known, kept at least its
  // minimum display time (a cue nothing can extend: merging is off and the
  // end is final). Returns nothing when the end is unknown.
  std::vector<Cue> close (const CueSettings &settings);

  // End of stream (or of the segment) at `position` (kNoTime: unknown):
  // emits the open cue, ending at its own end or at `position`.
  std::vector<Cue> finish (uint64_t position, const CueSettings &settings);

  // Drops everything (flush).
  void
  reset ()
  {
    *this = CueTrack ();
  }

  bool
  has_open () const
  {
    return open_;
  }
  // Where the open cue's not yet emitted part begins (kNoTime if none).
  uint64_t
  open_start () const
  {
    return open_ ? from_ : kNoTime;
  }
  // The end of the last emitted cue (kNoTime before any).
  uint64_t
  emitted_end () const
  {
    return floor_;
  }

 private:
  // Emits [from_, to) of the open cue (pages spread over it).
  void emit_open (uint64_t to, const CueSettings &settings, std::vector<Cue> *out);
  std::vector<std::string> texts (const CueSettings &settings) const;
  // The sum of the pages' minimum display times.
  static uint64_t pages_min_time (const std::vector<std::string> &pages,
                                  const CueSettings &settings);
  // The open cue's end once closed at `at`, kept on screen its minimum time.
  uint64_t shown_until (uint64_t at, const CueSettings &settings) const;

  bool open_ = false;
  std::string caption_;       // raw text of the open cue
  uint64_t start_ = kNoTime;  // first start of the open cue (for its minimum duration)
  uint64_t from_ = kNoTime;   // start of its part not emitted yet
  uint64_t end_ = kNoTime;    // its end so far (kNoTime: until the next caption)
  uint64_t floor_ = kNoTime;  // end of the last emitted cue
};

}  // namespace blip2caption
