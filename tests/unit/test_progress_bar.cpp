// blip2-caption's loading bar (examples/progress_bar.h): the line's text for
// every width, the ends (0%, 100%, unknown total), and the throttled drawing.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <sstream>
#include <string>

#include "progress_bar.h"

using blip2_cli::format_bytes;
using blip2_cli::format_load_progress;
using blip2_cli::ProgressBar;

namespace {

constexpr uint64_t kGB = 1000000000ULL;

size_t count(const std::string& s, char c) { return std::count(s.begin(), s.end(), c); }

TEST(FormatBytes, UnitFollowsTheScale) {
  EXPECT_EQ(format_bytes(1200000000ULL, 2900000000ULL), "1.2 GB");
  EXPECT_EQ(format_bytes(0, 2900000000ULL), "0.0 GB");
  EXPECT_EQ(format_bytes(950000000ULL, 950000000ULL), "950.0 MB");
  EXPECT_EQ(format_bytes(12500, 12500), "12.5 kB");
  EXPECT_EQ(format_bytes(512, 512), "512 B");
  EXPECT_EQ(format_bytes(0, 0), "0 B");
}

TEST(FormatLoadProgress, EightyColumns) {
  const std::string line = format_load_progress(1200000000ULL, 2900000000ULL, 80);
  EXPECT_EQ(line, "loading model  [############..................]   41%  1.2/2.9 GB");
  EXPECT_LE(line.size(), 79u);
}

TEST(FormatLoadProgress, ZeroPercentHasAnEmptyBar) {
  const std::string line = format_load_progress(0, 3 * kGB, 80);
  EXPECT_EQ(line, "loading model  [..............................]    0%  0.0/3.0 GB");
}

TEST(FormatLoadProgress, HundredPercentOnlyAtTheTotal) {
  EXPECT_EQ(format_load_progress(3 * kGB, 3 * kGB, 80),
            "loading model  [##############################]  100%  3.0/3.0 GB");
  const std::string almost = format_load_progress(3 * kGB - 1, 3 * kGB, 80);
  EXPECT_NE(almost.find(" 99%"), std::string::npos) << almost;
  EXPECT_EQ(count(almost, '.') - 2, 1u) << almost;  // one empty cell ("3.0/3.0" has 2 dots)
  // more than the total is shown as the total
  EXPECT_EQ(format_load_progress(4 * kGB, 3 * kGB, 80), format_load_progress(3 * kGB, 3 * kGB, 80));
}

TEST(FormatLoadProgress, UnknownTotalShowsTheBytesDone) {
  EXPECT_EQ(format_load_progress(1500000ULL, 0, 80), "loading model  1.5 MB");
  EXPECT_EQ(format_load_progress(0, 0, 80), "loading model  0 B");
}

TEST(FormatLoadProgress, FitsEveryWidthThatHoldsATenCellBar) {
  // label 15 + "[]  " 4 + "100%  " 6 + "2.9/2.9 GB" 10 = 35, + 10 cells + the free column
  for (int columns = 46; columns <= 200; ++columns) {
    const std::string line = format_load_progress(2900000000ULL, 2900000000ULL, columns);
    EXPECT_LE(line.size(), static_cast<size_t>(columns - 1)) << columns;
    const size_t cells = count(line, '#');
    EXPECT_EQ(cells, static_cast<size_t>(std::min(30, columns - 36))) << columns;
  }
}

TEST(FormatLoadProgress, NarrowTerminalsLoseTheBar) {
  EXPECT_EQ(format_load_progress(1200000000ULL, 2900000000ULL, 45),
            "loading model   41%  1.2/2.9 GB");
  EXPECT_EQ(format_load_progress(1200000000ULL, 2900000000ULL, 0),
            "loading model   41%  1.2/2.9 GB");
}

TEST(FormatLoadProgress, SameLengthFromStartToEnd) {
  // the done figure is padded to the total's width, so redrawing never leaves debris
  const uint64_t total = 123456789ULL;  // 123.5 MB
  const size_t length = format_load_progress(0, total, 80).size();
  for (uint64_t done : std::initializer_list<uint64_t>{1, 1000000, 99999999, total}) {
    EXPECT_EQ(format_load_progress(done, total, 80).size(), length) << done;
  }
}

using Clock = ProgressBar::Clock;
using std::chrono::milliseconds;

TEST(ProgressBar, DrawsInPlaceThrottledAndEndsTheLine) {
  std::ostringstream out;
  const Clock::time_point t0{};
  {
    ProgressBar bar(out, 80, milliseconds(100));
    bar.update(0, 1000, t0);                       // first: drawn
    bar.update(100, 1000, t0 + milliseconds(50));  // too soon: skipped
    bar.update(500, 1000, t0 + milliseconds(150));
    bar.update(1000, 1000, t0 + milliseconds(160));  // the end is always drawn
    bar.finish();
    bar.update(1000, 1000, t0 + milliseconds(500));  // after finish: nothing
  }
  const std::string text = out.str();
  EXPECT_EQ(count(text, '\r'), 3u) << text;
  EXPECT_EQ(text.find("10%"), std::string::npos) << text;
  EXPECT_NE(text.find(" 50%"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("]  100%  1.0/1.0 kB\n")) << text;
  EXPECT_EQ(count(text, '\n'), 1u);
}

TEST(ProgressBar, NothingDrawnNothingWritten) {
  std::ostringstream out;
  { ProgressBar bar(out, 80); }
  EXPECT_EQ(out.str(), "");
}

TEST(ProgressBar, AStoppedLoadStillEndsItsLine) {
  std::ostringstream out;
  {
    ProgressBar bar(out, 80);
    bar.update(0, 1000);
    bar.update(300, 1000, Clock::now() + milliseconds(1000));
  }  // destroyed as by an exception out of Model::load
  const std::string text = out.str();
  EXPECT_NE(text.find(" 30%"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(ProgressBar, AShorterLineIsPaddedOverTheLongerOne) {
  std::ostringstream out;
  ProgressBar bar(out, 80, milliseconds(0));
  bar.update(0, 1000);       // "... 0/1000 B" vs. unknown total below
  bar.update(1500000, 0);    // "loading model  1.5 MB": shorter
  const std::string text = out.str();
  const size_t second = text.rfind('\r');
  EXPECT_EQ(text.size() - second, second) << text;  // both drawn lines equally long
}

}  // namespace
