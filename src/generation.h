// generation.h — decoding loops over the OPT language model.
//
// The language model input is [image features ; BOS + prompt] as embeddings;
// `input_ids` mirrors what transformers keeps in its input_ids row (image
// placeholder ids + BOS + prompt in the new convention, BOS + prompt in the
// old one), which logits processors that look at past ids need.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "blip2.h"
#include "kv_cache.h"
#include "opt.h"

namespace blip2 {

struct DecodeRequest {
  at::Tensor inputs_embeds;            // [B, L, E] prefix (image features + prompt)
  std::vector<int64_t> input_ids;      // the L ids transformers would keep (shared by all rows)
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 1;
  GenerationOptions options;
};

struct DecodeResult {
  std::vector<std::vector<int64_t>> tokens;  // per row: new ids, EOS included when generated
  std::vector<double> scores;                // per row: mean log-probability of its tokens
};

// Greedy decoding with the KV cache (allocated here to L + max_new_tokens).
DecodeResult greedy_decode(OptForCausalLMImpl& lm, const DecodeRequest& request, KvCache& cache);

// Processed next-token scores as transformers computes them for greedy
// decoding: float32 copy of the last logits, then the logits processors in
// transformers' order (min_new_tokens bans EOS). logits: [B, V]; `generated`
// = number of new tokens so far.
at::Tensor process_logits(const at::Tensor& logits, const DecodeRequest& request,
                          int64_t generated);

}  // namespace blip2
