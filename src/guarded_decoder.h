// guarded_decoder.h — the checks made between decoding steps.
//
// GuardedStepDecoder wraps any StepDecoder (eager or CUDA graph) and, around
// each forward: calls the caller's on_step (GenerationOptions) before it;
// throws Error(kCancelled) before it when the caller's cancel flag is set, so
// a flush or stop waits for one step at most instead of the whole caption;
// and throws Error(kRuntime) when the logits it returned hold NaN or Inf
// (checked at once on the CPU; on a GPU at the next step, when the loop's own
// host sync has made the flag free to read, and in finish()).
#pragma once

#include <atomic>
#include <functional>

#include "generation.h"

namespace blip2 {

// Throws Error(kCancelled) when `cancel` is set (null: never).
void throw_if_cancelled(const std::atomic<bool>* cancel);

class GuardedStepDecoder : public StepDecoder {
 public:
  GuardedStepDecoder(StepDecoder& inner,
                     const std::atomic<bool>* cancel,
                     std::function<void(int64_t)> on_step = {})
      : inner_(inner), cancel_(cancel), on_step_(std::move(on_step)) {}
  at::Tensor prefill(const at::Tensor& inputs_embeds,
                     int64_t max_new_tokens,
                     int64_t copies) override;
  at::Tensor step(const at::Tensor& ids) override;
  void reorder(const at::Tensor& rows) override { inner_.reorder(rows); }
  // Checks the last logits still unchecked (GPU); call after decoding.
  void finish();
  int64_t steps() const { return steps_; }  // step() calls that ran

 private:
  void check(const at::Tensor& logits);
  void check_pending();

  StepDecoder& inner_;
  const std::atomic<bool>* cancel_;
  std::function<void(int64_t)> on_step_;  // empty: none
  at::Tensor pending_;  // [] bool on the device: the last logits were all finite
  int64_t pending_step_ = 0;
  int64_t steps_ = 0;
};

// decode() through a GuardedStepDecoder over `inner`.
DecodeResult guarded_decode(StepDecoder& inner, const DecodeRequest& request);

}  // namespace blip2
