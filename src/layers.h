// layers.h — minimal inference layers shared by the three sub-networks.
//
// Unlike torch::nn's modules these never initialise their parameters: they
// are allocated uninitialised (at::empty) directly with the target dtype and
// device, so building the 2.7B model costs nothing before the checkpoint is
// copied in (no random init, no float32 copy on the host). Parameter names are
// those of torch.nn (weight, bias) so checkpoint keys match.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "quantize.h"

namespace blip2 {

// HF/torch: nn.Linear. weight [out, in], bias [out]
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& options);
  // x: [..., in] -> [..., out]
  at::Tensor forward(const at::Tensor& x) const;

  // Weight-only int8 from here on: `weight` becomes a placeholder on the meta
  // device (its name and shape stay for loading, it holds no memory); the
  // loader fills `int8` from the checkpoint (quantize.h).
  void use_int8();
  bool quantized() const { return weight.is_meta(); }

  at::Tensor weight;
  at::Tensor bias;  // undefined without bias
  Int8Weight int8;  // when quantized
};
TORCH_MODULE(Linear);

// HF/torch: nn.LayerNorm over the last dimension
struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int64_t dim, double eps, bool affine, const at::TensorOptions& options);
  // x: [..., dim] -> [..., dim]
  at::Tensor forward(const at::Tensor& x) const {
    return at::layer_norm(x, {dim}, weight, bias, eps);
  }

  int64_t dim;
  double eps;
  at::Tensor weight;  // undefined when not affine
  at::Tensor bias;
};
TORCH_MODULE(LayerNorm);

// HF/torch: nn.Embedding. weight [num, dim]
struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(int64_t num, int64_t dim, const at::TensorOptions& options);
  // ids: [...] int64 -> [..., dim]
  at::Tensor forward(const at::Tensor& ids) const { return at::embedding(weight, ids); }

  at::Tensor weight;
};
TORCH_MODULE(Embedding);

// Which kernel computes attention (process-wide; read at every call).
//   kAuto  - at::scaled_dot_product_attention on CUDA tensors, the eager math
//            on every other device (so the float32 CPU path stays bit-exact
//            with transformers' eager attention, which the parity tests check)
//   kEager - the eager math everywhere (transformers' eager_attention_forward)
//   kSdpa  - at::scaled_dot_product_attention everywhere (also on the CPU,
//            where the tests use it to compare the two)
enum class AttentionBackend { kAuto, kEager, kSdpa };
void set_attention_backend(AttentionBackend backend);
AttentionBackend attention_backend();
// "auto" | "eager" | "sdpa" (throws blip2::Error kInvalidArgument otherwise)
AttentionBackend parse_attention_backend(const std::string& name);
const char* attention_backend_name(AttentionBackend backend);
// Whether attention() takes the SDPA kernel for a query on this device.
bool attention_uses_sdpa(const at::Tensor& q);

// Multi-head attention with the semantics of transformers'
// eager_attention_forward: softmax(q·kᵀ · scaling + mask) · v, the softmax in
// the compute dtype unless softmax_in_float32 (OPT computes it in float32 and
// casts back). Dispatches on attention_backend(); the SDPA kernels always
// accumulate the softmax in float32, so in half precision they round
// differently from the eager math (as transformers' sdpa and eager modes do).
// q: [B, H, Tq, hd], k/v: [B, H, Tk, hd], mask: additive, in q's dtype,
// broadcastable to [B, H, Tq, Tk], or undefined -> [B, Tq, H·hd]
at::Tensor attention(const at::Tensor& q,
                     const at::Tensor& k,
                     const at::Tensor& v,
                     const at::Tensor& mask,
                     double scaling,
                     bool softmax_in_float32);

// The eager math alone, whatever the backend. Shapes as attention().
at::Tensor eager_attention_math(const at::Tensor& q,
                                const at::Tensor& k,
                                const at::Tensor& v,
                                const at::Tensor& mask,
                                double scaling,
                                bool softmax_in_float32);

// at::scaled_dot_product_attention alone (no dropout, not causal: causality
// comes with the mask). Shapes as attention().
at::Tensor sdpa_attention(const at::Tensor& q,
                          const at::Tensor& k,
                          const at::Tensor& v,
                          const at::Tensor& mask,
                          double scaling);


// x [..., in] · weightᵀ (+ bias) -> [..., out], as at::linear. A single
// bfloat16 row on the CPU goes through the matrix-matrix kernel (as two rows)
// instead of ATen's matrix-vector path, which is several times slower there.
at::Tensor dense_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// [B, T, H·hd] -> [B, H, T, hd]
at::Tensor split_heads(const at::Tensor& x, int64_t num_heads);

}  // namespace blip2
