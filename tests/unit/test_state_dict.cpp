// test_state_dict.cpp — checkpoint tensors into torch modules: zero-copy
// views, strict loading (all problems in one error), aliases, dtype casts,
// ignored names; plus the Python-written fixture checkpoints.
//
// PythonWrittenFixtures reads every $BLIP2_FIXTURES/models/*/ folder that
// transformers' save_pretrained wrote (the `models-fixture` build target); it
// fails, never skips, when there are none, so that target must be built
// before this test runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "config.h"
#include "error.h"
#include "safetensors_writer.h"
#include "state_dict.h"

namespace blip2 {
namespace {

using testing::TempDir;
using testing::TestTensor;

// A small model with nested submodules, a buffer and a 0-d parameter.
struct BlockImpl : torch::nn::Module {
  BlockImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
    running = register_buffer("running", torch::zeros({2}));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor running;
};
TORCH_MODULE(Block);

struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    embed = register_module("embed", torch::nn::Embedding(4, 3));
    blocks = register_module("blocks", torch::nn::ModuleList(Block(), Block()));
    head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(3, 4).bias(false)));
    scale = register_parameter("scale", torch::ones({}));
  }
  torch::nn::Embedding embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Linear head{nullptr};
  torch::Tensor scale;
};
TORCH_MODULE(Tiny);

std::vector<float> ramp(int64_t n, float start) {
  std::vector<float> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = start + 0.5f * static_cast<float>(i);
  return values;
}

// Checkpoint tensors matching every parameter/buffer of `module`, filled with
// distinct ramps; `skip` names left out.
std::vector<TestTensor> tensors_for(torch::nn::Module& module,
                                    const std::set<std::string>& skip = {}) {
  std::vector<TestTensor> tensors;
  float start = 1.0f;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    if (skip.count(name)) return;
    tensors.push_back(testing::f32_tensor(name, t.sizes().vec(), ramp(t.numel(), start)));
    start += 100.0f;
  };
  for (const auto& p : module.named_parameters()) add(p.key(), p.value());
  for (const auto& b : module.named_buffers()) add(b.key(), b.value());
  return tensors;
}

at::Tensor expected_values(const TestTensor& t) {
  return torch::from_blob(const_cast<uint8_t*>(t.bytes.data()), t.shape, torch::kFloat).clone();
}

const TestTensor& named(const std::vector<TestTensor>& tensors, const std::string& name) {
  for (const auto& t : tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("test bug: no tensor " + name);
}

Checkpoint write_checkpoint(const TempDir& dir, const std::vector<TestTensor>& tensors) {
  testing::write_safetensors(dir.file("model.safetensors"), tensors);
  return Checkpoint::open_directory(dir.path());
}

std::string load_error(torch::nn::Module& module,
                       const Checkpoint& checkpoint,
                       const std::map<std::string, std::string>& aliases = {},
                       const std::vector<std::string>& ignored = {}) {
  try {
    load_state_dict(module, checkpoint, aliases, ignored);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfigMismatch) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "load_state_dict accepted the checkpoint";
  return "";
}

void expect_contains(const std::string& text, const std::vector<std::string>& needles) {
  for (const auto& needle : needles) {
    EXPECT_NE(text.find(needle), std::string::npos) << "'" << needle << "' not in:\n" << text;
  }
}

// ---------------------------------------------------------------- to_torch

TEST(ToTorch, IsAZeroCopyViewWithTheFileDtype) {
  TempDir dir;
  std::vector<TestTensor> tensors = {
      testing::f32_tensor("f32", {2, 2}, {1, 2, 3, 4}),
      testing::bits16_tensor("f16", "F16", {2},
                             {testing::float_to_f16_bits(1.5f), testing::float_to_f16_bits(-3)}),
      testing::bits16_tensor("bf16", "BF16", {2},
                             {testing::float_to_bf16_bits(-2.25f), testing::float_to_bf16_bits(8)}),
      testing::f64_tensor("f64", {}, {0.125}),
      testing::i64_tensor("i64", {3}, {1, -2, 1LL << 40}),
      {"i32", "I32", {1}, {7, 0, 0, 0}},
      {"i16", "I16", {1}, {0xFF, 0xFF}},
      {"i8", "I8", {2}, {0x80, 0x05}},
      {"u8", "U8", {2}, {0x80, 0x05}},
      {"flag", "BOOL", {2}, {1, 0}},
      testing::f32_tensor("empty", {0, 3}, {}),
  };
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  auto view = [&](const char* name) { return to_torch(*checkpoint.find(name)); };
  at::Tensor f32 = view("f32");
  EXPECT_EQ(f32.data_ptr(), static_cast<const void*>(checkpoint.find("f32")->data));
  EXPECT_EQ(f32.scalar_type(), at::kFloat);
  EXPECT_TRUE(torch::equal(f32, torch::tensor({1.f, 2.f, 3.f, 4.f}).reshape({2, 2})));
  EXPECT_EQ(view("f16").scalar_type(), at::kHalf);
  EXPECT_TRUE(torch::equal(view("f16").to(at::kFloat), torch::tensor({1.5f, -3.f})));
  EXPECT_EQ(view("bf16").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(torch::equal(view("bf16").to(at::kFloat), torch::tensor({-2.25f, 8.f})));
  EXPECT_EQ(view("f64").dim(), 0);
  EXPECT_EQ(view("f64").item<double>(), 0.125);
  EXPECT_TRUE(
      torch::equal(view("i64"), torch::tensor({int64_t{1}, int64_t{-2}, int64_t{1} << 40})));
  EXPECT_EQ(view("i32").item<int32_t>(), 7);
  EXPECT_EQ(view("i16").item<int16_t>(), -1);
  EXPECT_EQ(view("i8")[0].item<int8_t>(), -128);
  EXPECT_EQ(view("u8")[0].item<uint8_t>(), 128);
  EXPECT_EQ(view("flag").scalar_type(), at::kBool);
  EXPECT_TRUE(view("flag")[0].item<bool>());
  EXPECT_EQ(view("empty").numel(), 0);
  EXPECT_EQ(view("empty").sizes(), (std::vector<int64_t>{0, 3}));
}

// ---------------------------------------------------------------- load_state_dict

TEST(LoadStateDict, CopiesEveryParameterAndBuffer) {
  TempDir dir;
  Tiny model;
  auto tensors = tensors_for(*model);
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  LoadReport report = load_state_dict(*model, checkpoint);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.to_string(), "");
  auto params = model->named_parameters();
  auto buffers = model->named_buffers();
  ASSERT_EQ(tensors.size(), params.size() + buffers.size());
  for (const auto& t : tensors) {
    SCOPED_TRACE(t.name);
    at::Tensor actual = params.contains(t.name) ? params[t.name] : buffers[t.name];
    EXPECT_TRUE(torch::equal(actual, expected_values(t)));
    EXPECT_NE(actual.data_ptr(), static_cast<const void*>(checkpoint.find(t.name)->data));
  }
  EXPECT_TRUE(params["blocks.1.norm.weight"].requires_grad());  // still a parameter
}

TEST(LoadStateDict, ReportsMissingUnexpectedAndMismatchedTogether) {
  TempDir dir;
  Tiny model;
  auto tensors = tensors_for(*model, {"blocks.0.fc.bias", "scale"});
  tensors.push_back(testing::f32_tensor("blocks.2.fc.weight", {1}, {0}));
  for (auto& t : tensors) {
    if (t.name == "head.weight") t = testing::f32_tensor("head.weight", {4, 2}, ramp(8, 0));
  }
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  at::Tensor before = model->named_parameters()["embed.weight"].clone();
  std::string message = load_error(*model, checkpoint);
  expect_contains(message,
                  {dir.path(), "missing from checkpoint: blocks.0.fc.bias",
                   "missing from checkpoint: scale", "not used by the model: blocks.2.fc.weight",
                   "shape mismatch: head.weight: file [4, 2] vs model [4, 3]",
                   "2 missing, 1 unexpected, 1 mismatched"});
  // Nothing is copied when the checkpoint does not match.
  EXPECT_TRUE(torch::equal(model->named_parameters()["embed.weight"], before));
}

TEST(LoadStateDict, LongProblemListsAreCapped) {
  TempDir dir;
  Tiny model;
  std::vector<TestTensor> tensors;
  for (int i = 0; i < 30; ++i)
    tensors.push_back(testing::f32_tensor("junk." + std::to_string(i), {1}, {0}));
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  std::string message = load_error(*model, checkpoint);
  size_t problems = model->named_parameters().size() + model->named_buffers().size() + 30;
  expect_contains(message, {"and " + std::to_string(problems - 20) + " more"});
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 21) << message;
}

TEST(LoadStateDict, AliasFillsATiedWeight) {
  TempDir dir;
  Tiny model;
  // head.weight [4, 3] is tied to embed.weight [4, 3], as lm_head to embed_tokens.
  auto tensors = tensors_for(*model, {"head.weight"});
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  std::map<std::string, std::string> aliases = {{"head.weight", "embed.weight"}};
  EXPECT_TRUE(load_state_dict(*model, checkpoint, aliases).ok());
  EXPECT_TRUE(torch::equal(model->head->weight, model->embed->weight));
  EXPECT_TRUE(torch::equal(model->head->weight, expected_values(named(tensors, "embed.weight"))));
  expect_contains(load_error(*model, checkpoint), {"missing from checkpoint: head.weight"});
}

TEST(LoadStateDict, DirectNameWinsOverAlias) {
  TempDir dir;
  Tiny model;
  auto tensors = tensors_for(*model);
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  load_state_dict(*model, checkpoint, {{"head.weight", "embed.weight"}});
  EXPECT_FALSE(torch::equal(model->head->weight, model->embed->weight));
}

TEST(LoadStateDict, CastsToTheParameterDtype) {
  for (auto dtype : {at::kHalf, at::kBFloat16, at::kDouble}) {
    SCOPED_TRACE(c10::toString(dtype));
    TempDir dir;
    Tiny model;
    model->to(dtype);
    auto tensors = tensors_for(*model);
    Checkpoint checkpoint = write_checkpoint(dir, tensors);
    ASSERT_TRUE(load_state_dict(*model, checkpoint).ok());
    at::Tensor weight = model->blocks[1]->as<Block>()->fc->weight;
    EXPECT_EQ(weight.scalar_type(), dtype);
    for (const auto& t : tensors) {
      if (t.name == "blocks.1.fc.weight") {
        EXPECT_TRUE(torch::equal(weight, expected_values(t).to(dtype)));
      }
    }
  }
}

TEST(LoadStateDict, HalfFileIntoFloatModel) {
  TempDir dir;
  Tiny model;
  std::vector<TestTensor> tensors;
  for (auto& t : tensors_for(*model)) {
    auto values = expected_values(t).to(at::kHalf).contiguous();
    std::vector<uint16_t> bits(values.numel());
    std::memcpy(bits.data(), values.data_ptr(), bits.size() * 2);
    tensors.push_back(testing::bits16_tensor(t.name, "F16", t.shape, bits));
  }
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  ASSERT_TRUE(load_state_dict(*model, checkpoint).ok());
  EXPECT_EQ(model->embed->weight.scalar_type(), at::kFloat);
  at::Tensor expected = expected_values(named(tensors_for(*model), "embed.weight"));
  EXPECT_TRUE(torch::equal(model->embed->weight, expected));
  EXPECT_EQ(expected.size(0), 4);
}

TEST(LoadStateDict, IgnoredNamesMayStayUnused) {
  TempDir dir;
  Tiny model;
  auto tensors = tensors_for(*model);
  tensors.push_back(testing::f32_tensor("extra.position_ids", {2}, {0, 1}));
  tensors.push_back(testing::f32_tensor("qformer.embeddings.a", {1}, {0}));
  tensors.push_back(testing::f32_tensor("qformer.embeddings.b", {1}, {0}));
  Checkpoint checkpoint = write_checkpoint(dir, tensors);
  EXPECT_TRUE(
      load_state_dict(*model, checkpoint, {}, {"extra.position_ids", "qformer.embeddings.*"}).ok());
  std::string message = load_error(*model, checkpoint, {}, {"extra.position_ids"});
  expect_contains(message, {"qformer.embeddings.a", "qformer.embeddings.b"});
  EXPECT_EQ(message.find("extra.position_ids"), std::string::npos) << message;
}

TEST(LoadStateDict, ReportToStringListsEveryProblem) {
  LoadReport report;
  EXPECT_TRUE(report.ok());
  report.missing = {"a"};
  report.unexpected = {"b"};
  report.mismatched = {"c: file [1] vs model [2]"};
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.to_string(),
            "missing from checkpoint: a\nnot used by the model: b\n"
            "shape mismatch: c: file [1] vs model [2]\n");
}

// ---------------------------------------------------------------- Python-written files

std::vector<std::filesystem::path> fixture_model_dirs() {
  const char* root = std::getenv("BLIP2_FIXTURES");
  std::vector<std::filesystem::path> dirs;
  if (root == nullptr) return dirs;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(root) / "models", ec)) {
    if (std::filesystem::exists(entry.path() / "model.safetensors") ||
        std::filesystem::exists(entry.path() / "model.safetensors.index.json")) {
      dirs.push_back(entry.path());
    }
  }
  return dirs;
}

// Checkpoints written by transformers' save_pretrained (safetensors package)
// parse, are float32 and hold the BLIP-2 tensors with config-consistent shapes.
TEST(PythonWrittenFixtures, ParseWithExpectedKeysAndShapes) {
  auto dirs = fixture_model_dirs();
  ASSERT_FALSE(dirs.empty()) << "no $BLIP2_FIXTURES/models/*/model.safetensors: build the "
                                "models-fixture target first (BLIP2_FIXTURES="
                             << (std::getenv("BLIP2_FIXTURES") ? std::getenv("BLIP2_FIXTURES")
                                                               : "unset")
                             << ")";
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir.string());
    Checkpoint checkpoint = Checkpoint::open_directory(dir.string());
    ASSERT_GT(checkpoint.tensors().size(), 10u);
    for (const auto& [name, view] : checkpoint.tensors()) {
      EXPECT_EQ(view.dtype, DType::kF32) << name;
    }
    for (const char* name : {"query_tokens", "language_projection.weight",
                             "vision_model.embeddings.patch_embedding.weight",
                             "vision_model.post_layernorm.weight", "qformer.layernorm.weight"}) {
      EXPECT_NE(checkpoint.find(name), nullptr) << name;
    }
    bool has_language_model = false;
    for (const auto& [name, view] : checkpoint.tensors()) {
      has_language_model = has_language_model || name.starts_with("language_model.");
    }
    EXPECT_TRUE(has_language_model);
    Blip2Config config = Blip2Config::from_file((dir / "config.json").string());
    const TensorView* query = checkpoint.find("query_tokens");
    ASSERT_NE(query, nullptr);
    EXPECT_EQ(query->shape, (std::vector<int64_t>{1, config.num_query_tokens,
                                                  config.qformer_config.hidden_size}));
    at::Tensor values = to_torch(*query);
    EXPECT_TRUE(torch::isfinite(values).all().item<bool>());
    const TensorView* patch = checkpoint.find("vision_model.embeddings.patch_embedding.weight");
    ASSERT_NE(patch, nullptr);
    int64_t p = config.vision_config.patch_size;
    EXPECT_EQ(patch->shape, (std::vector<int64_t>{config.vision_config.hidden_size, 3, p, p}));
  }
}

}  // namespace
}  // namespace blip2
