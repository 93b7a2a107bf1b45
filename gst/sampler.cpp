// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "sampler.h"

namespace blip2gst {

void
IntervalSampler::reset ()
{
  *this = IntervalSampler ();
}

// The first grid point after `t` (origin + k * interval > t), or kNone when
// it is past kMaxTime.
static ClockTime
next_grid_point (ClockTime origin, ClockTime interval, ClockTime t)
{
  ClockTime steps = (t - origin) / interval + 1;
  if (steps > (kMaxTime - origin) / interval)
    return kNone;
  return origin + steps * interval;
}

SampleDecision
IntervalSampler::decide (const Span &frame, ClockTime interval)
{
  if (!is_valid (frame.start))
    return SampleDecision{};
  bool went_back = is_valid (last_) && frame.start < last_;
  last_ = frame.start;
  if (interval == 0) {
    started_ = false;
    return SampleDecision{true, frame.end > frame.start ? frame.end : kNone};
  }
  if (!started_ || interval != interval_ || went_back) {
    started_ = true;
    origin_ = frame.start;
    interval_ = interval;
  } else if (!is_valid (next_) || frame.start < next_) {
    return SampleDecision{};
  }
  next_ = next_grid_point (origin_, interval_, frame.start);
  return SampleDecision{true, next_};
}

}  // namespace blip2gst
