// logits_process.h — transformers' logits processors and sampling warpers.
//
// Each function is a tensor-for-tensor port of one transformers 5.17 class
// (generation/logits_process.py), using the same operations in the same order
// so that results agree to the last bit where the inputs do. `scores` are
// float32 [N, V] (N = rows being decoded, V = logits width); `ids` are the
// int64 [N, T] rows transformers keeps in input_ids at that step (image
// placeholder ids, BOS, prompt and the new ids so far). Everything stays on
// the scores' device; nothing synchronises with the host.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "blip2.h"

namespace blip2 {

// The processors and warpers of one generate call, in transformers' terms.
struct ProcessorSettings {
  int64_t eos_token_id = 2;
  double repetition_penalty = 1.0;   // RepetitionPenaltyLogitsProcessor when != 1
  int64_t no_repeat_ngram_size = 0;  // NoRepeatNGramLogitsProcessor when > 0
  at::Tensor banned_ids;             // [K] int64: NoBadWordsLogitsProcessor with one-id words
  int64_t min_new_tokens = 0;        // MinLength / MinNewTokensLength (EOS banned before)
  // warpers, only when sampling
  bool do_sample = false;
  double temperature = 1.0;        // TemperatureLogitsWarper when != 1
  int64_t top_k = 0;               // TopKLogitsWarper when != 0
  double top_p = 1.0;              // TopPLogitsWarper when < 1
  int64_t min_tokens_to_keep = 1;  // 2 for beam sampling (one non-EOS besides EOS)
};

// Settings for `options` on `device`. `banned_ids` are single token ids that
// must never be generated; the EOS id is dropped from them as transformers does.
ProcessorSettings make_processor_settings(const GenerationOptions& options,
                                          int64_t eos_token_id,
                                          const std::vector<int64_t>& banned_ids,
                                          const at::Device& device);

// The processors in transformers' order (repetition penalty, no-repeat n-gram,
// banned ids, minimum length): scores [N, V] float32, ids [N, T] int64,
// `generated` new tokens so far -> [N, V] float32 (a new tensor).
at::Tensor apply_processors(const at::Tensor& scores,
                            const at::Tensor& ids,
                            int64_t generated,
                            const ProcessorSettings& settings);

// The sampling warpers in transformers' order (temperature, top-k, top-p);
// the scores unchanged unless settings.do_sample. scores [N, V] -> [N, V].
at::Tensor apply_warpers(const at::Tensor& scores, const ProcessorSettings& settings);

// RepetitionPenaltyLogitsProcessor: every id of a row (once per distinct id)
// gets s * penalty when s < 0, else s / penalty. scores [N, V], ids [N, T].
at::Tensor penalize_repetitions(const at::Tensor& scores, const at::Tensor& ids, double penalty);

// NoRepeatNGramLogitsProcessor: ids completing an n-gram already in the row
// get -inf. scores [N, V], ids [N, T].
at::Tensor ban_repeated_ngrams(const at::Tensor& scores, const at::Tensor& ids, int64_t ngram_size);

// NoBadWordsLogitsProcessor for one-id words: scores [N, V], banned [K] -> -inf there.
at::Tensor ban_ids(const at::Tensor& scores, const at::Tensor& banned);

// MinNewTokensLengthLogitsProcessor: EOS -> -inf. scores [N, V].
at::Tensor ban_eos(const at::Tensor& scores, int64_t eos_token_id);

// TemperatureLogitsWarper: scores [N, V] / temperature.
at::Tensor scale_by_temperature(const at::Tensor& scores, double temperature);

// TopKLogitsWarper: scores below the k-th largest of their row -> -inf. [N, V].
at::Tensor keep_top_k(const at::Tensor& scores, int64_t top_k, int64_t min_tokens_to_keep);

// TopPLogitsWarper: the smallest-probability ids whose total stays within
// 1 - top_p -> -inf (the most likely min_tokens_to_keep always kept). [N, V].
at::Tensor keep_top_p(const at::Tensor& scores, double top_p, int64_t min_tokens_to_keep);

}  // namespace blip2
