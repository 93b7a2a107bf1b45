// batch_scheduler.h — captions of many streams batched through one model.
//
// One GPU serving many cameras: callers on any number of threads (e.g. one
// worker per element) call caption(); the scheduler's worker takes the first
// waiting request, waits up to `max_wait` for more (at most `max_batch`, with
// equal GenerationOptions), and runs them as one batch through the vision
// encoder, the Q-Former and the decoder. Every caller gets its own caption,
// token for token what an unbatched call gives. Sampling requests always run
// alone (their random draws would depend on the batch), and so does every
// request of a checkpoint whose word embeddings are narrower than its
// language model (word_embed_proj_dim != hidden_size): transformers lays the
// query features of such a batch over its rows as one stream, so a batched
// caption would depend on the other images.
//
// Cancelling (GenerationOptions::cancel): a request still waiting for its
// batch leaves it within a few milliseconds (caption() throws
// Error(kCancelled)); a request whose batch is running gets its batch's
// result, and the batch itself stops before its next decoding step once
// every request in it is cancelled.
//
//   auto scheduler = blip2::BatchScheduler::shared(model, {8, std::chrono::milliseconds(20)});
//   blip2::Caption c = scheduler->caption(view, options);   // blocks this thread
//
// Nothing here needs GStreamer or torch headers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "blip2.h"

namespace blip2 {

class BatchScheduler {
 public:
  struct Settings {
    int32_t max_batch = 8;  // images per batch at most (>= 1)
    std::chrono::microseconds max_wait{20000};  // how long the first request waits for company
  };
  struct Counters {
    uint64_t batches = 0;   // model calls made
    uint64_t captions = 0;  // requests answered through them
    uint32_t largest = 0;   // the largest batch so far
    double mean_batch_size() const {
      return batches ? static_cast<double>(captions) / static_cast<double>(batches) : 0.0;
    }
  };

  // Throws Error(kInvalidArgument) for max_batch < 1 or a negative wait.
  BatchScheduler(std::shared_ptr<const Model> model, Settings settings);
  ~BatchScheduler();  // answers what is still waiting with an error, joins the worker
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // The caption of `image` (which must stay valid until this returns);
  // blocks until its batch has run. Throws the batch's blip2::Error, or
  // Error(kCancelled) when options.cancel is set before the batch starts.
  // Caption::batch_size says how many images the batch held.
  Caption caption(const ImageView& image, const GenerationOptions& options);

  Counters counters() const;
  const Settings& settings() const { return settings_; }

  // The scheduler of `model` that every caller asking with the same model
  // shares while anyone holds it; `settings` apply when it is created (an
  // existing one keeps its own).
  static std::shared_ptr<BatchScheduler> shared(const std::shared_ptr<const Model>& model,
                                                const Settings& settings);

 private:
  struct Request;
  void run();
  // The requests of the next batch, or empty when stopping (lock held).
  std::deque<Request*> next_batch(std::unique_lock<std::mutex>& lock);
  void caption_batch(const std::deque<Request*>& batch);
  // A cancelled caller: leaves the queue (true), or, when its batch already
  // runs, cancels that batch if every request in it is cancelled (false).
  bool withdraw(const Request& request);

  Settings settings_;
  bool batchable_;  // false: every request runs alone (see rows_independent)
  std::unique_ptr<Captioner> captioner_;  // used by the worker only
  mutable std::mutex lock_;
  std::condition_variable wake_;
  std::deque<Request*> waiting_;
  std::deque<Request*> running_;                    // the batch in progress
  std::shared_ptr<std::atomic<bool>> batch_cancel_;  // its cancel flag
  uint64_t next_serial_ = 0;
  Counters counters_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace blip2
