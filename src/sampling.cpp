#include "sampling.h"

#include <ATen/CPUGeneratorImpl.h>

namespace blip2 {

TokenSampler::TokenSampler(uint64_t seed)
    : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

at::Tensor TokenSampler::exponential_noise(const at::Tensor& probs) {
  const bool to_gpu = !probs.device().is_cpu();
  at::Tensor q = at::empty(probs.sizes(),
                           at::TensorOptions().dtype(probs.scalar_type()).pinned_memory(to_gpu));
  q.exponential_(1.0, generator_);  // the kernel locks the generator itself
  // pinned memory: the copy is queued behind the running kernels, no host sync
  return to_gpu ? q.to(probs.device(), /*non_blocking=*/true) : q;
}

at::Tensor TokenSampler::draw(const at::Tensor& probs, int64_t n) {
  const at::Tensor ratio = probs / exponential_noise(probs);
  if (n == 1) return ratio.argmax(-1, /*keepdim=*/true);
  return std::get<1>(at::topk(ratio, n));
}

}  // namespace blip2
