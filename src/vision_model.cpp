#include "vision_model.h"

#include <ATen/ATen.h>

#include "layers.h"

namespace blip2 {

PatchEmbeddingImpl::PatchEmbeddingImpl(int64_t hidden_size, int64_t patch,
                                       const at::TensorOptions& options)
    : patch_size(patch) {
  weight = register_parameter("weight", at::empty({hidden_size, 3, patch, patch}, options), false);
  bias = register_parameter("bias", at::empty({hidden_size}, options), false);
}

at::Tensor PatchEmbeddingImpl::forward(const at::Tensor& pixel_values) const {
  return at::conv2d(pixel_values, weight, bias, {patch_size, patch_size});
}

VisionEmbeddingsImpl::VisionEmbeddingsImpl(const VisionConfig& c, const at::TensorOptions& options) {
  const int64_t grid = c.image_size / c.patch_size;
  class_embedding =
      register_parameter("class_embedding", at::empty({1, 1, c.hidden_size}, options), false);
  patch_embedding =
      register_module("patch_embedding", PatchEmbedding(c.hidden_size, c.patch_size, options));
  position_embedding = register_parameter(
      "position_embedding", at::empty({1, grid * grid + 1, c.hidden_size}, options), false);
}

at::Tensor VisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) {
  const auto dtype = patch_embedding->weight.scalar_type();
  at::Tensor patches = patch_embedding->forward(pixel_values.to(dtype));  // [B, D, g, g]
  patches = patches.flatten(2).transpose(1, 2);                           // [B, g·g, D]
  at::Tensor cls = class_embedding.expand({pixel_values.size(0), 1, -1}).to(dtype);
  at::Tensor x = at::cat({cls, patches}, 1);  // [B, N, D]
  return x + position_embedding.narrow(1, 0, x.size(1)).to(dtype);
}

VisionAttentionImpl::VisionAttentionImpl(const VisionConfig& c, const at::TensorOptions& options)
    : num_heads(c.num_attention_heads),
      scale(1.0 / std::sqrt(static_cast<double>(c.hidden_size / c.num_attention_heads))) {
  qkv = register_module("qkv", Linear(c.hidden_size, 3 * c.hidden_size, c.qkv_bias, options));
  projection = register_module("projection", Linear(c.hidden_size, c.hidden_size, true, options));
}

at::Tensor VisionAttentionImpl::forward(const at::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
  // [B, N, 3D] -> [3, B, H, N, hd]
  at::Tensor mixed = qkv->forward(x).reshape({b, n, 3, num_heads, d / num_heads});
  mixed = mixed.permute({2, 0, 3, 1, 4});
  at::Tensor context = attention(mixed[0], mixed[1], mixed[2], at::Tensor(), scale,
                                       /*softmax_in_float32=*/false);
  return projection->forward(context);
}

VisionMlpImpl::VisionMlpImpl(const VisionConfig& c, const at::TensorOptions& options) {
  fc1 = register_module("fc1", Linear(c.hidden_size, c.intermediate_size, true, options));
  fc2 = register_module("fc2", Linear(c.intermediate_size, c.hidden_size, true, options));
}

at::Tensor VisionMlpImpl::forward(const at::Tensor& x) {
  return fc2->forward(at::gelu(fc1->forward(x)));  // exact (erf) GELU
}

VisionEncoderLayerImpl::VisionEncoderLayerImpl(const VisionConfig& c, const at::TensorOptions& options) {
  self_attn = register_module("self_attn", VisionAttention(c, options));
  layer_norm1 = register_module("layer_norm1", LayerNorm(c.hidden_size, c.layer_norm_eps, true, options));
  mlp = register_module("mlp", VisionMlp(c, options));
  layer_norm2 = register_module("layer_norm2", LayerNorm(c.hidden_size, c.layer_norm_eps, true, options));
}

at::Tensor VisionEncoderLayerImpl::forward(const at::Tensor& x) {
  at::Tensor h = x + self_attn->forward(layer_norm1->forward(x));
  return h + mlp->forward(layer_norm2->forward(h));
}

VisionEncoderImpl::VisionEncoderImpl(const VisionConfig& c, const at::TensorOptions& options) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(VisionEncoderLayer(c, options));
}

at::Tensor VisionEncoderImpl::forward(at::Tensor x) {
  for (const auto& layer : *layers) x = layer->as<VisionEncoderLayerImpl>()->forward(x);
  return x;
}

VisionModelImpl::VisionModelImpl(const VisionConfig& c, const at::TensorOptions& options) {
  embeddings = register_module("embeddings", VisionEmbeddings(c, options));
  encoder = register_module("encoder", VisionEncoder(c, options));
  post_layernorm =
      register_module("post_layernorm", LayerNorm(c.hidden_size, c.layer_norm_eps, true, options));
}

at::Tensor VisionModelImpl::forward(const at::Tensor& pixel_values) {
  return post_layernorm->forward(encoder->forward(embeddings->forward(pixel_values)));
}

}  // namespace blip2
