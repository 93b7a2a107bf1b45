// file_check.h — what is wrong with a path that should be a regular file (or
// a folder).
//
// "no weights found" is misleading when model.safetensors exists but is a
// folder, a symbolic link loop or /dev/null: loaders ask here first and name
// the entry and its problem instead.
#pragma once

#include <optional>
#include <string>

namespace blip2 {

// std::nullopt when `path` is a regular file (through symbolic links) or does
// not exist at all; otherwise what it is instead, e.g. "is a directory, not a
// file", "is a symbolic link loop", "is a character device (a symbolic link to
// /dev/null), not a regular file".
std::optional<std::string> unusable_file_entry(const std::string& path);

// What `path`, which should be a folder, is instead: "does not exist", "is a
// regular file, not a folder", "is a symbolic link loop (a symbolic link to
// x)", "is a dangling symbolic link (...)", "is a FIFO, not a folder",
// "cannot be examined: Permission denied". Empty when it is a folder.
std::string non_folder_entry(const std::string& path);

}  // namespace blip2
