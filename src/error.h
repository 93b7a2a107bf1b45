// error.h — the one exception type the library throws.
//
// Everything below src/ reports failures as blip2::Error; the facade converts
// c10::Error and std::exception into it, so callers (the GStreamer element, the
// CLI) catch exactly one type. The library never aborts or exits.
#pragma once

#include <stdexcept>
#include <string>

namespace blip2 {

enum class ErrorCode {
  kNotFound,         // a file or folder does not exist
  kInvalidFormat,    // a file exists but is corrupt, truncated or malformed
  kConfigMismatch,   // config.json and the weights (or two files) disagree
  kUnsupported,      // valid but not supported here (dtype, device, format)
  kInvalidArgument,  // a bad value passed by the caller
  kRuntime,          // anything else that failed while running
  kCancelled,        // the caller cancelled the call (GenerationOptions::cancel)
};

// Short stable name of a code ("not-found", "invalid-format", ...).
const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace blip2
