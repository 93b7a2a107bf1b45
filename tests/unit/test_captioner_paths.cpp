// test_captioner_paths.cpp — the decode steps a Captioner can run (the static
// fixed-shape step that CUDA replays as a graph, and the dynamic decoder loop)
// each give transformers' ids for greedy, beam search and sampling, with one
// Captioner reused across every case (so the static steps' caches are reused
// at other prompt lengths and batch shapes); and the stage timings it reports.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "blip2.h"
#include "fixtures.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::generation_reference;
using testing::greedy_reference;
using testing::model_dir;
using testing::options_of;

constexpr double kScoreTolerance = 1e-5;  // as the generation parity tests

std::shared_ptr<Model> load(const std::string& model, const std::string& decode_step) {
  ModelOptions options;
  options.path = model_dir(model);
  options.device = "cpu";
  options.dtype = "float32";
  options.decode_step = decode_step;
  return Model::load(options);
}

std::vector<Caption> caption_case(Captioner& captioner,
                                  const nlohmann::json& c,
                                  const GenerationOptions& options) {
  std::vector<RgbImage> images;
  for (const auto& name : c["images"]) images.push_back(fixture_image(name));
  std::vector<ImageView> views;
  for (const auto& image : images) views.push_back(image.view());
  return captioner.caption(views, options);
}

// Every returned sequence, input by input, best first.
std::vector<Sequence> returned_sequences(const std::vector<Caption>& captions) {
  std::vector<Sequence> all;
  for (const Caption& c : captions) {
    all.push_back(Sequence{c.text, c.token_ids, c.score});
    all.insert(all.end(), c.alternatives.begin(), c.alternatives.end());
  }
  return all;
}

class DecodeSteps : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  const std::string& model_name() const { return std::get<0>(GetParam()); }
  const std::string& step_name() const { return std::get<1>(GetParam()); }
};

TEST_P(DecodeSteps, EveryDecodingEqualsTransformers) {
  const auto model = load(model_name(), step_name());
  EXPECT_EQ(model->info().decode_step, step_name());
  Captioner captioner(model);
  size_t checked = 0;
  const nlohmann::json greedy = greedy_reference(model_name());
  for (const auto& c : greedy["cases"]) {
    GenerationOptions options;
    options.prompt = c["prompt"];
    options.max_new_tokens = c["max_new_tokens"];
    options.min_new_tokens = c["min_new_tokens"];
    const std::vector<Caption> captions = caption_case(captioner, c, options);
    ASSERT_EQ(captions.size(), c["token_ids"].size());
    for (size_t i = 0; i < captions.size(); ++i) {
      EXPECT_EQ(captions[i].token_ids, c["token_ids"][i].get<std::vector<int64_t>>())
          << "greedy " << c["images"].dump() << " \"" << options.prompt << "\"";
      EXPECT_EQ(captions[i].timings.decoder, step_name());
      ++checked;
    }
  }
  const nlohmann::json reference = generation_reference(model_name());
  for (const char* kind : {"beam", "sample", "greedy"}) {
    for (const auto& c : reference[kind]) {
      const GenerationOptions options = options_of(c);
      const std::vector<Sequence> ours = returned_sequences(caption_case(captioner, c, options));
      ASSERT_EQ(ours.size(), c["sequences"].size()) << kind << " " << c["name"];
      for (size_t i = 0; i < ours.size(); ++i) {
        const auto ids = c["sequences"][i].get<std::vector<int64_t>>();
        EXPECT_EQ(ours[i].token_ids, ids) << kind << " " << c["name"] << " sequence " << i;
        if (std::string(kind) == "beam") {
          const double n = static_cast<double>(ids.size());
          const double expected_mean =
              c["sequences_scores"][i].get<double>() * std::pow(n, options.length_penalty) / n;
          EXPECT_NEAR(ours[i].score, expected_mean, kScoreTolerance) << c["name"];
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 30u);
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, DecodeSteps,
                         ::testing::Combine(::testing::Values("tiny", "tiny-legacy", "tiny-proj",
                                                              "tiny-coco"),
                                            ::testing::Values("static", "dynamic")),
                         [](const auto& info) {
                           std::string name =
                               std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(DecodeStepChoice, AutoAndGraphResolveOnTheCpu) {
  EXPECT_EQ(load("tiny", "auto")->info().decode_step, "dynamic");
  const auto graph = load("tiny", "graph");
  EXPECT_EQ(graph->info().decode_step, "graph");
  Captioner captioner(graph);
  const RgbImage image = fixture_image(greedy_reference("tiny")["cases"][0]["images"][0]);
  GenerationOptions options;
  options.max_new_tokens = 4;
  // no CUDA here: the fixed-shape step runs eagerly, without an error
  EXPECT_EQ(captioner.caption(image.view(), options).timings.decoder, "static");
}

TEST(DecodeStepChoice, AnUnknownStepIsRefusedBeforeLoading) {
  try {
    load("tiny", "fast");
    FAIL() << "an unknown decode step was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("fast"), std::string::npos) << e.what();
  }
}

TEST(StageTimings, EveryStageIsTimedAndTheStepsCounted) {
  Captioner captioner(load("tiny-coco", "auto"));
  const RgbImage image = fixture_image(greedy_reference("tiny-coco")["cases"][0]["images"][0]);
  GenerationOptions options;
  options.max_new_tokens = options.min_new_tokens = 6;  // forced length: 1 prefill + 5 steps
  for (int beams : {1, 3}) {
    options.num_beams = beams;
    const Caption c = captioner.caption(image.view(), options);
    const StageTimings& t = c.timings;
    SCOPED_TRACE("beams " + std::to_string(beams));
    EXPECT_EQ(c.token_ids.size(), 6u);
    EXPECT_EQ(t.decode_steps, 5);
    for (double ms : {t.preprocess_ms, t.vision_ms, t.qformer_ms, t.prefill_ms, t.decode_ms}) {
      EXPECT_GT(ms, 0.0);
    }
    EXPECT_DOUBLE_EQ(t.per_token_ms(), t.decode_ms / 5.0);
    EXPECT_LE(t.preprocess_ms + t.vision_ms + t.qformer_ms + t.prefill_ms + t.decode_ms,
              c.inference_ms + 1e-6);
    EXPECT_EQ(t.decoder, "dynamic");
  }
}

}  // namespace
}  // namespace blip2
