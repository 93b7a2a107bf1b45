// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The arithmetic of the sparse text stream, apart from its pad and thread:
// how far the stream may advance (gaps), where a caption goes (a late one is
// moved up to the position), and which captions the stream still waits for.
// Times are on the playback axis (timeline.h). Pure, unit-tested alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "timeline.h"

namespace blip2gst {

class TextTimeline
{
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // Where a caption goes: `gap` first when it leaves a hole, then the cue.
  struct CuePlacement
  {
    std::optional<Span> gap;
    Span cue;           // cue.end == kNone: no known end (the buffer has no duration)
    bool late = false;  // the caption started before the position: moved up to it
  };

  // New segment or flush: nothing sent. `origin`: where the stream starts
  // on the axis (kNone: where the video starts).
  void reset (ClockTime origin);

  // A caption may come for a frame starting at `start`: the stream does not
  // advance past `start` until it comes, is forgotten, or `deadline` passes.
  void expect (uint64_t id, ClockTime start, Deadline deadline);
  // Drops an expectation; false when there was none (flushed or never made).
  bool forget (uint64_t id);
  bool expecting (uint64_t id) const;
  // Expectations whose deadline is at or before `now` stop holding the
  // stream; returns whether any did.
  bool expire (Deadline now);
  // End of stream: nothing more will come.
  void expire_all ();
  // The earliest deadline still holding the stream.
  std::optional<Deadline> next_deadline () const;

  // The gap that brings the stream up to `video_position` (the end of the
  // video seen), held back before any caption still expected.
  std::optional<Span> advance (ClockTime video_position);
  // Places a caption lasting [cue.start, cue.end) and moves the position to
  // its end. A late caption keeps its duration.
  CuePlacement place (Span cue);

  ClockTime
  position () const
  {
    return position_;
  }

 private:
  struct Expectation
  {
    ClockTime start = kNone;
    Deadline deadline;
    bool overdue = false;
  };

  ClockTime origin_ = kNone;
  ClockTime position_ = kNone;  // end of what was sent (kNone: nothing yet)
  std::map<uint64_t, Expectation> expected_;
};

}  // namespace blip2gst
