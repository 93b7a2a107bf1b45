// test_config_check.cpp — config.json against the weights' headers (no
// torch): layer counts from tensor names, sizes from shapes, the parameter
// bound, special token ids, and the memory bound of a decoding call.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "config_check.h"
#include "decode_limits.h"
#include "error.h"
#include "safetensors_writer.h"

namespace blip2 {
namespace {

using testing::TestTensor;

constexpr const char* kOrigin = "/ckpt/config.json";

// A header-only stand-in for a checkpoint: the tensors a small BLIP-2 OPT
// holds for the sizes below (values are zero; only names and shapes matter).
struct Sizes {
  int64_t vh = 8, vi = 16, vl = 2, patch = 2, image = 4;
  int64_t qh = 8, qi = 16, ql = 2, queries = 3;
  int64_t th = 8, tf = 16, tl = 2, vocab = 20, positions = 10;
};

TestTensor zeros(const std::string& name, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return testing::f32_tensor(name, shape, std::vector<float>(static_cast<size_t>(n), 0.0f));
}

std::vector<TestTensor> tensors_for(const Sizes& s) {
  std::vector<TestTensor> t;
  const int64_t side = s.image / s.patch;
  t.push_back(zeros("vision_model.embeddings.class_embedding", {1, 1, s.vh}));
  t.push_back(zeros("vision_model.embeddings.patch_embedding.weight", {s.vh, 3, s.patch, s.patch}));
  t.push_back(zeros("vision_model.embeddings.position_embedding", {1, side * side + 1, s.vh}));
  t.push_back(zeros("vision_model.post_layernorm.weight", {s.vh}));
  for (int64_t i = 0; i < s.vl; ++i) {
    const std::string p = "vision_model.encoder.layers." + std::to_string(i) + ".";
    t.push_back(zeros(p + "self_attn.qkv.weight", {3 * s.vh, s.vh}));
    t.push_back(zeros(p + "self_attn.projection.weight", {s.vh, s.vh}));
    t.push_back(zeros(p + "mlp.fc1.weight", {s.vi, s.vh}));
    t.push_back(zeros(p + "mlp.fc2.weight", {s.vh, s.vi}));
  }
  t.push_back(zeros("query_tokens", {1, s.queries, s.qh}));
  t.push_back(zeros("qformer.layernorm.weight", {s.qh}));
  for (int64_t i = 0; i < s.ql; ++i) {
    const std::string p = "qformer.encoder.layer." + std::to_string(i) + ".";
    for (const char* proj : {"attention.query", "attention.key", "attention.value", "output.dense"}) {
      t.push_back(zeros(p + "attention." + proj + ".weight", {s.qh, s.qh}));
    }
    t.push_back(zeros(p + "intermediate_query.dense.weight", {s.qi, s.qh}));
    t.push_back(zeros(p + "output_query.dense.weight", {s.qh, s.qi}));
  }
  t.push_back(zeros("language_projection.weight", {s.th, s.qh}));
  t.push_back(zeros("language_model.model.decoder.embed_tokens.weight", {s.vocab, s.th}));
  t.push_back(zeros("language_model.model.decoder.embed_positions.weight", {s.positions + 2, s.th}));
  for (int64_t i = 0; i < s.tl; ++i) {
    const std::string p = "language_model.model.decoder.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t.push_back(zeros(p + "self_attn." + proj + ".weight", {s.th, s.th}));
    }
    t.push_back(zeros(p + "fc1.weight", {s.tf, s.th}));
    t.push_back(zeros(p + "fc2.weight", {s.th, s.tf}));
  }
  return t;
}

Blip2Config config_for(const Sizes& s) {
  Blip2Config c;
  c.vision_config.hidden_size = s.vh;
  c.vision_config.intermediate_size = s.vi;
  c.vision_config.num_hidden_layers = s.vl;
  c.vision_config.patch_size = s.patch;
  c.vision_config.image_size = s.image;
  c.qformer_config.hidden_size = s.qh;
  c.qformer_config.intermediate_size = s.qi;
  c.qformer_config.num_hidden_layers = s.ql;
  c.num_query_tokens = s.queries;
  c.text_config.hidden_size = s.th;
  c.text_config.word_embed_proj_dim = s.th;
  c.text_config.ffn_dim = s.tf;
  c.text_config.num_hidden_layers = s.tl;
  c.text_config.vocab_size = s.vocab;
  c.text_config.max_position_embeddings = s.positions;
  c.text_config.bos_token_id = 2;
  c.text_config.eos_token_id = 3;
  c.text_config.pad_token_id = 1;
  return c;
}

class ConfigCheck : public ::testing::Test {
 protected:
  Checkpoint open(const std::vector<TestTensor>& tensors) {
    testing::write_safetensors(dir_.file("model.safetensors"), tensors);
    return Checkpoint::open_directory(dir_.path());
  }

  void expect_mismatch(const Blip2Config& config,
                       const Checkpoint& checkpoint,
                       const std::vector<std::string>& needles) {
    try {
      check_config_against_weights(config, checkpoint, kOrigin);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConfigMismatch) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      for (const auto& needle : needles) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "\"" << needle << "\" not in: " << e.what();
      }
    }
  }

  testing::TempDir dir_;
};

TEST_F(ConfigCheck, AMatchingConfigPasses) {
  const Sizes s;
  const Checkpoint checkpoint = open(tensors_for(s));
  EXPECT_NO_THROW(check_config_against_weights(config_for(s), checkpoint, kOrigin));
  EXPECT_NO_THROW(check_special_token_ids(config_for(s), kOrigin));
  EXPECT_LE(minimum_parameter_count(config_for(s)), 10000);
}

TEST_F(ConfigCheck, LayerCountsComeFromTheTensorNames) {
  const Sizes s;
  const Checkpoint checkpoint = open(tensors_for(s));
  EXPECT_EQ(count_layers(checkpoint, "vision_model.encoder.layers.").count, 2);
  EXPECT_EQ(count_layers(checkpoint, "qformer.encoder.layer.").count, 2);
  const LayerCount text = count_layers(checkpoint, "language_model.model.decoder.layers.");
  EXPECT_EQ(text.count, 2);
  EXPECT_EQ(text.highest, 1);
  EXPECT_EQ(text.first_gap, -1);
  EXPECT_EQ(count_layers(checkpoint, "nothing.").count, 0);
}

TEST_F(ConfigCheck, AGapInTheLayersIsFound) {
  Sizes s;
  s.tl = 4;
  auto tensors = tensors_for(s);
  std::erase_if(tensors, [](const TestTensor& t) {
    return t.name.rfind("language_model.model.decoder.layers.1.", 0) == 0;
  });
  const Checkpoint checkpoint = open(tensors);
  const LayerCount text = count_layers(checkpoint, "language_model.model.decoder.layers.");
  EXPECT_EQ(text.count, 3);
  EXPECT_EQ(text.first_gap, 1);
  expect_mismatch(config_for(s), checkpoint,
                  {"text_config.num_hidden_layers is 4", "hold 3 layers", "layers.1. is missing"});
}

TEST_F(ConfigCheck, EveryLayerCountIsNamed) {
  const Sizes s;
  const Checkpoint checkpoint = open(tensors_for(s));
  Blip2Config c = config_for(s);
  c.vision_config.num_hidden_layers = 100000;
  expect_mismatch(c, checkpoint,
                  {kOrigin, "vision_config.num_hidden_layers is 100000", "hold 2 layers",
                   "vision_model.encoder.layers.2. is missing"});
  c = config_for(s);
  c.qformer_config.num_hidden_layers = 1;
  expect_mismatch(c, checkpoint, {"qformer_config.num_hidden_layers is 1", "hold 2 layers"});
  c = config_for(s);
  c.text_config.num_hidden_layers = 1000000000;
  expect_mismatch(c, checkpoint, {"text_config.num_hidden_layers is 1000000000"});
}

TEST_F(ConfigCheck, EverySizeIsNamedWithItsTensor) {
  const Sizes s;
  const Checkpoint checkpoint = open(tensors_for(s));
  struct Case {
    std::function<void(Blip2Config&)> edit;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {[](Blip2Config& c) { c.vision_config.hidden_size = int64_t{1} << 40; },
       {"vision_config.hidden_size 1099511627776", "class_embedding", "[1, 1, 8]"}},
      {[](Blip2Config& c) { c.vision_config.intermediate_size = 17; },
       {"vision_config.intermediate_size 17", "layers.0.mlp.fc1.weight"}},
      {[](Blip2Config& c) { c.vision_config.patch_size = 1; },
       {"vision_config.patch_size 1", "patch_embedding"}},
      {[](Blip2Config& c) { c.vision_config.image_size = 6; },
       {"vision_config.image_size 6 with patch_size 2", "position_embedding",
        "dimension 1 should be 10"}},
      {[](Blip2Config& c) {
         c.vision_config.image_size = int64_t{1} << 62;
         c.vision_config.patch_size = 2;
       },
       {"vision_config.image_size 4611686018427387904 with patch_size 2", "larger than 2^63"}},
      {[](Blip2Config& c) { c.qformer_config.hidden_size = 4; },
       {"qformer_config.hidden_size 4", "qformer.layernorm.weight"}},
      {[](Blip2Config& c) { c.qformer_config.intermediate_size = int64_t{1} << 33; },
       {"qformer_config.intermediate_size 8589934592", "intermediate_query.dense.weight"}},
      {[](Blip2Config& c) { c.num_query_tokens = 32; }, {"num_query_tokens 32", "query_tokens"}},
      {[](Blip2Config& c) { c.text_config.hidden_size = int64_t{1} << 40; },
       {"text_config.hidden_size 1099511627776", "language_projection.weight"}},
      {[](Blip2Config& c) { c.text_config.ffn_dim = int64_t{1} << 33; },
       {"text_config.ffn_dim 8589934592", "layers.0.fc1.weight", "[16, 8]"}},
      {[](Blip2Config& c) { c.text_config.word_embed_proj_dim = 4; },
       {"text_config.word_embed_proj_dim 4", "embed_tokens"}},
      {[](Blip2Config& c) { c.text_config.max_position_embeddings = INT64_MAX; },
       {"text_config.max_position_embeddings 9223372036854775807", "embed_positions",
        "larger than 2^63"}},
  };
  for (const auto& [edit, needles] : cases) {
    SCOPED_TRACE(needles.front());
    Blip2Config c = config_for(s);
    edit(c);
    expect_mismatch(c, checkpoint, needles);
  }
}

TEST_F(ConfigCheck, SizesWhoseTensorsAreAbsentMeetTheParameterBound) {
  const Sizes s;
  auto tensors = tensors_for(s);
  std::erase_if(tensors, [](const TestTensor& t) { return t.name.find("fc1") != std::string::npos; });
  const Checkpoint checkpoint = open(tensors);
  Blip2Config c = config_for(s);
  c.text_config.ffn_dim = int64_t{1} << 33;
  expect_mismatch(c, checkpoint, {"at least", "ffn_dim 8589934592"});
  c.text_config.ffn_dim = INT64_MAX;  // saturates instead of overflowing
  EXPECT_EQ(minimum_parameter_count(c), std::numeric_limits<int64_t>::max());
  expect_mismatch(c, checkpoint, {"at least 9223372036854775807"});
}

TEST_F(ConfigCheck, SpecialTokenIdsMustBeInTheVocabulary) {
  const Sizes s;
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"}) {
    for (int64_t id : {int64_t{20}, int64_t{-1}, INT64_MAX}) {
      Blip2Config c = config_for(s);
      int64_t& target = std::string(key) == "bos_token_id"   ? c.text_config.bos_token_id
                        : std::string(key) == "eos_token_id" ? c.text_config.eos_token_id
                                                             : c.text_config.pad_token_id;
      target = id;
      try {
        check_special_token_ids(c, kOrigin);
        ADD_FAILURE() << key << " " << id << " accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kConfigMismatch);
        const std::string what = e.what();
        EXPECT_NE(what.find(std::string("text_config.") + key + " " + std::to_string(id)),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("ids 0 to 19"), std::string::npos) << what;
      }
    }
  }
}

TEST(DecodeLimits, BeamsAndDrawsAreBoundedByMemory) {
  Blip2Config c;  // the 2.7B model's text sizes: 32 layers of 2560
  c.text_config.num_hidden_layers = 32;
  c.text_config.hidden_size = 2560;
  c.text_config.vocab_size = 50272;
  const DecodeFootprint f{1, 40, 4};
  GenerationOptions o;
  o.num_beams = 5;
  EXPECT_NO_THROW(check_decode_memory(o, c, f, int64_t{8} << 30));
  o.num_beams = 10000;
  try {
    check_decode_memory(o, c, f, int64_t{8} << 30);
    ADD_FAILURE() << "10000 beams fit in 8 GiB";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("num_beams 10000"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("8.0 GiB"), std::string::npos) << e.what();
  }
  o.num_beams = std::numeric_limits<int32_t>::max();
  EXPECT_GT(decode_state_bytes(o, c, f), int64_t{1} << 56);  // ~100 PB
  EXPECT_THROW(check_decode_memory(o, c, f, default_decode_budget_bytes()), Error);
  o.num_beams = 1;
  o.do_sample = true;
  o.num_return_sequences = std::numeric_limits<int32_t>::max();
  try {
    check_decode_memory(o, c, f, default_decode_budget_bytes());
    ADD_FAILURE() << "2^31 draws accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_return_sequences 2147483647"), std::string::npos)
        << e.what();
  }
  EXPECT_GT(default_decode_budget_bytes(), int64_t{1} << 28);
}

}  // namespace
}  // namespace blip2
