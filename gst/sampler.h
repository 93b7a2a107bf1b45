// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// Which frames get captioned: a policy object asked once per frame, on the
// playback axis (see timeline.h). Pure arithmetic, unit-tested alone.
#pragma once

#include "timeline.h"

namespace blip2gst {

struct SampleDecision
{
  bool sample = false;
  // On the axis: where the caption of a sampled frame stops being current
  // (the next sampling point); kNone when there is none.
  ClockTime until = kNone;
};

class SamplingPolicy
{
 public:
  virtual ~SamplingPolicy () = default;
  // `frame`: the frame's span on the axis; `interval`: the element's
  // interval property at this frame.
  virtual SampleDecision decide (const Span &frame, ClockTime interval) = 0;
  // New segment, flush or discontinuity: start over at the next frame.
  virtual void reset () = 0;
};

// The first frame at or after each point of a grid of `interval` anchored at
// the first frame, so sampling does not drift when frames fall between grid
// points. interval 0 samples every frame (its caption lasts the frame). The
// grid restarts at the next frame when the interval changes or time goes
// back; a grid point past the largest time is no point (no overflow).
class IntervalSampler : public SamplingPolicy
{
 public:
  SampleDecision decide (const Span &frame, ClockTime interval) override;
  void reset () override;

 private:
  bool started_ = false;
  ClockTime origin_ = kNone;
  ClockTime interval_ = kNone;
  ClockTime next_ = kNone;  // next grid point; kNone: past the end of time
  ClockTime last_ = kNone;  // start of the last frame seen
};

}  // namespace blip2gst
