// Model resolution from the local Hugging Face cache: folders, repo ids,
// refs/main, revisions (branch, tag, commit hash) and the hf download hint.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "error.h"
#include "hub_cache.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kMainHash = "1111111111111111111111111111111111111111";
constexpr const char* kTagHash = "2222222222222222222222222222222222222222";

class HubCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("blip2-hub-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
    setenv("HF_HUB_CACHE", root_.c_str(), 1);
    repo_ = root_ / "models--org--tiny";
    fs::create_directories(repo_ / "snapshots" / kMainHash);
    fs::create_directories(repo_ / "snapshots" / kTagHash);
    write_ref("main", kMainHash);
    write_ref("v1.0", kTagHash);
  }
  void TearDown() override {
    fs::remove_all(root_);
    unsetenv("HF_HUB_CACHE");
  }
  void write_ref(const std::string& name, const std::string& hash) {
    fs::create_directories((repo_ / "refs" / name).parent_path());
    std::ofstream(repo_ / "refs" / name) << hash;
  }
  std::string snapshot(const char* hash) { return (repo_ / "snapshots" / hash).string(); }

  fs::path root_, repo_;
};

blip2::Error error_of(const std::string& model, const std::string& revision = "") {
  try {
    blip2::resolve_model_path(model, revision);
  } catch (const blip2::Error& e) {
    return e;
  }
  ADD_FAILURE() << model << "@" << revision << " resolved";
  return blip2::Error(blip2::ErrorCode::kRuntime, "");
}

TEST_F(HubCacheTest, FolderIsReturnedAsIs) {
  EXPECT_EQ(blip2::resolve_model_path(root_.string()), root_.string());
}

TEST_F(HubCacheTest, RevisionWithAFolderIsAnInvalidArgument) {
  const blip2::Error e = error_of(root_.string(), "main");
  EXPECT_EQ(e.code(), blip2::ErrorCode::kInvalidArgument) << e.what();
}

TEST_F(HubCacheTest, RepoIdResolvesThroughRefsMain) {
  EXPECT_EQ(blip2::resolve_model_path("org/tiny"), snapshot(kMainHash));
}

TEST_F(HubCacheTest, RevisionNamesABranchOrTag) {
  EXPECT_EQ(blip2::resolve_model_path("org/tiny", "v1.0"), snapshot(kTagHash));
  EXPECT_EQ(blip2::resolve_model_path("org/tiny", "main"), snapshot(kMainHash));
}

TEST_F(HubCacheTest, RevisionMayBeACommitHash) {
  EXPECT_EQ(blip2::resolve_model_path("org/tiny", kTagHash), snapshot(kTagHash));
}

TEST_F(HubCacheTest, RefsInAFolderLikePullRequests) {
  write_ref("pr/3", kTagHash);
  EXPECT_EQ(blip2::resolve_model_path("org/tiny", "pr/3"), snapshot(kTagHash));
}

TEST_F(HubCacheTest, MissingRevisionSaysTheDownloadCommand) {
  const blip2::Error e = error_of("org/tiny", "v2.0");
  EXPECT_EQ(e.code(), blip2::ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("hf download org/tiny --revision v2.0"), std::string::npos)
      << e.what();
}

TEST_F(HubCacheTest, UncachedModelSaysTheExactDownloadCommand) {
  const blip2::Error e = error_of("Salesforce/blip2-opt-2.7b-coco");
  EXPECT_EQ(e.code(), blip2::ErrorCode::kNotFound);
  const std::string message = e.what();
  EXPECT_NE(message.find("hf download Salesforce/blip2-opt-2.7b-coco"), std::string::npos)
      << message;
  EXPECT_EQ(message.find("--revision"), std::string::npos) << message;
}

TEST_F(HubCacheTest, WithoutRefsMainTheOnlySnapshotIsUsed) {
  fs::remove(repo_ / "refs" / "main");
  fs::remove_all(repo_ / "snapshots" / kTagHash);
  EXPECT_EQ(blip2::resolve_model_path("org/tiny"), snapshot(kMainHash));
}

TEST_F(HubCacheTest, MalformedRevisionIsAnInvalidArgument) {
  EXPECT_EQ(error_of("org/tiny", "../../etc").code(), blip2::ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("org/tiny", "has space").code(), blip2::ErrorCode::kInvalidArgument);
}

// A model that is neither a folder nor a repo id is named with what it is
// instead: missing, a regular file, a symbolic link loop or a dangling link.
TEST_F(HubCacheTest, APathThatIsNotAFolderSaysWhatItIs) {
  const fs::path file = root_ / "model.safetensors";
  std::ofstream(file) << "x";
  const fs::path loop = root_ / "loop";
  fs::create_symlink(loop, loop);
  const fs::path dangling = root_ / "dangling";
  fs::create_symlink(root_ / "gone", dangling);
  const std::pair<fs::path, const char*> cases[] = {
      {root_ / "missing", "does not exist"},
      {file, "is a regular file, not a folder"},
      {loop, "is a symbolic link loop"},
      {dangling, "is a dangling symbolic link"},
  };
  for (const auto& [path, what] : cases) {
    const std::string message = error_of(path.string()).what();
    EXPECT_NE(message.find("model '" + path.string() + "' " + what), std::string::npos) << message;
  }
}

// A relative name that could be a repo id but names a file is reported as
// that file, not looked for in the cache.
TEST_F(HubCacheTest, AFileNamedLikeARepoIdIsReportedAsAFile) {
  const fs::path old_cwd = fs::current_path();
  fs::current_path(root_);
  std::ofstream("weights.bin") << "x";
  const std::string message = error_of("weights.bin").what();
  fs::current_path(old_cwd);
  EXPECT_NE(message.find("model 'weights.bin' is a regular file, not a folder"), std::string::npos)
      << message;
}

TEST(HfDownloadCommand, NamesTheRevisionOnlyWhenGiven) {
  EXPECT_EQ(blip2::hf_download_command("a/b"), "hf download a/b");
  EXPECT_EQ(blip2::hf_download_command("a/b", "v1"), "hf download a/b --revision v1");
}

}  // namespace
