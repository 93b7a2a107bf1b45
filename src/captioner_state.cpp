// captioner_state.cpp — choosing and keeping the step decoders of a Captioner.
#include "captioner_state.h"

#include <algorithm>

#include "error.h"
#include "log.h"

namespace blip2 {

StepDecoder& CaptionerState::decoder_for(OptForCausalLMImpl& lm,
                                         DecodeMode mode,
                                         int64_t rows,
                                         int64_t positions,
                                         const at::TensorOptions& options) {
  last_step = nullptr;
  if (mode == DecodeMode::kDynamic) {
    if (!eager) eager.emplace(lm, cache);
    return *eager;
  }
  const int64_t capacity =
      std::min(DecodeStep::round_capacity(positions), lm.config.max_position_embeddings);
  auto found = std::find_if(steps.begin(), steps.end(), [&](const auto& step) {
    return step->batch() == rows && step->capacity() == capacity;
  });
  if (found != steps.end()) {
    steps.splice(steps.begin(), steps, found);  // most recently used first
  } else {
    if (steps.size() >= kMaxSteps) steps.pop_back();
    const bool use_graph = mode == DecodeMode::kGraph && !capture_failed;
    steps.push_front(std::make_unique<DecodeStep>(lm, rows, capacity, options, use_graph));
  }
  last_step = steps.front().get();
  return *last_step;
}

void CaptionerState::report_capture_failure() {
  if (capture_failed || last_step == nullptr || !last_step->capture_failed()) return;
  capture_failed = true;
  log_message(LogLevel::kWarning, "decoding without CUDA graphs: " + last_step->eager_reason());
}

const char* CaptionerState::last_decoder_name() const {
  if (last_step == nullptr) return "dynamic";
  return last_step->graphed() ? "graph" : "static";
}

}  // namespace blip2
