// file_check.h — what is wrong with a path that should be a regular file.
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

}  // namespace blip2
