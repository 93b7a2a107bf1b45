#include "layers.h"

namespace blip2 {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out, in}, options), false);
  if (with_bias) bias = register_parameter("bias", at::empty({out}, options), false);
}

LayerNormImpl::LayerNormImpl(int64_t d, double e, bool affine, const at::TensorOptions& options)
    : dim(d), eps(e) {
  if (affine) {
    weight = register_parameter("weight", at::empty({d}, options), false);
    bias = register_parameter("bias", at::empty({d}, options), false);
  }
}

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t d, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({num, d}, options), false);
}

at::Tensor eager_attention(const at::Tensor& q,
                           const at::Tensor& k,
                           const at::Tensor& v,
                           const at::Tensor& mask,
                           double scaling,
                           bool softmax_in_float32) {
  at::Tensor weights = at::matmul(q, k.transpose(-1, -2));
  if (scaling != 1.0) weights = weights * scaling;
  if (mask.defined()) weights = weights + mask;
  weights = softmax_in_float32 ? at::softmax(weights, -1, at::kFloat).to(q.scalar_type())
                               : at::softmax(weights, -1);
  at::Tensor out = at::matmul(weights, v);  // [B, H, Tq, hd]
  return out.transpose(1, 2).reshape({q.size(0), q.size(2), -1});
}

at::Tensor split_heads(const at::Tensor& x, int64_t num_heads) {
  return x.view({x.size(0), x.size(1), num_heads, -1}).transpose(1, 2);
}

}  // namespace blip2
