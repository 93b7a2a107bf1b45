// config_check.cpp — config.json against the safetensors headers (torch-free).
#include "config_check.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <vector>

#include "error.h"

namespace blip2 {
namespace {

constexpr const char* kVisionLayers = "vision_model.encoder.layers.";
constexpr const char* kQFormerLayers = "qformer.encoder.layer.";
constexpr const char* kTextLayers = "language_model.model.decoder.layers.";
constexpr int64_t kOptPositionOffset = 2;  // OPT's learned positions start at 2

[[noreturn]] void mismatch(const std::string& config_path, const std::string& what) {
  throw Error(ErrorCode::kConfigMismatch, config_path + ": " + what);
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// The layer index that `name` carries right after `prefix`, or -1.
int64_t layer_index(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  size_t end = prefix.size();
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  const size_t digits = end - prefix.size();
  if (digits == 0 || digits > 9 || end >= name.size() || name[end] != '.') return -1;
  return std::stoll(name.substr(prefix.size(), digits));
}

void check_layer_count(const std::string& field,
                       int64_t configured,
                       const Checkpoint& checkpoint,
                       const std::string& prefix,
                       const std::string& config_path) {
  const LayerCount held = count_layers(checkpoint, prefix);
  if (configured == held.count) return;
  std::string what = field + " is " + std::to_string(configured) + " but the weights hold " +
                     std::to_string(held.count) + " layer" + (held.count == 1 ? "" : "s");
  if (held.count > 0) {
    what += " (" + prefix + "0. to " + prefix + std::to_string(held.highest) + ".)";
  }
  if (held.first_gap >= 0) {
    what += "; " + prefix + std::to_string(held.first_gap) + ". is missing";
  } else if (configured > held.count) {
    what += "; " + prefix + std::to_string(held.count) + ". is missing";
  }
  mismatch(config_path, what);
}

// One size of config.json seen in one dimension of one tensor.
struct SizeRule {
  std::string field;     // e.g. "text_config.ffn_dim 8589934592"
  bool computable;       // false: the expected size overflows int64 (can never match)
  int64_t expected;      // the tensor's size along `axis` that the field implies
  std::string tensor;
  size_t axis;
};

void check_size(const SizeRule& rule, const Checkpoint& checkpoint, const std::string& config_path) {
  const TensorView* view = checkpoint.find(rule.tensor);
  if (view == nullptr || view->shape.size() <= rule.axis) return;  // the strict loader reports it
  if (rule.computable && view->shape[rule.axis] == rule.expected) return;
  mismatch(config_path, rule.field + " does not match the weights: " + rule.tensor +
                            " has shape " + shape_string(view->shape) + " (dimension " +
                            std::to_string(rule.axis) + " should be " +
                            (rule.computable ? std::to_string(rule.expected) : "larger than 2^63") +
                            ")");
}

std::string field(const char* name, int64_t value) { return std::string(name) + " " + std::to_string(value); }

SizeRule plain(const char* name, int64_t value, std::string tensor, size_t axis) {
  return {field(name, value), true, value, std::move(tensor), axis};
}

// vision positions = (image_size / patch_size)^2 + 1 (the class token).
SizeRule vision_positions(const VisionConfig& v) {
  const int64_t side = v.patch_size > 0 ? v.image_size / v.patch_size : 0;
  int64_t positions = 0;
  const bool ok = !__builtin_mul_overflow(side, side, &positions) &&
                  !__builtin_add_overflow(positions, 1, &positions);
  return {field("vision_config.image_size", v.image_size) + " with patch_size " +
              std::to_string(v.patch_size),
          ok, positions, "vision_model.embeddings.position_embedding", 1};
}

SizeRule text_positions(const OptConfig& t) {
  int64_t rows = 0;
  const bool ok = !__builtin_add_overflow(t.max_position_embeddings, kOptPositionOffset, &rows);
  return {field("text_config.max_position_embeddings", t.max_position_embeddings), ok, rows,
          "language_model.model.decoder.embed_positions.weight", 0};
}

std::vector<SizeRule> size_rules(const Blip2Config& c) {
  const VisionConfig& v = c.vision_config;
  const QFormerConfig& q = c.qformer_config;
  const OptConfig& t = c.text_config;
  const std::string vision_layer0 = std::string(kVisionLayers) + "0.";
  const std::string qformer_layer0 = std::string(kQFormerLayers) + "0.";
  const std::string text_layer0 = std::string(kTextLayers) + "0.";
  return {
      plain("vision_config.hidden_size", v.hidden_size, "vision_model.embeddings.class_embedding", 2),
      plain("vision_config.hidden_size", v.hidden_size, "vision_model.post_layernorm.weight", 0),
      plain("vision_config.patch_size", v.patch_size, "vision_model.embeddings.patch_embedding.weight", 2),
      vision_positions(v),
      plain("vision_config.intermediate_size", v.intermediate_size, vision_layer0 + "mlp.fc1.weight", 0),
      plain("qformer_config.hidden_size", q.hidden_size, "qformer.layernorm.weight", 0),
      plain("qformer_config.intermediate_size", q.intermediate_size,
            qformer_layer0 + "intermediate_query.dense.weight", 0),
      plain("num_query_tokens", c.num_query_tokens, "query_tokens", 1),
      plain("qformer_config.hidden_size", q.hidden_size, "query_tokens", 2),
      plain("text_config.hidden_size", t.hidden_size, "language_projection.weight", 0),
      plain("text_config.hidden_size", t.hidden_size, text_layer0 + "self_attn.q_proj.weight", 0),
      plain("text_config.ffn_dim", t.ffn_dim, text_layer0 + "fc1.weight", 0),
      plain("text_config.word_embed_proj_dim", t.word_embed_proj_dim,
            "language_model.model.decoder.embed_tokens.weight", 1),
      text_positions(t),
  };
}

// Saturating arithmetic for the parameter-count bound.
int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
int64_t sat_add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
// layers * (4 h^2 + 2 h i): attention projections and the MLP of a transformer block.
int64_t blocks(int64_t layers, int64_t h, int64_t i) {
  const int64_t per_layer = sat_add(sat_mul(4, sat_mul(h, h)), sat_mul(2, sat_mul(h, i)));
  return sat_mul(std::max<int64_t>(layers, 0), per_layer);
}

int64_t held_elements(const Checkpoint& checkpoint) {
  int64_t total = 0;
  for (const auto& [name, view] : checkpoint.tensors()) total = sat_add(total, view.numel());
  return total;
}

void check_parameter_budget(const Blip2Config& c,
                            const Checkpoint& checkpoint,
                            const std::string& config_path) {
  const int64_t needed = minimum_parameter_count(c);
  const int64_t held = held_elements(checkpoint);
  if (needed <= held) return;
  const VisionConfig& v = c.vision_config;
  const QFormerConfig& q = c.qformer_config;
  const OptConfig& t = c.text_config;
  mismatch(config_path,
           "the sizes describe a model of at least " + std::to_string(needed) +
               " parameters but the weights hold " + std::to_string(held) + " values (" +
               field("vision_config.hidden_size", v.hidden_size) + ", " +
               field("intermediate_size", v.intermediate_size) + "; " +
               field("qformer_config.hidden_size", q.hidden_size) + ", " +
               field("intermediate_size", q.intermediate_size) + "; " +
               field("text_config.hidden_size", t.hidden_size) + ", " +
               field("ffn_dim", t.ffn_dim) + ", " + field("vocab_size", t.vocab_size) + ", " +
               field("max_position_embeddings", t.max_position_embeddings) + ")");
}

void check_token_id(const char* name, int64_t id, int64_t vocab, const std::string& config_path) {
  if (id >= 0 && id < vocab) return;
  mismatch(config_path, std::string("text_config.") + name + " " + std::to_string(id) +
                            " is outside the vocabulary of the weights (ids 0 to " +
                            std::to_string(vocab - 1) + ")");
}

}  // namespace

LayerCount count_layers(const Checkpoint& checkpoint, const std::string& prefix) {
  std::set<int64_t> indices;
  // names are sorted, so only the range starting with `prefix` is visited
  for (auto it = checkpoint.tensors().lower_bound(prefix);
       it != checkpoint.tensors().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const int64_t index = layer_index(it->first, prefix);
    if (index >= 0) indices.insert(index);
  }
  LayerCount result;
  result.count = static_cast<int64_t>(indices.size());
  if (indices.empty()) return result;
  result.highest = *indices.rbegin();
  int64_t expected = 0;
  for (int64_t index : indices) {
    if (index != expected) break;
    ++expected;
  }
  if (expected <= result.highest) result.first_gap = expected;
  return result;
}

int64_t minimum_parameter_count(const Blip2Config& c) {
  const VisionConfig& v = c.vision_config;
  const QFormerConfig& q = c.qformer_config;
  const OptConfig& t = c.text_config;
  int64_t total = blocks(v.num_hidden_layers, v.hidden_size, v.intermediate_size);
  total = sat_add(total, sat_mul(sat_mul(3, sat_mul(v.patch_size, v.patch_size)), v.hidden_size));
  total = sat_add(total, blocks(q.num_hidden_layers, q.hidden_size, q.intermediate_size));
  total = sat_add(total, sat_mul(c.num_query_tokens, q.hidden_size));
  total = sat_add(total, sat_mul(q.hidden_size, t.hidden_size));  // language_projection
  total = sat_add(total, blocks(t.num_hidden_layers, t.hidden_size, t.ffn_dim));
  total = sat_add(total, sat_mul(t.vocab_size, t.word_embed_proj_dim));
  total = sat_add(total, sat_mul(sat_add(t.max_position_embeddings, kOptPositionOffset),
                                 t.hidden_size));
  return total;
}

void check_config_against_weights(const Blip2Config& config,
                                  const Checkpoint& checkpoint,
                                  const std::string& config_path) {
  check_layer_count("vision_config.num_hidden_layers", config.vision_config.num_hidden_layers,
                    checkpoint, kVisionLayers, config_path);
  check_layer_count("qformer_config.num_hidden_layers", config.qformer_config.num_hidden_layers,
                    checkpoint, kQFormerLayers, config_path);
  check_layer_count("text_config.num_hidden_layers", config.text_config.num_hidden_layers,
                    checkpoint, kTextLayers, config_path);
  for (const SizeRule& rule : size_rules(config)) check_size(rule, checkpoint, config_path);
  check_parameter_budget(config, checkpoint, config_path);
}

void check_special_token_ids(const Blip2Config& config, const std::string& config_path) {
  const OptConfig& t = config.text_config;
  check_token_id("bos_token_id", t.bos_token_id, t.vocab_size, config_path);
  check_token_id("eos_token_id", t.eos_token_id, t.vocab_size, config_path);
  check_token_id("pad_token_id", t.pad_token_id, t.vocab_size, config_path);
}

}  // namespace blip2
