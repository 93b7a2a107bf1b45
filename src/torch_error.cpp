#include "torch_error.h"

#include <c10/util/Exception.h>

#include <new>

#include "error.h"
#include "log.h"

namespace blip2 {

std::string one_line(const std::string& text, size_t limit) {
  std::string out;
  bool pending_break = false;
  bool pending_space = false;
  for (char ch : text) {
    if (ch == '\n' || ch == '\r') {
      pending_break = !out.empty();
      continue;
    }
    if (ch == ' ' || ch == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_break) {
      out += "; ";
    } else if (pending_space) {
      out += ' ';
    }
    pending_break = pending_space = false;
    out += ch;
  }
  if (out.size() > limit) out = out.substr(0, limit - 3) + "...";
  return out;
}

void rethrow_as_blip2_error(const std::string& context) {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    log_message(LogLevel::kDebug, context + ": " + e.what());  // with the backtrace
    throw Error(ErrorCode::kRuntime, context + ": " + one_line(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kRuntime, context + ": out of memory");
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kRuntime, context + ": " + one_line(e.what()));
  } catch (...) {
    throw Error(ErrorCode::kRuntime, context + ": unknown error");
  }
}

}  // namespace blip2
