// Bad inputs to Model::load and Captioner: every one gives a blip2::Error with
// the right code and a message naming the file or value at fault — never a
// crash. Each case starts from a copy of the oracle's tiny checkpoint and
// breaks one thing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cmath>
#include <functional>
#include <limits>
#include <tuple>
#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "blip2.h"
#include "fixtures.h"
#include "safetensors.h"
#include "safetensors_writer.h"
#include "torch_error.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A writable copy of a fixture checkpoint.
class BrokenCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override { copy_model("tiny"); }

  void copy_model(const std::string& name) {
    fs::remove_all(dir());
    fs::copy(testing::model_dir(name), dir(), fs::copy_options::recursive);
  }

  std::string dir() const { return temp_.path() + "/model"; }
  std::string file(const std::string& name) const { return dir() + "/" + name; }

  nlohmann::json read_json(const std::string& name) const {
    std::ifstream in(file(name));
    return nlohmann::json::parse(in);
  }
  void write_json(const std::string& name, const nlohmann::json& value) const {
    testing::write_text_file(file(name), value.dump(2));
  }

  // The weights as writer tensors, to be edited and written back.
  std::vector<testing::TestTensor> weights() const {
    auto st = SafetensorsFile::open(file("model.safetensors"));
    std::vector<testing::TestTensor> out;
    for (const auto& [name, view] : st->tensors()) {
      out.push_back({name, dtype_name(view.dtype), view.shape,
                     std::vector<uint8_t>(view.data, view.data + view.nbytes)});
    }
    return out;
  }
  void write_weights(const std::vector<testing::TestTensor>& tensors) const {
    testing::write_safetensors(file("model.safetensors"), tensors);
  }

  // Loading fails with `code` and a message containing every `needle`.
  void expect_load_error(ErrorCode code, const std::vector<std::string>& needles,
                         const std::string& quantize = "none") const {
    try {
      ModelOptions options{dir(), "cpu", quantize == "none" ? "float32" : "bfloat16"};
      options.quantize = quantize;
      Model::load(options);
      ADD_FAILURE() << "the broken checkpoint loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      for (const auto& needle : needles) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "\"" << needle << "\" not in: " << e.what();
      }
    }
  }

  TempDir temp_;
};

TEST_F(BrokenCheckpoint, IntactCopyLoads) {
  auto model = Model::load({dir(), "cpu", "float32"});
  EXPECT_EQ(model->info().image_size, 56);
}

TEST_F(BrokenCheckpoint, MissingFolder) {
  fs::remove_all(dir());
  expect_load_error(ErrorCode::kNotFound, {dir()});
}

TEST_F(BrokenCheckpoint, PathIsAFile) {
  fs::remove_all(dir());
  testing::write_text_file(dir(), "not a folder");
  expect_load_error(ErrorCode::kInvalidFormat, {dir()});
}

TEST_F(BrokenCheckpoint, MissingConfig) {
  fs::remove(file("config.json"));
  expect_load_error(ErrorCode::kNotFound, {"config.json"});
}

TEST_F(BrokenCheckpoint, CorruptConfig) {
  testing::write_text_file(file("config.json"), "{\"vision_config\": {\"hidden_size\": ");
  expect_load_error(ErrorCode::kInvalidFormat, {"config.json"});
}

TEST_F(BrokenCheckpoint, NotAnOptModel) {
  auto config = read_json("config.json");
  config["text_config"]["model_type"] = "t5";
  write_json("config.json", config);
  expect_load_error(ErrorCode::kUnsupported, {"t5"});
}

TEST_F(BrokenCheckpoint, MissingWeights) {
  fs::remove(file("model.safetensors"));
  expect_load_error(ErrorCode::kNotFound, {"model.safetensors"});
}

TEST_F(BrokenCheckpoint, TruncatedWeights) {
  const auto bytes = testing::read_file(file("model.safetensors"));
  for (size_t keep : {size_t{0}, size_t{5}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    SCOPED_TRACE(keep);
    testing::write_file(file("model.safetensors"),
                        std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
    expect_load_error(ErrorCode::kInvalidFormat, {"model.safetensors"});
  }
}

TEST_F(BrokenCheckpoint, CorruptHeader) {
  auto bytes = testing::read_file(file("model.safetensors"));
  for (size_t i = 8; i < 40; ++i) bytes[i] = '!';
  testing::write_file(file("model.safetensors"), bytes);
  expect_load_error(ErrorCode::kInvalidFormat, {"model.safetensors"});
}

TEST_F(BrokenCheckpoint, MissingTensorIsNamed) {
  auto tensors = weights();
  std::erase_if(tensors, [](const auto& t) { return t.name == "qformer.layernorm.weight"; });
  write_weights(tensors);
  expect_load_error(ErrorCode::kConfigMismatch, {"qformer.layernorm.weight", "missing"});
}

TEST_F(BrokenCheckpoint, UnexpectedTensorIsNamed) {
  auto tensors = weights();
  tensors.push_back(testing::f32_tensor("vision_model.extra.weight", {2}, {1, 2}));
  write_weights(tensors);
  expect_load_error(ErrorCode::kConfigMismatch, {"vision_model.extra.weight"});
}

TEST_F(BrokenCheckpoint, ShapeMismatchIsNamed) {
  auto tensors = weights();
  for (auto& t : tensors) {
    if (t.name == "language_projection.bias") {
      t.shape = {t.shape[0] / 2, 2};
    }
  }
  write_weights(tensors);
  expect_load_error(ErrorCode::kConfigMismatch, {"language_projection.bias"});
}

TEST_F(BrokenCheckpoint, IntegerWeightsAreRefused) {
  auto tensors = weights();
  for (auto& t : tensors) {
    if (t.name == "vision_model.post_layernorm.bias") t.dtype = "I32";
  }
  write_weights(tensors);
  expect_load_error(ErrorCode::kConfigMismatch, {"vision_model.post_layernorm.bias", "I32"});
}

TEST_F(BrokenCheckpoint, UnknownDtypeIsRefused) {
  auto tensors = weights();
  for (auto& t : tensors) {
    if (t.name == "query_tokens") t.dtype = "F8_E4M3";
  }
  write_weights(tensors);
  expect_load_error(ErrorCode::kUnsupported, {"query_tokens", "F8_E4M3"});
}

TEST_F(BrokenCheckpoint, Float16WeightsLoadAndCast) {
  auto tensors = weights();
  for (auto& t : tensors) {
    if (t.dtype != "F32") continue;
    std::vector<uint16_t> bits;
    const float* values = reinterpret_cast<const float*>(t.bytes.data());
    for (size_t i = 0; i < t.bytes.size() / 4; ++i) bits.push_back(testing::float_to_f16_bits(values[i]));
    t = testing::bits16_tensor(t.name, "F16", t.shape, bits);
  }
  write_weights(tensors);
  auto model = Model::load({dir(), "cpu", "float32"});
  Captioner captioner(model);
  const RgbImage image = testing::fixture_image("gradient-64x48.ppm");
  EXPECT_FALSE(captioner.caption(image.view(), {}).token_ids.empty());
}

// config.json says more decoder layers than the weights hold.
TEST_F(BrokenCheckpoint, ConfigAndWeightsDisagreeOnLayers) {
  auto config = read_json("config.json");
  config["text_config"]["num_hidden_layers"] = 4;
  write_json("config.json", config);
  expect_load_error(ErrorCode::kConfigMismatch,
                    {"language_model.model.decoder.layers.3.", "missing"});
}

// config.json (and the preprocessor) say 70 px; the position table is for 56.
TEST_F(BrokenCheckpoint, ConfigAndWeightsDisagreeOnImageSize) {
  auto config = read_json("config.json");
  config["vision_config"]["image_size"] = 70;
  write_json("config.json", config);
  auto pre = read_json("preprocessor_config.json");
  pre["size"] = {{"height", 70}, {"width", 70}};
  write_json("preprocessor_config.json", pre);
  expect_load_error(ErrorCode::kConfigMismatch, {"position_embedding"});
}

TEST_F(BrokenCheckpoint, PreprocessorDisagreesWithConfig) {
  auto pre = read_json("preprocessor_config.json");
  pre["size"] = {{"height", 224}, {"width", 224}};
  write_json("preprocessor_config.json", pre);
  expect_load_error(ErrorCode::kConfigMismatch, {"preprocessor_config.json", "224"});
}

TEST_F(BrokenCheckpoint, MissingTokenizer) {
  fs::remove(file("tokenizer.json"));
  expect_load_error(ErrorCode::kNotFound, {dir()});
}

TEST_F(BrokenCheckpoint, ImageTokenOutsideVocabulary) {
  auto config = read_json("config.json");
  config["image_token_index"] = 100000;
  write_json("config.json", config);
  expect_load_error(ErrorCode::kConfigMismatch, {"image_token_index", "100000"});
}

// A config that lies about sizes is refused from the headers, before any
// parameter is allocated (these used to exhaust memory or print a backtrace).
TEST_F(BrokenCheckpoint, ImpossibleSizesAreRefusedNamingTheField) {
  const std::vector<std::tuple<std::string, std::string, int64_t>> cases = {
      {"vision_config", "num_hidden_layers", 100000},
      {"text_config", "num_hidden_layers", 1000000000},
      {"qformer_config", "num_hidden_layers", 7},
      {"text_config", "hidden_size", int64_t{1} << 40},
      {"text_config", "ffn_dim", int64_t{1} << 33},
      {"vision_config", "hidden_size", int64_t{1} << 40},
      {"vision_config", "intermediate_size", int64_t{1} << 33},
      {"qformer_config", "intermediate_size", int64_t{1} << 33},
      {"text_config", "max_position_embeddings", int64_t{1} << 40},
  };
  const auto original = read_json("config.json");
  for (const auto& [section, key, value] : cases) {
    SCOPED_TRACE(section + "." + key);
    auto config = original;
    config[section][key] = value;
    write_json("config.json", config);
    expect_load_error(ErrorCode::kConfigMismatch,
                      {"config.json", section + "." + key, std::to_string(value)});
  }
}

// The size's own tensor is gone too: the parameter count the config implies
// is checked against what the files hold.
TEST_F(BrokenCheckpoint, ImpossibleSizeWithoutItsTensorIsRefused) {
  auto tensors = weights();
  std::erase_if(tensors, [](const auto& t) { return t.name.find(".fc1.") != std::string::npos; });
  write_weights(tensors);
  auto config = read_json("config.json");
  config["text_config"]["ffn_dim"] = int64_t{1} << 33;
  write_json("config.json", config);
  expect_load_error(ErrorCode::kConfigMismatch, {"config.json", "ffn_dim 8589934592", "at least"});
}

TEST_F(BrokenCheckpoint, SpecialTokenIdsOutsideTheVocabularyAreRefused) {
  const auto original = read_json("config.json");
  for (const std::string key : {"bos_token_id", "pad_token_id", "eos_token_id"}) {
    for (int64_t id : {int64_t{100000}, int64_t{-5}}) {
      SCOPED_TRACE(key + " " + std::to_string(id));
      auto config = original;
      config["text_config"][key] = id;
      write_json("config.json", config);
      expect_load_error(ErrorCode::kConfigMismatch,
                        {"config.json", "text_config." + key, std::to_string(id), "vocabulary"});
    }
  }
}

TEST_F(BrokenCheckpoint, WeightsEntryThatIsNotAFileIsNamed) {
  const std::string weights_file = file("model.safetensors");
  fs::remove(weights_file);
  fs::create_directory(weights_file);
  expect_load_error(ErrorCode::kInvalidFormat, {weights_file, "is a directory"});

  fs::remove(weights_file);
  fs::create_symlink("model.safetensors", weights_file);  // points at itself
  expect_load_error(ErrorCode::kInvalidFormat, {weights_file, "symbolic link loop"});

  fs::remove(weights_file);
  fs::create_symlink("/dev/null", weights_file);
  expect_load_error(ErrorCode::kInvalidFormat,
                    {weights_file, "character device", "/dev/null", "not a regular file"});

  fs::remove(weights_file);
  fs::create_symlink("elsewhere.safetensors", weights_file);
  expect_load_error(ErrorCode::kInvalidFormat, {weights_file, "dangling symbolic link"});
}

TEST_F(BrokenCheckpoint, ConfigEntryThatIsNotAFileIsNamed) {
  fs::remove(file("config.json"));
  fs::create_directory(file("config.json"));
  expect_load_error(ErrorCode::kNotFound, {file("config.json"), "is a directory"});
}

// Overwrites every value of float32 tensor `name` (all when empty) with `value`.
void fill_f32(std::vector<testing::TestTensor>& tensors, const std::string& name, float value,
              size_t every = 1) {
  for (auto& t : tensors) {
    if (t.dtype != "F32" || (!name.empty() && t.name != name)) continue;
    auto* values = reinterpret_cast<float*>(t.bytes.data());
    for (size_t i = 0; i < t.bytes.size() / 4; i += every) values[i] = value;
  }
}

TEST_F(BrokenCheckpoint, NonFiniteWeightsAreRefusedNamingTheTensor) {
  const auto original = weights();
  const std::string tensor = "language_model.model.decoder.layers.1.fc2.weight";
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    for (const char* quantize : {"none", "int8"}) {  // int8: found through the scales
      SCOPED_TRACE(std::to_string(bad) + " quantize " + quantize);
      auto tensors = original;
      fill_f32(tensors, tensor, bad, 7);
      write_weights(tensors);
      expect_load_error(ErrorCode::kInvalidFormat, {tensor, "NaN or infinite"}, quantize);
    }
  }
}

TEST_F(BrokenCheckpoint, NonFiniteLogitsAreAnErrorWhenTheScanIsSkipped) {
  auto tensors = weights();
  fill_f32(tensors, "", std::nanf(""));
  write_weights(tensors);
  ModelOptions options{dir(), "cpu", "float32"};
  options.check_finite = false;
  auto model = Model::load(options);
  Captioner captioner(model);
  const RgbImage image = testing::fixture_image("gradient-64x48.ppm");
  for (bool sample : {false, true}) {
    GenerationOptions gen;
    gen.do_sample = sample;
    try {
      captioner.caption(image.view(), gen);
      ADD_FAILURE() << "all-NaN weights captioned";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kRuntime) << e.what();
      EXPECT_NE(std::string(e.what()).find("NaN or infinite logits"), std::string::npos)
          << e.what();
    }
  }
}

TEST_F(BrokenCheckpoint, BadDeviceAndDtypeNames) {
  const std::vector<std::pair<ModelOptions, ErrorCode>> cases = {
      {{dir(), "gpu", "float32"}, ErrorCode::kInvalidArgument},
      {{dir(), "cuda:x", "float32"}, ErrorCode::kInvalidArgument},
      {{dir(), "cpu", "float8"}, ErrorCode::kInvalidArgument},
  };
  for (const auto& [options, code] : cases) {
    try {
      Model::load(options);
      ADD_FAILURE() << options.device << " / " << options.dtype << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  }
}

TEST_F(BrokenCheckpoint, CudaWithoutAGpuIsUnsupported) {
  if (Model::load({dir(), "auto", "auto"})->info().device != "cpu") {
    GTEST_SKIP() << "a CUDA device is present: this case needs a machine without one";
  }
  try {
    Model::load({dir(), "cuda", "float16"});
    ADD_FAILURE() << "cuda accepted without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

// libtorch's errors carry a backtrace of many lines; callers get one line.
TEST(TorchErrors, BecomeOneLineBlip2Errors) {
  try {
    try {
      TORCH_CHECK(false, "first line\nsecond line");
    } catch (...) {
      rethrow_as_blip2_error("loading x failed");
    }
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kRuntime);
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.find("Exception raised from"), std::string::npos) << what;
    EXPECT_EQ(what, "loading x failed: first line; second line");
  }
  try {
    try {
      (void)at::empty({int64_t{1} << 62}, at::kFloat);
    } catch (...) {
      rethrow_as_blip2_error("captioning failed");
    }
    ADD_FAILURE() << "2^62 floats allocated";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.rfind("captioning failed: ", 0), 0u) << what;
  }
}

class BadImages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = Model::load({testing::model_dir("tiny"), "cpu", "float32"}); }
  static void TearDownTestSuite() { model_.reset(); }

  void expect_caption_error(const ImageView& view, const GenerationOptions& options,
                            ErrorCode code) {
    Captioner captioner(model_);
    try {
      captioner.caption(view, options);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  }

  static std::shared_ptr<Model> model_;
};
std::shared_ptr<Model> BadImages::model_;

TEST_F(BadImages, EmptyImage) {
  const uint8_t pixel[3] = {1, 2, 3};
  expect_caption_error(ImageView::packed(pixel, 0, 0, 0, PixelFormat::kRGB), {},
                       ErrorCode::kInvalidArgument);
}

TEST_F(BadImages, NullData) {
  expect_caption_error(ImageView::packed(nullptr, 4, 4, 12, PixelFormat::kRGB), {},
                       ErrorCode::kInvalidArgument);
}

TEST_F(BadImages, StrideTooSmall) {
  const std::vector<uint8_t> pixels(64 * 3, 7);
  expect_caption_error(ImageView::packed(pixels.data(), 8, 8, 8, PixelFormat::kRGB), {},
                       ErrorCode::kInvalidArgument);
}

TEST_F(BadImages, OnePixelImageIsCaptioned) {
  const uint8_t pixel[3] = {200, 10, 90};
  Captioner captioner(model_);
  GenerationOptions options;
  options.max_new_tokens = 3;
  const Caption c = captioner.caption(ImageView::packed(pixel, 1, 1, 3, PixelFormat::kRGB), options);
  EXPECT_FALSE(c.token_ids.empty());
  EXPECT_LE(c.token_ids.size(), 3u);
}

TEST_F(BadImages, ZeroNewTokensIsRefused) {
  const RgbImage image = testing::fixture_image("gradient-64x48.ppm");
  GenerationOptions options;
  options.max_new_tokens = 0;
  expect_caption_error(image.view(), options, ErrorCode::kInvalidArgument);
}

TEST_F(BadImages, PromptLongerThanThePositionTable) {
  const RgbImage image = testing::fixture_image("gradient-64x48.ppm");
  GenerationOptions options;
  for (int i = 0; i < 200; ++i) options.prompt += "a photo of ";
  expect_caption_error(image.view(), options, ErrorCode::kInvalidArgument);
}

TEST_F(BadImages, HugeBeamAndSequenceCountsAreRefusedAtOnce) {
  const RgbImage image = testing::fixture_image("gradient-64x48.ppm");
  GenerationOptions beams;
  beams.num_beams = 2147483647;
  expect_caption_error(image.view(), beams, ErrorCode::kInvalidArgument);
  GenerationOptions draws;
  draws.do_sample = true;
  draws.num_return_sequences = 2147483647;
  expect_caption_error(image.view(), draws, ErrorCode::kInvalidArgument);
  GenerationOptions length;
  length.max_new_tokens = 2147483647;
  expect_caption_error(image.view(), length, ErrorCode::kInvalidArgument);
  Captioner captioner(model_);
  try {
    captioner.caption(image.view(), beams);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_beams 2147483647"), std::string::npos) << e.what();
  }
}

TEST_F(BadImages, PromptWithTheImagePlaceholder) {
  const RgbImage image = testing::fixture_image("gradient-64x48.ppm");
  GenerationOptions options;
  options.prompt = "look <image> here";
  expect_caption_error(image.view(), options, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace blip2
