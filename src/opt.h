// opt.h — the OPT language model (HF: OPTForCausalLM) with a static KV cache.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "config.h"
#include "kv_cache.h"
#include "layers.h"
#include "quantize.h"

namespace blip2 {

// OPT's learned positions are looked up at position + 2 (fairseq legacy).
constexpr int64_t kOptPositionOffset = 2;

// HF: OPTAttention (q is scaled by head_dim^-0.5 before q·kᵀ; softmax in float32)
struct OptAttentionImpl : torch::nn::Module {
  OptAttentionImpl(const OptConfig& config, const at::TensorOptions& options);
  // x: [B, T, D]; writes K/V of the T new positions into cache layer `layer`
  // at cache.length and attends over all cached positions -> [B, T, D]
  at::Tensor forward(const at::Tensor& x, KvCache& cache, int64_t layer);

  int64_t num_heads;
  double scaling;
  Linear q_proj{nullptr};
  Linear k_proj{nullptr};
  Linear v_proj{nullptr};
  Linear out_proj{nullptr};
};
TORCH_MODULE(OptAttention);

// HF: OPTDecoderLayer (pre-LN when do_layer_norm_before, else post-LN)
struct OptDecoderLayerImpl : torch::nn::Module {
  OptDecoderLayerImpl(const OptConfig& config, const at::TensorOptions& options);
  // x: [B, T, D] -> [B, T, D]
  at::Tensor forward(const at::Tensor& x, KvCache& cache, int64_t layer);

  bool pre_norm;
  bool gelu_activation;  // activation_function "gelu" (exact); else "relu"
  OptAttention self_attn{nullptr};
  LayerNorm self_attn_layer_norm{nullptr};
  Linear fc1{nullptr};
  Linear fc2{nullptr};
  LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(OptDecoderLayer);

// HF: OPTDecoder
struct OptDecoderImpl : torch::nn::Module {
  OptDecoderImpl(const OptConfig& config, const at::TensorOptions& options);
  // inputs_embeds: [B, T, E] (E = word_embed_proj_dim) at positions
  // cache.length .. cache.length + T - 1 -> hidden [B, T, E]; advances cache.length
  at::Tensor forward(const at::Tensor& inputs_embeds, KvCache& cache);

  Embedding embed_tokens{nullptr};    // [V, E]
  Embedding embed_positions{nullptr};  // [max_positions + 2, D]
  Linear project_in{nullptr};          // E -> D, only when E != D
  Linear project_out{nullptr};         // D -> E, only when E != D
  torch::nn::ModuleList layers{nullptr};
  LayerNorm final_layer_norm{nullptr};  // absent for post-LN models
};
TORCH_MODULE(OptDecoder);

// HF: OPTModel
struct OptModelImpl : torch::nn::Module {
  OptModelImpl(const OptConfig& config, const at::TensorOptions& options);
  OptDecoder decoder{nullptr};
};
TORCH_MODULE(OptModel);

// HF: OPTForCausalLM. lm_head is tied to embed_tokens unless the config unties it.
struct OptForCausalLMImpl : torch::nn::Module {
  OptForCausalLMImpl(const OptConfig& config, const at::TensorOptions& options);
  // hidden: [B, T, E] -> logits [B, T, V]
  at::Tensor logits(const at::Tensor& hidden) const;

  OptConfig config;
  OptModel model{nullptr};
  Linear lm_head{nullptr};  // only when tie_word_embeddings is false
  // quantize=int8 with a tied head: the head's int8 copy of embed_tokens (the
  // embedding itself stays in the model's dtype, so lookups are exact)
  Int8Weight tied_head_int8;
};
TORCH_MODULE(OptForCausalLM);

}  // namespace blip2
