// image_processor.cpp — BlipImageProcessor in C++ (torch-free): any supported
// pixel format -> packed RGB8 -> Pillow's bicubic resize, bit for bit ->
// rescale and normalise exactly as transformers' PIL backend does.
//
// Floating point note: the resize weights are computed in double exactly as
// Pillow's Resample.c orders the operations, so this file must not fuse
// multiply-adds (FMA); the pragmas below turn contraction off for GCC and
// clang whatever -march/-O flags the build uses.
#include "image_processor.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "error.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace blip2 {
namespace {

// Largest side and pixel count accepted (keeps every offset far from overflow).
constexpr int64_t kMaxSide = int64_t{1} << 16;
constexpr int64_t kMaxPixels = int64_t{1} << 28;

[[noreturn]] void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

std::string size_text(int64_t width, int64_t height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

void check_image_size(int64_t width, int64_t height, const char* what) {
  if (width < 1 || height < 1) {
    fail(ErrorCode::kInvalidArgument,
         std::string(what) + ": width and height must be >= 1, got " + size_text(width, height));
  }
  if (width > kMaxSide || height > kMaxSide || width * height > kMaxPixels) {
    fail(ErrorCode::kInvalidArgument,
         std::string(what) + ": size " + size_text(width, height) + " is too large (at most " +
             std::to_string(kMaxSide) + " per side and " + std::to_string(kMaxPixels) + " pixels)");
  }
}

// ---------------------------------------------------------------- formats

const char* format_name(PixelFormat format) {
  switch (format) {
    case PixelFormat::kRGB:
      return "RGB";
    case PixelFormat::kBGR:
      return "BGR";
    case PixelFormat::kRGBA:
      return "RGBA";
    case PixelFormat::kBGRA:
      return "BGRA";
    case PixelFormat::kRGBx:
      return "RGBx";
    case PixelFormat::kBGRx:
      return "BGRx";
    case PixelFormat::kxRGB:
      return "xRGB";
    case PixelFormat::kxBGR:
      return "xBGR";
    case PixelFormat::kARGB:
      return "ARGB";
    case PixelFormat::kABGR:
      return "ABGR";
    case PixelFormat::kGRAY8:
      return "GRAY8";
    case PixelFormat::kI420:
      return "I420";
    case PixelFormat::kNV12:
      return "NV12";
  }
  return "unknown";
}

// Byte offsets of R, G and B inside one pixel of a packed format.
struct PackedLayout {
  int32_t bytes_per_pixel;
  int32_t r, g, b;
};

bool packed_layout(PixelFormat format, PackedLayout* layout) {
  switch (format) {
    case PixelFormat::kRGB:
      *layout = {3, 0, 1, 2};
      return true;
    case PixelFormat::kBGR:
      *layout = {3, 2, 1, 0};
      return true;
    case PixelFormat::kRGBA:
    case PixelFormat::kRGBx:
      *layout = {4, 0, 1, 2};
      return true;
    case PixelFormat::kBGRA:
    case PixelFormat::kBGRx:
      *layout = {4, 2, 1, 0};
      return true;
    case PixelFormat::kARGB:
    case PixelFormat::kxRGB:
      *layout = {4, 1, 2, 3};
      return true;
    case PixelFormat::kABGR:
    case PixelFormat::kxBGR:
      *layout = {4, 3, 2, 1};
      return true;
    case PixelFormat::kGRAY8:
      *layout = {1, 0, 0, 0};
      return true;
    default:
      return false;
  }
}

void check_plane(const ImageView& image, int plane, int64_t row_bytes) {
  const std::string where =
      std::string(format_name(image.format)) + " image plane " + std::to_string(plane);
  if (image.planes[plane] == nullptr) {
    fail(ErrorCode::kInvalidArgument, where + " is null");
  }
  if (image.strides[plane] < row_bytes) {
    fail(ErrorCode::kInvalidArgument, where + ": stride " + std::to_string(image.strides[plane]) +
                                          " is smaller than a row (" + std::to_string(row_bytes) +
                                          " bytes for width " + std::to_string(image.width) + ")");
  }
}

const uint8_t* row_of(const ImageView& image, int plane, int64_t y) {
  return image.planes[plane] + y * static_cast<int64_t>(image.strides[plane]);
}

std::vector<uint8_t> packed_to_rgb8(const ImageView& image, const PackedLayout& layout) {
  const int64_t width = image.width;
  const int64_t height = image.height;
  check_plane(image, 0, width * layout.bytes_per_pixel);
  std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3));
  uint8_t* out = rgb.data();
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* pixel = row_of(image, 0, y);
    for (int64_t x = 0; x < width; ++x, pixel += layout.bytes_per_pixel) {
      *out++ = pixel[layout.r];
      *out++ = pixel[layout.g];
      *out++ = pixel[layout.b];
    }
  }
  return rgb;
}

// BT.601 limited range (Y in 16..235, Cb/Cr in 16..240; Kr = 0.299,
// Kb = 0.114), in 16.16 fixed point. Each coefficient is the exact value
// rounded to the nearest integer:
//   y  = 255/219                      * 2^16 = 76309
//   rv = 255/224 * 2(1-Kr)            * 2^16 = 104597
//   gu = 255/224 * 2(1-Kb) Kb / Kg    * 2^16 = 25675
//   gv = 255/224 * 2(1-Kr) Kr / Kg    * 2^16 = 53279
//   bu = 255/224 * 2(1-Kb)            * 2^16 = 132201
// Each channel is (sum + 2^15) >> 16 (round half up; >> is a floor shift),
// clamped to 0..255. Chroma is upsampled by repetition (pixel (x, y) uses the
// chroma sample (x/2, y/2)). The test oracle has a numpy port of this formula.
constexpr int32_t kYuvShift = 16;
constexpr int32_t kCoefY = 76309;
constexpr int32_t kCoefRV = 104597;
constexpr int32_t kCoefGU = 25675;
constexpr int32_t kCoefGV = 53279;
constexpr int32_t kCoefBU = 132201;

uint8_t clamp_yuv_channel(int32_t sum) {
  const int32_t value = (sum + (1 << (kYuvShift - 1))) >> kYuvShift;
  return static_cast<uint8_t>(std::clamp(value, 0, 255));
}

void yuv_to_rgb_pixel(int32_t y, int32_t u, int32_t v, uint8_t* out) {
  const int32_t luma = kCoefY * (y - 16);
  u -= 128;
  v -= 128;
  out[0] = clamp_yuv_channel(luma + kCoefRV * v);
  out[1] = clamp_yuv_channel(luma - kCoefGU * u - kCoefGV * v);
  out[2] = clamp_yuv_channel(luma + kCoefBU * u);
}

// I420 (U and V in planes 1 and 2) or NV12 (interleaved UV in plane 1).
std::vector<uint8_t> yuv420_to_rgb8(const ImageView& image, bool interleaved_chroma) {
  const int64_t width = image.width;
  const int64_t height = image.height;
  const int64_t chroma_width = (width + 1) / 2;
  check_plane(image, 0, width);
  if (interleaved_chroma) {
    check_plane(image, 1, 2 * chroma_width);
  } else {
    check_plane(image, 1, chroma_width);
    check_plane(image, 2, chroma_width);
  }
  std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3));
  uint8_t* out = rgb.data();
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* luma = row_of(image, 0, y);
    const uint8_t* chroma_u = row_of(image, 1, y / 2);
    const uint8_t* chroma_v = interleaved_chroma ? chroma_u + 1 : row_of(image, 2, y / 2);
    const int64_t step = interleaved_chroma ? 2 : 1;
    for (int64_t x = 0; x < width; ++x, out += 3) {
      const int64_t c = (x / 2) * step;
      yuv_to_rgb_pixel(luma[x], chroma_u[c], chroma_v[c], out);
    }
  }
  return rgb;
}

// ---------------------------------------------------------------- resize

// Pillow's bicubic kernel (Keys, a = -0.5), same operation order as Resample.c.
double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) {
    x = -x;
  }
  if (x < 1.0) {
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  }
  if (x < 2.0) {
    return (((x - 5) * x + 8) * x - 4) * a;
  }
  return 0.0;
}

constexpr double kBicubicSupport = 2.0;
constexpr int32_t kPrecisionBits = 22;  // Pillow's PRECISION_BITS = 32 - 8 - 2

// Fixed-point filter taps of one axis: output index i reads `count[i]` input
// samples from `first[i]` on, weighted by `weights[i * taps + k]`.
struct AxisFilter {
  int32_t taps = 0;
  std::vector<int32_t> first;
  std::vector<int32_t> count;
  std::vector<int32_t> weights;
};

int32_t to_fixed_point(double weight) {
  const double scaled = weight * (1 << kPrecisionBits);
  return static_cast<int32_t>(weight < 0 ? -0.5 + scaled : 0.5 + scaled);
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box (0, in_size).
AxisFilter make_axis_filter(int32_t in_size, int32_t out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kBicubicSupport * filter_scale;
  const double inverse_filter_scale = 1.0 / filter_scale;

  AxisFilter filter;
  filter.taps = static_cast<int32_t>(std::ceil(support)) * 2 + 1;
  filter.first.resize(out_size);
  filter.count.resize(out_size);
  filter.weights.assign(static_cast<size_t>(out_size) * filter.taps, 0);
  std::vector<double> taps(filter.taps);
  for (int32_t i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int32_t first = std::max(static_cast<int32_t>(center - support + 0.5), 0);
    const int32_t end = std::min(static_cast<int32_t>(center + support + 0.5), in_size);
    const int32_t count = end - first;
    double sum = 0.0;
    for (int32_t k = 0; k < count; ++k) {
      taps[k] = bicubic_kernel((k + first - center + 0.5) * inverse_filter_scale);
      sum += taps[k];
    }
    int32_t* weights = &filter.weights[static_cast<size_t>(i) * filter.taps];
    for (int32_t k = 0; k < count; ++k) {
      weights[k] = to_fixed_point(sum != 0.0 ? taps[k] / sum : taps[k]);
    }
    filter.first[i] = first;
    filter.count[i] = count;
  }
  return filter;
}

// Pillow's clip8: drop the 22 fractional bits (floor), clamp to 0..255. The
// accumulators cannot overflow int32: |weights| sum to < 1.2 and pixels are < 256.
uint8_t fixed_point_to_u8(int32_t accumulator) {
  return static_cast<uint8_t>(std::clamp(accumulator >> kPrecisionBits, 0, 255));
}

constexpr int32_t kRounding = 1 << (kPrecisionBits - 1);

// Horizontal pass over `rows` rows of `in` (RGB8, `in_width` wide).
std::vector<uint8_t> resample_rows(const uint8_t* in,
                                   int32_t in_width,
                                   int32_t rows,
                                   const AxisFilter& filter,
                                   int32_t out_width) {
  std::vector<uint8_t> out(static_cast<size_t>(out_width) * rows * 3);
  for (int32_t y = 0; y < rows; ++y) {
    const uint8_t* in_row = in + static_cast<size_t>(y) * in_width * 3;
    uint8_t* out_pixel = &out[static_cast<size_t>(y) * out_width * 3];
    for (int32_t x = 0; x < out_width; ++x, out_pixel += 3) {
      const int32_t* weights = &filter.weights[static_cast<size_t>(x) * filter.taps];
      const uint8_t* source = in_row + static_cast<size_t>(filter.first[x]) * 3;
      int32_t r = kRounding, g = kRounding, b = kRounding;
      for (int32_t k = 0; k < filter.count[x]; ++k, source += 3) {
        r += source[0] * weights[k];
        g += source[1] * weights[k];
        b += source[2] * weights[k];
      }
      out_pixel[0] = fixed_point_to_u8(r);
      out_pixel[1] = fixed_point_to_u8(g);
      out_pixel[2] = fixed_point_to_u8(b);
    }
  }
  return out;
}

// Vertical pass; `filter.first` is relative to row 0 of `in`.
std::vector<uint8_t> resample_columns(const uint8_t* in,
                                      int32_t width,
                                      const AxisFilter& filter,
                                      int32_t out_height) {
  const size_t row_bytes = static_cast<size_t>(width) * 3;
  std::vector<uint8_t> out(row_bytes * out_height);
  for (int32_t y = 0; y < out_height; ++y) {
    const int32_t* weights = &filter.weights[static_cast<size_t>(y) * filter.taps];
    const uint8_t* first_row = in + static_cast<size_t>(filter.first[y]) * row_bytes;
    uint8_t* out_row = &out[static_cast<size_t>(y) * row_bytes];
    for (size_t i = 0; i < row_bytes; ++i) {
      int32_t sum = kRounding;
      const uint8_t* source = first_row + i;
      for (int32_t k = 0; k < filter.count[y]; ++k, source += row_bytes) {
        sum += *source * weights[k];
      }
      out_row[i] = fixed_point_to_u8(sum);
    }
  }
  return out;
}

// Pass order, as Pillow 13 decides it (Resample.c, ImagingResampleInner):
// horizontal first, unless the height shrinks by more than twice as many
// pixels as the width does; then vertical first, so the horizontal pass has
// fewer rows. Older Pillow always ran the horizontal pass first; the order
// changes the rounding of the intermediate uint8 image, so it matters.
bool vertical_pass_first(int32_t width, int32_t height, int32_t out_width, int32_t out_height) {
  const int64_t height_drop = static_cast<int64_t>(height) - out_height;
  const int64_t width_drop = static_cast<int64_t>(width) - out_width;
  return height_drop > 0 && height_drop > width_drop * 2;
}

// ---------------------------------------------------------------- config

using Json = nlohmann::json;

std::string read_text_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    fail(ErrorCode::kNotFound, "cannot open image processor config " + path);
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    fail(ErrorCode::kInvalidFormat, "cannot read image processor config " + path);
  }
  return text.str();
}

// A key that is absent or null is "not set".
const Json* find_key(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

std::string key_error(const std::string& path,
                      const std::string& key,
                      const Json& value,
                      const std::string& problem) {
  return path + ": \"" + key + "\" = " + value.dump() + " " + problem;
}

void read_bool(const Json& root, const char* key, const std::string& path, bool* out) {
  if (const Json* value = find_key(root, key)) {
    if (!value->is_boolean()) {
      fail(ErrorCode::kInvalidFormat, key_error(path, key, *value, "is not true/false"));
    }
    *out = value->get<bool>();
  }
}

double read_number(const Json& value, const std::string& path, const std::string& key) {
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    fail(ErrorCode::kInvalidFormat, key_error(path, key, value, "is not a finite number"));
  }
  return value.get<double>();
}

int32_t read_side(const Json& value, const std::string& path, const std::string& key) {
  if (!value.is_number_integer()) {
    fail(ErrorCode::kInvalidFormat, key_error(path, key, value, "is not an integer"));
  }
  const int64_t side = value.get<int64_t>();
  if (side < 1 || side > kMaxSide) {
    fail(ErrorCode::kUnsupported,
         key_error(path, key, value, "is out of range 1.." + std::to_string(kMaxSide)));
  }
  return static_cast<int32_t>(side);
}

// "size": {"height": H, "width": W} or a plain integer N (= N x N, BLIP
// resizes to a square). {"shortest_edge"}, {"longest_edge"}, {"max_height"}
// keep the aspect ratio, which a fixed-size model input cannot honour.
void read_size(const Json& root, const std::string& path, ImageProcessorConfig* config) {
  const Json* size = find_key(root, "size");
  if (size == nullptr) {
    return;
  }
  if (size->is_number_integer()) {
    config->height = config->width = read_side(*size, path, "size");
    return;
  }
  if (!size->is_object()) {
    fail(ErrorCode::kInvalidFormat, key_error(path, "size", *size, "is not an object"));
  }
  const Json* height = find_key(*size, "height");
  const Json* width = find_key(*size, "width");
  for (const char* key : {"shortest_edge", "longest_edge", "max_height", "max_width"}) {
    if (find_key(*size, key) != nullptr && (height == nullptr || width == nullptr)) {
      fail(ErrorCode::kUnsupported,
           key_error(path, "size", *size,
                     "is not supported: only a fixed {\"height\", \"width\"} size is"));
    }
  }
  if (height == nullptr || width == nullptr) {
    fail(ErrorCode::kInvalidFormat,
         key_error(path, "size", *size, "needs both \"height\" and \"width\""));
  }
  config->height = read_side(*height, path, "size.height");
  config->width = read_side(*width, path, "size.width");
}

void read_channels(const Json& root,
                   const char* key,
                   const std::string& path,
                   std::array<float, 3>* out) {
  const Json* value = find_key(root, key);
  if (value == nullptr) {
    return;
  }
  if (value->is_number()) {  // one value for every channel, as transformers allows
    out->fill(static_cast<float>(read_number(*value, path, key)));
    return;
  }
  if (!value->is_array() || value->size() != 3) {
    fail(ErrorCode::kInvalidFormat, key_error(path, key, *value, "is not a list of 3 numbers"));
  }
  for (size_t c = 0; c < 3; ++c) {
    (*out)[c] = static_cast<float>(read_number((*value)[c], path, key));
  }
}

void reject_enabled(const Json& root, const char* key, const std::string& path) {
  bool enabled = false;
  read_bool(root, key, path, &enabled);
  if (enabled) {
    fail(ErrorCode::kUnsupported,
         path + ": \"" + std::string(key) + "\" = true is not supported by BLIP preprocessing");
  }
}

void read_resample(const Json& root, const std::string& path, ImageProcessorConfig* config) {
  const Json* value = find_key(root, "resample");
  if (value == nullptr) {
    return;
  }
  if (!value->is_number_integer()) {
    fail(ErrorCode::kInvalidFormat, key_error(path, "resample", *value, "is not an integer"));
  }
  if (value->get<int64_t>() != 3) {
    fail(ErrorCode::kUnsupported,
         key_error(path, "resample", *value, "is not supported (only 3 = bicubic is)"));
  }
  config->resample = 3;
}

void check_config(const ImageProcessorConfig& config) {
  check_image_size(config.width, config.height, "image processor config size");
  if (config.resample != 3) {
    fail(ErrorCode::kUnsupported, "image processor config: resample " +
                                      std::to_string(config.resample) +
                                      " is not supported (only 3 = bicubic is)");
  }
  for (float s : config.image_std) {
    if (config.do_normalize && s == 0.0f) {
      fail(ErrorCode::kInvalidArgument, "image processor config: image_std contains 0");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- public API

ImageProcessorConfig ImageProcessorConfig::from_file(const std::string& path) {
  const std::string text = read_text_file(path);
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {
    fail(ErrorCode::kInvalidFormat, path + ": invalid JSON: " + e.what());
  }
  if (!root.is_object()) {
    fail(ErrorCode::kInvalidFormat, path + ": top level is not a JSON object");
  }
  ImageProcessorConfig config;
  read_size(root, path, &config);
  read_bool(root, "do_resize", path, &config.do_resize);
  read_bool(root, "do_rescale", path, &config.do_rescale);
  read_bool(root, "do_normalize", path, &config.do_normalize);
  read_bool(root, "do_convert_rgb", path, &config.do_convert_rgb);
  reject_enabled(root, "do_center_crop", path);
  reject_enabled(root, "do_pad", path);
  read_resample(root, path, &config);
  if (const Json* factor = find_key(root, "rescale_factor")) {
    config.rescale_factor = read_number(*factor, path, "rescale_factor");
  }
  read_channels(root, "image_mean", path, &config.image_mean);
  read_channels(root, "image_std", path, &config.image_std);
  if (config.do_normalize) {
    for (float s : config.image_std) {
      if (s == 0.0f) {
        fail(ErrorCode::kInvalidFormat, path + ": \"image_std\" contains 0");
      }
    }
  }
  return config;
}

std::vector<uint8_t> to_rgb8(const ImageView& image) {
  check_image_size(image.width, image.height, "image");
  PackedLayout layout;
  if (packed_layout(image.format, &layout)) {
    return packed_to_rgb8(image, layout);
  }
  if (image.format == PixelFormat::kI420) {
    return yuv420_to_rgb8(image, false);
  }
  if (image.format == PixelFormat::kNV12) {
    return yuv420_to_rgb8(image, true);
  }
  fail(ErrorCode::kInvalidArgument,
       "unknown pixel format " + std::to_string(static_cast<int>(image.format)));
}

std::vector<uint8_t> resize_bicubic_rgb8(
    const uint8_t* rgb, int32_t width, int32_t height, int32_t out_width, int32_t out_height) {
  if (rgb == nullptr) {
    fail(ErrorCode::kInvalidArgument, "resize: input pixels are null");
  }
  check_image_size(width, height, "resize input");
  check_image_size(out_width, out_height, "resize output");

  const bool need_horizontal = out_width != width;
  const bool need_vertical = out_height != height;
  std::vector<uint8_t> image(rgb, rgb + static_cast<size_t>(width) * height * 3);
  if (!need_horizontal && !need_vertical) {
    return image;  // Pillow returns a copy
  }
  if (!need_horizontal) {
    return resample_columns(image.data(), width, make_axis_filter(height, out_height), out_height);
  }
  const AxisFilter horizontal = make_axis_filter(width, out_width);
  if (!need_vertical) {
    return resample_rows(image.data(), width, height, horizontal, out_width);
  }
  AxisFilter vertical = make_axis_filter(height, out_height);
  if (vertical_pass_first(width, height, out_width, out_height)) {
    image = resample_columns(image.data(), width, vertical, out_height);
    return resample_rows(image.data(), width, out_height, horizontal, out_width);
  }
  // Horizontal first, on only the rows the vertical pass reads.
  const int32_t first_row = vertical.first.front();
  const int32_t end_row = vertical.first.back() + vertical.count.back();
  for (int32_t& first : vertical.first) {
    first -= first_row;
  }
  image = resample_rows(image.data() + static_cast<size_t>(first_row) * width * 3, width,
                        end_row - first_row, horizontal, out_width);
  return resample_columns(image.data(), out_width, vertical, out_height);
}

std::vector<float> rescale_and_normalize(const uint8_t* rgb,
                                         int32_t width,
                                         int32_t height,
                                         const ImageProcessorConfig& config) {
  if (rgb == nullptr) {
    fail(ErrorCode::kInvalidArgument, "normalize: input pixels are null");
  }
  check_image_size(width, height, "normalize input");
  // Every channel maps 256 byte values; compute each once, with transformers'
  // operation order: float32(float64(v) * rescale_factor), then in float32
  // (x - mean) / std.
  std::array<std::array<float, 256>, 3> lookup;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x =
          config.do_rescale ? static_cast<float>(v * config.rescale_factor) : static_cast<float>(v);
      if (config.do_normalize) {
        x = (x - config.image_mean[c]) / config.image_std[c];
      }
      lookup[c][v] = x;
    }
  }
  const size_t plane = static_cast<size_t>(width) * height;
  std::vector<float> chw(plane * 3);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      chw[c * plane + i] = lookup[c][rgb[i * 3 + c]];
    }
  }
  return chw;
}

std::vector<float> preprocess(const ImageView& image, const ImageProcessorConfig& config) {
  check_config(config);
  std::vector<uint8_t> rgb = to_rgb8(image);
  int32_t width = image.width;
  int32_t height = image.height;
  if (config.do_resize) {
    rgb = resize_bicubic_rgb8(rgb.data(), width, height, config.width, config.height);
    width = config.width;
    height = config.height;
  }
  return rescale_and_normalize(rgb.data(), width, height, config);
}

}  // namespace blip2
