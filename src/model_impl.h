// model_impl.h — what a loaded Model holds (internal; includes torch).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "blip2.h"
#include "blip2_model.h"
#include "config.h"
#include "decode_mode.h"
#include "image_processor.h"
#include "quantize.h"
#include "tokenizer.h"

namespace blip2 {

struct Model::Impl {
  ModelInfo info;
  Blip2Config config;
  ImageProcessorConfig image_config;
  Tokenizer tokenizer;
  // forward passes never change the module; mutable only because torch
  // modules expose non-const forwards
  mutable Blip2ForConditionalGeneration net{nullptr};
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  Quantization quantization = Quantization::kNone;
  DecodeMode decode_mode = DecodeMode::kDynamic;  // how captioners decode (decode_mode.h)

  // Preprocessed images: [B, 3, S, S] float32 on the model's device.
  at::Tensor pixel_values(const std::vector<ImageView>& images) const;

  // The ids transformers keeps for a prompt: BOS + prompt tokens, preceded by
  // num_query_tokens <image> ids in the new convention.
  std::vector<int64_t> input_ids_for(const std::string& prompt) const;

  // LM input embeddings [B, L, E] for image features [B, Q, D] and input_ids.
  at::Tensor inputs_embeds(const at::Tensor& image_features,
                           const std::vector<int64_t>& input_ids) const;
};

}  // namespace blip2
