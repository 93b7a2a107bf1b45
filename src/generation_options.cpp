// generation_options.cpp — checkpoint decoding defaults (generation_config.json)
// and the model-independent checks of GenerationOptions.
#include "generation_options.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config.h"
#include "error.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

[[noreturn]] void bad_key(const std::string& origin, const char* key, const char* expected) {
  throw Error(ErrorCode::kInvalidFormat,
              origin + ": \"" + key + "\" must be " + expected);
}

template <typename T>
void take_integer(const json& j, const char* key, const std::string& origin, T& out) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_number_integer()) bad_key(origin, key, "an integer");
  out = j[key].get<T>();
}

void take_number(const json& j, const char* key, const std::string& origin, double& out) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_number()) bad_key(origin, key, "a number");
  out = j[key].get<double>();
}

void take_bool(const json& j, const char* key, const std::string& origin, bool& out) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_boolean()) bad_key(origin, key, "true or false");
  out = j[key].get<bool>();
}

void take_early_stopping(const json& j, const std::string& origin, EarlyStopping& out) {
  const char* key = "early_stopping";
  if (!j.contains(key) || j[key].is_null()) return;
  if (j[key].is_boolean()) {
    out = j[key].get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
  } else if (j[key].is_string() && j[key].get<std::string>() == "never") {
    out = EarlyStopping::kNever;
  } else {
    bad_key(origin, key, "true, false or \"never\"");
  }
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot read " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string default_prompt_for_image_size(int64_t image_size) {
  return image_size == 364 ? "a photo of" : "";
}

void apply_generation_config_json(const std::string& text,
                                  const std::string& origin,
                                  GenerationOptions& o) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidFormat, origin + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(ErrorCode::kInvalidFormat, origin + ": not a JSON object");
  take_integer(j, "max_new_tokens", origin, o.max_new_tokens);
  take_integer(j, "min_new_tokens", origin, o.min_new_tokens);
  take_integer(j, "num_beams", origin, o.num_beams);
  take_number(j, "length_penalty", origin, o.length_penalty);
  take_early_stopping(j, origin, o.early_stopping);
  take_integer(j, "num_return_sequences", origin, o.num_return_sequences);
  take_number(j, "repetition_penalty", origin, o.repetition_penalty);
  take_integer(j, "no_repeat_ngram_size", origin, o.no_repeat_ngram_size);
  take_bool(j, "do_sample", origin, o.do_sample);
  take_number(j, "temperature", origin, o.temperature);
  take_integer(j, "top_k", origin, o.top_k);
  take_number(j, "top_p", origin, o.top_p);
}

GenerationOptions generation_defaults(const std::string& checkpoint_folder) {
  GenerationOptions options;
  const fs::path folder(checkpoint_folder);
  const Blip2Config config = Blip2Config::from_file((folder / "config.json").string());
  options.prompt = default_prompt_for_image_size(config.vision_config.image_size);
  const fs::path file = folder / "generation_config.json";
  std::error_code ec;
  if (fs::exists(file, ec)) apply_generation_config_json(read_text(file), file.string(), options);
  return options;
}

// The checks transformers' GenerationConfig.validate and the processors make.
void validate_generation_options(const GenerationOptions& o) {
  if (o.max_new_tokens < 1) {
    invalid("max_new_tokens must be at least 1 (got " + std::to_string(o.max_new_tokens) + ")");
  }
  if (o.min_new_tokens < 0) invalid("min_new_tokens must not be negative");
  if (o.num_beams < 1)
    invalid("num_beams must be at least 1 (got " + std::to_string(o.num_beams) + ")");
  if (o.num_return_sequences < 1) {
    invalid("num_return_sequences must be at least 1 (got " +
            std::to_string(o.num_return_sequences) + ")");
  }
  if (o.num_beams > 1 && o.num_return_sequences > o.num_beams) {
    invalid("num_return_sequences (" + std::to_string(o.num_return_sequences) +
            ") must not exceed num_beams (" + std::to_string(o.num_beams) + ")");
  }
  if (o.num_beams == 1 && !o.do_sample && o.num_return_sequences > 1) {
    invalid("num_return_sequences > 1 needs beam search (num_beams > 1) or sampling (do_sample)");
  }
  if (!(o.repetition_penalty > 0.0)) {
    invalid("repetition_penalty must be greater than 0 (got " +
            std::to_string(o.repetition_penalty) + ")");
  }
  if (o.no_repeat_ngram_size < 0) invalid("no_repeat_ngram_size must not be negative");
  if (!std::isfinite(o.length_penalty)) invalid("length_penalty must be a finite number");
  if (!(o.temperature > 0.0) || !std::isfinite(o.temperature)) {
    invalid("temperature must be greater than 0 (got " + std::to_string(o.temperature) + ")");
  }
  if (o.top_k < 0) invalid("top_k must not be negative (got " + std::to_string(o.top_k) + ")");
  if (!(o.top_p > 0.0 && o.top_p <= 1.0)) {
    invalid("top_p must be in (0, 1] (got " + std::to_string(o.top_p) + ")");
  }
}

}  // namespace blip2
