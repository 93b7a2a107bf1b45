// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "timeline.h"

#include <algorithm>

namespace blip2gst {

ClockTime
saturating_add (ClockTime a, ClockTime b)
{
  if (!is_valid (a) || !is_valid (b))
    return kNone;
  return b > kMaxTime - a ? kMaxTime : a + b;
}

ClockTime
Axis::to_axis (ClockTime t) const
{
  if (!reverse_ || !is_valid (t))
    return t;
  return kMaxTime - t;
}

Span
Axis::to_axis (Span real) const
{
  if (!reverse_)
    return real;
  ClockTime end = is_valid (real.end) ? real.end : real.start;
  return Span{to_axis (end), to_axis (real.start)};
}

Span
caption_span (const Span &frame, ClockTime until, ClockTime stream_end)
{
  Span span{frame.start, std::min (until, stream_end)};
  if (is_valid (span.end) && span.end <= frame.start)
    span.end = frame.end > frame.start ? frame.end : kNone;
  return span;
}

void
VideoTimeline::reset (Axis axis, ClockTime origin)
{
  *this = VideoTimeline ();
  axis_ = axis;
  origin_ = origin;
}

void
VideoTimeline::extend (ClockTime end)
{
  if (is_valid (end) && (!is_valid (position_) || end > position_))
    position_ = end;
}

Span
VideoTimeline::synthetic_span (const FrameIn &frame)
{
  ClockTime start = is_valid (position_) ? position_ : (is_valid (origin_) ? origin_ : 0);
  ClockTime duration = is_valid (frame.duration) ? frame.duration : frame.nominal_duration;
  if (!is_valid (duration) && is_valid (frame.arrival)) {
    // neither timestamps nor durations: the frame's place is its arrival time
    if (!is_valid (first_arrival_)) {
      first_arrival_ = frame.arrival;
      arrival_origin_ = start;
    }
    ClockTime elapsed = frame.arrival > first_arrival_ ? frame.arrival - first_arrival_ : 0;
    start = std::max (start, saturating_add (arrival_origin_, elapsed));
    return Span{start, start};
  }
  return Span{start, is_valid (duration) ? saturating_add (start, duration) : start};
}

PlacedFrame
VideoTimeline::place (const FrameIn &frame)
{
  PlacedFrame placed;
  if (is_valid (frame.pts)) {
    ClockTime duration = is_valid (frame.duration) ? frame.duration : frame.nominal_duration;
    Span real{frame.pts, is_valid (duration) ? saturating_add (frame.pts, duration) : frame.pts};
    placed.span = axis_.to_axis (real);
  } else {
    placed.span = synthetic_span (frame);
    placed.synthetic = true;
  }
  extend (placed.span.end);
  return placed;
}

void
VideoTimeline::reach (Span real)
{
  if (!is_valid (real.start))
    return;
  extend (axis_.to_axis (real).end);
}

}  // namespace blip2gst
