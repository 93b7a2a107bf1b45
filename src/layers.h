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

namespace blip2 {

// HF/torch: nn.Linear. weight [out, in], bias [out]
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& options);
  // x: [..., in] -> [..., out]
  at::Tensor forward(const at::Tensor& x) const { return at::linear(x, weight, bias); }

  at::Tensor weight;
  at::Tensor bias;  // undefined without bias
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

// Eager multi-head attention as transformers' eager_attention_forward:
// softmax(q·kᵀ · scaling + mask) · v, softmax in the compute dtype unless
// softmax_in_float32 (OPT computes it in float32 and casts back).
// q: [B, H, Tq, hd], k/v: [B, H, Tk, hd], mask: broadcastable to [B, H, Tq, Tk]
// or undefined -> [B, Tq, H·hd]
at::Tensor eager_attention(const at::Tensor& q,
                           const at::Tensor& k,
                           const at::Tensor& v,
                           const at::Tensor& mask,
                           double scaling,
                           bool softmax_in_float32);

// [B, T, H·hd] -> [B, H, T, hd]
at::Tensor split_heads(const at::Tensor& x, int64_t num_heads);

}  // namespace blip2
