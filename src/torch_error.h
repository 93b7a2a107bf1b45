// torch_error.h — exceptions escaping libtorch as one-line blip2::Errors.
//
// A c10::Error's what() carries a C++ backtrace of 20 lines and more; callers
// (the CLI, the element's GStreamer error messages) must get one line naming
// the problem. The full text goes to the debug log only.
#pragma once

#include <string>

namespace blip2 {

// Call inside a catch block: rethrows the exception in flight as a
// blip2::Error whose message is `context` + ": " + one line (a blip2::Error
// passes unchanged). c10::Error and std::bad_alloc become kRuntime.
[[noreturn]] void rethrow_as_blip2_error(const std::string& context);

// `text` on one line: line breaks become "; ", runs of blanks one space, and
// anything past `limit` characters is cut with "...".
std::string one_line(const std::string& text, size_t limit = 400);

}  // namespace blip2
