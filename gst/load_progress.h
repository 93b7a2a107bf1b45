// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// When the element reports a model load's progress (GST_MESSAGE_PROGRESS
// CONTINUE), and in what words. Plain C++ without GStreamer, unit-tested alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace blip2gst {

// Whole percent of `done` bytes of `total` (0..100; 100 when total is 0).
int load_percent (uint64_t done, uint64_t total);

// "loading model: 42% (1.2 of 2.9 GB)" (kB, MB or GB after the total).
std::string load_progress_text (uint64_t done, uint64_t total);

// Picks the progress calls worth a message: the last one (done == total)
// always, once; another only when its percent grew since the last report and
// at least `min_gap` after it (or after the throttle was made, i.e. START).
class LoadProgressThrottle
{
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kDefaultGap{250};

  explicit LoadProgressThrottle (Clock::time_point start,
                                 std::chrono::milliseconds min_gap = kDefaultGap);
  bool should_report (uint64_t done, uint64_t total, Clock::time_point now);

 private:
  std::chrono::milliseconds min_gap_;
  Clock::time_point last_;
  int last_percent_ = 0;
  bool final_reported_ = false;
};

}  // namespace blip2gst
