// cli_progress.h — the model-loading progress bar of blip2-caption (stderr,
// only on a terminal).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace blip2_cli {

// One line of the bar: "loading [#####.....]  45%  7.0/15.5 GB  3.2 s".
std::string progress_line(uint64_t done, uint64_t total, double seconds, int width = 30);

// Redraws the bar on stderr in place, at most ten times a second and always
// for the last call (done == total), which ends the line.
class ProgressBar {
 public:
  explicit ProgressBar(std::string prefix);
  void update(uint64_t done, uint64_t total);

 private:
  std::string prefix_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool finished_ = false;
};

}  // namespace blip2_cli
