// Reduced precision on the CPU: bfloat16 against transformers run in
// bfloat16 (every module bfloat16, as transformers 5 loads it), and
// weight-only int8 (quantize=int8) against the float32 oracle; the int8
// kernel, its quantizer and where the int8 layers are.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <iostream>

#include "blip2.h"
#include "fixtures.h"
#include "generation_options.h"
#include "int8_layers.h"
#include "model_impl.h"
#include "quantize.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::model_dir;
using testing::reference_tensor;
using testing::relative_error;

// Every case but exact ties (transformers' top-1 and top-2 bfloat16 logits
// equal, decided by the index alone) is compared.
constexpr double kDecisiveBfloat16Margin = 0.0;

ModelOptions options_for(const std::string& model, const std::string& dtype,
                         const std::string& quantize = "none") {
  ModelOptions options;
  options.path = model_dir(model);
  options.device = "cpu";
  options.dtype = dtype;
  options.quantize = quantize;
  return options;
}

// Logits [L, V] (float32) of the model for image 0 of the float32
// reference's activations and its prompt.
at::Tensor prompt_logits(const Model& model, const std::string& name) {
  c10::InferenceMode guard;
  const Model::Impl& m = model.impl();
  const at::Tensor pixels = reference_tensor(name, "pixel_values").narrow(0, 0, 1);
  const at::Tensor features = m.net->image_features(pixels);
  const std::vector<int64_t> ids =
      m.input_ids_for(testing::greedy_reference(name)["prompt_for_logits"]);
  const at::Tensor embeds = m.inputs_embeds(features, ids);
  const OptConfig& c = m.config.text_config;
  KvCache cache;
  cache.allocate(c.num_hidden_layers, 1, c.num_attention_heads, embeds.size(1),
                 c.hidden_size / c.num_attention_heads, embeds.options());
  OptForCausalLMImpl& lm = *m.net->language_model;
  return lm.logits(lm.model->decoder->forward(embeds, cache))[0].to(at::kFloat);
}

// Runs every case of a greedy.json-like reference; -> the captions' ids per case.
std::vector<std::vector<std::vector<int64_t>>> greedy_ids(const std::shared_ptr<Model>& model,
                                                          const nlohmann::json& cases) {
  Captioner captioner(model);
  std::vector<std::vector<std::vector<int64_t>>> out;
  for (const auto& c : cases) {
    std::vector<RgbImage> images;
    for (const auto& name : c["images"]) images.push_back(fixture_image(name));
    std::vector<ImageView> views;
    for (const auto& image : images) views.push_back(image.view());
    GenerationOptions options;
    options.prompt = c["prompt"];
    options.max_new_tokens = c["max_new_tokens"];
    options.min_new_tokens = c["min_new_tokens"];
    std::vector<std::vector<int64_t>> rows;
    for (const Caption& caption : captioner.caption(views, options)) {
      rows.push_back(caption.token_ids);
    }
    out.push_back(rows);
  }
  return out;
}

class ReducedPrecision : public ::testing::TestWithParam<std::string> {};

TEST_P(ReducedPrecision, QFormerIsFloat32OnlyInAFloat16Model) {
  for (const auto& [dtype, expected] :
       {std::pair{"bfloat16", at::kBFloat16}, {"float16", at::kFloat}, {"float32", at::kFloat}}) {
    SCOPED_TRACE(dtype);
    auto model = Model::load(options_for(GetParam(), dtype));
    const Blip2ForConditionalGenerationImpl& net = *model->impl().net;
    EXPECT_EQ(net.query_tokens.scalar_type(), expected);
    for (const auto& p : net.qformer->parameters()) EXPECT_EQ(p.scalar_type(), expected);
    EXPECT_EQ(net.language_projection->weight.scalar_type(), model->impl().dtype);
  }
}

// The policy decided by measurement: our bfloat16 logits are those of
// transformers in bfloat16, several times closer to them than to
// transformers with a float32 Q-Former (the float16 policy).
TEST_P(ReducedPrecision, Bfloat16LogitsAreTransformersBfloat16Logits) {
  auto model = Model::load(options_for(GetParam(), "bfloat16"));
  const at::Tensor ours = prompt_logits(*model, GetParam());
  const double to_bf16 = relative_error(ours, reference_tensor(GetParam(), "logits", "bfloat16"));
  const double to_mixed =
      relative_error(ours, reference_tensor(GetParam(), "logits_qformer_float32", "bfloat16"));
  const double to_fp32 = relative_error(ours, reference_tensor(GetParam(), "logits"));
  std::cout << GetParam() << ": bfloat16 logits, relative error to transformers bfloat16 "
            << to_bf16 << ", with a float32 Q-Former " << to_mixed << ", float32 " << to_fp32
            << "\n";
  EXPECT_LT(to_bf16, 0.25 * to_mixed);
}

TEST_P(ReducedPrecision, Bfloat16GreedyCaptionsEqualTransformersBfloat16) {
  const nlohmann::json reference = testing::bfloat16_reference(GetParam());
  const auto ours =
      greedy_ids(Model::load(options_for(GetParam(), "bfloat16")), reference["cases"]);
  size_t compared = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto& c = reference["cases"][i];
    if (c["min_margin"].get<double>() <= kDecisiveBfloat16Margin) continue;  // a tie
    SCOPED_TRACE(c["images"].dump() + " prompt \"" + c["prompt"].get<std::string>() + "\"");
    EXPECT_EQ(ours[i], c["token_ids"].get<std::vector<std::vector<int64_t>>>());
    ++compared;
  }
  std::cout << GetParam() << ": " << compared << " of " << ours.size()
            << " bfloat16 cases decisive and compared\n";
  EXPECT_GE(compared, 5u);
}

TEST_P(ReducedPrecision, Int8CoversTheLanguageModelOnly) {
  auto model = Model::load(options_for(GetParam(), "auto", "int8"));
  EXPECT_EQ(model->info().dtype, "bfloat16");
  EXPECT_EQ(model->info().quantize, "int8");
  Blip2ForConditionalGenerationImpl& net = *model->impl().net;
  size_t quantized = 0;
  for (const auto& item : net.named_modules()) {
    const auto* linear = item.value()->as<LinearImpl>();
    if (linear == nullptr) continue;
    const bool language_model = item.key().rfind("language_model.", 0) == 0;
    SCOPED_TRACE(item.key());
    EXPECT_EQ(linear->quantized(), language_model);
    EXPECT_EQ(linear->int8.defined(), language_model);
    if (!language_model) continue;
    // no float copy of the weight: the parameter is a placeholder without storage
    EXPECT_TRUE(linear->weight.is_meta());
    EXPECT_EQ(linear->int8.values.scalar_type(), at::kChar);
    EXPECT_EQ(linear->int8.values.sizes(), linear->weight.sizes());
    EXPECT_EQ(linear->int8.scales.scalar_type(), at::kBFloat16);
    ++quantized;
  }
  const OptForCausalLMImpl& lm = *net.language_model;
  EXPECT_GE(quantized, 6u * static_cast<size_t>(lm.config.num_hidden_layers));
  EXPECT_EQ(lm.tied_head_int8.defined(), !lm.lm_head);
  EXPECT_EQ(lm.model->decoder->embed_tokens->weight.scalar_type(), at::kBFloat16);
}

// Measured (docs/full-size-cpu.md): int8 weights move the logits by a few
// percent of their largest value on these unit-scale random models.
TEST_P(ReducedPrecision, Int8LogitsStayCloseToFloat32) {
  auto model = Model::load(options_for(GetParam(), "bfloat16", "int8"));
  const at::Tensor ours = prompt_logits(*model, GetParam());
  const at::Tensor expected = reference_tensor(GetParam(), "logits");
  const double error = relative_error(ours, expected);
  const double top1 = ours.argmax(-1).eq(expected.argmax(-1)).to(at::kFloat).mean().item<double>();
  std::cout << GetParam() << ": int8 logits, relative error to float32 " << error
            << ", top-1 agreement " << top1 << "\n";
  EXPECT_LT(error, 0.1);
  EXPECT_GT(error, 0.0);  // it is not the float32 model
}

// The greedy captions of the float32 oracle, with int8 weights: measured
// (docs/full-size-cpu.md), most are the same; a broken quantizer gets none.
TEST_P(ReducedPrecision, Int8GreedyCaptionsMostlyEqualFloat32) {
  const nlohmann::json reference = testing::greedy_reference(GetParam());
  const auto ours =
      greedy_ids(Model::load(options_for(GetParam(), "bfloat16", "int8")), reference["cases"]);
  size_t rows = 0, equal = 0, equal_tokens = 0, tokens = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto expected =
        reference["cases"][i]["token_ids"].get<std::vector<std::vector<int64_t>>>();
    for (size_t r = 0; r < expected.size(); ++r) {
      ++rows;
      equal += ours[i][r] == expected[r];
      size_t same = 0;  // the tokens before the first difference
      while (same < std::min(ours[i][r].size(), expected[r].size()) &&
             ours[i][r][same] == expected[r][same]) {
        ++same;
      }
      equal_tokens += same;
      tokens += expected[r].size();
    }
  }
  std::cout << GetParam() << ": int8 greedy captions equal to float32: " << equal << " of " << rows
            << " (" << equal_tokens << " of " << tokens << " tokens before the first difference)\n";
  EXPECT_GE(2 * equal, rows);
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, ReducedPrecision,
                         ::testing::Values("tiny", "tiny-legacy", "tiny-proj", "tiny-coco"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(Quantize, RowsGetAbsmaxScalesAndRoundedValues) {
  at::manual_seed(3);
  at::Tensor weight = at::randn({37, 64});
  weight[5].zero_();
  const Int8Weight q = quantize_int8(weight, at::kBFloat16);
  ASSERT_EQ(q.values.scalar_type(), at::kChar);
  ASSERT_EQ(q.scales.scalar_type(), at::kBFloat16);
  EXPECT_EQ(q.values.sizes(), weight.sizes());
  const at::Tensor scales = q.scales.to(at::kFloat);
  at::Tensor expected = weight.abs().amax(1) / 127;
  expected[5] = 1.0f;  // a row of zeros
  EXPECT_TRUE(at::allclose(scales, expected, 1e-2, 0));
  EXPECT_EQ(q.values[5].abs().max().item<int>(), 0);
  EXPECT_LE(q.values.abs().max().item<int>(), 127);
  // every value is the nearest step of its row's stored scale
  const at::Tensor steps = weight / scales.unsqueeze(1);
  EXPECT_LE((steps - q.values.to(at::kFloat)).abs().max().item<float>(), 0.5f + 1e-3f);
  EXPECT_LT(relative_error(dequantize(q), weight), 1.0 / 127);
}

TEST(Quantize, ANonFiniteWeightGivesANonFiniteScale) {
  at::Tensor weight = at::ones({4, 16});
  weight[2][3] = std::nanf("");
  weight[3][0] = std::numeric_limits<float>::infinity();
  const at::Tensor finite = at::isfinite(quantize_int8(weight, at::kBFloat16).scales);
  EXPECT_TRUE(finite[0].item<bool>() && finite[1].item<bool>());
  EXPECT_FALSE(finite[2].item<bool>() || finite[3].item<bool>());
}

TEST(Quantize, Int8LinearIsTheProductWithTheDequantizedWeight) {
  at::manual_seed(4);
  const Int8Weight q = quantize_int8(at::randn({48, 80}), at::kBFloat16);
  const at::Tensor bias = at::randn({48}).to(at::kBFloat16);
  for (int64_t rows : {1, 5, 40}) {
    SCOPED_TRACE(rows);
    const at::Tensor x = at::randn({1, rows, 80}).to(at::kBFloat16);
    const at::Tensor y = int8_linear(x, q, bias);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, rows, 48}));
    const at::Tensor expected =
        at::linear(x.to(at::kFloat), dequantize(q).to(at::kFloat), bias.to(at::kFloat));
    EXPECT_LT(relative_error(y, expected), 0.02);
  }
}

TEST(Quantize, OnlyWidthsTheKernelReadsAreQuantized) {
  EXPECT_TRUE(int8_supported(16));
  EXPECT_TRUE(int8_supported(2560));
  EXPECT_FALSE(int8_supported(8));
  EXPECT_FALSE(int8_supported(40));
  EXPECT_FALSE(int8_supported(0));
}

TEST(Quantize, SingleBfloat16RowIsTheMatrixProduct) {
  at::manual_seed(5);
  const at::Tensor weight = at::randn({96, 64}).to(at::kBFloat16);
  const at::Tensor bias = at::randn({96}).to(at::kBFloat16);
  const at::Tensor x = at::randn({1, 1, 64}).to(at::kBFloat16);
  const at::Tensor y = dense_linear(x, weight, bias);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 96}));
  const at::Tensor expected =
      at::linear(x.to(at::kFloat), weight.to(at::kFloat), bias.to(at::kFloat));
  EXPECT_LT(relative_error(y, expected), 0.01);
}

TEST(Quantize, OptionsAreCheckedBeforeLoading) {
  const std::string absent = "/nonexistent/model";
  const std::vector<std::tuple<ModelOptions, ErrorCode, std::string>> cases = {
      {{absent, "cpu", "auto"}, ErrorCode::kInvalidArgument, "int4"},
      {{absent, "cpu", "float32"}, ErrorCode::kInvalidArgument, "bfloat16"},
      {{absent, "cpu", "float16"}, ErrorCode::kInvalidArgument, "bfloat16"},
      {{absent, "cuda", "auto"}, ErrorCode::kUnsupported, "CPU only"},
      {{absent, "cuda:0", "bfloat16"}, ErrorCode::kUnsupported, "CPU only"},
  };
  for (auto [options, code, needle] : cases) {
    options.quantize = needle == "int4" ? "int4" : "int8";
    SCOPED_TRACE(options.device + " " + options.dtype + " " + options.quantize);
    try {
      validate_model_options(options);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  ModelOptions fine{absent, "cpu", "bfloat16"};
  fine.quantize = "int8";
  EXPECT_NO_THROW(validate_model_options(fine));
}

TEST(Quantize, QuantizedAndFloatModelsAreNotShared) {
  auto plain = Model::load_shared(options_for("tiny", "bfloat16"));
  auto int8 = Model::load_shared(options_for("tiny", "bfloat16", "int8"));
  EXPECT_NE(plain.get(), int8.get());
  EXPECT_EQ(int8.get(), Model::load_shared(options_for("tiny", "bfloat16", "int8")).get());
}

}  // namespace
}  // namespace blip2
