#include "opt.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "layers.h"

namespace blip2 {
namespace {

int64_t embed_dim_of(const OptConfig& c) {
  return c.word_embed_proj_dim > 0 ? c.word_embed_proj_dim : c.hidden_size;
}

// Additive causal mask for T new positions after `past` cached ones:
// [1, 1, T, past + T], 0 where key j <= past + i, the dtype's lowest elsewhere.
at::Tensor causal_mask(int64_t past, int64_t t, const at::TensorOptions& options) {
  const double lowest = options.dtype() == at::kDouble ? std::numeric_limits<double>::lowest()
                        : options.dtype() == at::kHalf ? -65504.0
                        : options.dtype() == at::kBFloat16
                            ? -3.3895313892515355e38
                            : static_cast<double>(std::numeric_limits<float>::lowest());
  at::Tensor allowed = at::ones({t, past + t}, options.dtype(at::kBool)).tril(past);
  return at::zeros({t, past + t}, options).masked_fill(allowed.logical_not(), lowest).view(
      {1, 1, t, past + t});
}

}  // namespace

OptAttentionImpl::OptAttentionImpl(const OptConfig& c, const at::TensorOptions& options)
    : num_heads(c.num_attention_heads),
      scaling(1.0 / std::sqrt(static_cast<double>(c.hidden_size / c.num_attention_heads))) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, c.hidden_size, c.enable_bias, options));
  k_proj = register_module("k_proj", Linear(c.hidden_size, c.hidden_size, c.enable_bias, options));
  v_proj = register_module("v_proj", Linear(c.hidden_size, c.hidden_size, c.enable_bias, options));
  out_proj = register_module("out_proj", Linear(c.hidden_size, c.hidden_size, c.enable_bias, options));
}

at::Tensor OptAttentionImpl::forward(const at::Tensor& x, KvCache& cache, int64_t layer) {
  const int64_t t = x.size(1), past = cache.length;
  at::Tensor q = split_heads(q_proj->forward(x) * scaling, num_heads);  // [B, H, T, hd]
  cache.keys[layer].narrow(2, past, t).copy_(split_heads(k_proj->forward(x), num_heads));
  cache.values[layer].narrow(2, past, t).copy_(split_heads(v_proj->forward(x), num_heads));
  at::Tensor k = cache.keys[layer].narrow(2, 0, past + t);  // [B, H, past + T, hd]
  at::Tensor v = cache.values[layer].narrow(2, 0, past + t);
  at::Tensor mask = t > 1 ? causal_mask(past, t, q.options()) : at::Tensor();
  return out_proj->forward(attention(q, k, v, mask, 1.0, /*softmax_in_float32=*/true));
}

OptDecoderLayerImpl::OptDecoderLayerImpl(const OptConfig& c, const at::TensorOptions& options) : pre_norm(c.do_layer_norm_before), gelu_activation(c.activation_function == "gelu") {
  self_attn = register_module("self_attn", OptAttention(c, options));
  self_attn_layer_norm = register_module(
      "self_attn_layer_norm", LayerNorm(c.hidden_size, 1e-5, c.layer_norm_elementwise_affine, options));
  fc1 = register_module("fc1", Linear(c.hidden_size, c.ffn_dim, c.enable_bias, options));
  fc2 = register_module("fc2", Linear(c.ffn_dim, c.hidden_size, c.enable_bias, options));
  final_layer_norm = register_module(
      "final_layer_norm", LayerNorm(c.hidden_size, 1e-5, c.layer_norm_elementwise_affine, options));
}

at::Tensor OptDecoderLayerImpl::forward(const at::Tensor& x, KvCache& cache, int64_t layer) {
  at::Tensor h = pre_norm ? self_attn_layer_norm->forward(x) : x;
  h = x + self_attn->forward(h, cache, layer);
  if (!pre_norm) h = self_attn_layer_norm->forward(h);
  at::Tensor f = pre_norm ? final_layer_norm->forward(h) : h;
  f = fc1->forward(f);
  f = h + fc2->forward(gelu_activation ? at::gelu(f) : at::relu(f));
  return pre_norm ? f : final_layer_norm->forward(f);
}

OptDecoderImpl::OptDecoderImpl(const OptConfig& c, const at::TensorOptions& options) {
  const int64_t embed_dim = embed_dim_of(c);
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, embed_dim, options));
  embed_positions = register_module(
      "embed_positions",
      Embedding(c.max_position_embeddings + kOptPositionOffset, c.hidden_size, options));
  if (embed_dim != c.hidden_size) {
    project_in = register_module("project_in", Linear(embed_dim, c.hidden_size, false, options));
    project_out = register_module("project_out", Linear(c.hidden_size, embed_dim, false, options));
  }
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(OptDecoderLayer(c, options));
  if (c.do_layer_norm_before && !c._remove_final_layer_norm) {
    final_layer_norm = register_module(
        "final_layer_norm", LayerNorm(c.hidden_size, 1e-5, c.layer_norm_elementwise_affine, options));
  }
}

at::Tensor OptDecoderImpl::forward(const at::Tensor& inputs_embeds, KvCache& cache) {
  const int64_t t = inputs_embeds.size(1);
  at::Tensor positions =
      at::arange(cache.length + kOptPositionOffset, cache.length + kOptPositionOffset + t,
                 inputs_embeds.options().dtype(at::kLong));
  at::Tensor h = project_in ? project_in->forward(inputs_embeds) : inputs_embeds;
  h = h + embed_positions->forward(positions).unsqueeze(0);  // [B, T, D]
  for (size_t i = 0; i < layers->size(); ++i) {
    h = layers[i]->as<OptDecoderLayerImpl>()->forward(h, cache, static_cast<int64_t>(i));
  }
  cache.length += t;
  if (final_layer_norm) h = final_layer_norm->forward(h);
  return project_out ? project_out->forward(h) : h;
}

OptModelImpl::OptModelImpl(const OptConfig& c, const at::TensorOptions& options) {
  decoder = register_module("decoder", OptDecoder(c, options));
}

OptForCausalLMImpl::OptForCausalLMImpl(const OptConfig& c, const at::TensorOptions& options) : config(c) {
  model = register_module("model", OptModel(c, options));
  if (!c.tie_word_embeddings) {
    lm_head = register_module("lm_head", Linear(embed_dim_of(c), c.vocab_size, false, options));
  }
}

at::Tensor OptForCausalLMImpl::logits(const at::Tensor& hidden) const {
  if (lm_head) return lm_head->forward(hidden);
  if (tied_head_int8.defined()) return int8_linear(hidden, tied_head_int8, at::Tensor());
  return dense_linear(hidden, model->decoder->embed_tokens->weight, at::Tensor());
}

}  // namespace blip2
