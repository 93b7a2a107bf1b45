// safetensors.h — memory-mapped reader for safetensors checkpoints (torch-free).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace blip2 {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };
const char* dtype_name(DType dtype);  // "F32", "F16", ...
size_t dtype_size(DType dtype);       // bytes per element

// One tensor inside a mapped file; `data` stays valid while the owning
// SafetensorsFile (or Checkpoint) lives.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // the file it came from (for error messages)
  int64_t numel() const;
};

// A single .safetensors file, mmapped read-only. Validates the whole header
// (length, JSON, dtypes, shapes vs. byte ranges, overlaps, file size) on open
// and throws blip2::Error (kNotFound / kInvalidFormat / kUnsupported) naming
// the file and the tensor.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }
  ~SafetensorsFile();

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Lets the kernel drop this process's pages of the tensor's bytes (only the
// whole pages inside them); the mapping stays valid and refaults from the file
// if read again. For tensors already copied elsewhere.
void release_pages(const TensorView& view);

// All weights of a checkpoint folder: model.safetensors, or the shards named by
// model.safetensors.index.json (each shard opened once; every name in the
// weight_map must be found in its shard).
class Checkpoint {
 public:
  static Checkpoint open_directory(const std::string& dir);
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  const std::string& directory() const { return dir_; }
  // The mapped file a tensor of this checkpoint lies in (keeps the mapping alive).
  std::shared_ptr<const SafetensorsFile> file_of(const TensorView& view) const;

 private:
  void load_sharded(const std::string& index_path);
  std::string dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace blip2
