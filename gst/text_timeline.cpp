// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "text_timeline.h"

#include <algorithm>

namespace blip2gst {

void
TextTimeline::reset (ClockTime origin)
{
  origin_ = origin;
  position_ = kNone;
  expected_.clear ();
}

void
TextTimeline::expect (uint64_t id, ClockTime start, Deadline deadline)
{
  expected_[id] = Expectation{start, deadline, false};
}

bool
TextTimeline::forget (uint64_t id)
{
  return expected_.erase (id) > 0;
}

bool
TextTimeline::expecting (uint64_t id) const
{
  return expected_.count (id) > 0;
}

bool
TextTimeline::expire (Deadline now)
{
  bool any = false;
  for (auto &[id, e] : expected_) {
    if (!e.overdue && e.deadline <= now) {
      e.overdue = true;
      any = true;
    }
  }
  return any;
}

void
TextTimeline::expire_all ()
{
  for (auto &[id, e] : expected_)
    e.overdue = true;
}

std::optional<TextTimeline::Deadline>
TextTimeline::next_deadline () const
{
  std::optional<Deadline> next;
  for (const auto &[id, e] : expected_) {
    if (!e.overdue && (!next || e.deadline < *next))
      next = e.deadline;
  }
  return next;
}

std::optional<Span>
TextTimeline::advance (ClockTime video_position)
{
  if (!is_valid (video_position))
    return std::nullopt;
  ClockTime bound = video_position;
  for (const auto &[id, e] : expected_) {
    if (!e.overdue && is_valid (e.start))
      bound = std::min (bound, e.start);
  }
  if (!is_valid (position_))
    position_ = is_valid (origin_) ? std::min (origin_, bound) : bound;
  if (bound <= position_)
    return std::nullopt;
  Span gap{position_, bound};
  position_ = bound;
  return gap;
}

TextTimeline::CuePlacement
TextTimeline::place (Span cue)
{
  if (is_valid (cue.end) && cue.end <= cue.start)
    cue.end = kNone;  // no duration
  CuePlacement placement;
  placement.cue = cue;
  if (!is_valid (cue.start))
    return placement;
  if (is_valid (position_) && cue.start < position_) {
    placement.late = true;
    placement.cue.start = position_;
    if (is_valid (cue.end))
      placement.cue.end = saturating_add (position_, cue.end > cue.start ? cue.end - cue.start : 0);
  } else if (is_valid (position_) && cue.start > position_) {
    placement.gap = Span{position_, cue.start};
  }
  ClockTime end = is_valid (placement.cue.end) ? placement.cue.end : placement.cue.start;
  if (!is_valid (position_) || end > position_)
    position_ = end;
  return placement;
}

}  // namespace blip2gst
