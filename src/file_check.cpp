#include "file_check.h"

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace blip2 {
namespace {

namespace fs = std::filesystem;

const char* kind_of(fs::file_type type) {
  switch (type) {
    case fs::file_type::regular:
      return "a regular file";
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

// What a path is: whether it names anything, whether it is a symbolic link,
// what it resolves to, and what stops it resolving ("" when nothing).
struct Entry {
  bool exists = false;
  bool is_link = false;
  fs::file_status target;
  std::string problem;
};

Entry examine(const std::string& path) {
  Entry e;
  std::error_code ec;
  const fs::file_status own = fs::symlink_status(path, ec);
  if (!fs::exists(own)) {
    e.problem =
        ec && ec.value() != ENOENT ? "cannot be examined: " + ec.message() : "does not exist";
    return e;
  }
  e.exists = true;
  e.is_link = fs::is_symlink(own);
  e.target = fs::status(path, ec);
  if (ec.value() == ELOOP) {
    e.problem = "is a symbolic link loop" + link_note(path);
  } else if (ec.value() == ENOENT) {
    e.problem = "is a dangling symbolic link" + link_note(path);
  } else if (ec) {
    e.problem = "cannot be examined: " + ec.message();
  }
  return e;
}

}  // namespace

std::optional<std::string> unusable_file_entry(const std::string& path) {
  const Entry e = examine(path);
  if (!e.exists) return std::nullopt;  // absent: the caller's "not found"
  if (!e.problem.empty()) return e.problem;
  if (fs::is_regular_file(e.target)) return std::nullopt;
  const std::string note = e.is_link ? link_note(path) : "";
  if (fs::is_directory(e.target)) return "is a directory" + note + ", not a file";
  return std::string("is ") + kind_of(e.target.type()) + note + ", not a regular file";
}

std::string non_folder_entry(const std::string& path) {
  const Entry e = examine(path);
  if (!e.problem.empty()) return e.problem;
  if (fs::is_directory(e.target)) return "";
  const std::string note = e.is_link ? link_note(path) : "";
  return std::string("is ") + kind_of(e.target.type()) + note + ", not a folder";
}

}  // namespace blip2
