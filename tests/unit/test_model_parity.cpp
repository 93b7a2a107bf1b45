// Parity of the C++ model with transformers (the oracle) on tiny random
// checkpoints of four shapes: preprocessing, every stage's activations and the
// logits in float32 within 1e-4 relative error, and greedy token ids and text
// identical, for several images and prompts and a batch of three images.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "blip2.h"
#include "fixtures.h"
#include "model_impl.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::greedy_reference;
using testing::model_dir;
using testing::reference_tensor;
using testing::relative_error;

constexpr double kFloat32Tolerance = 1e-4;

class ModelParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_ = Model::load({model_dir(GetParam()), "cpu", "float32"});
    reference_ = greedy_reference(GetParam());
  }

  // Full-sequence logits [L, V] for image features [1, Q, D] and a prompt.
  at::Tensor prompt_logits(const at::Tensor& features, const std::string& prompt) {
    const Model::Impl& m = model_->impl();
    const std::vector<int64_t> ids = m.input_ids_for(prompt);
    const at::Tensor embeds = m.inputs_embeds(features, ids);
    const OptConfig& c = m.config.text_config;
    KvCache cache;
    cache.allocate(c.num_hidden_layers, 1, c.num_attention_heads, embeds.size(1),
                   c.hidden_size / c.num_attention_heads, embeds.options());
    OptForCausalLMImpl& lm = *m.net->language_model;
    return lm.logits(lm.model->decoder->forward(embeds, cache))[0];
  }

  std::shared_ptr<Model> model_;
  nlohmann::json reference_;
};

TEST_P(ModelParity, PreprocessingEqualsTheProcessorExactly) {
  const RgbImage image = fixture_image(reference_["activations_image"]);
  const at::Tensor ours = model_->impl().pixel_values({image.view()});
  const at::Tensor expected = reference_tensor(GetParam(), "pixel_values").narrow(0, 0, 1);
  EXPECT_TRUE(at::equal(ours, expected)) << "max diff " << (ours - expected).abs().max();
}

TEST_P(ModelParity, StagesAndLogitsMatchInFloat32) {
  c10::InferenceMode guard;
  const at::Tensor pixels = reference_tensor(GetParam(), "pixel_values").narrow(0, 0, 1);
  at::Tensor image_embeds, query_output;
  const at::Tensor features =
      model_->impl().net->image_features(pixels, &image_embeds, &query_output);
  EXPECT_LT(relative_error(image_embeds[0], reference_tensor(GetParam(), "image_embeds")),
            kFloat32Tolerance);
  EXPECT_LT(relative_error(query_output[0], reference_tensor(GetParam(), "query_output")),
            kFloat32Tolerance);
  EXPECT_LT(relative_error(features[0], reference_tensor(GetParam(), "language_inputs")),
            kFloat32Tolerance);
  const at::Tensor logits = prompt_logits(features, reference_["prompt_for_logits"]);
  EXPECT_LT(relative_error(logits, reference_tensor(GetParam(), "logits")), kFloat32Tolerance);
}

TEST_P(ModelParity, GreedyCaptionsEqualTransformers) {
  Captioner captioner(model_);
  ASSERT_GE(reference_["cases"].size(), 5u);
  for (const auto& c : reference_["cases"]) {
    std::vector<RgbImage> images;
    for (const auto& name : c["images"]) images.push_back(fixture_image(name));
    std::vector<ImageView> views;
    for (const auto& image : images) views.push_back(image.view());
    GenerationOptions options;
    options.prompt = c["prompt"];
    options.max_new_tokens = c["max_new_tokens"];
    options.min_new_tokens = c["min_new_tokens"];
    const std::vector<Caption> captions = captioner.caption(views, options);
    ASSERT_EQ(captions.size(), views.size());
    for (size_t i = 0; i < captions.size(); ++i) {
      SCOPED_TRACE(c["images"][i].get<std::string>() + " prompt \"" + options.prompt + "\"");
      EXPECT_EQ(captions[i].token_ids, c["token_ids"][i].get<std::vector<int64_t>>());
      EXPECT_EQ(captions[i].text, c["text"][i].get<std::string>());
    }
  }
}

// The same weights in float16 / bfloat16 on the CPU: logits close to the
// float32 oracle (reduced-precision tolerance), the Q-Former kept in float32
// in float16 only (as transformers does; test_reduced_precision.cpp).
TEST_P(ModelParity, HalfPrecisionLogitsStayClose) {
  for (const char* dtype : {"float16", "bfloat16"}) {
    SCOPED_TRACE(dtype);
    auto model = Model::load({model_dir(GetParam()), "cpu", dtype});
    EXPECT_EQ(model->info().dtype, dtype);
    c10::InferenceMode guard;
    const Model::Impl& m = model->impl();
    const at::ScalarType qformer_dtype = m.dtype == at::kHalf ? at::kFloat : m.dtype;
    EXPECT_EQ(m.net->qformer->layernorm->weight.scalar_type(), qformer_dtype);
    EXPECT_EQ(m.net->query_tokens.scalar_type(), qformer_dtype);
    const at::Tensor pixels = reference_tensor(GetParam(), "pixel_values").narrow(0, 0, 1);
    const at::Tensor features = m.net->image_features(pixels);
    EXPECT_EQ(features.scalar_type(), m.dtype);
    model_ = model;
    const at::Tensor logits = prompt_logits(features, reference_["prompt_for_logits"]);
    EXPECT_LT(relative_error(logits, reference_tensor(GetParam(), "logits")), 0.05);
  }
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, ModelParity,
                         ::testing::Values("tiny", "tiny-legacy", "tiny-proj", "tiny-coco"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace blip2
