// batch_scheduler.cpp — forming batches of equal requests from many threads.
#include "batch_scheduler.h"
#include "model_impl.h"

#include <algorithm>
#include <exception>
#include <future>
#include <map>
#include <tuple>

namespace blip2 {
namespace {

// Requests decode together only when every decoding setting is the same.
bool same_generation(const GenerationOptions& a, const GenerationOptions& b) {
  auto fields = [](const GenerationOptions& o) {
    return std::tie(o.prompt, o.max_new_tokens, o.min_new_tokens, o.num_beams, o.length_penalty,
                    o.early_stopping, o.num_return_sequences, o.repetition_penalty,
                    o.no_repeat_ngram_size, o.do_sample, o.temperature, o.top_k, o.top_p, o.seed);
  };
  return fields(a) == fields(b);
}

// Whether a batched call gives each image the caption it gets alone. Not when
// the word embeddings are narrower than the language model
// (word_embed_proj_dim != hidden_size): the query features are then laid over
// the batch's rows as one stream, as transformers does, so a caption would
// depend on the other images of its batch.
bool rows_independent(const Model& model) {
  const OptConfig& text = model.impl().config.text_config;
  return text.word_embed_proj_dim < 0 || text.word_embed_proj_dim == text.hidden_size;
}

// How often a waiting caller looks at its cancel flag (nothing signals it).
constexpr std::chrono::milliseconds kCancelPoll{5};

bool cancelled(const GenerationOptions& options) {
  return options.cancel && options.cancel->load(std::memory_order_relaxed);
}

}  // namespace

struct BatchScheduler::Request {
  const ImageView* image;
  const GenerationOptions* options;
  std::chrono::steady_clock::time_point arrival;
  uint64_t serial;  // tells requests apart (a new one may reuse an address)
  std::promise<Caption> result;
};

BatchScheduler::BatchScheduler(std::shared_ptr<const Model> model, Settings settings)
    : settings_(settings),
      batchable_(rows_independent(*model)),
      captioner_(std::make_unique<Captioner>(std::move(model))) {
  if (settings_.max_batch < 1) {
    throw Error(ErrorCode::kInvalidArgument,
                "max_batch must be at least 1 (got " + std::to_string(settings_.max_batch) + ")");
  }
  if (settings_.max_wait.count() < 0) {
    throw Error(ErrorCode::kInvalidArgument, "the batch wait must not be negative");
  }
  worker_ = std::thread([this] { run(); });
}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard<std::mutex> guard(lock_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  for (Request* r : waiting_) {
    r->result.set_exception(
        std::make_exception_ptr(Error(ErrorCode::kRuntime, "the batch scheduler was stopped")));
  }
}

Caption BatchScheduler::caption(const ImageView& image, const GenerationOptions& options) {
  if (cancelled(options)) throw Error(ErrorCode::kCancelled, "caption cancelled");
  Request request{&image, &options, std::chrono::steady_clock::now(), 0, {}};
  std::future<Caption> result = request.result.get_future();
  {
    std::lock_guard<std::mutex> guard(lock_);
    if (stopping_) throw Error(ErrorCode::kRuntime, "the batch scheduler was stopped");
    request.serial = next_serial_++;
    waiting_.push_back(&request);
  }
  wake_.notify_all();
  if (options.cancel) {
    while (result.wait_for(kCancelPoll) != std::future_status::ready) {
      if (!cancelled(options)) continue;
      if (withdraw(request)) throw Error(ErrorCode::kCancelled, "caption cancelled");
      break;  // in the running batch: its result comes soon (or its cancellation)
    }
  }
  return result.get();
}

bool BatchScheduler::withdraw(const Request& request) {
  {
    std::lock_guard<std::mutex> guard(lock_);
    auto it = std::find(waiting_.begin(), waiting_.end(), &request);
    if (it == waiting_.end()) {
      const bool all_cancelled = std::all_of(
          running_.begin(), running_.end(), [](const Request* r) { return cancelled(*r->options); });
      if (all_cancelled && !running_.empty() && batch_cancel_) batch_cancel_->store(true);
      return false;
    }
    waiting_.erase(it);
  }
  wake_.notify_all();  // the worker may be waiting for company of this one
  return true;
}

BatchScheduler::Counters BatchScheduler::counters() const {
  std::lock_guard<std::mutex> guard(lock_);
  return counters_;
}

std::deque<BatchScheduler::Request*> BatchScheduler::next_batch(
    std::unique_lock<std::mutex>& lock) {
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return {};
    const Request* first = waiting_.front();
    const uint64_t first_serial = first->serial;
    const bool alone = first->options->do_sample || settings_.max_batch == 1 || !batchable_;
    auto first_left = [&] { return waiting_.empty() || waiting_.front()->serial != first_serial; };
    auto companions = [&] {
      return std::count_if(waiting_.begin(), waiting_.end(), [&](const Request* r) {
        return same_generation(*r->options, *first->options);
      });
    };
    if (!alone) {
      wake_.wait_until(lock, first->arrival + settings_.max_wait, [&] {
        return stopping_ || first_left() || companions() >= settings_.max_batch;
      });
      if (stopping_) return {};
      if (first_left()) continue;  // cancelled while waiting for company
    }
    std::deque<Request*> batch;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      const bool fits = static_cast<int32_t>(batch.size()) < (alone ? 1 : settings_.max_batch);
      if (fits && same_generation(*(*it)->options, *first->options)) {
        batch.push_back(*it);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    return batch;
  }
}

void BatchScheduler::caption_batch(const std::deque<Request*>& batch) {
  std::vector<ImageView> images;
  for (const Request* r : batch) images.push_back(*r->image);
  GenerationOptions options = *batch.front()->options;
  options.cancel = batch_cancel_;  // the batch's own: one caller must not stop the others
  try {
    std::vector<Caption> captions = captioner_->caption(images, options);
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result.set_value(std::move(captions[i]));
  } catch (...) {
    for (Request* r : batch) r->result.set_exception(std::current_exception());
  }
}

void BatchScheduler::run() {
  std::unique_lock<std::mutex> lock(lock_);
  while (true) {
    std::deque<Request*> batch = next_batch(lock);
    if (batch.empty()) return;
    counters_.batches += 1;
    counters_.captions += batch.size();
    counters_.largest = std::max(counters_.largest, static_cast<uint32_t>(batch.size()));
    running_ = batch;
    batch_cancel_ = std::make_shared<std::atomic<bool>>(false);
    // Every request cancelled already (their callers look only every few
    // milliseconds): the batch stops before its first step.
    if (std::all_of(batch.begin(), batch.end(),
                    [](const Request* r) { return cancelled(*r->options); })) {
      batch_cancel_->store(true);
    }
    lock.unlock();
    caption_batch(batch);
    lock.lock();
    running_.clear();
  }
}

std::shared_ptr<BatchScheduler> BatchScheduler::shared(const std::shared_ptr<const Model>& model,
                                                       const Settings& settings) {
  static std::mutex mutex;
  static std::map<const Model*, std::weak_ptr<BatchScheduler>> schedulers;
  std::lock_guard<std::mutex> guard(mutex);
  std::weak_ptr<BatchScheduler>& slot = schedulers[model.get()];
  if (auto existing = slot.lock()) return existing;
  auto created = std::make_shared<BatchScheduler>(model, settings);
  slot = created;
  return created;
}

}  // namespace blip2
