// progress_bar.h — blip2-caption's model loading bar on a terminal:
//   loading model  [###########...................]   42%  1.2/2.9 GB
// redrawn in place with \r at most every `min_interval`, ended with a newline.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace blip2_cli {

// "2.9 GB", "950.0 MB", "12.5 kB", "512 B" (decimal units, one decimal).
// `scale_bytes` picks the unit, so that done and total read in the same one.
std::string format_bytes(uint64_t bytes, uint64_t scale_bytes);

// One line of the bar for `done` of `total` bytes, without \r or newline, at
// most `columns` - 1 characters (the last column is left free so that a
// terminal never wraps it) when `columns` leaves room for a 10-cell bar;
// narrower, the bar is left out. The bar has at most 30 cells. The percentage
// is rounded down (100% only when done >= total). total == 0 means unknown:
// no bar and no percentage, only the bytes done. Same total and columns give
// the same length whatever `done` is.
std::string format_load_progress(uint64_t done, uint64_t total, int columns);

// The width of the terminal on file descriptor `fd`, else $COLUMNS, else 80.
int terminal_columns(int fd);

// Draws format_load_progress lines on `out`, each starting with \r. Calls
// closer than `min_interval` to the last drawn one are skipped, except the
// first one and the one that reaches the total.
class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressBar(std::ostream& out,
              int columns,
              std::chrono::milliseconds min_interval = std::chrono::milliseconds(100));
  ~ProgressBar();  // finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(uint64_t done, uint64_t total, Clock::time_point now = Clock::now());
  // Ends the line (when anything was drawn); later updates draw nothing.
  void finish();

 private:
  void draw(const std::string& line);

  std::ostream& out_;
  int columns_;
  std::chrono::milliseconds min_interval_;
  Clock::time_point last_draw_{};
  size_t drawn_length_ = 0;  // longest line drawn, padded over by shorter ones
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace blip2_cli
