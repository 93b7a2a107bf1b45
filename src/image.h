// image.h — a non-owning view of one video frame or picture in memory.
#pragma once

#include <cstdint>

namespace blip2 {

// Byte layouts accepted by the preprocessor (names follow GStreamer's
// GstVideoFormat). Packed formats use plane 0 only; I420 uses planes 0..2
// (Y, U, V at half resolution), NV12 planes 0..1 (Y, interleaved UV).
// YUV is converted with BT.601 limited-range coefficients.
enum class PixelFormat {
  kRGB,
  kBGR,
  kRGBA,
  kBGRA,
  kRGBx,
  kBGRx,
  kxRGB,
  kxBGR,
  kARGB,
  kABGR,
  kGRAY8,
  kI420,
  kNV12,
};

struct ImageView {
  PixelFormat format = PixelFormat::kRGB;
  int32_t width = 0;
  int32_t height = 0;
  const uint8_t* planes[3] = {nullptr, nullptr, nullptr};
  int32_t strides[3] = {0, 0, 0};  // bytes from one row to the next, per plane

  // A single-plane image (RGB, BGRx, GRAY8, ...).
  static ImageView packed(const uint8_t* data, int32_t width, int32_t height,
                          int32_t stride, PixelFormat format) {
    ImageView view;
    view.format = format;
    view.width = width;
    view.height = height;
    view.planes[0] = data;
    view.strides[0] = stride;
    return view;
  }
};

}  // namespace blip2
