// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// Captions to cues: repeated captions extend the open cue, open-ended cues
// (change mode) end at the next caption, partial commits, minimum display
// time, pages, end of stream.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cue_track.h"

namespace {

using namespace blip2caption;

constexpr uint64_t kSec = 1000000000;

struct Track {
  CueTrack track;
  CueSettings settings;
  std::vector<Cue> cues;

  Track() { settings.raw = true; }
  void add(const std::string& text, uint64_t start, uint64_t end) {
    for (auto& c : track.add(text, start, end, settings)) cues.push_back(c);
  }
  void commit(uint64_t position) {
    for (auto& c : track.commit_until(position, settings)) cues.push_back(c);
  }
  void finish(uint64_t position) {
    for (auto& c : track.finish(position, settings)) cues.push_back(c);
  }
};

void expect_cue(const Cue& cue, const std::string& text, uint64_t start, uint64_t end) {
  EXPECT_EQ(cue.text, text);
  EXPECT_EQ(cue.start, start);
  EXPECT_EQ(cue.end, end);
}

TEST(CueTrack, RepeatedCaptionsExtendOneCue) {
  Track t;
  t.add("a dog on a beach", 0, 1 * kSec);
  t.add("A dog on a beach.", 1 * kSec, 2 * kSec);
  t.add("a dog  on a beach", 2 * kSec, 3 * kSec);
  EXPECT_TRUE(t.cues.empty());
  EXPECT_EQ(t.track.open_start(), 0u);
  t.add("a cat", 3 * kSec, 4 * kSec);
  ASSERT_EQ(t.cues.size(), 1u);
  expect_cue(t.cues[0], "a dog on a beach", 0, 3 * kSec);
  t.finish(4 * kSec);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[1], "a cat", 3 * kSec, 4 * kSec);
}

TEST(CueTrack, WithoutMergingEveryCaptionIsACue) {
  Track t;
  t.settings.merge_repeats = false;
  t.add("a dog", 0, 1 * kSec);
  t.add("a dog", 1 * kSec, 2 * kSec);
  t.finish(2 * kSec);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[0], "a dog", 0, 1 * kSec);
  expect_cue(t.cues[1], "a dog", 1 * kSec, 2 * kSec);
}

TEST(CueTrack, OpenEndedCuesEndAtTheNextCaption) {
  Track t;
  t.add("a dog", 0, kNoTime);
  t.add("a cat", 7 * kSec, kNoTime);
  t.add("a cat", 9 * kSec, kNoTime);  // extends
  t.add("a bird", 12 * kSec, kNoTime);
  t.finish(15 * kSec);
  ASSERT_EQ(t.cues.size(), 3u);
  expect_cue(t.cues[0], "a dog", 0, 7 * kSec);
  expect_cue(t.cues[1], "a cat", 7 * kSec, 12 * kSec);
  expect_cue(t.cues[2], "a bird", 12 * kSec, 15 * kSec);
}

TEST(CueTrack, AKnownEndBeforeTheNextCaptionLeavesAGap) {
  Track t;
  t.add("a dog", 0, 1 * kSec);
  t.add("a cat", 3 * kSec, 4 * kSec);
  t.finish(kNoTime);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[0], "a dog", 0, 1 * kSec);
  expect_cue(t.cues[1], "a cat", 3 * kSec, 4 * kSec);
}

TEST(CueTrack, EmptyCaptionClosesTheOpenCue) {
  Track t;
  t.add("a dog", 0, kNoTime);
  t.add("", 2 * kSec, kNoTime);
  ASSERT_EQ(t.cues.size(), 1u);
  expect_cue(t.cues[0], "a dog", 0, 2 * kSec);
  EXPECT_FALSE(t.track.has_open());
  t.add("a dog", 3 * kSec, kNoTime);  // not merged across the empty one
  t.finish(4 * kSec);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[1], "a dog", 3 * kSec, 4 * kSec);
}

TEST(CueTrack, CommitUntilEmitsTheOpenPartAndContinues) {
  Track t;
  t.add("a dog", 0, kNoTime);
  t.commit(2 * kSec);
  ASSERT_EQ(t.cues.size(), 1u);
  expect_cue(t.cues[0], "a dog", 0, 2 * kSec);
  EXPECT_EQ(t.track.open_start(), 2 * kSec);
  t.commit(1 * kSec);  // behind: nothing
  EXPECT_EQ(t.cues.size(), 1u);
  t.add("a dog", 3 * kSec, kNoTime);
  t.add("a cat", 5 * kSec, kNoTime);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[1], "a dog", 2 * kSec, 5 * kSec);
}

TEST(CueTrack, CommitPastAKnownEndClosesTheCue) {
  Track t;
  t.add("a dog", 0, 1 * kSec);
  t.commit(5 * kSec);
  ASSERT_EQ(t.cues.size(), 1u);
  expect_cue(t.cues[0], "a dog", 0, 1 * kSec);
  EXPECT_FALSE(t.track.has_open());
}

TEST(CueTrack, MinimumDisplayTimeDelaysTheNextCue) {
  Track t;
  t.settings.min_duration = 1 * kSec;
  t.add("a dog", 0, 250000000);
  t.add("a cat", 250000000, 500000000);  // would end before it could start: dropped
  t.add("a bird", 750000000, 2 * kSec);  // starts when the dog's second is over
  t.finish(kNoTime);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[0], "a dog", 0, 1 * kSec);
  expect_cue(t.cues[1], "a bird", 1 * kSec, 2 * kSec);
}

TEST(CueTrack, ReadingRateLengthensLongCaptions) {
  Track t;
  t.settings.reading_rate = 10.0;  // 40 characters need 4 s
  std::string forty(40, 'x');
  t.add(forty, 0, 1 * kSec);
  t.add("a cat", 1 * kSec, 6 * kSec);
  t.finish(kNoTime);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[0], forty, 0, 4 * kSec);
  expect_cue(t.cues[1], "a cat", 4 * kSec, 6 * kSec);
}

TEST(CueTrack, StyledCuesArePagesSharingTheTime) {
  Track t;
  t.settings.raw = false;
  t.settings.style.max_line_length = 10;
  t.settings.style.max_lines = 1;
  t.add("one two three", 0, 3 * kSec);
  t.finish(kNoTime);
  // Pages "One two" (7) and "three." (6) share 3 s by length.
  ASSERT_EQ(t.cues.size(), 2u);
  EXPECT_EQ(t.cues[0].text, "One two");
  EXPECT_EQ(t.cues[1].text, "three.");
  EXPECT_EQ(t.cues[0].start, 0u);
  EXPECT_EQ(t.cues[0].end, t.cues[1].start);
  EXPECT_EQ(t.cues[0].end, 3 * kSec * 7 / 13);
  EXPECT_EQ(t.cues[1].end, 3 * kSec);
}

TEST(CueTrack, CloseEmitsAtOnceWithTheMinimumDuration) {
  Track t;
  t.settings.merge_repeats = false;
  t.settings.min_duration = 1 * kSec;
  t.add("a dog", 0, 250000000);
  for (auto& c : t.track.close(t.settings)) t.cues.push_back(c);
  ASSERT_EQ(t.cues.size(), 1u);
  expect_cue(t.cues[0], "a dog", 0, 1 * kSec);
  EXPECT_FALSE(t.track.has_open());
  t.add("a cat", 500000000, 2 * kSec);  // starts when the dog's second is over
  for (auto& c : t.track.close(t.settings)) t.cues.push_back(c);
  ASSERT_EQ(t.cues.size(), 2u);
  expect_cue(t.cues[1], "a cat", 1 * kSec, 2 * kSec);
  t.add("a bird", 3 * kSec, kNoTime);  // no known end: stays open
  EXPECT_TRUE(t.track.close(t.settings).empty());
  EXPECT_TRUE(t.track.has_open());
}

TEST(CueTrack, FinishWithoutAnyTimeKeepsTheCueOpenEnded) {
  Track t;
  t.add("a dog", 0, kNoTime);
  t.finish(kNoTime);
  ASSERT_EQ(t.cues.size(), 1u);
  expect_cue(t.cues[0], "a dog", 0, kNoTime);
}

TEST(CueTrack, ResetDropsTheOpenCue) {
  Track t;
  t.add("a dog", 0, kNoTime);
  t.track.reset();
  t.finish(5 * kSec);
  EXPECT_TRUE(t.cues.empty());
  EXPECT_EQ(t.track.emitted_end(), kNoTime);
}

}  // namespace
