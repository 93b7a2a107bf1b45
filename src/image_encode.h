// image_encode.h — pictures as the files and data: URLs a captioning server
// takes (torch-free): PNG (lossless) or JPEG, base64.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace blip2 {

enum class ImageEncoding { kPng, kJpeg };

// "png" / "jpeg" (also "jpg"); throws Error(kInvalidArgument) for anything else.
ImageEncoding image_encoding_from_name(const std::string& name);

// Packed RGB8 (HxWx3) as a PNG file (8-bit RGB, zlib level 1). Throws
// Error(kRuntime) when libpng fails.
std::vector<uint8_t> encode_png(const uint8_t* rgb, int32_t width, int32_t height);

// Packed RGB8 as a baseline JPEG file of `quality` (1..100, 4:2:0). Throws
// Error(kInvalidArgument) for a bad quality, Error(kRuntime) when libjpeg fails.
std::vector<uint8_t> encode_jpeg(const uint8_t* rgb, int32_t width, int32_t height, int quality);

// Standard base64 (RFC 4648, padded).
std::string base64_encode(const uint8_t* data, size_t size);

// "data:image/png;base64,..." for an encoded file.
std::string data_url(ImageEncoding encoding, const std::vector<uint8_t>& file);

}  // namespace blip2
