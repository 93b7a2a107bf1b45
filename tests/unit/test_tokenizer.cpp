// test_tokenizer.cpp — blip2::Tokenizer against transformers' tokenizer.
//
// The reference (ids with/without special tokens, decoded texts, decoding of
// odd id sequences) is written by model/oracle/tokenizer_reference.py into
// $BLIP2_FIXTURES/tokenizer-reference for the tiny trained vocabularies and,
// when BLIP2_OPT_TOKENIZER_DIR was set, the real OPT vocabulary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "error.h"
#include "tokenizer.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

fs::path reference_dir() {
  const std::string fixtures = env_or_empty("BLIP2_FIXTURES");
  if (fixtures.empty()) ADD_FAILURE() << "BLIP2_FIXTURES is not set";
  return fs::path(fixtures) / "tokenizer-reference";
}

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return Json();
  }
  return Json::parse(in);
}

std::vector<int64_t> ids_of(const Json& j) { return j.get<std::vector<int64_t>>(); }

std::string opt_dir() {
  const std::string dir = env_or_empty("BLIP2_OPT_TOKENIZER_DIR");
  return !dir.empty() && fs::is_directory(dir) ? dir : "";
}

// The folder the oracle used for a variant and its reference data.
struct Variant {
  std::string folder;
  Json reference;
};

Variant load_variant(const std::string& name) {
  const fs::path dir = reference_dir();
  const Json index = read_json(dir / "index.json");
  if (!index.contains("variants") || !index["variants"].contains(name)) {
    ADD_FAILURE() << "variant " << name << " missing from " << dir / "index.json"
                  << (name.rfind("opt", 0) == 0
                          ? " (BLIP2_OPT_TOKENIZER_DIR was not set when the reference was built: "
                            "rebuild target tests/tokenizer-reference.stamp with it set)"
                          : "");
    return {};
  }
  return {index["variants"][name].get<std::string>(), read_json(dir / (name + ".json"))};
}

void expect_encodes_like_reference(const Tokenizer& tok, const Json& reference) {
  ASSERT_TRUE(reference.contains("cases"));
  ASSERT_GE(reference["cases"].size(), 60u);
  for (const Json& c : reference["cases"]) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(tok.encode(text, true), ids_of(c["ids"])) << "text: " << Json(text).dump();
    EXPECT_EQ(tok.encode(text, false), ids_of(c["ids_no_special"]))
        << "text: " << Json(text).dump();
  }
}

void expect_decodes_like_reference(const Tokenizer& tok, const Json& reference) {
  for (const Json& c : reference["cases"]) {
    const std::vector<int64_t> ids = ids_of(c["ids"]);
    EXPECT_EQ(Json(tok.decode(ids, false)).dump(), c["decoded"].dump()) << c["text"].dump();
    EXPECT_EQ(Json(tok.decode(ids, true)).dump(), c["decoded_skip"].dump()) << c["text"].dump();
  }
  ASSERT_GE(reference["decodes"].size(), 100u);
  for (const Json& d : reference["decodes"]) {
    const std::vector<int64_t> ids = ids_of(d["ids"]);
    EXPECT_EQ(Json(tok.decode(ids, false)).dump(), d["text"].dump()) << d["ids"].dump();
    EXPECT_EQ(Json(tok.decode(ids, true)).dump(), d["text_skip"].dump()) << d["ids"].dump();
  }
}

void expect_info_like_reference(const Tokenizer& tok, const Json& reference) {
  const Json& info = reference["info"];
  EXPECT_EQ(tok.bos_token_id(), info["bos_id"].get<int64_t>());
  EXPECT_EQ(tok.eos_token_id(), info["eos_id"].get<int64_t>());
  EXPECT_EQ(tok.pad_token_id(), info["pad_id"].is_null() ? -1 : info["pad_id"].get<int64_t>());
  EXPECT_EQ(tok.size(), info["size"].get<int64_t>());
}

// Ids past the vocabulary are dropped (the oracle's decodes cover that too);
// negative ids are an error.
void expect_out_of_range_ids_rejected(const Tokenizer& tok) {
  EXPECT_EQ(tok.decode({2, tok.size(), int64_t{1} << 40}, false), tok.decode({2}, false));
  for (int64_t bad : {int64_t{-1}, int64_t{-1000}}) {
    try {
      tok.decode({2, bad});
      ADD_FAILURE() << "id " << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
  }
}

void check_variant(const std::string& name) {
  const Variant v = load_variant(name);
  ASSERT_FALSE(v.folder.empty());
  const Tokenizer tok = Tokenizer::from_directory(v.folder);
  expect_info_like_reference(tok, v.reference);
  expect_encodes_like_reference(tok, v.reference);
  expect_decodes_like_reference(tok, v.reference);
  expect_out_of_range_ids_rejected(tok);
}

// ----------------------------------------------------------- tiny variants

class TokenizerVariant : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerVariant, MatchesTransformers) { check_variant(GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Oracle,
    TokenizerVariant,
    ::testing::Values("legacy", "legacy-image", "fast", "legacy-quirks", "fast-quirks"),
    [](const auto& info) {
      std::string n = info.param;
      for (char& c : n) c = c == '-' ? '_' : c;
      return n;
    });

TEST(Tokenizer, ImageTokenIdsOfTinyVariants) {
  const Json info = read_json(fs::path(env_or_empty("BLIP2_FIXTURES")) / "tokenizer" / "info.json");
  const int64_t image_id = info["image_token_id"].get<int64_t>();
  for (const char* name : {"legacy-image", "fast"}) {
    const Tokenizer tok = Tokenizer::from_directory(load_variant(name).folder);
    EXPECT_EQ(tok.token_to_id("<image>"), image_id) << name;
    EXPECT_EQ(tok.size(), image_id + 1) << name;
    EXPECT_EQ(tok.encode("\n", false), std::vector<int64_t>{info["newline_id"].get<int64_t>()});
  }
  const Tokenizer legacy = Tokenizer::from_directory(load_variant("legacy").folder);
  EXPECT_FALSE(legacy.token_to_id("<image>").has_value());
}

// --------------------------------------------------------- real OPT vocab

TEST(TokenizerOpt, MatchesTransformers) {
  if (opt_dir().empty()) GTEST_SKIP() << "BLIP2_OPT_TOKENIZER_DIR is not set to a folder";
  check_variant("opt");
}

TEST(TokenizerOpt, WithImageTokenMatchesTransformers) {
  if (opt_dir().empty()) GTEST_SKIP() << "BLIP2_OPT_TOKENIZER_DIR is not set to a folder";
  check_variant("opt-image");
  const Tokenizer tok = Tokenizer::from_directory(load_variant("opt-image").folder);
  EXPECT_EQ(tok.token_to_id("<image>"), 50265);
}

TEST(TokenizerOpt, PublishedIds) {
  if (opt_dir().empty()) GTEST_SKIP() << "BLIP2_OPT_TOKENIZER_DIR is not set to a folder";
  const Tokenizer tok = Tokenizer::from_directory(opt_dir());
  EXPECT_EQ(tok.encode("Question: which city is this? Answer:"),
            (std::vector<int64_t>{2, 45641, 35, 61, 343, 16, 42, 116, 31652, 35}));
  EXPECT_EQ(tok.encode("a photo of"), (std::vector<int64_t>{2, 102, 1345, 9}));
  EXPECT_EQ(tok.encode("\n", false), std::vector<int64_t>{50118});
  EXPECT_EQ(tok.bos_token_id(), 2);
  EXPECT_EQ(tok.eos_token_id(), 2);
  EXPECT_EQ(tok.pad_token_id(), 1);
  EXPECT_EQ(tok.size(), 50265);
}

// Encoding a few KB of text takes milliseconds, and a pathological 200 KB
// word without spaces stays fast too (the BPE is O(n log n) per word).
TEST(TokenizerOpt, EncodesKilobytesInMilliseconds) {
  if (opt_dir().empty()) GTEST_SKIP() << "BLIP2_OPT_TOKENIZER_DIR is not set to a folder";
  const Tokenizer tok = Tokenizer::from_directory(opt_dir());
  const Variant opt = load_variant("opt");
  std::string text;
  for (const Json& c : opt.reference["cases"]) {
    text += c["text"].get<std::string>() + " ";
  }
  while (text.size() < 8000) text += text;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int64_t> ids = tok.encode(text);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GT(ids.size(), 1000u);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 100)
      << text.size() << " bytes";
  EXPECT_EQ(tok.decode(tok.encode(text, false), false), text);

  std::mt19937 rng(7);
  std::string word;
  for (int i = 0; i < 200000; ++i) word.push_back(static_cast<char>('a' + rng() % 26));
  const auto start_long = std::chrono::steady_clock::now();
  const std::vector<int64_t> long_ids = tok.encode(word, false);
  const auto elapsed_long = std::chrono::steady_clock::now() - start_long;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed_long).count(), 2000);
  EXPECT_EQ(tok.decode(long_ids), word);
}

// ----------------------------------------------------------------- bad input

class TokenizerBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("blip2-tok-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    legacy_ = load_variant("legacy").folder;
    fast_ = load_variant("fast").folder;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void copy_from(const std::string& folder) {
    for (const auto& entry : fs::directory_iterator(folder)) {
      fs::copy_file(entry.path(), dir_ / entry.path().filename());
    }
  }
  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  void expect_error(ErrorCode code, const std::string& needle) {
    try {
      Tokenizer::from_directory(dir_.string());
      ADD_FAILURE() << "loaded without error; expected " << error_code_name(code);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message \"" << e.what() << "\" does not name " << needle;
    }
  }

  fs::path dir_;
  std::string legacy_, fast_;
};

TEST_F(TokenizerBadInput, MissingFolder) {
  const std::string missing = (dir_ / "nope").string();
  try {
    Tokenizer::from_directory(missing);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST_F(TokenizerBadInput, EmptyFolder) { expect_error(ErrorCode::kNotFound, "vocab.json"); }

TEST_F(TokenizerBadInput, MissingMerges) {
  copy_from(legacy_);
  fs::remove(dir_ / "merges.txt");
  expect_error(ErrorCode::kNotFound, "merges.txt");
}

TEST_F(TokenizerBadInput, MalformedVocab) {
  copy_from(legacy_);
  write("vocab.json", "{\"a\": 0, \"b\": ");
  expect_error(ErrorCode::kInvalidFormat, "vocab.json");
}

TEST_F(TokenizerBadInput, VocabIdNotAnInteger) {
  copy_from(legacy_);
  write("vocab.json", "{\"a\": 0, \"b\": \"one\"}");
  expect_error(ErrorCode::kInvalidFormat, "\"b\"");
}

TEST_F(TokenizerBadInput, VocabHugeId) {
  copy_from(legacy_);
  write("vocab.json", "{\"a\": 0, \"b\": 2000000000}");
  write("merges.txt", "#version: 0.2\n");
  expect_error(ErrorCode::kInvalidFormat, "vocab.json");
}

TEST_F(TokenizerBadInput, MergeTokenNotInVocab) {
  copy_from(legacy_);
  write("merges.txt", "#version: 0.2\n\xC4\xA0 a\nzzz q\n");
  expect_error(ErrorCode::kInvalidFormat, "merges.txt:3");
}

TEST_F(TokenizerBadInput, MergeLineWithThreeTokens) {
  copy_from(legacy_);
  write("merges.txt", "#version: 0.2\na b c\n");
  expect_error(ErrorCode::kInvalidFormat, "merges.txt:2");
}

TEST_F(TokenizerBadInput, MalformedConfig) {
  copy_from(legacy_);
  write("tokenizer_config.json", "{\"bos_token\": ");
  expect_error(ErrorCode::kInvalidFormat, "tokenizer_config.json");
}

TEST_F(TokenizerBadInput, SpecialTokenOfWrongType) {
  copy_from(legacy_);
  write("special_tokens_map.json", "{\"bos_token\": 5}");
  expect_error(ErrorCode::kInvalidFormat, "special_tokens_map.json");
}

TEST_F(TokenizerBadInput, MalformedAddedTokens) {
  copy_from(legacy_);
  write("added_tokens.json", "{\"<image>\": -4}");
  expect_error(ErrorCode::kInvalidFormat, "added_tokens.json");
}

TEST_F(TokenizerBadInput, TruncatedTokenizerJson) {
  copy_from(fast_);
  std::ifstream in(dir_ / "tokenizer.json");
  const std::string full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write("tokenizer.json", full.substr(0, full.size() / 2));
  expect_error(ErrorCode::kInvalidFormat, "tokenizer.json");
}

TEST_F(TokenizerBadInput, TokenizerJsonNotBpe) {
  copy_from(fast_);
  write("tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  expect_error(ErrorCode::kUnsupported, "tokenizer.json");
}

TEST_F(TokenizerBadInput, TokenizerJsonBadMerge) {
  copy_from(fast_);
  write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                              "merges": [["a", "b"]]}})");
  expect_error(ErrorCode::kInvalidFormat, "model.merges[0]");
}

// Found by fuzzing: a post_processor whose "type" is not a string escaped as
// a JSON library exception instead of a blip2::Error.
TEST_F(TokenizerBadInput, PostProcessorOfWrongType) {
  copy_from(fast_);
  for (const char* post : {R"({"type": 5})", "5", R"({"type": "Sequence", "processors": [7]})"}) {
    SCOPED_TRACE(post);
    write("tokenizer.json", std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                              "merges": []}, "post_processor": )") + post + "}");
    expect_error(ErrorCode::kInvalidFormat, "post_processor");
  }
}

TEST(Tokenizer, RejectsInvalidUtf8Input) {
  const Tokenizer tok = Tokenizer::from_directory(load_variant("legacy").folder);
  for (const std::string bad : {"abc\xFF", "\xE6\x97", "x\xC0\x80y", "\xED\xA0\x80"}) {
    try {
      tok.encode(bad);
      ADD_FAILURE() << "accepted invalid UTF-8 of " << bad.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  }
}

}  // namespace
}  // namespace blip2
