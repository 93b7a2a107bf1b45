// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "caption_style.h"

#include <algorithm>
#include <cmath>

namespace blip2caption {
namespace {

bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool
is_ascii_punct (char c)
{
  const unsigned char u = static_cast<unsigned char> (c);
  return u < 0x80 && (u >= 0x21 && u <= 0x7e) &&
         !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

bool
is_continuation_byte (char c)
{
  return (static_cast<unsigned char> (c) & 0xC0) == 0x80;
}

std::vector<std::string_view>
split_words (std::string_view text)
{
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size ()) {
    while (i < text.size () && is_space (text[i]))
      ++i;
    size_t start = i;
    while (i < text.size () && !is_space (text[i]))
      ++i;
    if (i > start)
      words.push_back (text.substr (start, i - start));
  }
  return words;
}

std::string
join (const std::vector<std::string_view> &words, size_t from, size_t to)
{
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i > from)
      out += ' ';
    out.append (words[i]);
  }
  return out;
}

// The byte length of the first `n` code points of `word`.
size_t
prefix_bytes (std::string_view word, size_t n)
{
  size_t i = 0;
  for (size_t seen = 0; i < word.size () && seen < n; ++seen) {
    ++i;
    while (i < word.size () && is_continuation_byte (word[i]))
      ++i;
  }
  return i;
}

// Words no longer than `max_length`; longer ones are cut into pieces.
std::vector<std::string_view>
fitting_words (std::string_view text, size_t max_length)
{
  std::vector<std::string_view> out;
  for (std::string_view word : split_words (text)) {
    while (code_points (word) > max_length) {
      size_t cut = prefix_bytes (word, max_length);
      out.push_back (word.substr (0, cut));
      word.remove_prefix (cut);
    }
    if (!word.empty ())
      out.push_back (word);
  }
  return out;
}

// Greedy wrap: the index where each line starts.
std::vector<size_t>
greedy_breaks (const std::vector<std::string_view> &words, size_t max_length)
{
  std::vector<size_t> starts;
  size_t length = 0;
  for (size_t i = 0; i < words.size (); ++i) {
    size_t w = code_points (words[i]);
    if (starts.empty () || length + 1 + w > max_length) {
      starts.push_back (i);
      length = w;
    } else {
      length += 1 + w;
    }
  }
  return starts;
}

// Two lines: the break that keeps both within max_length and makes the
// longer one shortest (the lower one longer on a tie).
std::vector<std::string>
balanced_two_lines (const std::vector<std::string_view> &words, size_t max_length)
{
  size_t best = 0;
  size_t best_longest = SIZE_MAX;
  for (size_t split = 1; split < words.size (); ++split) {
    size_t top = code_points (join (words, 0, split));
    size_t bottom = code_points (join (words, split, words.size ()));
    if (top > max_length || bottom > max_length)
      continue;
    size_t longest = std::max (top, bottom);
    if (longest < best_longest || (longest == best_longest && bottom >= top)) {
      best = split;
      best_longest = longest;
    }
  }
  return {join (words, 0, best), join (words, best, words.size ())};
}

}  // namespace

size_t
code_points (std::string_view text)
{
  return std::count_if (text.begin (), text.end (),
                        [] (char c) { return !is_continuation_byte (c); });
}

std::string
comparison_key (std::string_view caption)
{
  std::string key;
  bool pending_space = false;
  for (char c : caption) {
    if (is_ascii_punct (c))
      continue;
    if (is_space (c)) {
      pending_space = !key.empty ();
      continue;
    }
    if (pending_space)
      key += ' ';
    pending_space = false;
    key += (c >= 'A' && c <= 'Z') ? static_cast<char> (c - 'A' + 'a') : c;
  }
  return key;
}

std::string
sentence_case (std::string_view caption)
{
  std::string text = join (split_words (caption), 0, split_words (caption).size ());
  if (text.empty ())
    return text;
  if (text[0] >= 'a' && text[0] <= 'z')
    text[0] = static_cast<char> (text[0] - 'a' + 'A');
  const char last = text.back ();
  const bool ellipsis =
      text.size () >= 3 && text.compare (text.size () - 3, 3, "\xE2\x80\xA6") == 0;
  if (last != '.' && last != '!' && last != '?' && !ellipsis) {
    while (!text.empty () && (text.back () == ',' || text.back () == ';' || text.back () == ':'))
      text.pop_back ();
    text += '.';
  }
  return text;
}

std::vector<std::string>
wrap_lines (std::string_view text, int max_length)
{
  const size_t limit = static_cast<size_t> (std::max (max_length, 1));
  std::vector<std::string_view> words = fitting_words (text, limit);
  if (words.empty ())
    return {};
  std::vector<size_t> starts = greedy_breaks (words, limit);
  if (starts.size () == 2)
    return balanced_two_lines (words, limit);
  std::vector<std::string> lines;
  for (size_t l = 0; l < starts.size (); ++l) {
    size_t end = l + 1 < starts.size () ? starts[l + 1] : words.size ();
    lines.push_back (join (words, starts[l], end));
  }
  return lines;
}

std::vector<std::string>
subtitle_pages (std::string_view caption, const CaptionStyle &style)
{
  std::string sentence = sentence_case (caption);
  const size_t per_page = static_cast<size_t> (std::max (style.max_lines, 1));
  const size_t limit = static_cast<size_t> (std::max (style.max_line_length, 1));
  std::vector<std::string> lines = wrap_lines (sentence, style.max_line_length);
  if (lines.size () <= per_page) {
    if (lines.empty ())
      return {};
    std::string page;
    for (size_t i = 0; i < lines.size (); ++i)
      page += (i ? "\n" : "") + lines[i];
    return {page};
  }
  // Several pages: greedy lines, grouped, the last page balanced again.
  std::vector<std::string_view> words = fitting_words (sentence, limit);
  std::vector<size_t> starts = greedy_breaks (words, limit);
  std::vector<std::string> pages;
  for (size_t first = 0; first < starts.size (); first += per_page) {
    size_t last = std::min (first + per_page, starts.size ());
    size_t word_begin = starts[first];
    size_t word_end = last < starts.size () ? starts[last] : words.size ();
    std::vector<std::string> page_lines =
        wrap_lines (join (words, word_begin, word_end), style.max_line_length);
    std::string page;
    for (size_t i = 0; i < page_lines.size (); ++i)
      page += (i ? "\n" : "") + page_lines[i];
    pages.push_back (page);
  }
  return pages;
}

uint64_t
min_display_time (std::string_view text, uint64_t min_duration, double chars_per_second)
{
  if (chars_per_second <= 0.0)
    return min_duration;
  const double reading_ns = std::ceil (code_points (text) / chars_per_second * 1e9);
  return std::max<uint64_t> (min_duration, static_cast<uint64_t> (reading_ns));
}

}  // namespace blip2caption
