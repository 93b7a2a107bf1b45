#include "blip2_model.h"

#include <ATen/ATen.h>

#include "layers.h"

namespace blip2 {

Blip2ForConditionalGenerationImpl::Blip2ForConditionalGenerationImpl(const Blip2Config& c, const at::TensorOptions& options)
    : config(c) {
  vision_model = register_module("vision_model", VisionModel(c.vision_config, options));
  // In a float16 model transformers keeps the Q-Former and the query tokens
  // in float32 (_keep_in_fp32_modules, applied for float16 only); in bfloat16
  // and float32 they have the model's dtype like everything else. So do we.
  const at::TensorOptions qformer_options =
      options.dtype() == at::kHalf ? options.dtype(at::kFloat) : options;
  query_tokens = register_parameter(
      "query_tokens",
      at::empty({1, c.num_query_tokens, c.qformer_config.hidden_size}, qformer_options), false);
  qformer = register_module("qformer", QFormerModel(c.qformer_config, qformer_options));
  language_projection = register_module(
      "language_projection",
      Linear(c.qformer_config.hidden_size, c.text_config.hidden_size, true, options));
  language_model = register_module("language_model", OptForCausalLM(c.text_config, options));
}

at::Tensor Blip2ForConditionalGenerationImpl::image_features(const at::Tensor& pixel_values,
                                                             at::Tensor* image_embeds_out,
                                                             at::Tensor* query_output_out) {
  at::Tensor image_embeds = vision_model->forward(pixel_values);  // [B, N, Dv]
  if (image_embeds_out) *image_embeds_out = image_embeds;
  return query_features(image_embeds, query_output_out);
}

at::Tensor Blip2ForConditionalGenerationImpl::query_features(const at::Tensor& image_embeds,
                                                             at::Tensor* query_output_out) {
  at::Tensor queries = query_tokens.expand({image_embeds.size(0), -1, -1});
  at::Tensor query_output = qformer->forward(queries, image_embeds);  // [B, Q, Dq]
  if (query_output_out) *query_output_out = query_output;
  // a float16 model's Q-Former runs in float32: cast back first
  return language_projection->forward(query_output.to(image_embeds.scalar_type()));
}

at::Tensor Blip2ForConditionalGenerationImpl::embed_tokens(const at::Tensor& ids) {
  return language_model->model->decoder->embed_tokens->forward(ids);
}

}  // namespace blip2
