// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// Caption-style text: the comparison key, sentence case, line wrapping,
// pages and the minimum display time; the rules checked on every caption
// the oracle (transformers) produced for the tiny test models.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "caption_style.h"

namespace {

using namespace blip2caption;

TEST(ComparisonKey, IgnoresCaseSpacesAndPunctuation) {
  EXPECT_EQ(comparison_key("  A dog,  running on the Beach. "), "a dog running on the beach");
  EXPECT_TRUE(same_caption("a man riding a horse", "A man riding a horse."));
  EXPECT_TRUE(same_caption("a man\triding a horse!", "a man riding a horse"));
  EXPECT_FALSE(same_caption("a man riding a horse", "a man riding horses"));
  EXPECT_FALSE(same_caption("two dogs", "2 dogs"));
  EXPECT_EQ(comparison_key("...!?"), "");
  EXPECT_EQ(comparison_key("café Über"), "café Über");  // non-ASCII kept as is
}

TEST(SentenceCase, CapitalisesAndEndsWithAFullStop) {
  EXPECT_EQ(sentence_case("a man riding a horse on a beach"), "A man riding a horse on a beach.");
  EXPECT_EQ(sentence_case("  a  dog\n"), "A dog.");
  EXPECT_EQ(sentence_case("is it a cat?"), "Is it a cat?");
  EXPECT_EQ(sentence_case("wow!"), "Wow!");
  EXPECT_EQ(sentence_case("already done."), "Already done.");
  EXPECT_EQ(sentence_case("and then\xE2\x80\xA6"), "And then\xE2\x80\xA6");
  EXPECT_EQ(sentence_case("a list of things,"), "A list of things.");
  EXPECT_EQ(sentence_case("3 cats"), "3 cats.");
  EXPECT_EQ(sentence_case(""), "");
  EXPECT_EQ(sentence_case("   "), "");
}

TEST(WrapLines, ShortTextIsOneLine) {
  EXPECT_EQ(wrap_lines("A dog on a beach.", 42), std::vector<std::string>{"A dog on a beach."});
  EXPECT_TRUE(wrap_lines("", 42).empty());
}

TEST(WrapLines, TwoLinesAreBalancedWithinTheLimit) {
  // 54 characters: greedy would give 41 + 12; balanced gives 26 + 27.
  std::string text = "A man in a red shirt riding a horse along a sandy beach.";
  auto lines = wrap_lines(text, 42);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0] + " " + lines[1], text);
  for (const auto& l : lines) EXPECT_LE(code_points(l), 42u);
  EXPECT_LE(code_points(lines[0]), code_points(lines[1]));
  EXPECT_LE(code_points(lines[1]) - code_points(lines[0]), 8u);
}

TEST(WrapLines, LongWordsAreCut) {
  auto lines = wrap_lines("abcdefghij", 4);
  EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "efgh", "ij"}));
}

TEST(WrapLines, CountsCodePointsNotBytes) {
  // 10 two-byte letters per word: two words fit in 21 code points.
  std::string word;
  for (int i = 0; i < 10; ++i) word += "\xC3\xA9";  // é
  auto lines = wrap_lines(word + " " + word, 21);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(code_points(lines[0]), 21u);
  lines = wrap_lines(word, 3);  // never cut inside a code point
  for (const auto& l : lines) EXPECT_EQ(l.size() % 2, 0u);
}

TEST(SubtitlePages, OnePageOfAtMostTwoLines) {
  CaptionStyle style;
  auto pages = subtitle_pages("a man in a red shirt riding a horse along a sandy beach", style);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0], "A man in a red shirt riding\na horse along a sandy beach.");
}

TEST(SubtitlePages, LongCaptionsBecomeSeveralPages) {
  CaptionStyle style;
  style.max_line_length = 20;
  style.max_lines = 2;
  std::string caption =
      "a group of people standing around a table with plates of food and glasses of wine on it";
  auto pages = subtitle_pages(caption, style);
  ASSERT_GE(pages.size(), 2u);
  std::string rejoined;
  for (const auto& page : pages) {
    size_t lines = 1;
    size_t from = 0;
    for (size_t nl; (nl = page.find('\n', from)) != std::string::npos; from = nl + 1) {
      EXPECT_LE(code_points(page.substr(from, nl - from)), 20u);
      ++lines;
    }
    EXPECT_LE(code_points(page.substr(from)), 20u);
    EXPECT_LE(lines, 2u);
    for (char c : page) rejoined += c == '\n' ? ' ' : c;
    rejoined += ' ';
  }
  rejoined.pop_back();
  EXPECT_EQ(rejoined, sentence_case(caption));
}

TEST(SubtitlePages, OneLineStyle) {
  CaptionStyle style;
  style.max_lines = 1;
  style.max_line_length = 10;
  auto pages = subtitle_pages("one two three four", style);
  EXPECT_EQ(pages, (std::vector<std::string>{"One two", "three", "four."}));
}

TEST(MinDisplayTime, FloorAndReadingRate) {
  constexpr uint64_t kSec = 1000000000;
  EXPECT_EQ(min_display_time("A dog.", kSec, 0.0), kSec);
  EXPECT_EQ(min_display_time("A dog.", kSec, 17.0), kSec);  // 6 chars: 0.35 s < 1 s
  std::string forty(40, 'x');
  EXPECT_EQ(min_display_time(forty, kSec, 20.0), 2 * kSec);
  EXPECT_EQ(min_display_time(forty, 0, 0.0), 0u);
}

// Every caption transformers produced for the tiny models (greedy.json).
std::vector<std::string> oracle_captions() {
  std::vector<std::string> out;
  const char* root = std::getenv("BLIP2_FIXTURES");
  if (root == nullptr) return out;
  for (const char* model : {"tiny", "tiny-legacy", "tiny-proj", "tiny-coco"}) {
    std::ifstream in(std::filesystem::path(root) / "reference" / model / "greedy.json");
    if (!in) continue;
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& c : j["cases"]) {
      const auto& text = c["text"];
      if (text.is_string()) out.push_back(text.get<std::string>());
      for (const auto& t : text.is_array() ? text : nlohmann::json::array())
        out.push_back(t.get<std::string>());
    }
  }
  return out;
}

TEST(OracleCaptions, FormattingRulesHold) {
  std::vector<std::string> captions = oracle_captions();
  ASSERT_GE(captions.size(), 20u) << "oracle captions not found under $BLIP2_FIXTURES/reference";
  CaptionStyle style;  // 2 lines of 42
  size_t non_empty = 0;
  for (const std::string& raw : captions) {
    auto pages = subtitle_pages(raw, style);
    if (comparison_key(raw).empty() && pages.empty()) continue;
    ++non_empty;
    ASSERT_FALSE(pages.empty()) << raw;
    // Capital first letter (when it is an ASCII letter), full stop at the end.
    char first = pages.front()[0];
    EXPECT_FALSE(first >= 'a' && first <= 'z') << raw;
    char last = pages.back().back();
    EXPECT_TRUE(last == '.' || last == '!' || last == '?') << raw;
    std::string words;
    for (const auto& page : pages) {
      size_t lines = 1;
      size_t from = 0;
      for (size_t nl; (nl = page.find('\n', from)) != std::string::npos; from = nl + 1, ++lines)
        EXPECT_LE(code_points(page.substr(from, nl - from)), 42u) << raw;
      EXPECT_LE(code_points(page.substr(from)), 42u) << raw;
      EXPECT_LE(lines, 2u) << raw;
      for (char c : page) words += c == '\n' ? ' ' : c;
      words += ' ';
    }
    // Nothing lost: the same words as the model's text.
    EXPECT_TRUE(same_caption(words, raw)) << raw << " -> " << words;
  }
  EXPECT_GE(non_empty, 10u);
}

}  // namespace
