// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "load_progress.h"

#include <cstdio>

namespace blip2gst {

int
load_percent (uint64_t done, uint64_t total)
{
  if (total == 0 || done >= total)
    return 100;
  return (int)((unsigned __int128)done * 100 / total);
}

std::string
load_progress_text (uint64_t done, uint64_t total)
{
  double unit = 1e3;
  const char *name = "kB";
  if (total >= 1000000000) {
    unit = 1e9;
    name = "GB";
  } else if (total >= 1000000) {
    unit = 1e6;
    name = "MB";
  }
  char text[96];
  std::snprintf (text, sizeof text, "loading model: %d%% (%.1f of %.1f %s)",
                 load_percent (done, total), done / unit, total / unit, name);
  return text;
}

LoadProgressThrottle::LoadProgressThrottle (Clock::time_point start,
                                            std::chrono::milliseconds min_gap)
    : min_gap_ (min_gap), last_ (start)
{
}

bool
LoadProgressThrottle::should_report (uint64_t done, uint64_t total, Clock::time_point now)
{
  if (final_reported_)
    return false;
  const int percent = load_percent (done, total);
  if (done >= total) {
    final_reported_ = true;
  } else if (percent <= last_percent_ || now - last_ < min_gap_) {
    return false;
  }
  last_ = now;
  last_percent_ = percent;
  return true;
}

}  // namespace blip2gst
