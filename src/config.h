// config.h — config.json of a Blip2ForConditionalGeneration checkpoint.
//
// Field names are the config.json keys; in-class defaults are the Hugging Face
// defaults (transformers' Blip2VisionConfig / Blip2QFormerConfig / OPTConfig),
// used when a key is absent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace blip2 {

// HF: Blip2VisionConfig
struct VisionConfig {
  int64_t hidden_size = 1408;
  int64_t intermediate_size = 6144;
  int64_t num_hidden_layers = 39;
  int64_t num_attention_heads = 16;
  int64_t image_size = 224;
  int64_t patch_size = 14;
  double layer_norm_eps = 1e-6;
  bool qkv_bias = true;
  std::string hidden_act = "gelu";
};

// HF: Blip2QFormerConfig
struct QFormerConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t cross_attention_frequency = 2;
  int64_t encoder_hidden_size = 1408;  // forced to vision hidden_size, as HF does
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
};

// HF: OPTConfig
struct OptConfig {
  int64_t vocab_size = 50272;
  int64_t hidden_size = 768;
  int64_t ffn_dim = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 2048;
  int64_t word_embed_proj_dim = -1;  // -1 = hidden_size
  bool do_layer_norm_before = true;
  bool _remove_final_layer_norm = false;
  bool enable_bias = true;
  bool layer_norm_elementwise_affine = true;
  std::string activation_function = "relu";
  int64_t bos_token_id = 2;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 1;
  bool tie_word_embeddings = true;
};

// HF: Blip2Config
struct Blip2Config {
  VisionConfig vision_config;
  QFormerConfig qformer_config;
  OptConfig text_config;
  int64_t num_query_tokens = 32;
  std::optional<int64_t> image_token_index;  // new convention (<image> placeholders)
  std::string name_or_path;                  // "_name_or_path" if present

  // Parses and validates (positive sizes, heads dividing hidden sizes,
  // text model_type "opt", supported activations). Throws blip2::Error
  // (kNotFound / kInvalidFormat / kUnsupported) naming the file and key.
  static Blip2Config from_file(const std::string& path);
  static Blip2Config from_json_text(const std::string& text,
                                    const std::string& origin);
};

}  // namespace blip2
