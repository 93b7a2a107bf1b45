#include "generation.h"

#include <limits>

#include "error.h"

namespace blip2 {
namespace {

void allocate_cache(const OptForCausalLMImpl& lm, int64_t batch, int64_t capacity,
                    const at::Tensor& like, KvCache& cache) {
  const OptConfig& c = lm.config;
  cache.allocate(c.num_hidden_layers, batch, c.num_attention_heads, capacity,
                 c.hidden_size / c.num_attention_heads, like.options());
}

// Last position's logits of one decoder pass: embeds [B, T, E] -> [B, V]
at::Tensor next_logits(OptForCausalLMImpl& lm, const at::Tensor& embeds, KvCache& cache) {
  at::Tensor hidden = lm.model->decoder->forward(embeds, cache);
  return lm.logits(hidden.select(1, hidden.size(1) - 1));
}

}  // namespace

at::Tensor process_logits(const at::Tensor& logits, const DecodeRequest& request,
                          int64_t generated) {
  at::Tensor scores = logits.to(at::kFloat);
  if (generated < request.options.min_new_tokens && request.eos_token_id < scores.size(1)) {
    scores.select(1, request.eos_token_id).fill_(-std::numeric_limits<float>::infinity());
  }
  return scores;
}

DecodeResult greedy_decode(OptForCausalLMImpl& lm, const DecodeRequest& request, KvCache& cache) {
  const int64_t batch = request.inputs_embeds.size(0);
  const int64_t max_new = request.options.max_new_tokens;
  allocate_cache(lm, batch, request.inputs_embeds.size(1) + max_new, request.inputs_embeds,
                 cache);

  DecodeResult result;
  result.tokens.assign(batch, {});
  std::vector<double> logprob_sums(batch, 0.0);
  std::vector<bool> finished(batch, false);
  at::Tensor logits = next_logits(lm, request.inputs_embeds, cache);
  for (int64_t step = 0; step < max_new; ++step) {
    at::Tensor scores = process_logits(logits, request, step);
    at::Tensor chosen = scores.argmax(-1);                                  // [B]
    at::Tensor logprobs = at::log_softmax(scores, -1).gather(1, chosen.unsqueeze(1));
    at::Tensor chosen_cpu = chosen.cpu();  // the one host sync per token (stop test)
    at::Tensor logprobs_cpu = logprobs.cpu();
    bool all_done = true;
    for (int64_t b = 0; b < batch; ++b) {
      if (finished[b]) continue;
      const int64_t id = chosen_cpu[b].item<int64_t>();
      result.tokens[b].push_back(id);
      logprob_sums[b] += logprobs_cpu[b][0].item<double>();
      finished[b] = id == request.eos_token_id;
      all_done = all_done && finished[b];
    }
    if (all_done || step + 1 == max_new) break;
    // finished rows keep decoding the pad id, as transformers does
    std::vector<uint8_t> done_flags(finished.begin(), finished.end());
    at::Tensor done = at::tensor(at::ArrayRef<uint8_t>(done_flags)).to(chosen.device()).to(at::kBool);
    at::Tensor next_ids = at::where(done, at::full_like(chosen, request.pad_token_id), chosen);
    at::Tensor embeds = lm.model->decoder->embed_tokens->forward(next_ids.unsqueeze(1));
    logits = next_logits(lm, embeds, cache);
  }
  for (int64_t b = 0; b < batch; ++b) {
    const auto n = static_cast<double>(result.tokens[b].size());
    result.scores.push_back(n > 0 ? logprob_sums[b] / n : 0.0);
  }
  return result;
}

}  // namespace blip2
