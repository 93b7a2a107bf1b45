// async_captioner.h — caption frames on a worker thread, newest frame first.
//
// For live sources: the caller (a streaming thread) must never wait for the
// model. submit() copies the frame into a one-slot mailbox and returns at
// once; a worker thread captions whatever is in the mailbox. A frame that is
// still waiting when a newer one arrives is replaced ("latest wins") and its
// id handed back to the caller, who counts it as skipped.
//
//   blip2::AsyncCaptioner worker(model, [](blip2::CaptionResult&& r) { ... });
//   if (auto dropped = worker.submit({blip2::ImageBuffer::copy_of(view), options, id})) ...
//   worker.flush();   // seek: forget everything, now
//   worker.drain();   // end of stream: wait for what is queued
//
// Results are delivered by the callback on the worker thread, in submission
// order. Errors of one caption are delivered as a result with `ok == false`;
// the worker keeps running. Nothing here needs GStreamer or torch headers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "blip2.h"

namespace blip2 {

// An owned, tightly packed copy of an ImageView (rows without padding).
class ImageBuffer {
 public:
  ImageBuffer() = default;
  // Copies the pixels of `view` (every plane its format uses); throws
  // Error(kInvalidArgument) for an empty view or a missing plane.
  static ImageBuffer copy_of(const ImageView& view);

  const ImageView& view() const { return view_; }
  size_t size_bytes() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
  ImageView view_;
};

struct CaptionRequest {
  ImageBuffer image;
  GenerationOptions options;
  uint64_t id = 0;  // the caller's tag, returned with the result
};

struct CaptionResult {
  uint64_t id = 0;
  GenerationOptions options;
  Caption caption;
  bool ok = true;  // false: `error_code` and `error` say why
  ErrorCode error_code = ErrorCode::kRuntime;
  std::string error;
};

class AsyncCaptioner {
 public:
  using CaptionFunction = std::function<Caption(const ImageView&, const GenerationOptions&)>;
  using ResultCallback = std::function<void(CaptionResult&&)>;

  // Captions with a Captioner of `model`, owned by the worker.
  AsyncCaptioner(std::shared_ptr<const Model> model, ResultCallback on_result);
  // Captions with any function (tests use a fake one).
  AsyncCaptioner(CaptionFunction caption, ResultCallback on_result);
  ~AsyncCaptioner();  // stop()
  AsyncCaptioner(const AsyncCaptioner&) = delete;
  AsyncCaptioner& operator=(const AsyncCaptioner&) = delete;

  // Puts `request` in the mailbox. Returns the id of the request it replaced
  // (still waiting, so never captioned), if any. After stop(): returns the
  // request's own id (dropped).
  std::optional<uint64_t> submit(CaptionRequest request);

  // Drops the waiting request and the result of the caption in progress,
  // which is cancelled (GenerationOptions::cancel: it stops before its next
  // decoding step; its result is not delivered unless the callback had
  // already started). Returns the ids dropped. Does not wait.
  std::vector<uint64_t> flush();

  // Waits until nothing is waiting or in progress and every result has been
  // delivered. Returns false when `timeout` passed first, or when flush() or
  // stop() was called meanwhile.
  bool drain(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // Drops everything, cancels the caption in progress, waits for it to stop
  // (one decoding step at most) and joins the worker.
  // Idempotent; no callback runs after it returns.
  void stop();

  // Nothing waiting and nothing in progress.
  bool idle() const;

 private:
  void run();

  CaptionFunction caption_;
  ResultCallback on_result_;

  mutable std::mutex lock_;
  std::condition_variable wake_;      // the worker waits here for work
  std::condition_variable finished_;  // drain() waits here
  std::optional<CaptionRequest> waiting_;
  bool busy_ = false;             // a caption is in progress
  bool discard_current_ = false;  // flush() since it started
  uint64_t current_id_ = 0;
  // the cancel flag of the caption in progress (the request's own, or one
  // made for it when it had none)
  std::shared_ptr<std::atomic<bool>> current_cancel_;
  uint64_t interruptions_ = 0;  // flush() and stop() calls, for drain()
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace blip2
