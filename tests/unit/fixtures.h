// fixtures.h — access to the oracle's generated fixtures (models, images,
// reference tensors and captions) for the torch tests.
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>

#include "blip2.h"
#include "ppm.h"

namespace blip2::testing {

// $BLIP2_FIXTURES (set by tests/meson.build); fails the test when unset.
std::string fixtures_dir();
std::string model_dir(const std::string& name);
RgbImage fixture_image(const std::string& file_name);
nlohmann::json greedy_reference(const std::string& model);
// reference/<model>/generation.json (beam, sample and greedy-with-processor cases)
nlohmann::json generation_reference(const std::string& model);
// GenerationOptions of a generation.json case; absent keys keep transformers'
// defaults, which are also GenerationOptions' defaults.
GenerationOptions options_of(const nlohmann::json& c);
// A tensor of reference/<model>/<file>.safetensors (a copy).
at::Tensor reference_tensor(const std::string& model, const std::string& key,
                            const std::string& file = "activations");
// reference/<model>/bfloat16.json: transformers' greedy cases in bfloat16
nlohmann::json bfloat16_reference(const std::string& model);
// max |a - b| / max |b|: the relative error used by the parity tests.
double relative_error(const at::Tensor& actual, const at::Tensor& expected);

}  // namespace blip2::testing
