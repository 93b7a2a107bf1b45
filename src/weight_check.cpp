#include "weight_check.h"

#include <ATen/ATen.h>

#include "error.h"

namespace blip2 {
namespace {

constexpr int64_t kChunkElements = int64_t{1} << 22;  // 4M values: a 4 MB bool temporary

}  // namespace

bool all_finite(const at::Tensor& t) {
  if (!t.is_floating_point() || t.numel() == 0) return true;
  const at::Tensor flat = t.reshape({-1});
  for (int64_t begin = 0; begin < flat.numel(); begin += kChunkElements) {
    const int64_t length = std::min(kChunkElements, flat.numel() - begin);
    if (!at::isfinite(flat.narrow(0, begin, length)).all().item<bool>()) return false;
  }
  return true;
}

void check_finite_parameters(torch::nn::Module& module, const std::string& origin) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const at::Tensor& p = item.value();
    if (all_finite(p)) continue;
    const int64_t bad = at::isfinite(p).logical_not().sum().item<int64_t>();
    throw Error(ErrorCode::kInvalidFormat,
                origin + ": tensor '" + item.key() + "' holds " + std::to_string(bad) + " of " +
                    std::to_string(p.numel()) +
                    " values that are NaN or infinite: the checkpoint is broken (or overflows " +
                    "the chosen dtype)");
  }
}

}  // namespace blip2
