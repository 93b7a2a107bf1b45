// safetensors.cpp — validating, memory-mapped reader for .safetensors files and
// for checkpoint folders (single file or sharded with an index).
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, data.
// Every header entry is checked against the file before any TensorView is
// handed out, so later code can trust `data`/`nbytes` without re-checking.
#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "error.h"
#include "file_check.h"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts are not supported");

namespace blip2 {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kMaxIndexBytes = 256ull << 20;
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

[[noreturn]] void fail(ErrorCode code, const std::string& file, const std::string& what) {
  throw Error(code, file + ": " + what);
}

[[noreturn]] void fail_tensor(ErrorCode code,
                              const std::string& file,
                              const std::string& tensor,
                              const std::string& what) {
  fail(code, file, "tensor '" + tensor + "': " + what);
}

std::string short_dump(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

// Reads a non-negative JSON integer; anything else (negative, float, string,
// out of uint64 range) is a format error.
uint64_t as_unsigned(const json& value,
                     const std::string& file,
                     const std::string& tensor,
                     const char* field) {
  if (!value.is_number_unsigned()) {
    fail_tensor(ErrorCode::kInvalidFormat, file, tensor,
                std::string(field) + " must hold non-negative integers, got " + short_dump(value));
  }
  return value.get<uint64_t>();
}

DType parse_dtype(const json& value, const std::string& file, const std::string& tensor) {
  if (!value.is_string()) {
    fail_tensor(ErrorCode::kInvalidFormat, file, tensor,
                "dtype must be a string, got " + short_dump(value));
  }
  const auto& text = value.get_ref<const std::string&>();
  for (const auto& entry : kDTypes) {
    if (text == entry.name) return entry.dtype;
  }
  fail_tensor(ErrorCode::kUnsupported, file, tensor,
              "dtype " + short_dump(value) +
                  " is not supported (supported: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL)");
}

std::vector<int64_t> parse_shape(const json& value,
                                 const std::string& file,
                                 const std::string& tensor) {
  if (!value.is_array()) {
    fail_tensor(ErrorCode::kInvalidFormat, file, tensor,
                "shape must be an array, got " + short_dump(value));
  }
  std::vector<int64_t> shape;
  for (const auto& dim : value) {
    uint64_t d = as_unsigned(dim, file, tensor, "shape");
    if (d > static_cast<uint64_t>(INT64_MAX)) {
      fail_tensor(ErrorCode::kInvalidFormat, file, tensor, "shape dimension too large");
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

// Bytes a tensor of `shape` and `dtype` needs, or a format error on overflow.
uint64_t expected_nbytes(const std::vector<int64_t>& shape,
                         DType dtype,
                         const std::string& file,
                         const std::string& tensor) {
  // An empty tensor needs no bytes even if another dimension is huge.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  uint64_t total = dtype_size(dtype);
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(dim), &total)) {
      fail_tensor(ErrorCode::kInvalidFormat, file, tensor, "shape size overflows");
    }
  }
  return total;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// Parses the header JSON; a duplicate top-level key is an error (JSON
// parsers differ on which copy wins, so such a file is ambiguous).
json parse_header_json(const char* begin, const char* end, const std::string& file) {
  std::string duplicate;
  std::set<std::string> seen;
  json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string()) {
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  json header;
  try {
    header = json::parse(begin, end, on_event, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    fail(ErrorCode::kInvalidFormat, file, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(ErrorCode::kInvalidFormat, file, "header is not a JSON object");
  if (!duplicate.empty()) {
    fail(ErrorCode::kInvalidFormat, file, "header names tensor '" + duplicate + "' twice");
  }
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& file) {
  if (value.is_null()) return {};  // the reference reader treats null as "no metadata"
  if (!value.is_object()) fail(ErrorCode::kInvalidFormat, file, "__metadata__ is not an object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, entry] : value.items()) {
    if (!entry.is_string()) {
      fail(ErrorCode::kInvalidFormat, file,
           "__metadata__ value of '" + key + "' is not a string: " + short_dump(entry));
    }
    metadata[key] = entry.get<std::string>();
  }
  return metadata;
}

// Validates one header entry against the data section and returns its view.
TensorView parse_entry(const std::string& name,
                       const json& entry,
                       const uint8_t* data,
                       uint64_t data_size,
                       const std::string& file) {
  if (!entry.is_object()) {
    fail_tensor(ErrorCode::kInvalidFormat, file, name, "header entry is not an object");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) {
      fail_tensor(ErrorCode::kInvalidFormat, file, name, std::string("missing '") + field + "'");
    }
  }
  TensorView view;
  view.name = name;
  view.file = file;
  view.dtype = parse_dtype(entry["dtype"], file, name);
  view.shape = parse_shape(entry["shape"], file, name);
  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail_tensor(ErrorCode::kInvalidFormat, file, name,
                "data_offsets must be [begin, end], got " + short_dump(offsets));
  }
  uint64_t begin = as_unsigned(offsets[0], file, name, "data_offsets");
  uint64_t end = as_unsigned(offsets[1], file, name, "data_offsets");
  if (begin > end || end > data_size) {
    fail_tensor(ErrorCode::kInvalidFormat, file, name,
                "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                    "] outside the data section of " + std::to_string(data_size) + " bytes");
  }
  uint64_t needed = expected_nbytes(view.shape, view.dtype, file, name);
  if (needed != end - begin) {
    fail_tensor(ErrorCode::kInvalidFormat, file, name,
                "shape " + shape_string(view.shape) + " of " + dtype_name(view.dtype) + " needs " +
                    std::to_string(needed) + " bytes but data_offsets span " +
                    std::to_string(end - begin));
  }
  view.data = data + begin;
  view.nbytes = static_cast<size_t>(end - begin);
  return view;
}

// Non-empty byte ranges must not share any byte.
void check_no_overlap(const std::map<std::string, TensorView>& tensors, const std::string& file) {
  std::vector<const TensorView*> ranges;
  for (const auto& [name, view] : tensors) {
    if (view.nbytes > 0) ranges.push_back(&view);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const TensorView* a, const TensorView* b) { return a->data < b->data; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const TensorView& prev = *ranges[i - 1];
    if (prev.data + prev.nbytes > ranges[i]->data) {
      fail(ErrorCode::kInvalidFormat, file,
           "byte ranges of tensors '" + prev.name + "' and '" + ranges[i]->name + "' overlap");
    }
  }
}

uint64_t read_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Opens `path` read-only; returns the descriptor and its size.
int open_regular_file(const std::string& path, size_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    ErrorCode code = (err == ENOENT || err == ENOTDIR) ? ErrorCode::kNotFound : ErrorCode::kRuntime;
    fail(code, path, std::string("cannot open: ") + std::strerror(err));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kInvalidFormat, path, "not a regular file");
  }
  *size = static_cast<size_t>(info.st_size);
  return fd;
}

std::string read_small_file(const std::string& path, uint64_t limit) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) fail(ErrorCode::kNotFound, path, "cannot read: " + ec.message());
  if (size > limit) fail(ErrorCode::kInvalidFormat, path, "file is unreasonably large");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::kNotFound, path, "cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(ErrorCode::kRuntime, path, "read error");
  return text.str();
}

bool is_plain_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// A shard name from an index must stay inside the checkpoint folder.
void check_shard_name(const std::string& shard, const std::string& index_path) {
  fs::path p(shard);
  bool escapes = shard.empty() || p.is_absolute();
  for (const auto& part : p) escapes = escapes || part == "..";
  if (escapes) {
    fail(ErrorCode::kInvalidFormat, index_path,
         "shard file name '" + shard + "' must be a relative path inside the folder");
  }
}

// weight_map of an index file: tensor name -> shard file name.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  std::string text = read_small_file(index_path, kMaxIndexBytes);
  json index;
  try {
    index = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kInvalidFormat, index_path, std::string("not valid JSON: ") + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail(ErrorCode::kInvalidFormat, index_path, "no \"weight_map\" object");
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      fail(ErrorCode::kInvalidFormat, index_path,
           "weight_map entry '" + name + "' is not a file name: " + short_dump(shard));
    }
    check_shard_name(shard.get<std::string>(), index_path);
    weight_map[name] = shard.get<std::string>();
  }
  if (weight_map.empty()) fail(ErrorCode::kInvalidFormat, index_path, "weight_map is empty");
  return weight_map;
}

std::vector<std::string> pickle_files_in(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with("pytorch_model") &&
        (name.ends_with(".bin") || name.ends_with(".bin.index.json"))) {
      found.push_back(name);
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

[[noreturn]] void fail_no_weights(const std::string& dir) {
  std::string message =
      dir + ": no weights found (looked for " + kIndexName + " and " + kSingleName + ")";
  auto pickles = pickle_files_in(dir);
  if (!pickles.empty()) {
    message += "; found " + pickles.front() +
               (pickles.size() > 1 ? " and " + std::to_string(pickles.size() - 1) + " more" : "") +
               ", but PyTorch .bin (pickle) checkpoints are not supported: convert them to "
               "safetensors";
  }
  throw Error(ErrorCode::kNotFound, message);
}

// Neither weights file is a regular file: an entry that exists anyway (a
// folder, a link loop, /dev/null) is named with what is wrong with it.
[[noreturn]] void fail_unusable_or_absent(const std::vector<std::string>& candidates,
                                          const std::string& dir) {
  for (const auto& path : candidates) {
    if (auto problem = unusable_file_entry(path)) fail(ErrorCode::kInvalidFormat, path, *problem);
  }
  fail_no_weights(dir);
}

}  // namespace

const char* dtype_name(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.name;
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.size;
  }
  return 0;
}

int64_t TensorView::numel() const {
  // Validated on open: a non-empty tensor's element count fits its bytes.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  size_t size = 0;
  int fd = open_regular_file(path, &size);
  if (size < 8) {
    ::close(fd);
    fail(ErrorCode::kInvalidFormat, path,
         "too short for a safetensors file (" + std::to_string(size) + " bytes)");
  }
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) {
    fail(ErrorCode::kRuntime, path, std::string("mmap failed: ") + std::strerror(map_errno));
  }
  file->mapping_ = mapping;  // from here on the destructor unmaps, also on throw
  file->mapping_size_ = size;

  const auto* bytes = static_cast<const uint8_t*>(mapping);
  uint64_t header_size = read_le64(bytes);
  if (header_size > size - 8 || header_size > kMaxHeaderBytes) {
    fail(ErrorCode::kInvalidFormat, path,
         "header length " + std::to_string(header_size) + " exceeds the file (" +
             std::to_string(size) + " bytes) or the 100 MB limit");
  }
  const char* header_text = reinterpret_cast<const char*>(bytes + 8);
  json header = parse_header_json(header_text, header_text + header_size, path);
  const uint8_t* data = bytes + 8 + header_size;
  uint64_t data_size = size - 8 - header_size;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      file->metadata_ = parse_metadata(entry, path);
    } else {
      file->tensors_.emplace(name, parse_entry(name, entry, data, data_size, path));
    }
  }
  check_no_overlap(file->tensors_, path);
  return file;
}

void release_pages(const TensorView& view) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(view.data);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + view.nbytes) / page * page;
  // advisory: a failure only means the pages stay resident
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

Checkpoint Checkpoint::open_directory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(ErrorCode::kNotFound, dir + ": checkpoint folder does not exist");
  }
  Checkpoint checkpoint;
  checkpoint.dir_ = dir;
  fs::path index_path = fs::path(dir) / kIndexName;
  fs::path single_path = fs::path(dir) / kSingleName;
  if (is_plain_file(index_path)) {
    checkpoint.load_sharded(index_path.string());
  } else if (is_plain_file(single_path)) {
    auto file = SafetensorsFile::open(single_path.string());
    checkpoint.tensors_ = file->tensors();
    checkpoint.files_.push_back(std::move(file));
  } else {
    fail_unusable_or_absent({index_path.string(), single_path.string()}, dir);
  }
  return checkpoint;
}

void Checkpoint::load_sharded(const std::string& index_path) {
  auto weight_map = read_weight_map(index_path);
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (const auto& [name, shard] : weight_map) {
    if (!shards.count(shard)) {
      shards[shard] = SafetensorsFile::open((fs::path(dir_) / shard).string());
    }
    const auto& in_shard = shards[shard]->tensors();
    auto it = in_shard.find(name);
    if (it == in_shard.end()) {
      fail(ErrorCode::kInvalidFormat, index_path,
           "tensor '" + name + "' is listed for shard " + shard + " but that file lacks it");
    }
    tensors_.emplace(name, it->second);
  }
  for (const auto& [shard, file] : shards) {
    for (const auto& [name, view] : file->tensors()) {
      auto listed = weight_map.find(name);
      if (listed == weight_map.end() || listed->second != shard) {
        fail(ErrorCode::kInvalidFormat, file->path(),
             "tensor '" + name + "' is not assigned to this shard by " + index_path);
      }
    }
    files_.push_back(file);
  }
}

std::shared_ptr<const SafetensorsFile> Checkpoint::file_of(const TensorView& view) const {
  for (const auto& file : files_) {
    if (file->path() == view.file) return file;
  }
  throw Error(ErrorCode::kInvalidArgument,
              view.file + ": tensor '" + view.name + "' is not part of checkpoint " + dir_);
}

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace blip2
