// config.cpp — reads config.json of a Blip2ForConditionalGeneration checkpoint.
//
// Mirrors transformers' Blip2Config: absent keys take the HF defaults (the
// in-class values of config.h), the Q-Former's encoder_hidden_size is forced to
// the vision hidden size, word_embed_proj_dim defaults to the text hidden size,
// and "image_token_id" is accepted as an alias of "image_token_index". Keys
// the model does not use are ignored; keys it uses must have the right type.
#include "config.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "error.h"
#include "file_check.h"

namespace blip2 {
namespace {

using nlohmann::json;

constexpr uintmax_t kMaxConfigBytes = 64ull << 20;

std::string short_dump(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Typed access to one JSON object of the config; errors name the file and the
// dotted key ("text_config.hidden_size").
class Section {
 public:
  Section(const json* object, std::string origin, std::string prefix)
      : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  // The value of `key`, or nullptr when the key is absent or null.
  const json* find(const char* key) const {
    if (object_ == nullptr) return nullptr;
    auto it = object_->find(key);
    if (it == object_->end() || it->is_null()) return nullptr;
    return &*it;
  }

  void read(const char* key, int64_t& out) const {
    if (const json* value = find(key)) out = to_int(*value, key);
  }
  void read(const char* key, double& out) const {
    if (const json* value = find(key)) {
      if (!value->is_number()) fail_type(key, "a number", *value);
      out = value->get<double>();
    }
  }
  void read(const char* key, bool& out) const {
    if (const json* value = find(key)) {
      if (!value->is_boolean()) fail_type(key, "true or false", *value);
      out = value->get<bool>();
    }
  }
  void read(const char* key, std::string& out) const {
    if (const json* value = find(key)) {
      if (!value->is_string()) fail_type(key, "a string", *value);
      out = value->get<std::string>();
    }
  }
  // An int, or (as HF allows for image/patch size) a [height, width] list
  // with equal entries.
  void read_square(const char* key, int64_t& out) const {
    const json* value = find(key);
    if (value == nullptr || !value->is_array()) return read(key, out);
    if (value->size() != 2) fail_type(key, "an integer or [height, width]", *value);
    int64_t height = to_int((*value)[0], key);
    int64_t width = to_int((*value)[1], key);
    if (height != width) {
      throw Error(ErrorCode::kUnsupported,
                  origin_ + ": " + name(key) + " " + short_dump(*value) + " is not square");
    }
    out = height;
  }
  // An int or a list of ints (HF allows several EOS ids); the first is used.
  void read_first_id(const char* key, int64_t& out) const {
    const json* value = find(key);
    if (value == nullptr || !value->is_array()) return read(key, out);
    if (value->empty()) fail_type(key, "an integer or a non-empty list", *value);
    out = to_int(value->front(), key);
  }

  Section child(const char* key) const {
    const json* value = find(key);
    if (value != nullptr && !value->is_object()) fail_type(key, "an object", *value);
    return Section(value, origin_, name(key) + ".");
  }

  std::string name(const char* key) const { return prefix_ + key; }
  const std::string& origin() const { return origin_; }

 private:
  int64_t to_int(const json& value, const char* key) const {
    if (!value.is_number_integer()) fail_type(key, "an integer", value);
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail_type(key, "an integer in range", value);
    }
    return value.get<int64_t>();
  }

  [[noreturn]] void fail_type(const char* key, const char* expected, const json& value) const {
    throw Error(ErrorCode::kInvalidFormat,
                origin_ + ": " + name(key) + " must be " + expected + ", got " + short_dump(value));
  }

  const json* object_;
  std::string origin_;
  std::string prefix_;
};

VisionConfig read_vision(const Section& s) {
  VisionConfig c;
  s.read("hidden_size", c.hidden_size);
  s.read("intermediate_size", c.intermediate_size);
  s.read("num_hidden_layers", c.num_hidden_layers);
  s.read("num_attention_heads", c.num_attention_heads);
  s.read_square("image_size", c.image_size);
  s.read_square("patch_size", c.patch_size);
  s.read("layer_norm_eps", c.layer_norm_eps);
  s.read("qkv_bias", c.qkv_bias);
  s.read("hidden_act", c.hidden_act);
  return c;
}

QFormerConfig read_qformer(const Section& s) {
  QFormerConfig c;
  s.read("hidden_size", c.hidden_size);
  s.read("intermediate_size", c.intermediate_size);
  s.read("num_hidden_layers", c.num_hidden_layers);
  s.read("num_attention_heads", c.num_attention_heads);
  s.read("cross_attention_frequency", c.cross_attention_frequency);
  s.read("encoder_hidden_size", c.encoder_hidden_size);  // overridden by the caller
  s.read("layer_norm_eps", c.layer_norm_eps);
  s.read("hidden_act", c.hidden_act);
  return c;
}

OptConfig read_opt(const Section& s) {
  OptConfig c;
  s.read("vocab_size", c.vocab_size);
  s.read("hidden_size", c.hidden_size);
  s.read("ffn_dim", c.ffn_dim);
  s.read("num_hidden_layers", c.num_hidden_layers);
  s.read("num_attention_heads", c.num_attention_heads);
  s.read("max_position_embeddings", c.max_position_embeddings);
  c.word_embed_proj_dim = c.hidden_size;
  s.read("word_embed_proj_dim", c.word_embed_proj_dim);
  s.read("do_layer_norm_before", c.do_layer_norm_before);
  s.read("_remove_final_layer_norm", c._remove_final_layer_norm);
  s.read("enable_bias", c.enable_bias);
  s.read("layer_norm_elementwise_affine", c.layer_norm_elementwise_affine);
  s.read("activation_function", c.activation_function);
  s.read_first_id("bos_token_id", c.bos_token_id);
  s.read_first_id("eos_token_id", c.eos_token_id);
  s.read_first_id("pad_token_id", c.pad_token_id);
  s.read("tie_word_embeddings", c.tie_word_embeddings);
  return c;
}

std::optional<int64_t> read_image_token(const Section& s) {
  std::optional<int64_t> result;
  for (const char* key : {"image_token_id", "image_token_index"}) {  // the latter wins
    if (s.find(key) != nullptr) {
      int64_t value = 0;
      s.read(key, value);
      result = value;
    }
  }
  return result;
}

void check_model_types(const Section& top, const Section& text) {
  std::string model_type = "blip-2";
  top.read("model_type", model_type);
  if (model_type != "blip-2") {
    throw Error(ErrorCode::kUnsupported, top.origin() + ": model_type is '" + model_type +
                                             "', only 'blip-2' (BLIP-2 OPT) is supported");
  }
  std::string text_type = "opt";  // HF's default when text_config has no model_type
  text.read("model_type", text_type);
  if (text_type != "opt") {
    throw Error(ErrorCode::kUnsupported, top.origin() + ": text_config.model_type is '" +
                                             text_type + "', only BLIP-2 OPT is supported");
  }
}

// Collects validation failures of one config with the file name in front.
class Checker {
 public:
  explicit Checker(std::string origin) : origin_(std::move(origin)) {}

  void positive(const std::string& key, int64_t value) const {
    if (value <= 0) invalid(key + " must be positive, got " + std::to_string(value));
  }
  void non_negative(const std::string& key, int64_t value) const {
    if (value < 0) invalid(key + " must not be negative, got " + std::to_string(value));
  }
  void positive(const std::string& key, double value) const {
    if (!(value > 0.0)) invalid(key + " must be positive, got " + std::to_string(value));
  }
  void divides(const std::string& big_key,
               int64_t big,
               const std::string& small_key,
               int64_t small) const {
    if (small > 0 && big % small != 0) {
      invalid(big_key + " (" + std::to_string(big) + ") is not divisible by " + small_key + " (" +
              std::to_string(small) + ")");
    }
  }
  void activation(const std::string& key,
                  const std::string& value,
                  std::initializer_list<const char*> allowed) const {
    std::string names;
    for (const char* name : allowed) {
      if (value == name) return;
      names += names.empty() ? name : std::string(", ") + name;
    }
    throw Error(ErrorCode::kUnsupported,
                origin_ + ": " + key + " '" + value + "' is not supported (only " + names + ")");
  }

  [[noreturn]] void invalid(const std::string& what) const {
    throw Error(ErrorCode::kInvalidFormat, origin_ + ": " + what);
  }

 private:
  std::string origin_;
};

void validate_vision(const Checker& check, const VisionConfig& c) {
  check.positive("vision_config.hidden_size", c.hidden_size);
  check.positive("vision_config.intermediate_size", c.intermediate_size);
  check.non_negative("vision_config.num_hidden_layers", c.num_hidden_layers);
  check.positive("vision_config.num_attention_heads", c.num_attention_heads);
  check.positive("vision_config.image_size", c.image_size);
  check.positive("vision_config.patch_size", c.patch_size);
  check.positive("vision_config.layer_norm_eps", c.layer_norm_eps);
  check.divides("vision_config.hidden_size", c.hidden_size, "vision_config.num_attention_heads",
                c.num_attention_heads);
  check.divides("vision_config.image_size", c.image_size, "vision_config.patch_size", c.patch_size);
  check.activation("vision_config.hidden_act", c.hidden_act, {"gelu"});
}

void validate_qformer(const Checker& check, const QFormerConfig& c) {
  check.positive("qformer_config.hidden_size", c.hidden_size);
  check.positive("qformer_config.intermediate_size", c.intermediate_size);
  check.non_negative("qformer_config.num_hidden_layers", c.num_hidden_layers);
  check.positive("qformer_config.num_attention_heads", c.num_attention_heads);
  check.positive("qformer_config.cross_attention_frequency", c.cross_attention_frequency);
  check.positive("qformer_config.layer_norm_eps", c.layer_norm_eps);
  check.divides("qformer_config.hidden_size", c.hidden_size, "qformer_config.num_attention_heads",
                c.num_attention_heads);
  check.activation("qformer_config.hidden_act", c.hidden_act, {"gelu"});
}

void validate_text(const Checker& check, const OptConfig& c) {
  check.positive("text_config.vocab_size", c.vocab_size);
  check.positive("text_config.hidden_size", c.hidden_size);
  check.positive("text_config.ffn_dim", c.ffn_dim);
  check.non_negative("text_config.num_hidden_layers", c.num_hidden_layers);
  check.positive("text_config.num_attention_heads", c.num_attention_heads);
  check.positive("text_config.max_position_embeddings", c.max_position_embeddings);
  check.positive("text_config.word_embed_proj_dim", c.word_embed_proj_dim);
  check.divides("text_config.hidden_size", c.hidden_size, "text_config.num_attention_heads",
                c.num_attention_heads);
  check.activation("text_config.activation_function", c.activation_function, {"relu", "gelu"});
}

void validate(const Blip2Config& config, const std::string& origin) {
  Checker check(origin);
  validate_vision(check, config.vision_config);
  validate_qformer(check, config.qformer_config);
  validate_text(check, config.text_config);
  check.positive("num_query_tokens", config.num_query_tokens);
  if (config.image_token_index) check.non_negative("image_token_index", *config.image_token_index);
}

json parse_json(const std::string& text, const std::string& origin) {
  try {
    json root = json::parse(text);
    if (!root.is_object()) {
      throw Error(ErrorCode::kInvalidFormat, origin + ": top level is not a JSON object");
    }
    return root;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidFormat, origin + ": not valid JSON: " + e.what());
  }
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (auto problem = unusable_file_entry(path)) {  // no config file there, but say what is
    throw Error(ErrorCode::kNotFound, path + ": " + *problem);
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::kNotFound, path + ": config file not found");
  }
  if (std::filesystem::file_size(path, ec) > kMaxConfigBytes) {
    throw Error(ErrorCode::kInvalidFormat, path + ": file is unreasonably large for a config");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw Error(ErrorCode::kRuntime, path + ": cannot read");
  return text.str();
}

}  // namespace

Blip2Config Blip2Config::from_json_text(const std::string& text, const std::string& origin) {
  json root = parse_json(text, origin);
  Section top(&root, origin, "");
  Section text_section = top.child("text_config");
  check_model_types(top, text_section);

  Blip2Config config;
  config.vision_config = read_vision(top.child("vision_config"));
  config.qformer_config = read_qformer(top.child("qformer_config"));
  config.text_config = read_opt(text_section);
  config.qformer_config.encoder_hidden_size = config.vision_config.hidden_size;  // as HF
  top.read("num_query_tokens", config.num_query_tokens);
  config.image_token_index = read_image_token(top);
  top.read("_name_or_path", config.name_or_path);
  validate(config, origin);
  return config;
}

Blip2Config Blip2Config::from_file(const std::string& path) {
  return from_json_text(read_text_file(path), path);
}

}  // namespace blip2
