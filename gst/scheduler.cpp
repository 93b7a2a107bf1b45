// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler.h"

#include <algorithm>

namespace blip2gst {

GstBlip2CaptionInfo
Finished::info () const
{
  GstBlip2CaptionInfo i;
  i.caption = text.c_str ();
  i.frame_pts = frame.pts;
  i.prompt = prompt.c_str ();
  i.inference_time = inference_time;
  i.token_count = token_count;
  i.score = score;
  i.batch_size = batch_size;
  return i;
}

namespace {

Finished
finished_from (const blip2::Caption &caption, const std::string &prompt, const SampledFrame &frame)
{
  Finished f;
  f.text = caption.text;
  f.prompt = prompt;
  f.frame = frame;
  f.inference_time = (GstClockTime)(caption.inference_ms * GST_MSECOND);
  f.token_count = (guint)caption.token_ids.size ();
  f.score = caption.score;
  f.batch_size = (guint)std::max (caption.batch_size, 1);
  return f;
}

Failure
failure_from (std::exception_ptr error)
{
  try {
    std::rethrow_exception (error);
  } catch (const blip2::Error &e) {
    return Failure{e.code (), e.what ()};
  } catch (const std::exception &e) {
    return Failure{blip2::ErrorCode::kRuntime, e.what ()};
  } catch (...) {
    return Failure{blip2::ErrorCode::kRuntime, "unknown error"};
  }
}

}  // namespace

CaptionScheduler::CaptionScheduler (std::shared_ptr<const blip2::Model> model,
                                    TextStream &text,
                                    LiveCallback on_live)
    : model_ (std::move (model)),
      text_ (text),
      on_live_ (std::move (on_live)),
      captioner_ (std::make_unique<blip2::Captioner> (model_)),
      sampler_ (std::make_unique<IntervalSampler> ())
{
  gst_segment_init (&segment_, GST_FORMAT_TIME);
}

CaptionScheduler::~CaptionScheduler ()
{
  stop ();
}

void
CaptionScheduler::resolve_mode (bool live, const blip2::BatchScheduler::Settings &batching)
{
  live_ = live;
  mode_resolved_ = true;
  if (!live)
    return;
  auto on_result = [this] (blip2::CaptionResult &&result) {
    on_worker_result (std::move (result));
  };
  std::shared_ptr<blip2::BatchScheduler> batch;
  std::shared_ptr<blip2::AsyncCaptioner> worker;
  if (batching.max_batch > 1) {
    batch = blip2::BatchScheduler::shared (model_, batching);
    worker = std::make_shared<blip2::AsyncCaptioner> (
        [batch] (const blip2::ImageView &image, const blip2::GenerationOptions &options) {
          return batch->caption (image, options);
        },
        on_result);
  } else {
    worker = std::make_shared<blip2::AsyncCaptioner> (model_, on_result);
  }
  std::lock_guard<std::mutex> lk (lock_);
  worker_ = std::move (worker);
  batch_ = std::move (batch);
}

void
CaptionScheduler::segment (const GstSegment &segment)
{
  if (segment.format == GST_FORMAT_TIME)
    gst_segment_copy_into (&segment, &segment_);
  else
    gst_segment_init (&segment_, GST_FORMAT_TIME);
  restart ();
}

void
CaptionScheduler::restart ()
{
  {
    std::lock_guard<std::mutex> lk (lock_);
    flushing_ = false;
  }
  sampler_->reset ();
  change_sampler_.reset ();
  timeline_.reset (segment_axis (segment_), segment_origin (segment_));
}

// The end of the stream on the axis, as far as it is known: the segment's
// end in the direction of playback, or upstream's duration.
ClockTime
CaptionScheduler::stream_end (const DurationQuery &duration) const
{
  const Axis &axis = timeline_.axis ();
  if (axis.reverse ())
    return axis.to_axis (segment_.start);
  ClockTime end = segment_.stop;
  ClockTime stream_duration = duration ? duration () : kNone;
  if (is_valid (stream_duration)) {
    ClockTime position =
        gst_segment_position_from_stream_time (&segment_, GST_FORMAT_TIME, stream_duration);
    if (is_valid (position))
      end = std::min (end, position);
  }
  return end;
}

// The one place where a frame's running time and stream time are computed.
SampledFrame
CaptionScheduler::sampled_frame (const FrameIn &in,
                                 const PlacedFrame &frame,
                                 ClockTime until,
                                 ClockTime stream_end) const
{
  SampledFrame sampled;
  sampled.pts = in.pts;
  sampled.cue = caption_span (frame.span, until, stream_end);
  if (is_valid (in.pts)) {
    sampled.running_time = gst_segment_to_running_time (&segment_, GST_FORMAT_TIME, in.pts);
    sampled.stream_time = gst_segment_to_stream_time (&segment_, GST_FORMAT_TIME, in.pts);
  }
  return sampled;
}

namespace {

const char *
trigger_name (blip2caption::ChangeVerdict verdict)
{
  switch (verdict) {
    case blip2caption::ChangeVerdict::kFirst:
      return "first";
    case blip2caption::ChangeVerdict::kMaxGap:
      return "max-gap";
    default:
      return "change";
  }
}

}  // namespace

FramePlan
CaptionScheduler::plan (const FrameIn &frame, const Sampling &sampling, const DurationQuery &duration)
{
  FramePlan plan;
  plan.frame = timeline_.place (frame);
  const bool requested = requested_.exchange (false);
  if (requested) {
    sampler_->reset ();
    change_sampler_.reset ();
  }
  if (sampling.change) {
    blip2caption::ChangeVerdict verdict =
        change_sampler_.decide (plan.frame.span.start, sampling.change_settings, sampling.thumbnail);
    plan.unchanged = verdict == blip2caption::ChangeVerdict::kUnchanged;
    if (blip2caption::verdict_captions (verdict)) {
      plan.sample = true;
      plan.sampled = sampled_frame (frame, plan.frame, kNone, stream_end (duration));
      plan.sampled.trigger = trigger_name (verdict);
    }
  } else {
    SampleDecision decision = sampler_->decide (plan.frame.span, sampling.interval);
    if (decision.sample) {
      plan.sample = true;
      plan.sampled = sampled_frame (frame, plan.frame, decision.until, stream_end (duration));
    }
  }
  if (requested && plan.sample)
    plan.sampled.trigger = "request";
  if (live_) {
    std::lock_guard<std::mutex> lk (lock_);
    plan.ready.swap (ready_);
  }
  return plan;
}

void
CaptionScheduler::request_caption ()
{
  requested_ = true;
}

void
CaptionScheduler::reach (Span real_gap)
{
  timeline_.reach (real_gap);
}

Outcome
CaptionScheduler::caption_now (const blip2::ImageView &view,
                               const blip2::GenerationOptions &options,
                               const SampledFrame &frame)
{
  blip2::GenerationOptions cancellable = options;
  if (!cancellable.cancel)
    cancellable.cancel = std::make_shared<std::atomic<bool>> (false);
  {
    std::lock_guard<std::mutex> lk (lock_);
    if (flushing_)
      return Failure{blip2::ErrorCode::kCancelled, "flushing"};
    offline_cancel_ = cancellable.cancel;
  }
  Outcome outcome;
  try {
    outcome = finished_from (captioner_->caption (view, cancellable), options.prompt, frame);
  } catch (...) {
    outcome = failure_from (std::current_exception ());
  }
  std::lock_guard<std::mutex> lk (lock_);
  offline_cancel_.reset ();
  return outcome;
}

void
CaptionScheduler::cancel_offline_locked ()
{
  flushing_ = true;
  if (offline_cancel_)
    *offline_cancel_ = true;
}

std::optional<Failure>
CaptionScheduler::submit (const blip2::ImageView &view,
                          const blip2::GenerationOptions &options,
                          const SampledFrame &frame,
                          TextTimeline::Deadline deadline,
                          bool *skipped)
{
  *skipped = false;
  blip2::CaptionRequest request;
  try {
    request.image = blip2::ImageBuffer::copy_of (view);
  } catch (...) {
    return failure_from (std::current_exception ());
  }
  request.options = options;
  request.id = next_request_id_++;
  std::shared_ptr<blip2::AsyncCaptioner> live_worker;
  {
    std::lock_guard<std::mutex> lk (lock_);
    in_flight_[request.id] = frame;
    live_worker = worker_;
  }
  text_.expect (request.id, frame.cue.start, deadline);
  std::optional<uint64_t> replaced = live_worker->submit (std::move (request));
  if (replaced) {
    {
      std::lock_guard<std::mutex> lk (lock_);
      in_flight_.erase (*replaced);
    }
    text_.forget (*replaced);
    *skipped = true;
  }
  return std::nullopt;
}

void
CaptionScheduler::on_worker_result (blip2::CaptionResult &&result)
{
  Outcome outcome;
  {
    std::lock_guard<std::mutex> lk (lock_);
    auto it = in_flight_.find (result.id);
    if (it == in_flight_.end ())
      return;  // flushed meanwhile
    SampledFrame frame = it->second;
    in_flight_.erase (it);
    if (!result.ok) {
      text_.forget (result.id);
      outcome = Failure{result.error_code, result.error};
    } else {
      Finished finished = finished_from (result.caption, result.options.prompt, frame);
      if (!text_.cue (result.id, finished.text, frame.cue))
        return;  // flushed meanwhile
      ready_.push_back (finished);
      outcome = std::move (finished);
    }
  }
  on_live_ (std::move (outcome));
}

std::shared_ptr<blip2::BatchScheduler>
CaptionScheduler::batch_scheduler () const
{
  std::lock_guard<std::mutex> lk (lock_);
  return batch_;
}

std::shared_ptr<blip2::AsyncCaptioner>
CaptionScheduler::worker () const
{
  std::lock_guard<std::mutex> lk (lock_);
  return worker_;
}

void
CaptionScheduler::flush ()
{
  {
    std::lock_guard<std::mutex> lk (lock_);
    in_flight_.clear ();
    ready_.clear ();
    cancel_offline_locked ();
  }
  if (auto w = worker ())
    w->flush ();
}

void
CaptionScheduler::drain ()
{
  if (auto w = worker ())
    w->drain ();
}

void
CaptionScheduler::stop ()
{
  std::shared_ptr<blip2::AsyncCaptioner> w;
  {
    std::lock_guard<std::mutex> lk (lock_);
    w = std::move (worker_);
    batch_.reset ();
    in_flight_.clear ();
    ready_.clear ();
    cancel_offline_locked ();
  }
  if (w)
    w->stop ();  // joins: no callback after this
}

}  // namespace blip2gst
