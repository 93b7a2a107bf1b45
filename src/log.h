// log.h — library logging through a user callback (default: silent).
#pragma once

#include <string>

namespace blip2 {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void log_message(LogLevel level, const std::string& message);

}  // namespace blip2
