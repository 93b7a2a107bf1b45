// ppm.h — binary PPM (P6, 8-bit RGB) reading, with no image library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image.h"

namespace blip2 {

struct RgbImage {
  int32_t width = 0;
  int32_t height = 0;
  std::vector<uint8_t> pixels;  // row-major RGB, 3 bytes per pixel

  ImageView view() const {
    return ImageView::packed(pixels.data(), width, height, width * 3, PixelFormat::kRGB);
  }
};

// Reads a P6 file with maxval 255 (comments allowed in the header). Throws
// blip2::Error (kNotFound / kInvalidFormat / kUnsupported) naming the file.
RgbImage read_ppm(const std::string& path);

// The same for the bytes of a PPM file; `name` is used in the messages.
RgbImage decode_ppm(const std::string& data, const std::string& name);

}  // namespace blip2
