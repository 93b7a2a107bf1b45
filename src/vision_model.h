// vision_model.h — the EVA ViT-g image encoder (HF: Blip2VisionModel).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "config.h"
#include "layers.h"

namespace blip2 {

// HF/torch: nn.Conv2d(3, D, kernel=P, stride=P) cutting the image into patches
struct PatchEmbeddingImpl : torch::nn::Module {
  PatchEmbeddingImpl(int64_t hidden_size, int64_t patch_size, const at::TensorOptions& options);
  // pixel_values: [B, 3, S, S] -> [B, D, S/P, S/P]
  at::Tensor forward(const at::Tensor& pixel_values) const;

  int64_t patch_size;
  at::Tensor weight;  // [D, 3, P, P]
  at::Tensor bias;    // [D]
};
TORCH_MODULE(PatchEmbedding);

// HF: Blip2VisionEmbeddings
struct VisionEmbeddingsImpl : torch::nn::Module {
  VisionEmbeddingsImpl(const VisionConfig& config, const at::TensorOptions& options);
  // pixel_values: [B, 3, S, S] -> [B, N, D], N = (S / patch)² + 1
  at::Tensor forward(const at::Tensor& pixel_values);

  at::Tensor class_embedding;     // [1, 1, D]
  at::Tensor position_embedding;  // [1, N, D]
  PatchEmbedding patch_embedding{nullptr};
};
TORCH_MODULE(VisionEmbeddings);

// HF: Blip2Attention (fused qkv with [q_bias | 0 | v_bias] stored as qkv.bias)
struct VisionAttentionImpl : torch::nn::Module {
  VisionAttentionImpl(const VisionConfig& config, const at::TensorOptions& options);
  // x: [B, N, D] -> [B, N, D]
  at::Tensor forward(const at::Tensor& x);

  int64_t num_heads;
  double scale;
  Linear qkv{nullptr};
  Linear projection{nullptr};
};
TORCH_MODULE(VisionAttention);

// HF: Blip2MLP
struct VisionMlpImpl : torch::nn::Module {
  VisionMlpImpl(const VisionConfig& config, const at::TensorOptions& options);
  // x: [B, N, D] -> [B, N, D]
  at::Tensor forward(const at::Tensor& x);

  Linear fc1{nullptr};
  Linear fc2{nullptr};
};
TORCH_MODULE(VisionMlp);

// HF: Blip2EncoderLayer (pre-LN)
struct VisionEncoderLayerImpl : torch::nn::Module {
  VisionEncoderLayerImpl(const VisionConfig& config, const at::TensorOptions& options);
  // x: [B, N, D] -> [B, N, D]
  at::Tensor forward(const at::Tensor& x);

  VisionAttention self_attn{nullptr};
  LayerNorm layer_norm1{nullptr};
  VisionMlp mlp{nullptr};
  LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(VisionEncoderLayer);

// HF: Blip2Encoder
struct VisionEncoderImpl : torch::nn::Module {
  VisionEncoderImpl(const VisionConfig& config, const at::TensorOptions& options);
  // x: [B, N, D] -> [B, N, D]
  at::Tensor forward(at::Tensor x);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(VisionEncoder);

// HF: Blip2VisionModel
struct VisionModelImpl : torch::nn::Module {
  VisionModelImpl(const VisionConfig& config, const at::TensorOptions& options);
  // pixel_values: [B, 3, S, S] -> last_hidden_state [B, N, D] (post_layernorm applied)
  at::Tensor forward(const at::Tensor& pixel_values);

  VisionEmbeddings embeddings{nullptr};
  VisionEncoder encoder{nullptr};
  LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(VisionModel);

}  // namespace blip2
