// test_config.cpp — config.json parsing: Hugging Face defaults, a full
// checkpoint-like config, the transformers 5.x layout, wrong JSON types and
// unsupported model types.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "config.h"
#include "error.h"

namespace blip2 {
namespace {

constexpr const char* kOrigin = "/ckpt/config.json";

Blip2Config parse(const std::string& text) { return Blip2Config::from_json_text(text, kOrigin); }

// Expects parse(text) to throw `code` with a message naming the origin and
// containing every needle.
void expect_rejected(const std::string& text,
                     ErrorCode code,
                     const std::vector<std::string>& needles) {
  SCOPED_TRACE(text);
  try {
    parse(text);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(error_code_name(e.code())), error_code_name(code)) << e.what();
    std::string message = e.what();
    EXPECT_NE(message.find(kOrigin), std::string::npos) << message;
    for (const auto& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in " << message;
    }
  }
}

// A config shaped like the Salesforce blip2-opt-2.7b-coco one (old convention,
// written by an older transformers with many unused keys and nulls).
const char* kCocoLikeConfig = R"({
  "_name_or_path": "Salesforce/blip2-opt-2.7b-coco",
  "architectures": ["Blip2ForConditionalGeneration"],
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "model_type": "blip-2",
  "num_query_tokens": 32,
  "qformer_config": {
    "_name_or_path": "", "add_cross_attention": false, "architectures": null,
    "attention_probs_dropout_prob": 0.1, "bad_words_ids": null, "bos_token_id": null,
    "classifier_dropout": null, "cross_attention_frequency": 2, "encoder_hidden_size": 1408,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
    "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
    "model_type": "blip_2_qformer", "num_attention_heads": 12, "num_hidden_layers": 12,
    "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": null,
    "vocab_size": 30522
  },
  "text_config": {
    "_name_or_path": "facebook/opt-2.7b", "_remove_final_layer_norm": false,
    "activation_dropout": 0.0, "activation_function": "relu",
    "architectures": ["OPTForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 2,
    "do_layer_norm_before": true, "dropout": 0.1, "eos_token_id": 50118, "ffn_dim": 10240,
    "hidden_size": 2560, "init_std": 0.02, "layerdrop": 0.0, "max_position_embeddings": 2048,
    "model_type": "opt", "num_attention_heads": 32, "num_hidden_layers": 32,
    "pad_token_id": 1, "prefix": "</s>", "task_specific_params": null,
    "torch_dtype": "float16", "use_cache": true, "vocab_size": 50272,
    "word_embed_proj_dim": 2560
  },
  "torch_dtype": "float32",
  "transformers_version": null,
  "use_decoder_only_language_model": true,
  "vision_config": {
    "attention_dropout": 0.0, "dropout": 0.0, "hidden_act": "gelu", "hidden_size": 1408,
    "image_size": 364, "initializer_factor": 1.0, "initializer_range": 1e-10,
    "intermediate_size": 6144, "layer_norm_eps": 1e-06, "model_type": "blip_2_vision_model",
    "num_attention_heads": 16, "num_hidden_layers": 39, "patch_size": 14, "qkv_bias": true
  }
})";

TEST(Config, EmptyObjectGivesHuggingFaceDefaults) {
  Blip2Config c = parse("{}");
  EXPECT_EQ(c.vision_config.hidden_size, 1408);
  EXPECT_EQ(c.vision_config.intermediate_size, 6144);
  EXPECT_EQ(c.vision_config.num_hidden_layers, 39);
  EXPECT_EQ(c.vision_config.num_attention_heads, 16);
  EXPECT_EQ(c.vision_config.image_size, 224);
  EXPECT_EQ(c.vision_config.patch_size, 14);
  EXPECT_DOUBLE_EQ(c.vision_config.layer_norm_eps, 1e-6);
  EXPECT_TRUE(c.vision_config.qkv_bias);
  EXPECT_EQ(c.vision_config.hidden_act, "gelu");
  EXPECT_EQ(c.qformer_config.hidden_size, 768);
  EXPECT_EQ(c.qformer_config.intermediate_size, 3072);
  EXPECT_EQ(c.qformer_config.num_hidden_layers, 12);
  EXPECT_EQ(c.qformer_config.num_attention_heads, 12);
  EXPECT_EQ(c.qformer_config.cross_attention_frequency, 2);
  EXPECT_EQ(c.qformer_config.encoder_hidden_size, 1408);
  EXPECT_DOUBLE_EQ(c.qformer_config.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.text_config.vocab_size, 50272);
  EXPECT_EQ(c.text_config.hidden_size, 768);
  EXPECT_EQ(c.text_config.ffn_dim, 3072);
  EXPECT_EQ(c.text_config.num_hidden_layers, 12);
  EXPECT_EQ(c.text_config.num_attention_heads, 12);
  EXPECT_EQ(c.text_config.max_position_embeddings, 2048);
  EXPECT_EQ(c.text_config.word_embed_proj_dim, 768);  // = hidden_size
  EXPECT_TRUE(c.text_config.do_layer_norm_before);
  EXPECT_FALSE(c.text_config._remove_final_layer_norm);
  EXPECT_TRUE(c.text_config.enable_bias);
  EXPECT_TRUE(c.text_config.layer_norm_elementwise_affine);
  EXPECT_EQ(c.text_config.activation_function, "relu");
  EXPECT_EQ(c.text_config.bos_token_id, 2);
  EXPECT_EQ(c.text_config.eos_token_id, 2);
  EXPECT_EQ(c.text_config.pad_token_id, 1);
  EXPECT_TRUE(c.text_config.tie_word_embeddings);
  EXPECT_EQ(c.num_query_tokens, 32);
  EXPECT_FALSE(c.image_token_index.has_value());
  EXPECT_EQ(c.name_or_path, "");
}

TEST(Config, CheckpointLikeConfigIsReadCompletely) {
  Blip2Config c = parse(kCocoLikeConfig);
  EXPECT_EQ(c.name_or_path, "Salesforce/blip2-opt-2.7b-coco");
  EXPECT_EQ(c.vision_config.image_size, 364);
  EXPECT_EQ(c.vision_config.hidden_size, 1408);
  EXPECT_EQ(c.qformer_config.encoder_hidden_size, 1408);
  EXPECT_EQ(c.text_config.hidden_size, 2560);
  EXPECT_EQ(c.text_config.ffn_dim, 10240);
  EXPECT_EQ(c.text_config.num_hidden_layers, 32);
  EXPECT_EQ(c.text_config.num_attention_heads, 32);
  EXPECT_EQ(c.text_config.word_embed_proj_dim, 2560);
  EXPECT_EQ(c.text_config.eos_token_id, 50118);
  EXPECT_EQ(c.text_config.vocab_size, 50272);
  EXPECT_FALSE(c.image_token_index.has_value());
}

// The layout transformers 5.x writes: image_token_index (possibly null),
// "dtype" instead of "torch_dtype", word_embed_proj_dim always present.
TEST(Config, Transformers5LayoutWithImageToken) {
  Blip2Config c = parse(R"({
    "architectures": ["Blip2ForConditionalGeneration"], "dtype": "float32",
    "image_text_hidden_size": 256, "image_token_index": 50265, "model_type": "blip-2",
    "num_query_tokens": 4,
    "qformer_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                       "num_hidden_layers": 2, "encoder_hidden_size": 32,
                       "model_type": "blip_2_qformer"},
    "text_config": {"hidden_size": 32, "ffn_dim": 64, "num_attention_heads": 4,
                    "num_hidden_layers": 1, "vocab_size": 100, "max_position_embeddings": 64,
                    "word_embed_proj_dim": 32, "model_type": "opt", "eos_token_id": 50118},
    "transformers_version": "5.17.0", "use_decoder_only_language_model": true,
    "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                      "num_hidden_layers": 1, "image_size": 28, "patch_size": 14}
  })");
  ASSERT_TRUE(c.image_token_index.has_value());
  EXPECT_EQ(*c.image_token_index, 50265);
  EXPECT_EQ(c.num_query_tokens, 4);
  EXPECT_EQ(c.vision_config.image_size, 28);
  EXPECT_EQ(c.qformer_config.num_hidden_layers, 2);
  EXPECT_EQ(c.text_config.vocab_size, 100);
}

TEST(Config, ImageTokenIndexNullAbsentOrSpelledImageTokenId) {
  EXPECT_FALSE(parse(R"({"image_token_index": null})").image_token_index.has_value());
  EXPECT_EQ(parse(R"({"image_token_id": 7})").image_token_index, std::optional<int64_t>(7));
  EXPECT_EQ(parse(R"({"image_token_index": 9, "image_token_id": 7})").image_token_index,
            std::optional<int64_t>(9));
  expect_rejected(R"({"image_token_index": "50265"})", ErrorCode::kInvalidFormat,
                  {"image_token_index"});
  expect_rejected(R"({"image_token_id": -3})", ErrorCode::kInvalidFormat, {"image_token_index"});
}

TEST(Config, QFormerEncoderHiddenSizeIsForcedToTheVisionHiddenSize) {
  Blip2Config c = parse(R"({"vision_config": {"hidden_size": 64, "num_attention_heads": 4},
                            "qformer_config": {"encoder_hidden_size": 999}})");
  EXPECT_EQ(c.qformer_config.encoder_hidden_size, 64);
}

TEST(Config, WordEmbedProjDimFollowsHiddenSizeWhenAbsentOrNull) {
  EXPECT_EQ(parse(R"({"text_config": {"hidden_size": 2560, "num_attention_heads": 32}})")
                .text_config.word_embed_proj_dim,
            2560);
  EXPECT_EQ(parse(R"({"text_config": {"hidden_size": 64, "num_attention_heads": 4,
                                               "word_embed_proj_dim": null}})")
                .text_config.word_embed_proj_dim,
            64);
  EXPECT_EQ(parse(R"({"text_config": {"hidden_size": 1024, "num_attention_heads": 16,
                                               "word_embed_proj_dim": 512}})")
                .text_config.word_embed_proj_dim,
            512);
}

TEST(Config, ListValuesAcceptedWhereHuggingFaceAcceptsThem) {
  Blip2Config c = parse(R"({"vision_config": {"image_size": [364, 364], "patch_size": [14, 14]},
                            "text_config": {"eos_token_id": [50118, 2]}})");
  EXPECT_EQ(c.vision_config.image_size, 364);
  EXPECT_EQ(c.vision_config.patch_size, 14);
  EXPECT_EQ(c.text_config.eos_token_id, 50118);
  expect_rejected(R"({"vision_config": {"image_size": [364, 224]}})", ErrorCode::kUnsupported,
                  {"vision_config.image_size"});
  expect_rejected(R"({"vision_config": {"image_size": [364]}})", ErrorCode::kInvalidFormat,
                  {"vision_config.image_size"});
  expect_rejected(R"({"text_config": {"eos_token_id": []}})", ErrorCode::kInvalidFormat,
                  {"text_config.eos_token_id"});
}

TEST(Config, NullTokenIdsAndNullSubConfigsKeepDefaults) {
  Blip2Config c = parse(R"({"vision_config": null, "text_config": {"pad_token_id": null}})");
  EXPECT_EQ(c.vision_config.hidden_size, 1408);
  EXPECT_EQ(c.text_config.pad_token_id, 1);
}

TEST(Config, WrongJsonTypesNameTheKey) {
  struct Case {
    std::string text;
    std::string key;
  };
  std::vector<Case> cases = {
      {R"({"vision_config": {"hidden_size": "abc"}})", "vision_config.hidden_size"},
      {R"({"vision_config": {"hidden_size": 1408.5}})", "vision_config.hidden_size"},
      {R"({"vision_config": {"qkv_bias": "true"}})", "vision_config.qkv_bias"},
      {R"({"vision_config": {"layer_norm_eps": "1e-6"}})", "vision_config.layer_norm_eps"},
      {R"({"vision_config": {"hidden_act": 3}})", "vision_config.hidden_act"},
      {R"({"qformer_config": {"num_attention_heads": [12]}})",
       "qformer_config.num_attention_heads"},
      {R"({"qformer_config": {"cross_attention_frequency": true}})",
       "qformer_config.cross_attention_frequency"},
      {R"({"text_config": {"vocab_size": 1e30}})", "text_config.vocab_size"},
      {R"({"text_config": {"vocab_size": 18446744073709551615}})", "text_config.vocab_size"},
      {R"({"text_config": {"do_layer_norm_before": 1}})", "text_config.do_layer_norm_before"},
      {R"({"text_config": {"model_type": 5}})", "text_config.model_type"},
      {R"({"text_config": {"eos_token_id": "50118"}})", "text_config.eos_token_id"},
      {R"({"num_query_tokens": 32.0})", "num_query_tokens"},
      {R"({"_name_or_path": 1})", "_name_or_path"},
      {R"({"vision_config": [1408]})", "vision_config"},
      {R"({"text_config": "opt"})", "text_config"},
      {R"({"qformer_config": 5})", "qformer_config"},
  };
  for (const auto& c : cases) expect_rejected(c.text, ErrorCode::kInvalidFormat, {c.key});
}

TEST(Config, MalformedJson) {
  expect_rejected("{\"num_query_tokens\": ", ErrorCode::kInvalidFormat, {"JSON"});
  expect_rejected("", ErrorCode::kInvalidFormat, {"JSON"});
  expect_rejected("[1, 2]", ErrorCode::kInvalidFormat, {"object"});
  expect_rejected("\"blip-2\"", ErrorCode::kInvalidFormat, {"object"});
}

TEST(Config, OnlyBlip2OptIsSupported) {
  expect_rejected(R"({"text_config": {"model_type": "t5"}})", ErrorCode::kUnsupported,
                  {"text_config.model_type", "t5", "OPT"});
  expect_rejected(R"({"text_config": {"model_type": "llama"}})", ErrorCode::kUnsupported,
                  {"llama"});
  expect_rejected(R"({"model_type": "instructblip"})", ErrorCode::kUnsupported, {"instructblip"});
  EXPECT_EQ(parse(R"({"text_config": {"model_type": "opt"}})").text_config.hidden_size, 768);
}

TEST(Config, ActivationsOutsideTheSupportedSetAreUnsupported) {
  expect_rejected(R"({"text_config": {"activation_function": "silu"}})", ErrorCode::kUnsupported,
                  {"text_config.activation_function", "silu"});
  expect_rejected(R"({"vision_config": {"hidden_act": "quick_gelu"}})", ErrorCode::kUnsupported,
                  {"vision_config.hidden_act"});
  expect_rejected(R"({"qformer_config": {"hidden_act": "relu"}})", ErrorCode::kUnsupported,
                  {"qformer_config.hidden_act"});
  EXPECT_EQ(
      parse(R"({"text_config": {"activation_function": "gelu"}})").text_config.activation_function,
      "gelu");
}

TEST(Config, InconsistentSizesAreRejected) {
  struct Case {
    std::string text;
    std::vector<std::string> needles;
  };
  std::vector<Case> cases = {
      {R"({"vision_config": {"hidden_size": 1400}})",
       {"vision_config.hidden_size", "vision_config.num_attention_heads"}},
      {R"({"qformer_config": {"num_attention_heads": 7}})", {"qformer_config.hidden_size"}},
      {R"({"text_config": {"hidden_size": 100}})", {"text_config.hidden_size"}},
      {R"({"vision_config": {"image_size": 100}})", {"vision_config.image_size", "patch_size"}},
      {R"({"vision_config": {"patch_size": 0}})", {"vision_config.patch_size"}},
      {R"({"vision_config": {"num_attention_heads": 0}})", {"vision_config.num_attention_heads"}},
      {R"({"vision_config": {"layer_norm_eps": 0}})", {"vision_config.layer_norm_eps"}},
      {R"({"qformer_config": {"intermediate_size": -1}})", {"qformer_config.intermediate_size"}},
      {R"({"qformer_config": {"cross_attention_frequency": 0}})",
       {"qformer_config.cross_attention_frequency"}},
      {R"({"text_config": {"vocab_size": 0}})", {"text_config.vocab_size"}},
      {R"({"text_config": {"num_hidden_layers": -2}})", {"text_config.num_hidden_layers"}},
      {R"({"text_config": {"word_embed_proj_dim": 0}})", {"text_config.word_embed_proj_dim"}},
      {R"({"text_config": {"max_position_embeddings": 0}})",
       {"text_config.max_position_embeddings"}},
      {R"({"num_query_tokens": 0})", {"num_query_tokens"}},
  };
  for (const auto& c : cases) expect_rejected(c.text, ErrorCode::kInvalidFormat, c.needles);
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "blip2-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text) {
    std::string path = dir_ + "/config.json";
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigFile, ReadsAFileFromDisk) {
  Blip2Config c = Blip2Config::from_file(write(kCocoLikeConfig));
  EXPECT_EQ(c.vision_config.image_size, 364);
  EXPECT_EQ(c.text_config.eos_token_id, 50118);
}

TEST_F(ConfigFile, ErrorsNameTheFile) {
  std::string path = write(R"({"text_config": {"hidden_size": "abc"}})");
  try {
    Blip2Config::from_file(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFormat);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("text_config.hidden_size"), std::string::npos);
  }
}

TEST_F(ConfigFile, MissingFileOrFolderIsNotFound) {
  for (const std::string& path : {dir_ + "/nope.json", dir_}) {
    try {
      Blip2Config::from_file(path);
      ADD_FAILURE() << "accepted " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound);
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace blip2
