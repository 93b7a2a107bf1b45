// safetensors_writer.h — test-only writer of .safetensors files, valid or
// deliberately corrupt, so tests can craft exactly the bytes they need.
//
//   using namespace blip2::testing;
//   write_safetensors(path, {f32_tensor("w", {2, 2}, {1, 2, 3, 4})});
//
//   WriteOptions bad;                       // corrupt variants:
//   bad.header_length = 1 << 30;            //   wrong 8-byte header length
//   bad.truncate = 3;                       //   data cut short by 3 bytes
//   bad.header_json = "{not json";          //   any header text at all
//   bad.offsets["w"] = {0, 8};              //   data_offsets of "w" (overlaps)
//   write_safetensors(path, tensors, bad);
//
// Wrong dtype strings and shape/bytes mismatches need no option: a TestTensor's
// dtype string and shape are written verbatim, and its offsets are derived
// from `bytes` alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace blip2::testing {

// One tensor as it will appear in the file.
struct TestTensor {
  std::string name;
  std::string dtype;           // written as is: "F32", "BF16", or anything else
  std::vector<int64_t> shape;  // written as is (need not match bytes)
  std::vector<uint8_t> bytes;  // the data; data_offsets span exactly these
};

struct WriteOptions {
  std::map<std::string, std::string> metadata;                 // "__metadata__"; omitted when empty
  size_t extra_padding = 0;                                    // spaces appended to the header
  std::optional<uint64_t> header_length;                       // written instead of the true length
  std::optional<std::string> header_json;                      // replaces the generated header text
  std::map<std::string, std::pair<int64_t, int64_t>> offsets;  // data_offsets overrides
  size_t truncate = 0;  // bytes dropped from the end of the file
};

// Little-endian element bytes of common types.
TestTensor f32_tensor(const std::string& name,
                      std::vector<int64_t> shape,
                      const std::vector<float>& values);
TestTensor f64_tensor(const std::string& name,
                      std::vector<int64_t> shape,
                      const std::vector<double>& values);
TestTensor i64_tensor(const std::string& name,
                      std::vector<int64_t> shape,
                      const std::vector<int64_t>& values);
// 16-bit floats given as raw bit patterns (e.g. 0x3C00 = 1.0 in F16).
TestTensor bits16_tensor(const std::string& name,
                         const std::string& dtype,
                         std::vector<int64_t> shape,
                         const std::vector<uint16_t>& bits);
// Float values converted with round-to-nearest-even (finite values only).
uint16_t float_to_f16_bits(float value);
uint16_t float_to_bf16_bits(float value);

// The whole file as bytes, and the same written to `path` (overwritten).
std::vector<uint8_t> safetensors_bytes(const std::vector<TestTensor>& tensors,
                                       const WriteOptions& options = {});
void write_safetensors(const std::string& path,
                       const std::vector<TestTensor>& tensors,
                       const WriteOptions& options = {});

// Plain file helpers (throw std::runtime_error on I/O failure).
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text_file(const std::string& path, const std::string& text);
std::vector<uint8_t> read_file(const std::string& path);

// A fresh folder under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace blip2::testing
