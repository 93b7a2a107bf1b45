#include "file_check.h"

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace blip2 {
namespace {

namespace fs = std::filesystem;

const char* kind_of(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::socket:
      return "a socket";
    default:
      return "not a regular file";
  }
}

std::string link_note(const fs::path& path) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(path, ec);
  return ec ? std::string() : " (a symbolic link to " + target.string() + ")";
}

}  // namespace

std::optional<std::string> unusable_file_entry(const std::string& path) {
  std::error_code ec;
  const fs::file_status own = fs::symlink_status(path, ec);
  if (ec || !fs::exists(own)) return std::nullopt;  // absent: the caller's "not found"
  const bool is_link = fs::is_symlink(own);
  const fs::file_status target = fs::status(path, ec);
  if (ec) {
    if (ec.value() == ELOOP) return "is a symbolic link loop" + link_note(path);
    if (ec.value() == ENOENT) return "is a dangling symbolic link" + link_note(path);
    return "cannot be examined: " + ec.message();
  }
  if (fs::is_regular_file(target)) return std::nullopt;
  const std::string note = is_link ? link_note(path) : "";
  if (fs::is_directory(target)) return "is a directory" + note + ", not a file";
  return std::string("is ") + kind_of(target.type()) + note + ", not a regular file";
}

}  // namespace blip2
