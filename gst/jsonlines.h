// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The json-location output: one JSON object per caption and line (JSON
// Lines), appended as captions finish and flushed line by line.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "scheduler.h"

namespace blip2gst {

// One caption as a JSON object on one line (no newline): pts, duration,
// running-time, stream-time (ns, null when unknown), caption, score, prompt,
// token-count, inference-time (ns).
std::string caption_json_line (const Finished &caption);

class JsonLinesWriter
{
public:
  ~JsonLinesWriter ();
  // Creates (truncates) `path`; false with errno set when it cannot.
  bool open (const std::string &path);
  void close ();
  // Appends one line; any thread. No-op when closed.
  void write (const Finished &caption);

private:
  std::mutex lock_;
  FILE *file_ = nullptr;
};

}  // namespace blip2gst
