// gpu_image.cpp — BLIP preprocessing with torch ops (see gpu_image.h).
#include "gpu_image.h"

#include <atomic>
#include <string>

#include "error.h"

namespace blip2 {
namespace {

constexpr int64_t kMaxSide = int64_t{1} << 16;  // the CPU path's limits
constexpr int64_t kMaxPixels = int64_t{1} << 28;

std::atomic<bool> g_device_preprocessing{true};

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

void check_size(const ImageView& image) {
  const int64_t w = image.width, h = image.height;
  if (w < 1 || h < 1) {
    fail("image: width and height must be >= 1, got " + std::to_string(w) + "x" +
         std::to_string(h));
  }
  if (w > kMaxSide || h > kMaxSide || w * h > kMaxPixels) {
    fail("image: size " + std::to_string(w) + "x" + std::to_string(h) + " is too large");
  }
}

void check_plane(const ImageView& image, int plane, int64_t row_bytes) {
  const std::string where = "image plane " + std::to_string(plane);
  if (image.planes[plane] == nullptr) fail(where + " is null");
  if (image.strides[plane] < row_bytes) {
    fail(where + ": stride " + std::to_string(image.strides[plane]) + " is smaller than a row (" +
         std::to_string(row_bytes) + " bytes)");
  }
}

// One plane's bytes (rows x row_bytes at the view's stride) copied to `device`
// in one transfer -> [rows, row_bytes] uint8 (a strided view of the copy).
at::Tensor upload_plane(
    const ImageView& image, int plane, int64_t rows, int64_t row_bytes, const at::Device& device) {
  check_plane(image, plane, row_bytes);
  const int64_t stride = image.strides[plane];
  const int64_t span = (rows - 1) * stride + row_bytes;
  const at::Tensor host = at::from_blob(const_cast<uint8_t*>(image.planes[plane]), {span},
                                        at::TensorOptions().dtype(at::kByte));
  // a copy in both cases: the caller's buffer may be reused once we return
  const at::Tensor bytes = device.is_cpu() ? host.clone() : host.to(device);
  return bytes.as_strided({rows, row_bytes}, {stride, 1});
}

// Byte offsets of R, G, B in a packed pixel; false for planar formats.
bool packed_offsets(PixelFormat format, int64_t* bytes_per_pixel, int64_t rgb[3]) {
  auto set = [&](int64_t bpp, int64_t r, int64_t g, int64_t b) {
    *bytes_per_pixel = bpp;
    rgb[0] = r;
    rgb[1] = g;
    rgb[2] = b;
    return true;
  };
  switch (format) {
    case PixelFormat::kRGB:
      return set(3, 0, 1, 2);
    case PixelFormat::kBGR:
      return set(3, 2, 1, 0);
    case PixelFormat::kRGBA:
    case PixelFormat::kRGBx:
      return set(4, 0, 1, 2);
    case PixelFormat::kBGRA:
    case PixelFormat::kBGRx:
      return set(4, 2, 1, 0);
    case PixelFormat::kARGB:
    case PixelFormat::kxRGB:
      return set(4, 1, 2, 3);
    case PixelFormat::kABGR:
    case PixelFormat::kxBGR:
      return set(4, 3, 2, 1);
    case PixelFormat::kGRAY8:
      return set(1, 0, 0, 0);
    default:
      return false;
  }
}

// Packed bytes [H, W·bpp] -> [3, H, W] uint8
at::Tensor packed_to_rgb(const at::Tensor& rows, int64_t width, int64_t bpp, const int64_t rgb[3]) {
  const at::Tensor pixels = rows.unflatten(1, {width, bpp});  // [H, W, bpp]
  return at::stack({pixels.select(2, rgb[0]), pixels.select(2, rgb[1]), pixels.select(2, rgb[2])});
}

// BT.601 limited range in 16.16 fixed point, as yuv_to_rgb_pixel in
// image_processor.cpp: (sum + 2^15) >> 16 (floor shift), clamped to 0..255.
// y, u, v: [H, W] int32 (chroma already upsampled) -> [3, H, W] uint8
at::Tensor yuv_to_rgb(const at::Tensor& y, const at::Tensor& u, const at::Tensor& v) {
  const at::Tensor luma = (y - 16) * 76309;
  const at::Tensor cb = u - 128, cr = v - 128;
  auto channel = [](const at::Tensor& sum) {
    return at::bitwise_right_shift(sum + (1 << 15), 16).clamp(0, 255);
  };
  return at::stack({channel(luma + cr * 104597), channel(luma - cb * 25675 - cr * 53279),
                    channel(luma + cb * 132201)})
      .to(at::kByte);
}

// Chroma [ceil(H/2), ceil(W/2)] -> [H, W] int32 by repetition (sample (x/2, y/2)).
at::Tensor upsample_chroma(const at::Tensor& chroma, int64_t height, int64_t width) {
  const auto index = at::TensorOptions().dtype(at::kLong).device(chroma.device());
  const at::Tensor rows = at::arange(height, index).div(2, "floor");
  const at::Tensor cols = at::arange(width, index).div(2, "floor");
  return chroma.index_select(0, rows).index_select(1, cols).to(at::kInt);
}

// I420 (planes Y, U, V) or NV12 (Y, interleaved UV) -> [3, H, W] uint8
at::Tensor yuv420_to_rgb(const ImageView& image, bool nv12, const at::Device& device) {
  const int64_t w = image.width, h = image.height;
  const int64_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  const at::Tensor y = upload_plane(image, 0, h, w, device).to(at::kInt);
  at::Tensor u, v;
  if (nv12) {
    const at::Tensor uv = upload_plane(image, 1, ch, 2 * cw, device).unflatten(1, {cw, 2});
    u = uv.select(2, 0);
    v = uv.select(2, 1);
  } else {
    u = upload_plane(image, 1, ch, cw, device);
    v = upload_plane(image, 2, ch, cw, device);
  }
  return yuv_to_rgb(y, upsample_chroma(u, h, w), upsample_chroma(v, h, w));
}

// One separable pass (only one of the two sizes changes; the other axis's
// filter is then exactly the identity): antialiased bicubic in float32, then
// back to 8 bits as Pillow's clip8 does, floor(x + 0.5) clamped to 0..255.
// rgb: [3, H, W] uint8 -> [3, out_height, out_width] uint8
at::Tensor resample_pass(const at::Tensor& rgb, int64_t out_height, int64_t out_width) {
  const at::Tensor resized =
      at::_upsample_bicubic2d_aa(rgb.to(at::kFloat).unsqueeze(0), {out_height, out_width},
                                 /*align_corners=*/false);
  return at::floor(resized.squeeze(0) + 0.5).clamp(0, 255).to(at::kByte);
}

// Pillow 13's pass order (as resize_bicubic_rgb8): horizontal first unless
// the height shrinks by more than twice as many pixels as the width does.
bool vertical_pass_first(int64_t width, int64_t height, int64_t out_width, int64_t out_height) {
  const int64_t height_drop = height - out_height, width_drop = width - out_width;
  return height_drop > 0 && height_drop > width_drop * 2;
}

// The CPU path's 256-entry rescale+normalise table per channel, computed by
// the CPU function itself on a 256x1 grey ramp -> [3·256] float32
at::Tensor normalization_table(const ImageProcessorConfig& config) {
  std::vector<uint8_t> ramp(256 * 3);
  for (int v = 0; v < 256; ++v) ramp[v * 3] = ramp[v * 3 + 1] = ramp[v * 3 + 2] = v;
  std::vector<float> table = rescale_and_normalize(ramp.data(), 256, 1, config);  // [3, 256]
  return at::from_blob(table.data(), {3 * 256}, at::kFloat).clone();
}

}  // namespace

at::Tensor frame_to_rgb_on_device(const ImageView& image, const at::Device& device) {
  check_size(image);
  int64_t bpp = 0, offsets[3] = {0, 0, 0};
  if (packed_offsets(image.format, &bpp, offsets)) {
    const at::Tensor rows = upload_plane(image, 0, image.height, image.width * bpp, device);
    return packed_to_rgb(rows, image.width, bpp, offsets);
  }
  if (image.format == PixelFormat::kI420) return yuv420_to_rgb(image, false, device);
  if (image.format == PixelFormat::kNV12) return yuv420_to_rgb(image, true, device);
  fail("unknown pixel format " + std::to_string(static_cast<int>(image.format)));
}

at::Tensor resize_rgb_on_device(const at::Tensor& rgb, int64_t out_height, int64_t out_width) {
  const int64_t height = rgb.size(1), width = rgb.size(2);
  if (height == out_height && width == out_width) return rgb;
  if (width == out_width) return resample_pass(rgb, out_height, width);
  if (height == out_height) return resample_pass(rgb, height, out_width);
  if (vertical_pass_first(width, height, out_width, out_height)) {
    return resample_pass(resample_pass(rgb, out_height, width), out_height, out_width);
  }
  return resample_pass(resample_pass(rgb, height, out_width), out_height, out_width);
}

namespace {

// rgb: [3, H, W] uint8, table: [3·256] float32 on rgb's device -> [3, H, W] float32
at::Tensor normalize_with_table(const at::Tensor& rgb, const at::Tensor& table) {
  const at::Tensor channel_base =
      at::arange(3, at::TensorOptions().dtype(at::kLong).device(rgb.device()))
          .mul(256)
          .view({3, 1, 1});
  return at::take(table, rgb.to(at::kLong) + channel_base);  // [3, H, W]
}

}  // namespace

at::Tensor normalize_rgb_on_device(const at::Tensor& rgb, const ImageProcessorConfig& config) {
  return normalize_with_table(rgb, normalization_table(config).to(rgb.device()));
}

at::Tensor preprocess_on_device(const std::vector<ImageView>& images,
                                const ImageProcessorConfig& config,
                                const at::Device& device) {
  if (images.empty()) fail("preprocess: no images");
  const at::Tensor table = normalization_table(config).to(device);
  std::vector<at::Tensor> pixels;
  pixels.reserve(images.size());
  for (const ImageView& image : images) {
    at::Tensor rgb = frame_to_rgb_on_device(image, device);
    if (config.do_resize) rgb = resize_rgb_on_device(rgb, config.height, config.width);
    if (!pixels.empty() && rgb.sizes() != pixels.front().sizes()) {
      fail("preprocess: images of different sizes cannot be batched without do_resize");
    }
    pixels.push_back(normalize_with_table(rgb, table));
  }
  return at::stack(pixels);  // [B, 3, H, W]
}

void set_device_preprocessing(bool enabled) { g_device_preprocessing.store(enabled); }

bool device_preprocessing() { return g_device_preprocessing.load(); }

}  // namespace blip2
