#include "cli_progress.h"

#include <cstdio>
#include <iostream>

namespace blip2_cli {

std::string progress_line(uint64_t done, uint64_t total, double seconds, int width) {
  const double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int filled = static_cast<int>(fraction * width + 0.5);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  char text[128];
  std::snprintf(text, sizeof text, "loading [%s] %3d%%  %.1f/%.1f GB  %.1f s", bar.c_str(),
                static_cast<int>(fraction * 100.0 + 0.5), static_cast<double>(done) / 1e9,
                static_cast<double>(total) / 1e9, seconds);
  return text;
}

ProgressBar::ProgressBar(std::string prefix)
    : prefix_(std::move(prefix)), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total;
  if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  std::cerr << "\r" << prefix_ << progress_line(done, total, seconds) << (last ? "\n" : "")
            << std::flush;
  finished_ = last;
}

}  // namespace blip2_cli
