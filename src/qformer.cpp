#include "qformer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "layers.h"

namespace blip2 {

QFormerMultiHeadAttentionImpl::QFormerMultiHeadAttentionImpl(const QFormerConfig& c, bool is_cross_attention,
    const at::TensorOptions& options)
    : num_heads(c.num_attention_heads),
      scaling(1.0 / std::sqrt(static_cast<double>(c.hidden_size / c.num_attention_heads))) {
  const int64_t context_size = is_cross_attention ? c.encoder_hidden_size : c.hidden_size;
  query = register_module("query", Linear(c.hidden_size, c.hidden_size, true, options));
  key = register_module("key", Linear(context_size, c.hidden_size, true, options));
  value = register_module("value", Linear(context_size, c.hidden_size, true, options));
}

at::Tensor QFormerMultiHeadAttentionImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  at::Tensor q = split_heads(query->forward(x), num_heads);  // [B, H, Q, hd]
  at::Tensor k = split_heads(key->forward(context), num_heads);
  at::Tensor v = split_heads(value->forward(context), num_heads);
  // the all-ones attention masks of BLIP-2 add exact zeros: omitted
  return attention(q, k, v, at::Tensor(), scaling, /*softmax_in_float32=*/false);
}

QFormerOutputImpl::QFormerOutputImpl(const QFormerConfig& c, int64_t in_features,
    const at::TensorOptions& options) {
  dense = register_module("dense", Linear(in_features, c.hidden_size, true, options));
  layer_norm = register_module("LayerNorm", LayerNorm(c.hidden_size, c.layer_norm_eps, true, options));
}

at::Tensor QFormerOutputImpl::forward(const at::Tensor& x, const at::Tensor& residual) {
  return layer_norm->forward(dense->forward(x) + residual);
}

QFormerAttentionImpl::QFormerAttentionImpl(const QFormerConfig& c, bool is_cross_attention,
    const at::TensorOptions& options) {
  attention = register_module("attention", QFormerMultiHeadAttention(c, is_cross_attention, options));
  output = register_module("output", QFormerOutput(c, c.hidden_size, options));
}

at::Tensor QFormerAttentionImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  return output->forward(attention->forward(x, context), x);
}

QFormerIntermediateImpl::QFormerIntermediateImpl(const QFormerConfig& c, const at::TensorOptions& options) {
  dense = register_module("dense", Linear(c.hidden_size, c.intermediate_size, true, options));
}

at::Tensor QFormerIntermediateImpl::forward(const at::Tensor& x) {
  return at::gelu(dense->forward(x));
}

QFormerLayerImpl::QFormerLayerImpl(const QFormerConfig& c, int64_t layer_idx,
    const at::TensorOptions& options) {
  attention = register_module("attention", QFormerAttention(c, /*is_cross_attention=*/false, options));
  if (layer_idx % c.cross_attention_frequency == 0) {
    crossattention =
        register_module("crossattention", QFormerAttention(c, /*is_cross_attention=*/true, options));
  }
  intermediate_query = register_module("intermediate_query", QFormerIntermediate(c, options));
  output_query = register_module("output_query", QFormerOutput(c, c.intermediate_size, options));
}

at::Tensor QFormerLayerImpl::forward(const at::Tensor& x, const at::Tensor& image_embeds) {
  at::Tensor h = attention->forward(x, x);
  if (crossattention) h = crossattention->forward(h, image_embeds);
  return output_query->forward(intermediate_query->forward(h), h);
}

QFormerEncoderImpl::QFormerEncoderImpl(const QFormerConfig& c, const at::TensorOptions& options) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(QFormerLayer(c, i, options));
}

at::Tensor QFormerEncoderImpl::forward(at::Tensor x, const at::Tensor& image_embeds) {
  for (const auto& l : *layer) x = l->as<QFormerLayerImpl>()->forward(x, image_embeds);
  return x;
}

QFormerModelImpl::QFormerModelImpl(const QFormerConfig& c, const at::TensorOptions& options) {
  layernorm = register_module("layernorm", LayerNorm(c.hidden_size, c.layer_norm_eps, true, options));
  encoder = register_module("encoder", QFormerEncoder(c, options));
}

at::Tensor QFormerModelImpl::forward(const at::Tensor& query_embeds,
                                     const at::Tensor& image_embeds) {
  const auto dtype = layernorm->weight.scalar_type();
  at::Tensor x = layernorm->forward(query_embeds.to(dtype));
  return encoder->forward(x, image_embeds.to(dtype));
}

}  // namespace blip2
