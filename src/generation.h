// generation.h — decoding loops over the OPT language model.
//
// The language model input is [image features ; BOS + prompt] as embeddings;
// `input_ids` mirrors what transformers keeps in its input_ids row (image
// placeholder ids + BOS + prompt in the new convention, BOS + prompt in the
// old one), which logits processors that look at past ids need.
//
// All loops follow transformers 5.17's generate: the prompt runs once (one
// prefill for the B inputs, whose cache is then copied to every beam or
// returned sequence), the per-step state stays on the model's device, and the
// host waits for the device once per token, for the stop test.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "blip2.h"
#include "kv_cache.h"
#include "opt.h"

namespace blip2 {

struct DecodeRequest {
  at::Tensor inputs_embeds;        // [B, L, E] prefix (image features + prompt)
  std::vector<int64_t> input_ids;  // the L ids transformers would keep (shared by all rows)
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 1;
  GenerationOptions options;
  std::vector<int64_t> banned_ids;  // ids never generated (transformers' one-id bad_words_ids)
};

struct DecodeResult {
  int64_t sequences_per_input = 1;  // num_return_sequences
  // per returned sequence, grouped by input (input i owns rows i*n .. i*n+n-1, best first):
  std::vector<std::vector<int64_t>> tokens;  // new ids, EOS included when generated
  std::vector<double> scores;                // mean log-probability of its tokens
  std::vector<double> beam_scores;           // beam search only: transformers' sequences_scores
};

// The forward passes a decoding loop needs. The loops below only call these,
// so another implementation (e.g. cuda_decode_graph.h's DecodeStep, which
// keeps fixed addresses and reorders in place) can be plugged in.
class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  // Runs the prompt inputs_embeds [B, L, E] once, with room for
  // max_new_tokens more positions, and leaves `copies` consecutive rows per
  // input -> the last position's logits [B * copies, V] (model dtype).
  virtual at::Tensor prefill(const at::Tensor& inputs_embeds,
                             int64_t max_new_tokens,
                             int64_t copies) = 0;
  // One new id per row, ids [N] int64 -> logits [N, V] of the next position.
  virtual at::Tensor step(const at::Tensor& ids) = 0;
  // Row i becomes old row rows[i] (beam search); rows [N] int64 on the device.
  virtual void reorder(const at::Tensor& rows) = 0;
};

// StepDecoder over the plain decoder and a KvCache (reallocated by prefill).
class EagerStepDecoder : public StepDecoder {
 public:
  EagerStepDecoder(OptForCausalLMImpl& lm, KvCache& cache) : lm_(lm), cache_(cache) {}
  at::Tensor prefill(const at::Tensor& inputs_embeds,
                     int64_t max_new_tokens,
                     int64_t copies) override;
  at::Tensor step(const at::Tensor& ids) override;
  void reorder(const at::Tensor& rows) override { cache_.reorder(rows); }

 private:
  OptForCausalLMImpl& lm_;
  KvCache& cache_;
};

// Greedy decoding (num_beams 1, no sampling).
DecodeResult greedy_decode(StepDecoder& decoder, const DecodeRequest& request);

// Multinomial sampling (do_sample, num_beams 1): num_return_sequences draws
// per input, repeatable from options.seed.
DecodeResult sample_decode(StepDecoder& decoder, const DecodeRequest& request);

// Greedy, sampling or beam search (beam_search.h) as the options ask.
DecodeResult decode(StepDecoder& decoder, const DecodeRequest& request);

// The same with an EagerStepDecoder over `lm` and `cache`.
DecodeResult greedy_decode(OptForCausalLMImpl& lm, const DecodeRequest& request, KvCache& cache);
DecodeResult decode(OptForCausalLMImpl& lm, const DecodeRequest& request, KvCache& cache);

// The id rows transformers starts from: input_ids repeated for `rows` rows,
// with room for `max_new_tokens` more (filled with `fill`) -> [rows, L + max_new] int64.
at::Tensor initial_sequences(const std::vector<int64_t>& input_ids,
                             int64_t rows,
                             int64_t max_new_tokens,
                             int64_t fill,
                             const at::Device& device);

}  // namespace blip2
