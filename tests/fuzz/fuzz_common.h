// fuzz_common.h — the readers under test take paths: each input is written
// to a file in a private folder first (on /dev/shm when there is one).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "error.h"

namespace blip2::fuzz {

// A folder of this process, created once, never removed while it runs.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string path = std::string(base) + "/blip2-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

inline std::string write_file(const std::string& name, const std::string& text) {
  return write_file(name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

inline void remove_file(const std::string& name) {
  std::error_code ignored;
  std::filesystem::remove(scratch_dir() + "/" + name, ignored);
}

// Splits the input at the separator "\n#----\n" into at most `n` parts.
inline std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t n) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string separator = "\n#----\n";
  std::vector<std::string> parts;
  size_t begin = 0;
  while (parts.size() + 1 < n) {
    const size_t at = text.find(separator, begin);
    if (at == std::string::npos) break;
    parts.push_back(text.substr(begin, at - begin));
    begin = at + separator.size();
  }
  parts.push_back(text.substr(begin));
  while (parts.size() < n) parts.emplace_back();
  return parts;
}

// A blip2::Error is the expected outcome of a bad input, unless it is the
// tokenizer's last-resort conversion of a JSON library exception, i.e. a check
// the parser forgot (the conversion keeps it from escaping; the fuzzer still
// flags it). Other parsers have no such conversion: an unchecked access
// escapes as another exception type and libFuzzer reports the abort.
inline void expect_checked(const blip2::Error& e) {
  const std::string backstop = "tokenizer files in " + scratch_dir() + ": [json.exception.";
  if (std::string(e.what()).rfind(backstop, 0) == 0) {
    std::fprintf(stderr, "unchecked JSON access: %s\n", e.what());
    std::abort();
  }
}

}  // namespace blip2::fuzz
