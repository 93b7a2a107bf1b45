// qformer.h — the querying transformer (HF: Blip2QFormerModel), query path only.
//
// A BERT-style post-LN encoder over the learned query tokens; every
// cross_attention_frequency-th layer also attends to the image embeddings.
// The text-side modules (embeddings, intermediate/output) are absent from
// BLIP-2 checkpoints and from here. In a float16 model it runs in float32,
// as in transformers (blip2_model.cpp).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "config.h"
#include "layers.h"

namespace blip2 {

// HF: Blip2QFormerMultiHeadAttention (registered as "attention")
struct QFormerMultiHeadAttentionImpl : torch::nn::Module {
  QFormerMultiHeadAttentionImpl(const QFormerConfig& config, bool is_cross_attention,
      const at::TensorOptions& options);
  // x: [B, Q, D], context: [B, N, Dc] (x itself for self-attention) -> [B, Q, D]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

  int64_t num_heads;
  double scaling;
  Linear query{nullptr};
  Linear key{nullptr};
  Linear value{nullptr};
};
TORCH_MODULE(QFormerMultiHeadAttention);

// HF: Blip2QFormerSelfOutput / Blip2QFormerOutput: dense, then LayerNorm(x + residual)
struct QFormerOutputImpl : torch::nn::Module {
  QFormerOutputImpl(const QFormerConfig& config, int64_t in_features,
      const at::TensorOptions& options);
  // x: [B, Q, in], residual: [B, Q, D] -> [B, Q, D]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& residual);

  Linear dense{nullptr};
  LayerNorm layer_norm{nullptr};  // registered as "LayerNorm" (BERT name)
};
TORCH_MODULE(QFormerOutput);

// HF: Blip2QFormerAttention
struct QFormerAttentionImpl : torch::nn::Module {
  QFormerAttentionImpl(const QFormerConfig& config, bool is_cross_attention,
      const at::TensorOptions& options);
  // x: [B, Q, D], context: [B, N, Dc] or x -> [B, Q, D]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

  QFormerMultiHeadAttention attention{nullptr};
  QFormerOutput output{nullptr};
};
TORCH_MODULE(QFormerAttention);

// HF: Blip2QFormerIntermediate
struct QFormerIntermediateImpl : torch::nn::Module {
  QFormerIntermediateImpl(const QFormerConfig& config, const at::TensorOptions& options);
  // x: [B, Q, D] -> [B, Q, intermediate]
  at::Tensor forward(const at::Tensor& x);

  Linear dense{nullptr};
};
TORCH_MODULE(QFormerIntermediate);

// HF: Blip2QFormerLayer
struct QFormerLayerImpl : torch::nn::Module {
  QFormerLayerImpl(const QFormerConfig& config, int64_t layer_idx,
      const at::TensorOptions& options);
  // x: [B, Q, D], image_embeds: [B, N, Dc] -> [B, Q, D]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& image_embeds);

  QFormerAttention attention{nullptr};
  QFormerAttention crossattention{nullptr};  // only in cross-attention layers
  QFormerIntermediate intermediate_query{nullptr};
  QFormerOutput output_query{nullptr};
};
TORCH_MODULE(QFormerLayer);

// HF: Blip2QFormerEncoder
struct QFormerEncoderImpl : torch::nn::Module {
  QFormerEncoderImpl(const QFormerConfig& config, const at::TensorOptions& options);
  // x: [B, Q, D], image_embeds: [B, N, Dc] -> [B, Q, D]
  at::Tensor forward(at::Tensor x, const at::Tensor& image_embeds);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(QFormerEncoder);

// HF: Blip2QFormerModel
struct QFormerModelImpl : torch::nn::Module {
  QFormerModelImpl(const QFormerConfig& config, const at::TensorOptions& options);
  // query_embeds: [B, Q, D], image_embeds: [B, N, Dc] (any dtype; computed in
  // the module's dtype) -> last_hidden_state [B, Q, D]
  at::Tensor forward(const at::Tensor& query_embeds, const at::Tensor& image_embeds);

  LayerNorm layernorm{nullptr};
  QFormerEncoder encoder{nullptr};
};
TORCH_MODULE(QFormerModel);

}  // namespace blip2
