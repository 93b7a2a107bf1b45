#include "decode_limits.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

namespace blip2 {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
// float32 [rows, vocab] tensors alive at once in a step: logits, their float
// copy, log-softmax, processed scores and the beam candidates
constexpr int64_t kScoreCopies = 5;
// int64 [rows, positions] id tensors of beam search: running, finished and
// the 2K candidates
constexpr int64_t kIdCopies = 5;

int64_t mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? kMax : r;
}
int64_t add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? kMax : r;
}

int64_t rows_per_input(const GenerationOptions& o) {
  return std::max<int64_t>({1, o.num_beams, o.do_sample ? o.num_return_sequences : 1});
}

std::string gib(int64_t bytes) {
  if (bytes == kMax) return "more than 8 EiB";
  const double value = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", value);
  return text;
}

}  // namespace

int64_t decode_state_bytes(const GenerationOptions& o,
                           const Blip2Config& config,
                           const DecodeFootprint& f) {
  const OptConfig& t = config.text_config;
  const int64_t rows = mul(f.batch, rows_per_input(o));
  const int64_t positions = add(f.prefix_positions, std::max<int64_t>(o.max_new_tokens, 0));
  // key/value cache: 2 x layers x rows x positions x hidden
  const int64_t cache = mul(mul(mul(2, t.num_hidden_layers), mul(rows, positions)),
                            mul(t.hidden_size, f.element_bytes));
  const int64_t scores = mul(mul(rows, t.vocab_size), 4 * kScoreCopies);
  const int64_t ids = mul(mul(rows, positions), 8 * kIdCopies);
  return add(add(cache, scores), ids);
}

void check_decode_memory(const GenerationOptions& o,
                         const Blip2Config& config,
                         const DecodeFootprint& f,
                         int64_t budget_bytes) {
  const int64_t needed = decode_state_bytes(o, config, f);
  if (needed <= budget_bytes) return;
  const bool beams = o.num_beams >= o.num_return_sequences || !o.do_sample;
  const std::string what = beams ? "num_beams " + std::to_string(o.num_beams)
                                 : "num_return_sequences " + std::to_string(o.num_return_sequences);
  throw Error(ErrorCode::kInvalidArgument,
              what + " with " + std::to_string(f.batch) + " image(s) and max_new_tokens " +
                  std::to_string(o.max_new_tokens) + " needs at least " + gib(needed) +
                  " of decoding state, over the limit of " + gib(budget_bytes) +
                  " (half the memory of this machine)");
}

int64_t default_decode_budget_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return kMax;
  return mul(pages, page_size) / 2;
}

}  // namespace blip2
