// image_encode.cpp — PNG through libpng's simplified API, JPEG through libjpeg.
#include "image_encode.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>

#include "error.h"

namespace blip2 {

ImageEncoding image_encoding_from_name(const std::string& name) {
  if (name == "png") return ImageEncoding::kPng;
  if (name == "jpeg" || name == "jpg") return ImageEncoding::kJpeg;
  throw Error(ErrorCode::kInvalidArgument,
              "image format '" + name + "' is not one of png, jpeg");
}

namespace {

void check_image(const uint8_t* rgb, int32_t width, int32_t height) {
  if (rgb == nullptr || width <= 0 || height <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "image to encode is empty (" +
                                                 std::to_string(width) + "x" +
                                                 std::to_string(height) + ")");
  }
}

}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* rgb, int32_t width, int32_t height) {
  check_image(rgb, width, height);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  const png_int_32 stride = width * 3;
  // First call: the size needed; second: the file.
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, rgb, stride, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    throw Error(ErrorCode::kRuntime, "PNG encoding failed: " + message);
  }
  std::vector<uint8_t> file(size);
  if (!png_image_write_to_memory(&image, file.data(), &size, 0, rgb, stride, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    throw Error(ErrorCode::kRuntime, "PNG encoding failed: " + message);
  }
  file.resize(size);
  return file;
}

namespace {

struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

void jpeg_silence(j_common_ptr, int) {}

// libjpeg reports errors by longjmp: nothing with a destructor lives in this
// frame. Returns false with `error->message` set on failure.
bool compress_jpeg(const uint8_t* rgb,
                   int32_t width,
                   int32_t height,
                   int quality,
                   JpegError* error,
                   unsigned char** out,
                   unsigned long* out_size) {
  jpeg_compress_struct info;
  info.err = jpeg_std_error(&error->manager);
  error->manager.error_exit = jpeg_error_exit;
  error->manager.emit_message = jpeg_silence;
  if (setjmp(error->jump)) {
    jpeg_destroy_compress(&info);
    return false;
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, out, out_size);
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb + static_cast<size_t>(info.next_scanline) * width * 3);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const uint8_t* rgb, int32_t width, int32_t height, int quality) {
  check_image(rgb, width, height);
  if (quality < 1 || quality > 100) {
    throw Error(ErrorCode::kInvalidArgument,
                "JPEG quality " + std::to_string(quality) + " is outside 1..100");
  }
  JpegError error{};
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  const bool ok = compress_jpeg(rgb, width, height, quality, &error, &out, &out_size);
  std::vector<uint8_t> file;
  if (ok) file.assign(out, out + out_size);
  std::free(out);
  if (!ok) throw Error(ErrorCode::kRuntime, std::string("JPEG encoding failed: ") + error.message);
  return file;
}

std::string base64_encode(const uint8_t* data, size_t size) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < size) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (i + 1 < size) v |= uint32_t{data[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_url(ImageEncoding encoding, const std::vector<uint8_t>& file) {
  const char* type = encoding == ImageEncoding::kPng ? "image/png" : "image/jpeg";
  return std::string("data:") + type + ";base64," + base64_encode(file.data(), file.size());
}

}  // namespace blip2
