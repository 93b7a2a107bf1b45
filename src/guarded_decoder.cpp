#include "guarded_decoder.h"

#include "error.h"

namespace blip2 {
namespace {

[[noreturn]] void non_finite(int64_t step) {
  throw Error(ErrorCode::kRuntime,
              "the language model produced NaN or infinite logits at decoding step " +
                  std::to_string(step) +
                  ": the weights or the dtype's range are broken for this input");
}

}  // namespace

void throw_if_cancelled(const std::atomic<bool>* cancel) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
    throw Error(ErrorCode::kCancelled, "caption cancelled");
  }
}

at::Tensor GuardedStepDecoder::prefill(const at::Tensor& inputs_embeds,
                                       int64_t max_new_tokens,
                                       int64_t copies) {
  throw_if_cancelled(cancel_);
  at::Tensor logits = inner_.prefill(inputs_embeds, max_new_tokens, copies);
  check(logits);
  return logits;
}

at::Tensor GuardedStepDecoder::step(const at::Tensor& ids) {
  check_pending();
  if (on_step_) on_step_(steps_);
  throw_if_cancelled(cancel_);
  at::Tensor logits = inner_.step(ids);
  ++steps_;
  check(logits);
  return logits;
}

void GuardedStepDecoder::finish() { check_pending(); }

void GuardedStepDecoder::check(const at::Tensor& logits) {
  at::Tensor finite = at::isfinite(logits).all();
  if (logits.is_cuda()) {  // read after the loop's next host sync, for free
    pending_ = finite;
    pending_step_ = steps_;
    return;
  }
  if (!finite.item<bool>()) non_finite(steps_);
}

void GuardedStepDecoder::check_pending() {
  if (!pending_.defined()) return;
  const bool finite = pending_.item<bool>();
  pending_ = at::Tensor();
  if (!finite) non_finite(pending_step_);
}

DecodeResult guarded_decode(StepDecoder& inner, const DecodeRequest& request) {
  GuardedStepDecoder guarded(inner, request.options.cancel.get(), request.options.on_step);
  DecodeResult result = decode(guarded, request);
  guarded.finish();
  return result;
}

}  // namespace blip2
