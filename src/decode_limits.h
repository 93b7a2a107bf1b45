// decode_limits.h — how many rows and positions a caption call may ask for.
//
// num_beams, num_return_sequences and max_new_tokens come from callers (CLI
// flags, element properties); 2147483647 beams must be a clear error, not an
// allocation that takes the host process down. The position table bounds the
// length; memory bounds the rows: the decoding state (key/value cache, the
// [rows, vocab] scores and the id rows) must fit in the budget.
#pragma once

#include <cstdint>

#include "blip2.h"
#include "config.h"

namespace blip2 {

struct DecodeFootprint {
  int64_t batch = 1;             // images in the call
  int64_t prefix_positions = 0;  // image queries + BOS + prompt
  int64_t element_bytes = 4;     // of the model's dtype (key/value cache)
};

// Bytes the decoding state of `options` needs at least, saturating at INT64_MAX.
int64_t decode_state_bytes(const GenerationOptions& options,
                           const Blip2Config& config,
                           const DecodeFootprint& footprint);

// Throws Error(kInvalidArgument) naming num_beams or num_return_sequences
// when decode_state_bytes exceeds `budget_bytes`.
void check_decode_memory(const GenerationOptions& options,
                         const Blip2Config& config,
                         const DecodeFootprint& footprint,
                         int64_t budget_bytes);

// The default budget: half of this machine's physical memory.
int64_t default_decode_budget_bytes();

}  // namespace blip2
