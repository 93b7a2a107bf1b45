#include "fixtures.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "safetensors.h"
#include "state_dict.h"

namespace blip2::testing {

std::string fixtures_dir() {
  const char* dir = std::getenv("BLIP2_FIXTURES");
  if (dir == nullptr) {
    ADD_FAILURE() << "BLIP2_FIXTURES is not set (run through meson test)";
    return "";
  }
  return dir;
}

std::string model_dir(const std::string& name) { return fixtures_dir() + "/models/" + name; }

RgbImage fixture_image(const std::string& file_name) {
  return read_ppm(fixtures_dir() + "/images/" + file_name);
}

nlohmann::json greedy_reference(const std::string& model) {
  std::ifstream file(fixtures_dir() + "/reference/" + model + "/greedy.json");
  return nlohmann::json::parse(file);
}

nlohmann::json bfloat16_reference(const std::string& model) {
  std::ifstream file(fixtures_dir() + "/reference/" + model + "/bfloat16.json");
  return nlohmann::json::parse(file);
}

nlohmann::json generation_reference(const std::string& model) {
  const std::string path = fixtures_dir() + "/reference/" + model + "/generation.json";
  std::ifstream file(path);
  if (!file) {
    ADD_FAILURE() << "missing " << path << " (run model/oracle/generation_reference.py)";
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(file);
}

namespace {

EarlyStopping early_stopping_of(const nlohmann::json& value) {
  if (value.is_string()) return EarlyStopping::kNever;  // "never"
  return value.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
}

}  // namespace

GenerationOptions options_of(const nlohmann::json& c) {
  GenerationOptions o;
  o.prompt = c["prompt"];
  const nlohmann::json& j = c["options"];
  o.max_new_tokens = j.value("max_new_tokens", o.max_new_tokens);
  o.min_new_tokens = j.value("min_new_tokens", o.min_new_tokens);
  o.num_beams = j.value("num_beams", o.num_beams);
  o.length_penalty = j.value("length_penalty", o.length_penalty);
  if (j.contains("early_stopping")) o.early_stopping = early_stopping_of(j["early_stopping"]);
  o.num_return_sequences = j.value("num_return_sequences", o.num_return_sequences);
  o.repetition_penalty = j.value("repetition_penalty", o.repetition_penalty);
  o.no_repeat_ngram_size = j.value("no_repeat_ngram_size", o.no_repeat_ngram_size);
  o.do_sample = j.value("do_sample", o.do_sample);
  o.temperature = j.value("temperature", o.temperature);
  o.top_k = j.value("top_k", o.top_k);
  o.top_p = j.value("top_p", o.top_p);
  o.seed = j.value("seed", o.seed);
  return o;
}

at::Tensor reference_tensor(const std::string& model, const std::string& key,
                            const std::string& file_name) {
  auto file = SafetensorsFile::open(fixtures_dir() + "/reference/" + model + "/" + file_name +
                                    ".safetensors");
  auto it = file->tensors().find(key);
  if (it == file->tensors().end()) {
    ADD_FAILURE() << "no reference tensor " << key << " for " << model;
    return at::Tensor();
  }
  return to_torch(it->second).clone();
}

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.to(at::kDouble), b = expected.to(at::kDouble);
  if (a.sizes() != b.sizes()) {
    ADD_FAILURE() << "shape " << a.sizes() << " vs expected " << b.sizes();
    return 1e9;
  }
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-12);
}

}  // namespace blip2::testing
