// sampling.h — random token choice for do_sample, repeatable from a seed.
//
// torch.multinomial draws without replacement (and any single draw) as the
// indices of the largest probs / q with q ~ Exp(1) drawn on the CPU. The
// sampler does the same with its own CPU generator (no global RNG state is
// touched), so a seed gives the same draws on every device, and on the CPU
// exactly the draws transformers makes after torch.manual_seed(seed) when the
// probabilities agree.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/Generator.h>

#include <cstdint>

namespace blip2 {

class TokenSampler {
 public:
  explicit TokenSampler(uint64_t seed);

  // probs [N, C] float32 (rows need not be normalised) on any device ->
  // [N, n] int64 indices drawn without replacement, on probs' device; the
  // first index is the single draw torch.multinomial(probs, 1) would make.
  at::Tensor draw(const at::Tensor& probs, int64_t n);

 private:
  // q ~ Exp(1) shaped and typed like probs, drawn on the CPU and moved to probs' device.
  at::Tensor exponential_noise(const at::Tensor& probs);

  at::Generator generator_;
};

}  // namespace blip2
