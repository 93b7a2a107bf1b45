#include "ppm.h"

#include <cctype>
#include <fstream>
#include <iterator>

#include "error.h"

namespace blip2 {
namespace {

constexpr int64_t kMaxSide = 1 << 16;

// Skips whitespace and '#' comments, then reads one unsigned decimal.
int64_t read_header_number(const std::string& data, size_t& pos, const std::string& path) {
  while (pos < data.size()) {
    if (data[pos] == '#') {
      while (pos < data.size() && data[pos] != '\n') ++pos;
    } else if (std::isspace(static_cast<unsigned char>(data[pos]))) {
      ++pos;
    } else {
      break;
    }
  }
  int64_t value = 0;
  const size_t start = pos;
  while (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos])) &&
         value <= kMaxSide * kMaxSide) {
    value = value * 10 + (data[pos++] - '0');
  }
  if (pos == start) throw Error(ErrorCode::kInvalidFormat, path + ": malformed PPM header");
  return value;
}

}  // namespace

RgbImage read_ppm(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::kNotFound, "cannot open image " + path);
  const std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return decode_ppm(data, path);
}

RgbImage decode_ppm(const std::string& data, const std::string& path) {
  if (data.size() < 2 || data[0] != 'P' || data[1] != '6') {
    throw Error(ErrorCode::kUnsupported,
                path + ": not a binary PPM (P6) file; this build reads PPM only");
  }
  size_t pos = 2;
  const int64_t width = read_header_number(data, pos, path);
  const int64_t height = read_header_number(data, pos, path);
  const int64_t maxval = read_header_number(data, pos, path);
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide) {
    throw Error(ErrorCode::kInvalidFormat, path + ": bad PPM size " + std::to_string(width) +
                                               "x" + std::to_string(height));
  }
  if (maxval != 255) {
    throw Error(ErrorCode::kUnsupported, path + ": only 8-bit PPM (maxval 255) is supported");
  }
  ++pos;  // the single whitespace byte after maxval
  const size_t needed = static_cast<size_t>(width * height * 3);
  if (pos > data.size() || data.size() - pos < needed) {
    throw Error(ErrorCode::kInvalidFormat, path + ": truncated PPM pixel data");
  }
  RgbImage image;
  image.width = static_cast<int32_t>(width);
  image.height = static_cast<int32_t>(height);
  image.pixels.assign(data.begin() + static_cast<std::ptrdiff_t>(pos),
                      data.begin() + static_cast<std::ptrdiff_t>(pos + needed));
  return image;
}

}  // namespace blip2
