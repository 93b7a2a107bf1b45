#include "logits_process.h"

#include <algorithm>
#include <limits>

namespace blip2 {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

}  // namespace

ProcessorSettings make_processor_settings(const GenerationOptions& options,
                                          int64_t eos_token_id,
                                          const std::vector<int64_t>& banned_ids,
                                          const at::Device& device) {
  ProcessorSettings s;
  s.eos_token_id = eos_token_id;
  s.repetition_penalty = options.repetition_penalty;
  s.no_repeat_ngram_size = options.no_repeat_ngram_size;
  s.min_new_tokens = options.min_new_tokens;
  std::vector<int64_t> banned;
  std::copy_if(banned_ids.begin(), banned_ids.end(), std::back_inserter(banned),
               [&](int64_t id) { return id != eos_token_id; });
  if (!banned.empty()) {
    s.banned_ids = at::tensor(at::ArrayRef<int64_t>(banned), at::kLong).to(device);
  }
  s.do_sample = options.do_sample;
  s.temperature = options.temperature;
  s.top_k = options.top_k;
  s.top_p = options.top_p;
  s.min_tokens_to_keep = options.num_beams > 1 ? 2 : 1;
  return s;
}

at::Tensor penalize_repetitions(const at::Tensor& scores, const at::Tensor& ids, double penalty) {
  at::Tensor score = at::gather(scores, 1, ids);
  score = at::where(score < 0, score * penalty, score / penalty);
  return scores.scatter(1, ids, score);
}

at::Tensor ban_repeated_ngrams(const at::Tensor& scores, const at::Tensor& ids, int64_t n) {
  const int64_t length = ids.size(1);
  if (length < n) return scores;
  // a window whose first n-1 ids equal the row's last n-1 ids bans its last id
  const at::Tensor prefix = ids.narrow(1, length + 1 - n, n - 1);  // [N, n-1]
  const at::Tensor windows = ids.unfold(1, n, 1);                  // [N, W, n]
  const at::Tensor matches = windows.narrow(2, 0, n - 1).eq(prefix.unsqueeze(1)).all(-1);
  const int64_t vocab = scores.size(1);
  at::Tensor banned = at::zeros({scores.size(0), vocab + 1}, scores.options().dtype(at::kBool));
  banned.scatter_(1, at::where(matches, windows.select(2, n - 1), vocab), true);  // spare column
  return scores.masked_fill(banned.narrow(1, 0, vocab), kMinusInfinity);
}

at::Tensor ban_ids(const at::Tensor& scores, const at::Tensor& banned) {
  return scores.index_fill(1, banned, kMinusInfinity);
}

at::Tensor ban_eos(const at::Tensor& scores, int64_t eos_token_id) {
  at::Tensor out = scores.clone();
  if (eos_token_id >= 0 && eos_token_id < out.size(1))
    out.select(1, eos_token_id).fill_(kMinusInfinity);
  return out;
}

at::Tensor apply_processors(const at::Tensor& scores,
                            const at::Tensor& ids,
                            int64_t generated,
                            const ProcessorSettings& s) {
  at::Tensor out = scores;
  if (s.repetition_penalty != 1.0) out = penalize_repetitions(out, ids, s.repetition_penalty);
  if (s.no_repeat_ngram_size > 0) out = ban_repeated_ngrams(out, ids, s.no_repeat_ngram_size);
  if (s.banned_ids.defined()) out = ban_ids(out, s.banned_ids);
  if (generated < s.min_new_tokens) out = ban_eos(out, s.eos_token_id);
  return out.is_same(scores) ? scores.clone() : out;
}

at::Tensor scale_by_temperature(const at::Tensor& scores, double temperature) {
  return scores / temperature;
}

at::Tensor keep_top_k(const at::Tensor& scores, int64_t top_k, int64_t min_tokens_to_keep) {
  const int64_t k = std::min(std::max(top_k, min_tokens_to_keep), scores.size(-1));
  const at::Tensor kth = std::get<0>(at::topk(scores, k)).narrow(-1, k - 1, 1);  // [N, 1]
  return scores.masked_fill(scores < kth, kMinusInfinity);
}

at::Tensor keep_top_p(const at::Tensor& scores, double top_p, int64_t min_tokens_to_keep) {
  const auto [sorted, order] = at::sort(scores, /*dim=*/-1, /*descending=*/false);
  const at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
  at::Tensor remove_sorted = cumulative <= (1 - top_p);
  const int64_t keep = std::min(min_tokens_to_keep, scores.size(-1));
  remove_sorted.narrow(-1, scores.size(-1) - keep, keep).fill_(false);
  const at::Tensor remove = remove_sorted.scatter(1, order, remove_sorted);
  return scores.masked_fill(remove, kMinusInfinity);
}

at::Tensor apply_warpers(const at::Tensor& scores, const ProcessorSettings& s) {
  if (!s.do_sample) return scores;
  at::Tensor out = scores;
  if (s.temperature != 1.0) out = scale_by_temperature(out, s.temperature);
  if (s.top_k != 0) out = keep_top_k(out, s.top_k, s.min_tokens_to_keep);
  if (s.top_p < 1.0) out = keep_top_p(out, s.top_p, s.min_tokens_to_keep);
  return out;
}

}  // namespace blip2
