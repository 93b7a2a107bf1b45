#include "error.h"

namespace blip2 {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kInvalidFormat:
      return "invalid-format";
    case ErrorCode::kConfigMismatch:
      return "config-mismatch";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
    case ErrorCode::kRuntime:
      return "runtime";
    case ErrorCode::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace blip2
