// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "jsonlines.h"

#include <nlohmann/json.hpp>

namespace blip2gst {

static nlohmann::ordered_json
time_or_null (ClockTime t)
{
  return is_valid (t) ? nlohmann::ordered_json (t) : nlohmann::ordered_json (nullptr);
}

std::string
caption_json_line (const Finished &caption)
{
  const SampledFrame &frame = caption.frame;
  const bool spanned = is_valid (frame.cue.start) && is_valid (frame.cue.end) &&
                       frame.cue.end >= frame.cue.start;
  nlohmann::ordered_json line = {
      {"pts", time_or_null (frame.pts)},
      {"duration", spanned ? nlohmann::ordered_json (frame.cue.end - frame.cue.start)
                           : nlohmann::ordered_json (nullptr)},
      {"running-time", time_or_null (frame.running_time)},
      {"stream-time", time_or_null (frame.stream_time)},
      {"caption", caption.text},
      {"score", caption.score},
      {"prompt", caption.prompt},
      {"token-count", caption.token_count},
      {"inference-time", caption.inference_time},
  };
  return line.dump (-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

JsonLinesWriter::~JsonLinesWriter ()
{
  close ();
}

bool
JsonLinesWriter::open (const std::string &path)
{
  std::lock_guard<std::mutex> lk (lock_);
  if (file_ != nullptr)
    std::fclose (file_);
  file_ = std::fopen (path.c_str (), "w");
  return file_ != nullptr;
}

void
JsonLinesWriter::close ()
{
  std::lock_guard<std::mutex> lk (lock_);
  if (file_ != nullptr)
    std::fclose (file_);
  file_ = nullptr;
}

void
JsonLinesWriter::write (const Finished &caption)
{
  std::string line = caption_json_line (caption) + "\n";
  std::lock_guard<std::mutex> lk (lock_);
  if (file_ == nullptr)
    return;
  std::fwrite (line.data (), 1, line.size (), file_);
  std::fflush (file_);
}

}  // namespace blip2gst
