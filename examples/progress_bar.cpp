// progress_bar.cpp — the loading bar's text (pure) and its in-place drawing.
#include "progress_bar.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace blip2_cli {
namespace {

constexpr const char* kLabel = "loading model  ";
constexpr int kMinBarCells = 10;
constexpr int kMaxBarCells = 30;

struct Unit {
  uint64_t bytes;
  const char* name;
};

Unit unit_for(uint64_t scale_bytes) {
  static constexpr Unit kUnits[] = {
      {1000000000000ULL, "TB"}, {1000000000ULL, "GB"}, {1000000ULL, "MB"}, {1000ULL, "kB"}};
  for (const Unit& u : kUnits) {
    if (scale_bytes >= u.bytes) return u;
  }
  return {1, "B"};
}

// The number alone, in `unit` (one decimal, none for bytes).
std::string number_in(uint64_t bytes, const Unit& unit) {
  char text[32];
  if (unit.bytes == 1) {
    std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof text, "%.1f",
                  static_cast<double>(bytes) / static_cast<double>(unit.bytes));
  }
  return text;
}

std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

// "  1.2/2.9 GB", done right-aligned to the width of total.
std::string sizes(uint64_t done, uint64_t total) {
  const Unit unit = unit_for(total);
  const std::string total_text = number_in(total, unit);
  return pad_left(number_in(done, unit), total_text.size()) + "/" + total_text + " " + unit.name;
}

// "[####......]  ": `cells` cells, done <= total.
std::string bar(uint64_t done, uint64_t total, size_t cells) {
  const auto filled = static_cast<size_t>(done * cells / total);
  std::string text = "[";
  text.append(filled, '#');
  text.append(cells - filled, '.');
  return text + "]  ";
}

}  // namespace

std::string format_bytes(uint64_t bytes, uint64_t scale_bytes) {
  const Unit unit = unit_for(scale_bytes);
  return number_in(bytes, unit) + " " + unit.name;
}

std::string format_load_progress(uint64_t done, uint64_t total, int columns) {
  if (total == 0) return kLabel + format_bytes(done, done);
  done = std::min(done, total);
  char percent[8];
  // done <= total < 2^64 / 100 for any real checkpoint; the quotient is 0..100.
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(done * 100 / total));
  const std::string tail = std::string(percent) + "  " + sizes(done, total);
  const int room = columns - 1 - static_cast<int>(std::string(kLabel).size() + 4 + tail.size());
  if (room < kMinBarCells) return kLabel + tail;
  return kLabel + bar(done, total, static_cast<size_t>(std::min(room, kMaxBarCells))) + tail;
}

int terminal_columns(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    const int columns = std::atoi(env);
    if (columns > 0) return columns;
  }
  return 80;
}

ProgressBar::ProgressBar(std::ostream& out, int columns, std::chrono::milliseconds min_interval)
    : out_(out), columns_(columns), min_interval_(min_interval) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(uint64_t done, uint64_t total, Clock::time_point now) {
  if (finished_) return;
  const bool complete = total > 0 && done >= total;
  if (drawn_ && !complete && now - last_draw_ < min_interval_) return;
  last_draw_ = now;
  draw(format_load_progress(done, total, columns_));
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (drawn_) out_ << "\n" << std::flush;
}

void ProgressBar::draw(const std::string& line) {
  out_ << "\r" << line;
  if (line.size() < drawn_length_) out_ << std::string(drawn_length_ - line.size(), ' ');
  drawn_length_ = std::max(drawn_length_, line.size());
  out_ << std::flush;
  drawn_ = true;
}

}  // namespace blip2_cli
