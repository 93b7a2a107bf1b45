// blip2_model.h — the whole network (HF: Blip2ForConditionalGeneration).
//
// named_parameters() equals the checkpoint keys, so loading needs no rename
// table: vision_model.*, query_tokens, qformer.*, language_projection.*,
// language_model.model.decoder.* (+ language_model.lm_head.* when untied).
#pragma once

#include <torch/nn/module.h>

#include "config.h"
#include "layers.h"
#include "opt.h"
#include "qformer.h"
#include "vision_model.h"

namespace blip2 {

struct Blip2ForConditionalGenerationImpl : torch::nn::Module {
  Blip2ForConditionalGenerationImpl(const Blip2Config& config, const at::TensorOptions& options);

  // pixel_values: [B, 3, S, S] -> image features for the language model
  // [B, Q, D_text] (vision -> Q-Former (float32 in a float16 model) -> language_projection).
  // Optional outputs for inspection: image_embeds [B, N, Dv], query_output [B, Q, Dq].
  at::Tensor image_features(const at::Tensor& pixel_values,
                            at::Tensor* image_embeds = nullptr,
                            at::Tensor* query_output = nullptr);
  // The second half alone: image_embeds [B, N, Dv] (the vision encoder's
  // output) -> features [B, Q, D_text] (Q-Former, language_projection).
  at::Tensor query_features(const at::Tensor& image_embeds, at::Tensor* query_output = nullptr);

  // Token embeddings of the language model: ids [B, T] -> [B, T, E].
  at::Tensor embed_tokens(const at::Tensor& ids);

  Blip2Config config;
  VisionModel vision_model{nullptr};
  at::Tensor query_tokens;  // [1, Q, Dq]
  QFormerModel qformer{nullptr};
  Linear language_projection{nullptr};
  OptForCausalLM language_model{nullptr};
};
TORCH_MODULE(Blip2ForConditionalGeneration);

}  // namespace blip2
