// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// Where video frames sit in time: the pure arithmetic under the element's
// sampling and text stream (no GStreamer objects, so it is unit-tested alone).
//
// Times are nanoseconds as in GStreamer; kNone is GST_CLOCK_TIME_NONE. All
// timing decisions are made on an *axis* along which the playback goes
// forward: the buffer timeline itself for rate > 0, and its mirror image for
// reverse playback (rate < 0), so one set of rules serves both directions.
#pragma once

#include <cstdint>

namespace blip2gst {

using ClockTime = uint64_t;
inline constexpr ClockTime kNone = UINT64_MAX;      // GST_CLOCK_TIME_NONE
inline constexpr ClockTime kMaxTime = UINT64_MAX - 1;  // the largest valid time

inline bool
is_valid (ClockTime t)
{
  return t != kNone;
}

// a + b, saturated at kMaxTime; kNone when either is kNone.
ClockTime saturating_add (ClockTime a, ClockTime b);

// [start, end) in ns; end == start for a point (a frame of unknown duration).
struct Span
{
  ClockTime start = kNone;
  ClockTime end = kNone;
};

// The playback direction. to_axis() maps buffer time onto the axis (the
// identity forward, t -> kMaxTime - t in reverse) and is its own inverse.
class Axis
{
 public:
  explicit Axis (bool reverse = false) : reverse_ (reverse) {}
  bool
  reverse () const
  {
    return reverse_;
  }
  ClockTime to_axis (ClockTime t) const;
  ClockTime
  to_real (ClockTime t) const
  {
    return to_axis (t);
  }
  // A span of buffer time on the axis ([s, e) -> [M - e, M - s) in reverse).
  Span to_axis (Span real) const;
  Span
  to_real (Span axis) const
  {
    return to_axis (axis);
  }

 private:
  bool reverse_;
};

// How long the caption of `frame` (on the axis) lasts: until `until` (the
// next sampling point) but not past `stream_end` (where the stream is known
// to end); at least the frame itself when the stream ends inside it. end is
// kNone when neither is known.
Span caption_span (const Span &frame, ClockTime until, ClockTime stream_end);

// One video buffer as it arrives.
struct FrameIn
{
  ClockTime pts = kNone;               // buffer PTS (kNone: untimestamped)
  ClockTime duration = kNone;          // buffer duration
  ClockTime nominal_duration = kNone;  // 1 / caps framerate, when known
  ClockTime arrival = kNone;           // monotonic clock when it arrived
};

// A frame placed on the axis.
struct PlacedFrame
{
  Span span;               // on the axis
  bool synthetic = false;  // no PTS: placed by frame count or arrival time
};

// The video seen since the last segment or flush: places each frame on the
// axis (giving untimestamped frames a time after the previous frame, by
// their duration or, without one, by arrival time) and keeps the one
// `position` of the video: the end of everything seen, on the axis.
class VideoTimeline
{
 public:
  // New segment or flush. `origin`: where the video starts on the axis
  // (the segment start forward, the segment stop in reverse; kNone unknown).
  void reset (Axis axis, ClockTime origin);
  PlacedFrame place (const FrameIn &frame);
  // A GAP event (buffer time): the video reached its end.
  void reach (Span real);
  ClockTime
  position () const
  {
    return position_;
  }
  const Axis &
  axis () const
  {
    return axis_;
  }

 private:
  Span synthetic_span (const FrameIn &frame);
  void extend (ClockTime end);

  Axis axis_;
  ClockTime origin_ = kNone;
  ClockTime position_ = kNone;
  ClockTime first_arrival_ = kNone;    // arrival of the first untimestamped frame
  ClockTime arrival_origin_ = kNone;   // its place on the axis
};

}  // namespace blip2gst
