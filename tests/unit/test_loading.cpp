// test_loading.cpp — how the checkpoint gets into the model: progress reports
// (bytes placed so far / in all); CPU weights stored in the model's dtype are
// views of the read-only file mapping (no copy); cast weights are copies whose
// mapped pages are released as loading goes.
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "blip2.h"
#include "fixtures.h"
#include "model_impl.h"
#include "safetensors.h"
#include "safetensors_writer.h"
#include "state_dict.h"

namespace blip2 {
namespace {

using testing::model_dir;
using testing::TempDir;

// The file a process address is mapped from ("" when anonymous or unmapped).
std::string mapped_file_of(const void* address) {
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, dev, inode, path;
    fields >> range >> perms >> offset >> dev >> inode >> path;
    const size_t dash = range.find('-');
    const uintptr_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (target >= begin && target < end) return path.rfind('/', 0) == 0 ? path : "";  // not [heap]
  }
  return "";
}

// Resident bytes of this process's mappings of `file` (/proc/self/smaps).
int64_t resident_bytes_of(const std::string& file) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  int64_t total = 0;
  while (std::getline(smaps, line)) {
    const bool header = !line.empty() && line.find(':') != std::string::npos &&
                        line.find('-') < line.find(' ') && std::isxdigit(line[0]);
    if (header) {
      inside = line.size() >= file.size() && line.compare(line.size() - file.size(), file.size(),
                                                          file) == 0;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      total += std::stoll(line.substr(4)) * 1024;
    }
  }
  return total;
}

// Bytes of every tensor in the checkpoint folder except the stored tied head.
uint64_t used_checkpoint_bytes(const std::string& dir) {
  const Checkpoint checkpoint = Checkpoint::open_directory(dir);
  uint64_t total = 0;
  for (const auto& [name, view] : checkpoint.tensors()) {
    if (name != "language_model.lm_head.weight") total += view.nbytes;
  }
  return total;
}

ModelOptions cpu_options(const std::string& name) {
  ModelOptions options;
  options.path = model_dir(name);
  options.device = "cpu";
  options.dtype = "float32";
  return options;
}

TEST(LoadProgress, ReportsEveryTensorUpToTheTotal) {
  for (const char* name : {"tiny", "tiny-proj"}) {  // one file, and shards
    SCOPED_TRACE(name);
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    ModelOptions options = cpu_options(name);
    options.on_progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
    const auto model = Model::load(options);
    const uint64_t expected_total = used_checkpoint_bytes(options.path);
    ASSERT_GT(calls.size(), 10u);
    EXPECT_EQ(calls.front().first, 0u);
    EXPECT_EQ(calls.back().first, expected_total);
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_EQ(calls[i].second, expected_total) << "call " << i;
      if (i > 0) EXPECT_GT(calls[i].first, calls[i - 1].first) << "call " << i;
    }
    EXPECT_EQ(model->info().weight_bytes, expected_total);
  }
}

TEST(LoadProgress, AnExceptionFromTheCallbackStopsTheLoad) {
  ModelOptions options = cpu_options("tiny");
  int calls = 0;
  options.on_progress = [&](uint64_t done, uint64_t) {
    ++calls;
    if (done > 0) throw std::runtime_error("cancelled by the user");
  };
  try {
    Model::load(options);
    FAIL() << "the load went on after the callback threw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled by the user"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 2);
}

TEST(LoadProgress, AnAlreadySharedModelReportsItselfComplete) {
  ModelOptions options = cpu_options("tiny-coco");
  const auto first = Model::load_shared(options);
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  options.on_progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  const auto second = Model::load_shared(options);
  EXPECT_EQ(first.get(), second.get());
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, first->info().weight_bytes);
  EXPECT_EQ(calls[0].second, first->info().weight_bytes);
  EXPECT_GT(first->info().weight_bytes, 0u);
}

TEST(MappedWeights, CpuWeightsInTheFileDtypeAreTheMappingItself) {
  const auto model = Model::load(cpu_options("tiny-proj"));  // float32 shards
  size_t shared = 0, total = 0;
  for (const auto& p : model->impl().net->named_parameters()) {
    const std::string file = mapped_file_of(p.value().data_ptr());
    EXPECT_NE(file.find(".safetensors"), std::string::npos) << p.key() << " is a copy";
    shared += file.empty() ? 0 : 1;
    ++total;
  }
  EXPECT_EQ(shared, total);
}

// float16 keeps the Q-Former in float32 (the file's dtype: mapped), bfloat16
// casts everything (transformers' policy).
TEST(MappedWeights, CastWeightsAreCopiesExceptTheFloat32QFormer) {
  for (const char* dtype : {"float16", "bfloat16"}) {
    SCOPED_TRACE(dtype);
    ModelOptions options = cpu_options("tiny");
    options.dtype = dtype;
    const auto model = Model::load(options);
    for (const auto& p : model->impl().net->named_parameters()) {
      const bool float32_part = std::string(dtype) == "float16" &&
                                (p.key().rfind("qformer.", 0) == 0 || p.key() == "query_tokens");
      const std::string file = mapped_file_of(p.value().data_ptr());
      EXPECT_EQ(file.empty(), !float32_part) << p.key() << " mapped from '" << file << "'";
    }
  }
}

// A module with one float32 [1024, 1024] weight (4 MiB once cast).
struct WideImpl : torch::nn::Module {
  WideImpl() { weight = register_parameter("weight", torch::zeros({1024, 1024}), false); }
  torch::Tensor weight;
};
TORCH_MODULE(Wide);

// A checkpoint of Wide's weight stored as float16 (2 MiB) or float32.
Checkpoint wide_checkpoint(const TempDir& dir, bool half) {
  std::vector<float> values(1024 * 1024);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 97) * 0.25f;
  if (half) {
    std::vector<uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) bits[i] = testing::float_to_f16_bits(values[i]);
    testing::write_safetensors(dir.file("model.safetensors"),
                               {testing::bits16_tensor("weight", "F16", {1024, 1024}, bits)});
  } else {
    testing::write_safetensors(dir.file("model.safetensors"),
                               {testing::f32_tensor("weight", {1024, 1024}, values)});
  }
  return Checkpoint::open_directory(dir.path());
}

TEST(MappedWeights, CastingReleasesTheMappedPagesAsItGoes) {
  for (bool release : {false, true}) {
    SCOPED_TRACE(release ? "release" : "keep");
    TempDir dir;
    const Checkpoint checkpoint = wide_checkpoint(dir, /*half=*/true);
    Wide module;
    LoadOptions options;
    options.release_copied = release;
    load_state_dict(*module, checkpoint, {}, {}, options);
    EXPECT_EQ(module->weight[1023][1023].item<float>(), static_cast<float>((1024 * 1024 - 1) % 97) * 0.25f);
    const int64_t resident = resident_bytes_of(dir.file("model.safetensors"));
    if (release) {
      EXPECT_LT(resident, 64 * 1024) << "the 2 MiB of float16 stayed mapped in";
    } else {
      EXPECT_GE(resident, 2 * 1024 * 1024 - 8192);  // what the copy read stays resident
    }
  }
}

TEST(MappedWeights, ASharedWeightKeepsItsFileMappedAfterTheCheckpointCloses) {
  TempDir dir;
  Wide module;
  {
    const Checkpoint checkpoint = wide_checkpoint(dir, /*half=*/false);
    LoadOptions options;
    options.share_mapping = true;
    load_state_dict(*module, checkpoint, {}, {}, options);
    EXPECT_EQ(module->weight.data_ptr(),
              static_cast<const void*>(checkpoint.find("weight")->data));
  }
  EXPECT_NE(mapped_file_of(module->weight.data_ptr()).find("model.safetensors"), std::string::npos);
  EXPECT_EQ(module->weight[1023][1023].item<float>(), static_cast<float>((1024 * 1024 - 1) % 97) * 0.25f);
  const at::Tensor expected =
      (torch::arange(1024 * 1024, torch::kLong).remainder(97).to(torch::kFloat) * 0.25f)
          .view({1024, 1024});
  EXPECT_TRUE(torch::equal(module->weight, expected));
}

}  // namespace
}  // namespace blip2
