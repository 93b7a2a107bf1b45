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

// Subtitle text (not raw) of one line per page, min-cue-duration 1 s.
Track paged(int max_line_length, double reading_rate = 0.0) {
  Track t;
  t.settings.raw = false;
  t.settings.min_duration = 1 * kSec;
  t.settings.reading_rate = reading_rate;
  t.settings.style.max_line_length = max_line_length;
  t.settings.style.max_lines = 1;
  return t;
}

// Two pages closed by the next caption after 1 s, min-cue-duration 1 s:
// each page is shown a second (not 917 ms and 83 ms), and the next caption
// starts when the second page ends.
TEST(CueTrack, EveryPageIsShownItsMinimumTime) {
  Track t = paged(42);
  const std::string caption = "a man riding a horse on a beach next to the ocean at sunset";
  t.add(caption, 0, 1 * kSec);
  t.add("a dog", 1 * kSec, 3 * kSec);
  t.finish(kNoTime);
  ASSERT_EQ(t.cues.size(), 3u);
  EXPECT_EQ(t.cues[0].text + " " + t.cues[1].text,
            "A man riding a horse on a beach next to the ocean at sunset.");
  EXPECT_EQ(t.cues[0].start, 0u);
  EXPECT_EQ(t.cues[0].end, 1 * kSec);
  EXPECT_EQ(t.cues[1].start, 1 * kSec);
  EXPECT_EQ(t.cues[1].end, 2 * kSec);
  expect_cue(t.cues[2], "A dog.", 2 * kSec, 3 * kSec);
}

// The minimum is per page's own text: with a reading rate, each page stays
// long enough to read it, and the next caption waits for both.
TEST(CueTrack, EachPageIsReadableAtTheReadingRate) {
  Track t = paged(42, 10.0);
  t.add("a man riding a horse on a beach next to the ocean at sunset", 0, 1 * kSec);
  t.add("a dog", 1 * kSec, 20 * kSec);
  t.finish(kNoTime);
  ASSERT_EQ(t.cues.size(), 3u);
  uint64_t at = 0;
  for (size_t i = 0; i < 2; ++i) {
    const uint64_t reading = min_display_time(t.cues[i].text, 1 * kSec, 10.0);
    EXPECT_GT(reading, 1 * kSec) << t.cues[i].text;  // longer than min-cue-duration
    expect_cue(t.cues[i], t.cues[i].text, at, at + reading);
    at += reading;
  }
  expect_cue(t.cues[2], "A dog.", at, 20 * kSec);
}

// At the end of the stream the time cannot grow: when it is too short for
// every page, the last pages are joined until each cue gets its minimum, and
// a caption with less time than one minimum is one cue with all its text.
TEST(CueTrack, WithoutTimeForEveryPageTheLastPagesAreJoined) {
  Track t = paged(10);
  t.add("one two three four five six", 0, kNoTime);  // 3 pages of 1 s at least
  t.finish(2500000000);
  ASSERT_EQ(t.cues.size(), 2u);
  EXPECT_EQ(t.cues[0].text, "One two");
  EXPECT_EQ(t.cues[1].text, "three four\nfive six.");
  EXPECT_EQ(t.cues[0].start, 0u);
  EXPECT_GE(t.cues[0].end, 1 * kSec);
  EXPECT_EQ(t.cues[1].start, t.cues[0].end);
  EXPECT_GE(t.cues[1].end - t.cues[1].start, 1 * kSec);
  EXPECT_EQ(t.cues[1].end, 2500000000u);

  Track short_end = paged(10);
  short_end.add("one two three four five six", 0, kNoTime);
  short_end.finish(400000000);
  ASSERT_EQ(short_end.cues.size(), 1u);
  expect_cue(short_end.cues[0], "One two\nthree four\nfive six.", 0, 400000000);
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
