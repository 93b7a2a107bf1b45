#include "log.h"

#include <mutex>

#include "blip2.h"

namespace blip2 {
namespace {

std::mutex& callback_mutex() {
  static std::mutex mutex;
  return mutex;
}

LogCallback& callback() {
  static LogCallback cb;
  return cb;
}

}  // namespace

void set_log_callback(LogCallback cb) {
  std::lock_guard<std::mutex> lock(callback_mutex());
  callback() = std::move(cb);
}

void log_message(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(callback_mutex());
  if (callback()) callback()(static_cast<int>(level), message);
}

}  // namespace blip2
