#include "weight_check.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cstdint>

#include "error.h"

namespace blip2 {
namespace {

constexpr int64_t kChunkElements = int64_t{1} << 22;  // 4M values: a 4 MB bool temporary

// A float is NaN or infinite when its exponent bits are all ones: one pass of
// integer compares over the raw words, memory-bound (ATen's isfinite makes
// several temporaries and was 15x slower than the load's own copy).
template <typename Word>
bool exponents_finite(const at::Tensor& t, Word exponent_mask) {
  const Word* words = static_cast<const Word*>(t.const_data_ptr());
  std::atomic<bool> finite{true};
  at::parallel_for(0, t.numel(), int64_t{1} << 20, [&](int64_t begin, int64_t end) {
    Word bad = 0;
    for (int64_t i = begin; i < end; ++i) bad |= (words[i] & exponent_mask) == exponent_mask;
    if (bad) finite = false;
  });
  return finite;
}

}  // namespace

bool all_finite(const at::Tensor& t) {
  if (!t.is_floating_point() || t.numel() == 0) return true;
  if (t.device().is_cpu() && t.is_contiguous()) {
    switch (t.scalar_type()) {
      case at::kFloat:
        return exponents_finite<uint32_t>(t, 0x7f800000u);
      case at::kHalf:
        return exponents_finite<uint16_t>(t, 0x7c00u);
      case at::kBFloat16:
        return exponents_finite<uint16_t>(t, 0x7f80u);
      case at::kDouble:
        return exponents_finite<uint64_t>(t, 0x7ff0000000000000ull);
      default:
        break;
    }
  }
  const at::Tensor flat = t.reshape({-1});
  for (int64_t begin = 0; begin < flat.numel(); begin += kChunkElements) {
    const int64_t length = std::min(kChunkElements, flat.numel() - begin);
    if (!at::isfinite(flat.narrow(0, begin, length)).all().item<bool>()) return false;
  }
  return true;
}

void throw_non_finite(const std::string& origin, const std::string& name, const at::Tensor& t) {
  const int64_t bad = at::isfinite(t).logical_not().sum().item<int64_t>();
  throw Error(ErrorCode::kInvalidFormat,
              origin + ": tensor '" + name + "' holds " + std::to_string(bad) + " of " +
                  std::to_string(t.numel()) +
                  " values that are NaN or infinite: the checkpoint is broken (or overflows " +
                  "the chosen dtype)");
}

void check_finite_parameters(torch::nn::Module& module, const std::string& origin) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const at::Tensor& p = item.value();
    if (p.is_meta() || all_finite(p)) continue;  // meta: quantized, checked when it was
    throw_non_finite(origin, item.key(), p);
  }
}

}  // namespace blip2
