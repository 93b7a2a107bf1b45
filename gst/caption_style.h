// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// caption_style.h — subtitle text from a model caption. No GStreamer.
//
// BLIP-2 writes lowercase fragments ("a man riding a horse on a beach").
// Subtitle guidelines want a sentence (capital first letter, full stop) on
// at most two lines of at most 42 characters, shown long enough to read.
// Lengths count UTF-8 code points, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace blip2caption {

struct CaptionStyle
{
  int max_line_length = 42;  // code points per line
  int max_lines = 2;         // lines per cue
};

// The key two captions are compared by: ASCII letters lowercased,
// punctuation dropped, runs of white space made one space, no leading or
// trailing space. "A dog, running." and "a dog running" have the same key.
std::string comparison_key (std::string_view caption);

inline bool
same_caption (std::string_view a, std::string_view b)
{
  return comparison_key (a) == comparison_key (b);
}

// One sentence: white space collapsed and trimmed, the first letter
// capitalised (ASCII), a full stop added unless it ends in . ! ? or an
// ellipsis. "" stays "".
std::string sentence_case (std::string_view caption);

// Word-wrapped lines of at most `max_length` code points (a longer word is
// cut). Two lines are balanced: the break that makes the longer line
// shortest, the lower line the longer one on a tie.
std::vector<std::string> wrap_lines (std::string_view text, int max_length);

// The cue text(s) for a caption: sentence_case, then wrapped; when more than
// `max_lines` lines are needed the text is split into several pages of at
// most `max_lines` lines each ("line\nline"), shown one after another.
std::vector<std::string> subtitle_pages (std::string_view caption, const CaptionStyle &style);

// Code points in `text` (UTF-8).
size_t code_points (std::string_view text);

// The shortest time a cue of `text` should stay on screen: at least
// `min_duration` ns and, when `chars_per_second` > 0, long enough to read it
// at that rate.
uint64_t min_display_time (std::string_view text, uint64_t min_duration, double chars_per_second);

}  // namespace blip2caption
