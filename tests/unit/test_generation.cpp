// Generation parity with transformers 5.17 (the oracle,
// model/oracle/generation_reference.py) on the tiny random checkpoints: beam
// search token ids and scores across beams, length penalties, early stopping,
// returned sequences, penalties and lengths, single images and batches of
// three; sampled ids for the same seed (the sampler draws torch's noise) and
// the processed + warped scores of every sampling step on the same prefix;
// greedy decoding with processors; every processor and warper on random
// scores; and the edge cases and option checks.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

#include "blip2.h"
#include "fixtures.h"
#include "generation.h"
#include "logits_process.h"
#include "model_impl.h"
#include "safetensors.h"
#include "state_dict.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::fixtures_dir;
using testing::generation_reference;
using testing::model_dir;
using testing::options_of;

// |ours - transformers| allowed for mean log-probabilities (float32 math on
// logits that agree to ~1e-6: observed differences stay below 1e-6; the
// references keep every decision at least min_margin_required, 1e-4, away
// from a tie).
constexpr double kScoreTolerance = 1e-5;

at::Tensor stored_tensor(const std::string& path, const std::string& key) {
  auto file = SafetensorsFile::open(path);
  auto it = file->tensors().find(key);
  if (it == file->tensors().end()) {
    ADD_FAILURE() << "no tensor " << key << " in " << path;
    return at::Tensor();
  }
  return to_torch(it->second).clone();
}

std::vector<RgbImage> images_of(const nlohmann::json& c) {
  std::vector<RgbImage> images;
  for (const auto& name : c["images"]) images.push_back(fixture_image(name));
  return images;
}

std::vector<ImageView> views_of(const std::vector<RgbImage>& images) {
  std::vector<ImageView> views;
  for (const auto& image : images) views.push_back(image.view());
  return views;
}

// Every returned sequence of a caption call, input by input, best first.
std::vector<Sequence> returned_sequences(const std::vector<Caption>& captions) {
  std::vector<Sequence> all;
  for (const Caption& c : captions) {
    all.push_back(Sequence{c.text, c.token_ids, c.score});
    all.insert(all.end(), c.alternatives.begin(), c.alternatives.end());
  }
  return all;
}

std::string describe(const nlohmann::json& c) {
  return c["name"].get<std::string>() + " on " + c["images"].dump() + " prompt \"" +
         c["prompt"].get<std::string>() + "\" " + c["options"].dump() + " (margin " +
         std::to_string(c["min_margin"].get<double>()) + ")";
}

class GenerationParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_ = Model::load({model_dir(GetParam()), "cpu", "float32"});
    reference_ = generation_reference(GetParam());
  }

  std::vector<Caption> caption(const nlohmann::json& c) {
    Captioner captioner(model_);
    const std::vector<RgbImage> images = images_of(c);
    return captioner.caption(views_of(images), options_of(c));
  }

  std::shared_ptr<Model> model_;
  nlohmann::json reference_;
};

TEST_P(GenerationParity, BeamSearchEqualsTransformers) {
  const auto& cases = reference_["beam"];
  ASSERT_GE(cases.size(), GetParam() == "tiny-legacy" ? 12u : 18u) << "too few decisive beam cases";
  std::set<int64_t> beam_widths, batch_sizes;
  for (const auto& c : cases) {
    SCOPED_TRACE(describe(c));
    const GenerationOptions options = options_of(c);
    const std::vector<Sequence> ours = returned_sequences(caption(c));
    const auto& expected = c["sequences"];
    ASSERT_EQ(ours.size(), expected.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      const auto ids = expected[i].get<std::vector<int64_t>>();
      EXPECT_EQ(ours[i].token_ids, ids) << "sequence " << i;
      EXPECT_EQ(ours[i].text, c["text"][i].get<std::string>()) << "sequence " << i;
      // transformers' sequences_score = sum / n^length_penalty; ours is the mean sum / n
      const double n = static_cast<double>(ids.size());
      const double expected_mean =
          c["sequences_scores"][i].get<double>() * std::pow(n, options.length_penalty) / n;
      EXPECT_NEAR(ours[i].score, expected_mean, kScoreTolerance) << "sequence " << i;
    }
    beam_widths.insert(options.num_beams);
    batch_sizes.insert(static_cast<int64_t>(c["images"].size()));
  }
  EXPECT_TRUE(beam_widths.count(2) && beam_widths.count(3) && beam_widths.count(5));
  if (GetParam() != "tiny-legacy") EXPECT_TRUE(batch_sizes.count(3)) << "no batch of 3 images";
}

TEST_P(GenerationParity, SamplingWithTheSameSeedEqualsTransformers) {
  const auto& cases = reference_["sample"];
  ASSERT_GE(cases.size(), 3u) << "too few decisive sampling cases";
  for (const auto& c : cases) {
    SCOPED_TRACE(describe(c));
    const std::vector<Sequence> ours = returned_sequences(caption(c));
    ASSERT_EQ(ours.size(), c["sequences"].size());
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].token_ids, c["sequences"][i].get<std::vector<int64_t>>()) << "row " << i;
    }
  }
}

// The processed and warped scores of every sampling step, fed the prefix
// transformers sampled (teacher forcing), equal transformers' output_scores:
// the same -inf entries and the same finite values within float32 noise.
TEST_P(GenerationParity, SamplingStepScoresEqualTransformers) {
  c10::InferenceMode guard;
  const Model::Impl& m = model_->impl();
  OptForCausalLMImpl& lm = *m.net->language_model;
  const std::string tensors =
      fixtures_dir() + "/reference/" + GetParam() + "/generation.safetensors";
  int64_t compared_steps = 0;
  for (const auto& c : reference_["sample"]) {
    SCOPED_TRACE(describe(c));
    const GenerationOptions options = options_of(c);
    const std::vector<RgbImage> images = images_of(c);
    const std::vector<int64_t> input_ids = m.input_ids_for(options.prompt);
    const at::Tensor embeds =
        m.inputs_embeds(m.net->image_features(m.pixel_values(views_of(images))), input_ids);
    const at::Tensor expected = stored_tensor(tensors, c["name"].get<std::string>() + "/scores");
    const auto rows = c["rows"].get<std::vector<std::vector<int64_t>>>();
    const auto n_rows = static_cast<int64_t>(rows.size());
    const ProcessorSettings settings =
        make_processor_settings(options, m.config.text_config.eos_token_id, {}, at::kCPU);
    KvCache cache;
    EagerStepDecoder decoder(lm, cache);
    at::Tensor logits =
        decoder.prefill(embeds, options.max_new_tokens, options.num_return_sequences);
    at::Tensor ids = at::tensor(input_ids).unsqueeze(0).repeat({n_rows, 1});
    for (int64_t step = 0; step < expected.size(0); ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      const at::Tensor ours =
          apply_warpers(apply_processors(logits.to(at::kFloat), ids, step, settings), settings);
      const at::Tensor theirs = expected[step];
      ASSERT_TRUE(at::equal(at::isinf(ours), at::isinf(theirs)))
          << (at::isinf(ours) != at::isinf(theirs)).sum().item<int64_t>() << " -inf entries differ";
      const at::Tensor finite = at::isfinite(theirs);
      const double diff =
          (ours.masked_select(finite) - theirs.masked_select(finite)).abs().max().item<double>();
      EXPECT_LT(diff,
                1e-5 * std::max(1.0, theirs.masked_select(finite).abs().max().item<double>()));
      at::Tensor next = at::empty({n_rows}, at::kLong);
      for (int64_t r = 0; r < n_rows; ++r) next[r] = rows[r][step];
      ids = at::cat({ids, next.unsqueeze(1)}, 1);
      if (step + 1 < expected.size(0)) logits = decoder.step(next);
      ++compared_steps;
    }
  }
  EXPECT_GE(compared_steps, 10);
}

TEST_P(GenerationParity, GreedyWithProcessorsEqualsTransformers) {
  const auto& cases = reference_["greedy"];
  ASSERT_GE(cases.size(), GetParam() == "tiny-legacy" ? 1u : 4u);
  for (const auto& c : cases) {
    SCOPED_TRACE(describe(c));
    const std::vector<Caption> captions = caption(c);
    ASSERT_EQ(captions.size(), c["sequences"].size());
    for (size_t i = 0; i < captions.size(); ++i) {
      EXPECT_EQ(captions[i].token_ids, c["sequences"][i].get<std::vector<int64_t>>());
      EXPECT_EQ(captions[i].text, c["text"][i].get<std::string>());
    }
  }
}

TEST_P(GenerationParity, SameSeedSameCaptionsAndSeedsMatter) {
  Captioner captioner(model_);
  const RgbImage image = fixture_image("checker-100x100.ppm");
  GenerationOptions options;
  options.do_sample = true;
  options.max_new_tokens = 12;
  std::set<std::vector<int64_t>> distinct;
  for (uint64_t seed : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u}) {
    options.seed = seed;
    const Caption first = captioner.caption(image.view(), options);
    const Caption again = captioner.caption(image.view(), options);
    EXPECT_EQ(first.token_ids, again.token_ids) << "seed " << seed;
    EXPECT_EQ(first.score, again.score) << "seed " << seed;
    distinct.insert(first.token_ids);
  }
  EXPECT_GE(distinct.size(), 2u) << "eight seeds gave one caption: the seed is not used";
  options.num_beams = 3;  // beam sampling repeats too
  options.seed = 11;
  EXPECT_EQ(captioner.caption(image.view(), options).token_ids,
            captioner.caption(image.view(), options).token_ids);
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints,
                         GenerationParity,
                         ::testing::Values("tiny", "tiny-legacy", "tiny-proj", "tiny-coco"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

// ---------------------------------------------------------------------------
// Each processor and warper against transformers' on random scores: the same
// operations on the same inputs, so the very same bits.

class Processors : public ::testing::Test {
 protected:
  at::Tensor get(const std::string& key) {
    return stored_tensor(fixtures_dir() + "/reference/processors.safetensors", key);
  }
  void expect_same(const at::Tensor& ours, const std::string& key) {
    const at::Tensor theirs = get(key);
    ASSERT_TRUE(theirs.defined());
    EXPECT_TRUE(at::equal(ours, theirs))
        << key << ": max diff " << (ours - theirs).abs().nan_to_num(0, 0, 0).max().item<double>();
  }
};

TEST_F(Processors, EqualTransformersBitForBit) {
  const at::Tensor scores = get("scores"), log_probs = get("log_probs"), ids = get("ids");
  const int64_t eos = get("eos").item<int64_t>();
  expect_same(penalize_repetitions(scores, ids, 1.3), "repetition_penalty_1.3");
  expect_same(penalize_repetitions(scores, ids, 0.7), "repetition_penalty_0.7");
  expect_same(penalize_repetitions(log_probs, ids, 1.3), "repetition_penalty_1.3_log_probs");
  for (int n : {1, 2, 3, 5, 16}) {
    expect_same(ban_repeated_ngrams(scores, ids, n), "no_repeat_ngram_" + std::to_string(n));
  }
  GenerationOptions o;
  const ProcessorSettings banned = make_processor_settings(o, eos, {3, eos, 40}, at::kCPU);
  ASSERT_EQ(banned.banned_ids.numel(), 2) << "the EOS id is never banned";
  expect_same(ban_ids(scores, banned.banned_ids), "bad_words_3_5_40");
  o.min_new_tokens = 6;
  ProcessorSettings min_new = make_processor_settings(o, eos, {}, at::kCPU);
  expect_same(apply_processors(scores, ids, ids.size(1) - 10, min_new), "min_new_tokens_active");
  expect_same(apply_processors(scores, ids, ids.size(1) - 9, min_new), "min_new_tokens_done");
  expect_same(scale_by_temperature(scores, 0.7), "temperature_0.7");
  expect_same(keep_top_k(scores, 10, 1), "top_k_10");
  expect_same(keep_top_k(scores, 1, 2), "top_k_1_keep_2");
  expect_same(keep_top_k(scores, 500, 1), "top_k_500");
  expect_same(keep_top_p(scores, 0.9, 1), "top_p_0.9");
  expect_same(keep_top_p(scores, 0.3, 1), "top_p_0.3");
  expect_same(keep_top_p(scores, 0.05, 2), "top_p_0.05_keep_2");
}

TEST_F(Processors, PenaltyOfOneAndNeutralSettingsChangeNothing) {
  const at::Tensor scores = get("scores"), ids = get("ids");
  EXPECT_TRUE(at::equal(penalize_repetitions(scores, ids, 1.0), scores));
  GenerationOptions o;  // defaults: no processor active
  o.do_sample = true;
  o.top_k = 0;
  const ProcessorSettings s = make_processor_settings(o, 5, {}, at::kCPU);
  const at::Tensor out = apply_warpers(apply_processors(scores, ids, 3, s), s);
  EXPECT_TRUE(at::equal(out, scores));
  EXPECT_FALSE(out.is_same(scores)) << "processors must not hand back the caller's tensor";
}

// ---------------------------------------------------------------------------
// Edge cases and option checks (tiny checkpoint).

class GenerationEdges : public ::testing::Test {
 protected:
  void SetUp() override { model_ = Model::load({model_dir("tiny"), "cpu", "float32"}); }

  Caption caption(const GenerationOptions& options, const char* image = "gradient-64x48.ppm") {
    Captioner captioner(model_);
    return captioner.caption(fixture_image(image).view(), options);
  }

  void expect_invalid(const GenerationOptions& options, const std::string& words) {
    try {
      caption(options);
      ADD_FAILURE() << "accepted; expected an error mentioning \"" << words << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  }

  std::shared_ptr<Model> model_;
};

TEST_F(GenerationEdges, RepetitionPenaltyOfOneEqualsNone) {
  for (int beams : {1, 3}) {
    GenerationOptions plain;
    plain.num_beams = beams;
    plain.max_new_tokens = 12;
    GenerationOptions one = plain;
    one.repetition_penalty = 1.0;
    const Caption a = caption(plain), b = caption(one);
    EXPECT_EQ(a.token_ids, b.token_ids) << beams << " beams";
    EXPECT_EQ(a.score, b.score) << beams << " beams";
  }
}

TEST_F(GenerationEdges, ScoresAreMeanLogProbabilities) {
  for (int beams : {1, 4}) {
    GenerationOptions o;
    o.num_beams = beams;
    o.num_return_sequences = beams;
    const Caption c = caption(o);
    EXPECT_LT(c.score, 0.0);
    EXPECT_TRUE(std::isfinite(c.score));
    EXPECT_EQ(c.alternatives.size(), static_cast<size_t>(beams - 1));
  }
}

TEST_F(GenerationEdges, PromptLongerThanThePositionTableIsAClearError) {
  GenerationOptions o;
  for (int i = 0; i < 40; ++i) o.prompt += "a photo of the ";  // > 128 positions
  for (int beams : {1, 5}) {
    o.num_beams = beams;
    expect_invalid(o, "positions of the language model");
  }
}

TEST_F(GenerationEdges, InvalidOptionsAreRefusedClearly) {
  GenerationOptions o;
  o.num_beams = 0;
  expect_invalid(o, "num_beams");
  o = {};
  o.num_beams = 2;
  o.num_return_sequences = 3;
  expect_invalid(o, "num_return_sequences (3) must not exceed num_beams (2)");
  o = {};
  o.num_return_sequences = 2;
  expect_invalid(o, "num_return_sequences > 1 needs");
  o = {};
  o.num_return_sequences = 0;
  expect_invalid(o, "num_return_sequences");
  o = {};
  o.do_sample = true;
  o.temperature = 0.0;
  expect_invalid(o, "temperature");
  o.temperature = -1.0;
  expect_invalid(o, "temperature");
  o = {};
  o.top_p = 0.0;
  expect_invalid(o, "top_p");
  o.top_p = 1.5;
  expect_invalid(o, "top_p");
  o = {};
  o.top_k = -1;
  expect_invalid(o, "top_k");
  o = {};
  o.repetition_penalty = 0.0;
  expect_invalid(o, "repetition_penalty");
  o = {};
  o.no_repeat_ngram_size = -2;
  expect_invalid(o, "no_repeat_ngram_size");
  o = {};
  o.max_new_tokens = 0;
  expect_invalid(o, "max_new_tokens");
  o = {};
  o.length_penalty = std::nan("");
  expect_invalid(o, "length_penalty");
}

TEST_F(GenerationEdges, BatchedBeamSearchEqualsOneImageAtATime) {
  GenerationOptions o;
  o.num_beams = 3;
  o.num_return_sequences = 2;
  o.max_new_tokens = 10;
  const std::vector<std::string> names = {"gradient-64x48.ppm", "noise-33x77.ppm",
                                          "checker-100x100.ppm"};
  std::vector<RgbImage> images;
  for (const auto& n : names) images.push_back(fixture_image(n));
  Captioner captioner(model_);
  const std::vector<Caption> batch = captioner.caption(views_of(images), o);
  ASSERT_EQ(batch.size(), 3u);
  for (size_t i = 0; i < names.size(); ++i) {
    const Caption single = caption(o, names[i].c_str());
    EXPECT_EQ(batch[i].token_ids, single.token_ids) << names[i];
    ASSERT_EQ(batch[i].alternatives.size(), 1u);
    EXPECT_EQ(batch[i].alternatives[0].token_ids, single.alternatives[0].token_ids) << names[i];
  }
}

}  // namespace
}  // namespace blip2
