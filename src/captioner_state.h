// captioner_state.h — the mutable per-Captioner state (internal; torch).
//
// A Captioner decodes through one of two StepDecoders:
//   static  - a DecodeStep (fixed shapes and addresses; replayed as a CUDA
//             graph on CUDA), kept per (rows, capacity) so that a graph is
//             captured once and replayed by every later caption of that shape
//   dynamic - the EagerStepDecoder over `cache` (the plain decoder loop)
// Model::Impl::decode_mode says which (decode_mode.h).
#pragma once

#include <list>
#include <memory>
#include <optional>

#include "cuda_decode_graph.h"
#include "decode_mode.h"
#include "generation.h"
#include "kv_cache.h"

namespace blip2 {

struct CaptionerState {
  // DecodeSteps kept at once (each holds a KV cache of its shape)
  static constexpr size_t kMaxSteps = 4;

  // The decoder for `rows` rows that need `positions` positions (prompt +
  // new tokens). The reference stays valid until the next call.
  StepDecoder& decoder_for(OptForCausalLMImpl& lm,
                           DecodeMode mode,
                           int64_t rows,
                           int64_t positions,
                           const at::TensorOptions& options);
  // After a decode: logs, once per Captioner, why a graph capture failed.
  void report_capture_failure();
  // What the last decode ran: "graph", "static" or "dynamic".
  const char* last_decoder_name() const;

  KvCache cache;  // the dynamic decoder's
  std::optional<EagerStepDecoder> eager;
  std::list<std::unique_ptr<DecodeStep>> steps;  // most recently used first
  DecodeStep* last_step = nullptr;
  bool capture_failed = false;  // later steps are not captured again
};

}  // namespace blip2
