// hub_cache.cpp — find a checkpoint in the local Hugging Face cache, offline.
//
// The cache layout is huggingface_hub's (file_download.py / constants.py):
//   <cache>/models--<org>--<name>/refs/<revision>   holds a commit hash
//   <cache>/models--<org>--<name>/snapshots/<hash>/ the files of that commit
// and the cache folder is the first of $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE
// (the older name), $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub and
// ~/.cache/huggingface/hub. Nothing here touches the network.
#include "hub_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "error.h"
#include "file_check.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::string home_dir() {
  std::string home = env("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return ".";
}

fs::path hub_cache_dir() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    std::string value = env(name);
    if (!value.empty()) return fs::path(value);
  }
  std::string hf_home = env("HF_HOME");
  if (!hf_home.empty()) return fs::path(hf_home) / "hub";
  std::string xdg = env("XDG_CACHE_HOME");
  if (!xdg.empty()) return fs::path(xdg) / "huggingface" / "hub";
  return fs::path(home_dir()) / ".cache" / "huggingface" / "hub";
}

// "org/name" or "name": letters, digits, '-', '_', '.', at most one '/', and
// no part that is "." or ".." (huggingface_hub's validate_repo_id, simplified).
bool looks_like_repo_id(const std::string& model) {
  if (model.empty() || model.size() > 96) return false;
  size_t slashes = 0;
  for (char c : model) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '/';
    if (!ok) return false;
    if (c == '/') ++slashes;
  }
  if (slashes > 1 || model.front() == '/' || model.back() == '/') return false;
  size_t slash = model.find('/');
  for (const std::string& part :
       {model.substr(0, slash), slash == std::string::npos ? "x" : model.substr(slash + 1)}) {
    if (part == "." || part == ".." || part.find("--") != std::string::npos) return false;
  }
  return true;
}

std::string read_ref(const fs::path& file) {
  std::ifstream in(file);
  std::string hash;
  if (in) std::getline(in, hash);
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r' || hash.back() == ' ')) {
    hash.pop_back();
  }
  return hash;
}

}  // namespace

std::string hf_download_command(const std::string& model, const std::string& revision) {
  std::string command = "hf download " + model;
  if (!revision.empty()) command += " --revision " + revision;
  return command;
}

namespace {

bool is_commit_hash(const std::string& revision) {
  return revision.size() == 40 &&
         revision.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A revision is a ref name or a hash: no "..", no leading '/', printable.
void check_revision(const std::string& revision) {
  const bool bad = revision.find("..") != std::string::npos || revision.front() == '/' ||
                   std::any_of(revision.begin(), revision.end(),
                               [](unsigned char c) { return c <= ' ' || c == '\\'; });
  if (bad) throw Error(ErrorCode::kInvalidArgument, "malformed revision \"" + revision + "\"");
}

std::string snapshot_of_revision(const std::string& model,
                                 const std::string& revision,
                                 const fs::path& repo_dir) {
  check_revision(revision);
  std::error_code ec;
  const fs::path snapshots = repo_dir / "snapshots";
  const std::string hash =
      is_commit_hash(revision) ? revision : read_ref(repo_dir / "refs" / revision);
  const fs::path snapshot = snapshots / hash;
  if (!hash.empty() && fs::is_directory(snapshot, ec)) return snapshot.string();
  const std::string what = hash.empty() ? "no refs/" + revision + " in " + repo_dir.string()
                                        : "snapshot " + snapshot.string() + " is missing";
  throw Error(ErrorCode::kNotFound, "model '" + model + "' revision '" + revision +
                                        "' is not in the Hugging Face cache (" + what +
                                        "); download it with: " +
                                        hf_download_command(model, revision));
}

std::string only_snapshot(const std::string& model, const fs::path& snapshots) {
  std::error_code ec;
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(snapshots, ec)) {
    if (entry.is_directory(ec)) found.push_back(entry.path());
  }
  if (found.size() == 1) return found.front().string();
  if (found.empty()) {
    throw Error(ErrorCode::kNotFound, "model '" + model + "': the cache holds no snapshot (" +
                                          snapshots.string() + "); download it with: " +
                                          hf_download_command(model));
  }
  throw Error(ErrorCode::kNotFound, "model '" + model + "': " + std::to_string(found.size()) +
                                        " snapshots in " + snapshots.string() +
                                        " and no refs/main to choose one; give a revision");
}

}  // namespace

std::string resolve_model_path(const std::string& model, const std::string& revision) {
  std::error_code ec;
  if (!model.empty() && fs::is_directory(model, ec)) {
    if (!revision.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "a revision (\"" + revision + "\") selects a snapshot of a Hugging Face repo id; '" +
                      model + "' is a folder");
    }
    return model;
  }

  // Not a folder: a path that names something (a file, a link) or that
  // cannot be a repo id is reported as the path it is.
  std::error_code link_ec;
  if (!looks_like_repo_id(model) || fs::exists(fs::symlink_status(model, link_ec))) {
    throw Error(ErrorCode::kNotFound, "model '" + model + "' " + non_folder_entry(model) +
                                          "; a model is a checkpoint folder or a Hugging "
                                          "Face repo id");
  }

  std::string folder_name = "models--" + model;
  for (size_t pos = folder_name.find('/'); pos != std::string::npos;
       pos = folder_name.find('/', pos)) {
    folder_name.replace(pos, 1, "--");
  }
  const fs::path repo_dir = hub_cache_dir() / folder_name;
  const fs::path snapshots = repo_dir / "snapshots";

  if (!fs::is_directory(snapshots, ec)) {
    throw Error(ErrorCode::kNotFound, "model '" + model +
                                          "' is not in the Hugging Face cache (looked for the "
                                          "folder '" + model + "' and for " + repo_dir.string() +
                                          "); download it with: " +
                                          hf_download_command(model, revision));
  }
  if (!revision.empty()) return snapshot_of_revision(model, revision, repo_dir);

  // The revision transformers uses offline by default is "main".
  const std::string hash = read_ref(repo_dir / "refs" / "main");
  if (!hash.empty()) {
    const fs::path snapshot = snapshots / hash;
    if (fs::is_directory(snapshot, ec)) return snapshot.string();
    throw Error(ErrorCode::kNotFound, "model '" + model + "': refs/main names snapshot " + hash +
                                          ", which is missing (" + snapshot.string() +
                                          "); download it again with: " +
                                          hf_download_command(model));
  }
  return only_snapshot(model, snapshots);
}

}  // namespace blip2
