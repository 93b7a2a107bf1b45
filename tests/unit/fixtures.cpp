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

at::Tensor reference_tensor(const std::string& model, const std::string& key) {
  auto file =
      SafetensorsFile::open(fixtures_dir() + "/reference/" + model + "/activations.safetensors");
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
