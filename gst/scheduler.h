// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The caption scheduler: decides which frames are captioned (a
// SamplingPolicy on the VideoTimeline), captions them in the streaming
// thread (offline) or on a worker thread (live), and is the one owner of the
// work in flight. Results are values (Outcome), never exceptions; live
// captions go to the TextStream from here, and to the element through a
// callback.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "async_captioner.h"
#include "batch_scheduler.h"
#include "blip2.h"
#include "change_detector.h"
#include "gstblip2captionmeta.h"
#include "sampler.h"
#include "textstream.h"
#include "timeline.h"

namespace blip2gst {

// A sampled frame, from its sampling until its caption is out.
struct SampledFrame
{
  ClockTime pts = kNone;           // the buffer's PTS (kNone: untimestamped)
  Span cue;                        // on the axis: how long its caption lasts
  ClockTime running_time = kNone;  // of the PTS
  ClockTime stream_time = kNone;
  // Why it was sampled: "clock", or in change sampling "first", "change"
  // or "max-gap".
  const char *trigger = "clock";
};

// A finished caption, everything the outputs need.
struct Finished
{
  std::string text;
  std::string prompt;
  SampledFrame frame;
  GstClockTime inference_time = 0;
  guint token_count = 0;
  gdouble score = 0.0;
  guint batch_size = 1;  // images captioned together with it (live batching)

  GstBlip2CaptionInfo info () const;
};

// A caption that failed: the library's error as a value.
struct Failure
{
  blip2::ErrorCode code = blip2::ErrorCode::kRuntime;
  std::string message;
};

using Outcome = std::variant<Finished, Failure>;

// How plan() picks frames: on the clock (every `interval`), or on picture
// changes, where `thumbnail` reads the frame's thumbnail (only when tested).
struct Sampling
{
  ClockTime interval = kNone;
  bool change = false;
  blip2caption::ChangeSettings change_settings;
  std::function<blip2caption::LumaThumbnail ()> thumbnail;
};

// What happens to one video buffer.
struct FramePlan
{
  PlacedFrame frame;
  bool sample = false;
  bool unchanged = false;       // change sampling: tested, and not captioned for want of change
  SampledFrame sampled;         // when `sample`
  std::vector<Finished> ready;  // live mode: captions whose meta goes on this buffer
};

class CaptionScheduler
{
 public:
  // Live mode: called on the worker thread, no lock held, once per caption
  // that finished or failed (not for flushed ones).
  using LiveCallback = std::function<void (Outcome &&)>;
  // Upstream's duration (stream time), kNone when unknown; asked only for
  // sampled frames.
  using DurationQuery = std::function<ClockTime ()>;

  CaptionScheduler (std::shared_ptr<const blip2::Model> model,
                    TextStream &text,
                    LiveCallback on_live);
  ~CaptionScheduler ();
  CaptionScheduler (const CaptionScheduler &) = delete;
  CaptionScheduler &operator= (const CaptionScheduler &) = delete;

  const blip2::ModelInfo &
  model_info () const
  {
    return model_->info ();
  }

  // Streaming thread only ------------------------------------------------
  bool
  mode_resolved () const
  {
    return mode_resolved_;
  }
  // Live mode with batching.max_batch > 1: captions go through the
  // BatchScheduler every element of this model shares (the first one's
  // settings win). Offline mode never batches: a lone element would wait for
  // company on every frame, and the streaming thread waits for its caption.
  void resolve_mode (bool live, const blip2::BatchScheduler::Settings &batching);
  bool
  live () const
  {
    return live_;
  }
  // A new segment, or a flush (same segment): sampling starts over, and a
  // flush is over.
  void segment (const GstSegment &segment);
  void restart ();
  // Places the frame, decides whether it is sampled and until when its
  // caption lasts (clock: the next sampling point; change: the next caption,
  // unknown yet; never past the end of stream).
  FramePlan plan (const FrameIn &frame, const Sampling &sampling, const DurationQuery &duration);
  // A GAP event on the video.
  void reach (Span real_gap);
  // Any thread: the next frame plan() sees is captioned whatever the interval
  // (or the change test), and sampling starts over from it.
  void request_caption ();
  // The end of the video seen, on the axis.
  ClockTime
  video_position () const
  {
    return timeline_.position ();
  }
  // Offline: captions now (with options.cancel, or a cancel flag of its own
  // when that is null). flush() and stop() cancel it (a Failure with
  // ErrorCode::kCancelled, as is any caption started while a flush is under
  // way, until restart()).
  Outcome caption_now (const blip2::ImageView &view,
                       const blip2::GenerationOptions &options,
                       const SampledFrame &frame);
  // Live: hands the frame to the worker; the text stream waits for it until
  // `deadline`. Returns a Failure when the frame could not be copied; sets
  // `skipped` when it replaced a frame still waiting.
  std::optional<Failure> submit (const blip2::ImageView &view,
                                 const blip2::GenerationOptions &options,
                                 const SampledFrame &frame,
                                 TextTimeline::Deadline deadline,
                                 bool *skipped);

  // Any thread -----------------------------------------------------------
  // The shared batch scheduler this element's captions go through; null
  // unless live with max-batch > 1.
  std::shared_ptr<blip2::BatchScheduler> batch_scheduler () const;
  // Drops the work in flight and the ready metas and cancels the caption in
  // progress (live or offline); does not wait.
  void flush ();
  // Waits until the work in flight is done (end of stream).
  void drain ();
  // Drops everything and joins the worker: no callback after it returns.
  void stop ();

 private:
  void on_worker_result (blip2::CaptionResult &&result);
  // Cancels the offline caption in progress and refuses new ones until
  // restart(); lock_ held.
  void cancel_offline_locked ();
  std::shared_ptr<blip2::AsyncCaptioner> worker () const;
  ClockTime stream_end (const DurationQuery &duration) const;
  SampledFrame sampled_frame (const FrameIn &in,
                              const PlacedFrame &frame,
                              ClockTime until,
                              ClockTime stream_end) const;

  std::shared_ptr<const blip2::Model> model_;
  TextStream &text_;
  LiveCallback on_live_;
  std::unique_ptr<blip2::Captioner> captioner_;  // offline

  // Streaming thread only.
  bool mode_resolved_ = false;
  bool live_ = false;
  GstSegment segment_;
  VideoTimeline timeline_;
  std::unique_ptr<SamplingPolicy> sampler_;
  blip2caption::ChangeSampler change_sampler_;
  std::atomic<bool> requested_{false};  // request_caption() not yet seen by plan()
  uint64_t next_request_id_ = 1;

  // Guards what follows. Taken before the text stream's lock, never held
  // while captioning or calling the element.
  mutable std::mutex lock_;
  std::shared_ptr<blip2::AsyncCaptioner> worker_;  // live, made when the mode is known
  std::shared_ptr<blip2::BatchScheduler> batch_;   // live batching, with the worker
  std::map<uint64_t, SampledFrame> in_flight_;     // live, by request id
  std::vector<Finished> ready_;                    // live: metas for the next buffer
  // Offline: the cancel flag of the caption in progress (null when none), and
  // whether a flush is under way (from flush() or stop() to restart()).
  std::shared_ptr<std::atomic<bool>> offline_cancel_;
  bool flushing_ = false;
};

}  // namespace blip2gst
