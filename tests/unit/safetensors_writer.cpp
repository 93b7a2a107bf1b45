// safetensors_writer.cpp — test-only safetensors writer (see the header).
#include "safetensors_writer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace blip2::testing {
namespace {

template <typename T>
TestTensor pack(const std::string& name,
                const std::string& dtype,
                std::vector<int64_t> shape,
                const std::vector<T>& values) {
  TestTensor tensor{name, dtype, std::move(shape), {}};
  tensor.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  return tensor;
}

std::string header_text(const std::vector<TestTensor>& tensors, const WriteOptions& options) {
  if (options.header_json) return *options.header_json;
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!options.metadata.empty()) header["__metadata__"] = options.metadata;
  int64_t offset = 0;
  for (const auto& tensor : tensors) {
    std::pair<int64_t, int64_t> range{offset, offset + static_cast<int64_t>(tensor.bytes.size())};
    offset = range.second;
    auto override_it = options.offsets.find(tensor.name);
    if (override_it != options.offsets.end()) range = override_it->second;
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {range.first, range.second}}};
  }
  std::string text = header.dump();
  // Like the reference writer: pad with spaces so the data starts 8-aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void append_le64(std::vector<uint8_t>& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace

TestTensor f32_tensor(const std::string& name,
                      std::vector<int64_t> shape,
                      const std::vector<float>& values) {
  return pack(name, "F32", std::move(shape), values);
}

TestTensor f64_tensor(const std::string& name,
                      std::vector<int64_t> shape,
                      const std::vector<double>& values) {
  return pack(name, "F64", std::move(shape), values);
}

TestTensor i64_tensor(const std::string& name,
                      std::vector<int64_t> shape,
                      const std::vector<int64_t>& values) {
  return pack(name, "I64", std::move(shape), values);
}

TestTensor bits16_tensor(const std::string& name,
                         const std::string& dtype,
                         std::vector<int64_t> shape,
                         const std::vector<uint16_t>& bits) {
  return pack(name, dtype, std::move(shape), bits);
}

uint16_t float_to_bf16_bits(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

uint16_t float_to_f16_bits(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f) return sign | 0x7C00;  // rounds to infinity
  if (magnitude < 6.103515625e-05f) {               // subnormal: multiples of 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(magnitude * 16777216.0f));
  }
  uint32_t abs_bits = bits & 0x7FFFFFFF;
  uint32_t rounding = 0xFFF + ((abs_bits >> 13) & 1);
  uint32_t rounded = abs_bits + rounding;  // round the 23-bit mantissa to 10 bits
  return sign | static_cast<uint16_t>(((rounded >> 13) - ((127 - 15) << 10)));
}

std::vector<uint8_t> safetensors_bytes(const std::vector<TestTensor>& tensors,
                                       const WriteOptions& options) {
  std::string header = header_text(tensors, options);
  header.append(options.extra_padding, ' ');
  std::vector<uint8_t> out;
  append_le64(out, options.header_length.value_or(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& tensor : tensors)
    out.insert(out.end(), tensor.bytes.begin(), tensor.bytes.end());
  out.resize(out.size() - std::min(options.truncate, out.size()));
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<TestTensor>& tensors,
                       const WriteOptions& options) {
  write_file(path, safetensors_bytes(tensors, options));
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text_file(const std::string& path, const std::string& text) {
  write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "blip2-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace blip2::testing
