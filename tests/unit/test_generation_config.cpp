// generation_config.json: the checkpoint's decoding defaults, against what
// transformers 5.17 generates from the same file
// (model/oracle/generation_config_reference.py), and the default-prompt rule.
#include <gtest/gtest.h>

#include <fstream>

#include "blip2.h"
#include "fixtures.h"
#include "generation_options.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::fixtures_dir;
using testing::model_dir;

nlohmann::json reference() {
  std::ifstream file(fixtures_dir() + "/reference/tiny-gencfg/generation_config.json");
  if (!file) ADD_FAILURE() << "missing reference/tiny-gencfg (generation_config_reference.py)";
  return file ? nlohmann::json::parse(file) : nlohmann::json::object();
}

std::vector<int64_t> caption_ids(const GenerationOptions& options, const nlohmann::json& c) {
  auto model = Model::load({model_dir("tiny-gencfg"), "cpu", "float32"});
  Captioner captioner(model);
  GenerationOptions o = options;
  o.prompt = c["prompt"];
  const RgbImage image = fixture_image(c["images"][0]);
  return captioner.caption(image.view(), o).token_ids;
}

TEST(GenerationConfig, FileOptionsAreTheDefaultsAsTransformersAppliesThem) {
  const nlohmann::json ref = reference();
  const GenerationOptions defaults = generation_defaults(model_dir("tiny-gencfg"));
  const nlohmann::json& file = ref["generation_config"];
  EXPECT_EQ(defaults.num_beams, file["num_beams"].get<int>());
  EXPECT_EQ(defaults.max_new_tokens, file["max_new_tokens"].get<int>());
  EXPECT_DOUBLE_EQ(defaults.repetition_penalty, file["repetition_penalty"].get<double>());
  EXPECT_EQ(caption_ids(defaults, ref["applied"]),
            ref["applied"]["token_ids"].get<std::vector<int64_t>>());
}

TEST(GenerationConfig, ExplicitOptionsOverrideTheFile) {
  const nlohmann::json ref = reference();
  GenerationOptions options = generation_defaults(model_dir("tiny-gencfg"));
  const nlohmann::json& o = ref["override"]["options"];
  options.num_beams = o["num_beams"];
  options.repetition_penalty = o["repetition_penalty"];
  options.length_penalty = o["length_penalty"];
  options.no_repeat_ngram_size = o["no_repeat_ngram_size"];
  options.max_new_tokens = o["max_new_tokens"];
  options.min_new_tokens = o["min_new_tokens"];
  EXPECT_EQ(caption_ids(options, ref["override"]),
            ref["override"]["token_ids"].get<std::vector<int64_t>>());
}

TEST(GenerationConfig, WithoutTheFileTheDefaultsAreGenerationOptions) {
  const GenerationOptions defaults = generation_defaults(model_dir("tiny"));
  const GenerationOptions plain;
  EXPECT_EQ(defaults.num_beams, plain.num_beams);
  EXPECT_EQ(defaults.max_new_tokens, plain.max_new_tokens);
  EXPECT_EQ(defaults.prompt, "");
}

TEST(GenerationConfig, NullKeysKeepTheDefaultAndBadTypesAreNamed) {
  GenerationOptions o;
  apply_generation_config_json(R"({"num_beams": null, "early_stopping": "never",
                                   "top_k": 7, "transformers_version": "5.17.0"})",
                               "g.json", o);
  EXPECT_EQ(o.num_beams, 1);
  EXPECT_EQ(o.early_stopping, EarlyStopping::kNever);
  EXPECT_EQ(o.top_k, 7);
  try {
    apply_generation_config_json(R"({"top_p": "high"})", "g.json", o);
    FAIL() << "accepted a string top_p";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFormat);
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos) << e.what();
  }
}

TEST(DefaultPrompt, KeyedOnTheVisionImageSize) {
  EXPECT_EQ(default_prompt_for_image_size(364), "a photo of");
  EXPECT_EQ(default_prompt_for_image_size(224), "");
  EXPECT_EQ(generation_defaults(model_dir("tiny-coco")).prompt, "a photo of");
  EXPECT_EQ(Model::load({model_dir("tiny-coco"), "cpu", "float32"})->info().default_prompt,
            "a photo of");
}

}  // namespace
}  // namespace blip2
