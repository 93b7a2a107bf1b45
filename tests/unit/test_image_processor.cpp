// test_image_processor.cpp — the C++ BlipImageProcessor against its oracles:
// Pillow's bicubic resize and convert("RGB"), transformers 5.17's
// BlipImageProcessorPil, and a numpy port of our BT.601 YUV formula. The
// reference files come from model/oracle/pixels_reference.py (folder
// $BLIP2_FIXTURES/pixels, described by its index.json).
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "error.h"
#include "image.h"
#include "image_processor.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// ---------------------------------------------------------------- fixtures

fs::path pixels_dir() {
  const char* root = std::getenv("BLIP2_FIXTURES");
  if (root == nullptr || *root == '\0') {
    throw std::runtime_error("BLIP2_FIXTURES is not set (run the test through meson test)");
  }
  return fs::path(root) / "pixels";
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw std::runtime_error("cannot open fixture " + path.string());
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
}

std::vector<float> read_floats(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));  // little-endian host
  return values;
}

const Json& index_json() {
  static const Json index = [] {
    const std::vector<uint8_t> text = read_bytes(pixels_dir() / "index.json");
    return Json::parse(text.begin(), text.end());
  }();
  return index;
}

const Json& image_entry(const std::string& name) {
  for (const Json& entry : index_json()["images"]) {
    if (entry["name"] == name) return entry;
  }
  throw std::runtime_error("no image " + name + " in the pixels index");
}

struct RgbImage {
  int32_t width = 0;
  int32_t height = 0;
  std::vector<uint8_t> rgb;  // HxWx3, tightly packed
};

// Minimal binary PPM (P6, maxval 255) reader, enough for the oracle's files.
RgbImage read_ppm(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  size_t pos = 0;
  auto next_token = [&]() {
    while (pos < bytes.size() && std::isspace(bytes[pos])) ++pos;
    std::string token;
    while (pos < bytes.size() && !std::isspace(bytes[pos]))
      token += static_cast<char>(bytes[pos++]);
    return token;
  };
  if (next_token() != "P6") throw std::runtime_error(path.string() + ": not a P6 PPM");
  RgbImage image;
  image.width = std::stoi(next_token());
  image.height = std::stoi(next_token());
  if (next_token() != "255") throw std::runtime_error(path.string() + ": maxval is not 255");
  ++pos;  // the single whitespace byte before the pixels
  const size_t size = static_cast<size_t>(image.width) * image.height * 3;
  if (bytes.size() - pos != size) throw std::runtime_error(path.string() + ": wrong pixel count");
  image.rgb.assign(bytes.begin() + pos, bytes.end());
  return image;
}

RgbImage load_image(const Json& entry) {
  RgbImage image = read_ppm(pixels_dir() / entry["ppm"].get<std::string>());
  EXPECT_EQ(image.width, entry["width"].get<int>());
  EXPECT_EQ(image.height, entry["height"].get<int>());
  return image;
}

ImageView rgb_view(const RgbImage& image) {
  return ImageView::packed(image.rgb.data(), image.width, image.height, image.width * 3,
                           PixelFormat::kRGB);
}

// "first difference at byte i (a vs b), n differ" or "" when equal.
std::string compare_bytes(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  if (got.size() != want.size()) {
    return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
  }
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && differing++ == 0) first = i;
  }
  if (differing == 0) return "";
  return std::to_string(differing) + " bytes differ, first at " + std::to_string(first) + " (" +
         std::to_string(got[first]) + " vs " + std::to_string(want[first]) + ")";
}

template <typename Fn>
ErrorCode error_code_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()), "");
    return e.code();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-blip2 exception: " << e.what();
    return ErrorCode::kRuntime;
  }
  ADD_FAILURE() << "did not throw";
  return ErrorCode::kRuntime;
}

// ---------------------------------------------------------------- resize

TEST(PillowResize, EveryImageAndTargetIsByteExact) {
  const Json& images = index_json()["images"];
  ASSERT_GE(images.size(), 10u);
  int cases = 0;
  for (const Json& entry : images) {
    const RgbImage image = load_image(entry);
    for (const Json& target : entry["resized"]) {
      const int32_t w = target["width"], h = target["height"];
      const std::vector<uint8_t> want =
          read_bytes(pixels_dir() / target["file"].get<std::string>());
      const std::vector<uint8_t> got =
          resize_bicubic_rgb8(image.rgb.data(), image.width, image.height, w, h);
      EXPECT_EQ(compare_bytes(got, want), "") << entry["name"] << " -> " << w << "x" << h;
      ++cases;
    }
  }
  EXPECT_GE(cases, 30);
}

// Small images to many sizes: one-axis resizes, both sides of Pillow 13's
// pass-order switch, random size pairs.
TEST(PillowResize, ExtraSizePairsAreByteExact) {
  const Json& cases = index_json()["resize_cases"];
  ASSERT_GE(cases.size(), 40u);
  for (const Json& entry : cases) {
    const RgbImage image = load_image(entry);
    const int32_t w = entry["target_width"], h = entry["target_height"];
    const std::vector<uint8_t> want = read_bytes(pixels_dir() / entry["file"].get<std::string>());
    EXPECT_EQ(
        compare_bytes(resize_bicubic_rgb8(image.rgb.data(), image.width, image.height, w, h), want),
        "")
        << entry["ppm"] << " -> " << w << "x" << h;
  }
}

TEST(PillowResize, SameSizeIsACopy) {
  const Json& entry = image_entry("grad_13x17");
  const RgbImage image = load_image(entry);
  EXPECT_EQ(
      resize_bicubic_rgb8(image.rgb.data(), image.width, image.height, image.width, image.height),
      image.rgb);
}

TEST(PillowResize, RejectsBadArguments) {
  const uint8_t pixel[3] = {1, 2, 3};
  EXPECT_EQ(error_code_of([&] { resize_bicubic_rgb8(nullptr, 1, 1, 2, 2); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { resize_bicubic_rgb8(pixel, 0, 1, 2, 2); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { resize_bicubic_rgb8(pixel, 1, 1, 0, 2); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { resize_bicubic_rgb8(pixel, 1, 1, 2, -3); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { resize_bicubic_rgb8(pixel, 1, 1, 1 << 20, 1 << 20); }),
            ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------- pipeline

// The floats are compared for exact equality: transformers' PIL backend does
// float32(float64(v) * rescale_factor), then (x - mean) / std in float32 with
// mean/std rounded to float32; each step is one correctly rounded IEEE
// operation that the C++ code performs in the same order, so no ulp slack is
// needed.
void expect_same_floats(const std::vector<float>& got,
                        const std::vector<float>& want,
                        const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && differing++ == 0) first = i;
  }
  EXPECT_EQ(differing, 0u) << what << ": first difference at " << first << " (" << got[first]
                           << " vs " << want[first] << ")";
}

TEST(BlipPreprocess, MatchesTransformersPilProcessorExactly) {
  int cases = 0;
  for (const Json& entry : index_json()["images"]) {
    const RgbImage image = load_image(entry);
    for (const Json& pixels : entry["pixels"]) {
      const auto config = ImageProcessorConfig::from_file(
          (pixels_dir() / pixels["config"].get<std::string>()).string());
      const int size = pixels["size"];
      ASSERT_EQ(config.height, size);
      const std::vector<float> want = read_floats(pixels_dir() / pixels["file"].get<std::string>());
      expect_same_floats(preprocess(rgb_view(image), config), want,
                         entry["name"].get<std::string>() + " @" + std::to_string(size));
      ++cases;
    }
  }
  EXPECT_GE(cases, 20);
}

TEST(BlipPreprocess, NonSquareTargetWithoutRescaleGivesPillowBytes) {
  for (const Json& entry : index_json()["images"]) {
    const RgbImage image = load_image(entry);
    const Json& target = entry["resized"][2];
    ImageProcessorConfig config;
    config.width = target["width"];
    config.height = target["height"];
    ASSERT_NE(config.width, config.height);
    config.do_rescale = false;
    config.do_normalize = false;
    const std::vector<uint8_t> want = read_bytes(pixels_dir() / target["file"].get<std::string>());
    const std::vector<float> got = preprocess(rgb_view(image), config);
    const size_t plane = static_cast<size_t>(config.width) * config.height;
    ASSERT_EQ(got.size(), plane * 3);
    std::vector<uint8_t> hwc(plane * 3);
    for (size_t i = 0; i < plane; ++i) {
      for (size_t c = 0; c < 3; ++c) hwc[i * 3 + c] = static_cast<uint8_t>(got[c * plane + i]);
    }
    EXPECT_EQ(compare_bytes(hwc, want), "") << entry["name"];
  }
}

TEST(BlipPreprocess, WithoutResizeKeepsTheImageSize) {
  const RgbImage image = load_image(image_entry("grad_13x17"));
  const auto config = ImageProcessorConfig::from_file(
      (pixels_dir() / index_json()["images"][0]["pixels"][0]["config"].get<std::string>())
          .string());
  ImageProcessorConfig no_resize = config;
  no_resize.do_resize = false;
  const std::vector<float> got = preprocess(rgb_view(image), no_resize);
  EXPECT_EQ(got, rescale_and_normalize(image.rgb.data(), image.width, image.height, config));
  EXPECT_EQ(got.size(), static_cast<size_t>(image.width) * image.height * 3);
}

TEST(BlipPreprocess, RejectsUnsupportedConfig) {
  const uint8_t pixel[3] = {1, 2, 3};
  const ImageView view = ImageView::packed(pixel, 1, 1, 3, PixelFormat::kRGB);
  ImageProcessorConfig config;
  config.resample = 2;
  EXPECT_EQ(error_code_of([&] { preprocess(view, config); }), ErrorCode::kUnsupported);
  config = ImageProcessorConfig();
  config.height = 0;
  EXPECT_EQ(error_code_of([&] { preprocess(view, config); }), ErrorCode::kInvalidArgument);
  config = ImageProcessorConfig();
  config.image_std[1] = 0.0f;
  EXPECT_EQ(error_code_of([&] { preprocess(view, config); }), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------- pixel formats

struct PackedFormat {
  PixelFormat format;
  int bytes_per_pixel;
  int r, g, b;  // byte offsets; the remaining byte (if any) is alpha/padding
};

const PackedFormat kPackedFormats[] = {
    {PixelFormat::kRGB, 3, 0, 1, 2},  {PixelFormat::kBGR, 3, 2, 1, 0},
    {PixelFormat::kRGBA, 4, 0, 1, 2}, {PixelFormat::kBGRA, 4, 2, 1, 0},
    {PixelFormat::kRGBx, 4, 0, 1, 2}, {PixelFormat::kBGRx, 4, 2, 1, 0},
    {PixelFormat::kxRGB, 4, 1, 2, 3}, {PixelFormat::kxBGR, 4, 3, 2, 1},
    {PixelFormat::kARGB, 4, 1, 2, 3}, {PixelFormat::kABGR, 4, 3, 2, 1},
};

// Lays RGB pixels out in `format` with `padding` garbage bytes after each
// row; the unused (alpha/x) byte gets varying garbage too.
std::vector<uint8_t> pack(const RgbImage& image,
                          const PackedFormat& format,
                          int padding,
                          int32_t* stride) {
  *stride = image.width * format.bytes_per_pixel + padding;
  std::vector<uint8_t> data(static_cast<size_t>(*stride) * image.height, 0xA5);
  std::mt19937 garbage(7);
  for (int32_t y = 0; y < image.height; ++y) {
    for (int32_t x = 0; x < image.width; ++x) {
      uint8_t* out = &data[static_cast<size_t>(y) * *stride + x * format.bytes_per_pixel];
      const uint8_t* in = &image.rgb[(static_cast<size_t>(y) * image.width + x) * 3];
      for (int i = 0; i < format.bytes_per_pixel; ++i) out[i] = static_cast<uint8_t>(garbage());
      out[format.r] = in[0];
      out[format.g] = in[1];
      out[format.b] = in[2];
    }
  }
  return data;
}

TEST(PixelFormats, PackedFormatsWithAndWithoutPaddingGiveTheSameRgb) {
  int cases = 0;
  for (const Json& entry : index_json()["images"]) {
    const RgbImage image = load_image(entry);
    if (image.width * image.height > 300 * 200) continue;  // keep it quick
    for (const PackedFormat& format : kPackedFormats) {
      for (int padding : {0, 1, 13}) {
        int32_t stride = 0;
        const std::vector<uint8_t> data = pack(image, format, padding, &stride);
        const ImageView view =
            ImageView::packed(data.data(), image.width, image.height, stride, format.format);
        EXPECT_EQ(compare_bytes(to_rgb8(view), image.rgb), "")
            << entry["name"] << " format " << static_cast<int>(format.format) << " padding "
            << padding;
        ++cases;
      }
    }
  }
  EXPECT_GE(cases, 200);
}

TEST(PixelFormats, PreprocessOfPaddedBgrxEqualsTransformersRgb) {
  const Json& entry = image_entry("noise_13x17");
  const RgbImage image = load_image(entry);
  int32_t stride = 0;
  const std::vector<uint8_t> data = pack(image, kPackedFormats[5], 7, &stride);
  const Json& pixels = entry["pixels"][1];
  const auto config = ImageProcessorConfig::from_file(
      (pixels_dir() / pixels["config"].get<std::string>()).string());
  const ImageView view =
      ImageView::packed(data.data(), image.width, image.height, stride, PixelFormat::kBGRx);
  expect_same_floats(preprocess(view, config),
                     read_floats(pixels_dir() / pixels["file"].get<std::string>()), "BGRx");
}

// The 4-byte formats with alpha, fed Pillow's RGBA input (bytes reordered):
// each must give Pillow's convert("RGB"), which drops alpha.
TEST(PixelFormats, AlphaIsDroppedLikePillowConvertRgb) {
  const Json& entries = index_json()["rgba"];
  ASSERT_GE(entries.size(), 3u);
  for (const Json& entry : entries) {
    const int32_t w = entry["width"], h = entry["height"];
    const std::vector<uint8_t> rgba = read_bytes(pixels_dir() / entry["input"].get<std::string>());
    const std::vector<uint8_t> want =
        read_bytes(pixels_dir() / entry["expected_rgb"].get<std::string>());
    ASSERT_EQ(rgba.size(), static_cast<size_t>(w) * h * 4);
    const struct {
      PixelFormat format;
      int order[4];  // source RGBA channel stored at byte i
    } layouts[] = {{PixelFormat::kRGBA, {0, 1, 2, 3}},
                   {PixelFormat::kBGRA, {2, 1, 0, 3}},
                   {PixelFormat::kARGB, {3, 0, 1, 2}},
                   {PixelFormat::kABGR, {3, 2, 1, 0}}};
    for (const auto& layout : layouts) {
      std::vector<uint8_t> data(rgba.size());
      for (size_t p = 0; p < rgba.size(); p += 4) {
        for (int i = 0; i < 4; ++i) data[p + i] = rgba[p + layout.order[i]];
      }
      const ImageView view = ImageView::packed(data.data(), w, h, w * 4, layout.format);
      EXPECT_EQ(compare_bytes(to_rgb8(view), want), "")
          << w << "x" << h << " format " << static_cast<int>(layout.format);
    }
  }
}

TEST(PixelFormats, Gray8LikePillowConvertRgb) {
  const Json& entries = index_json()["gray"];
  ASSERT_GE(entries.size(), 3u);
  for (const Json& entry : entries) {
    const int32_t w = entry["width"], h = entry["height"];
    const std::vector<uint8_t> gray = read_bytes(pixels_dir() / entry["input"].get<std::string>());
    const std::vector<uint8_t> want =
        read_bytes(pixels_dir() / entry["expected_rgb"].get<std::string>());
    for (int padding : {0, 3}) {
      const int32_t stride = w + padding;
      std::vector<uint8_t> data(static_cast<size_t>(stride) * h, 0x5A);
      for (int32_t y = 0; y < h; ++y) {
        std::memcpy(&data[static_cast<size_t>(y) * stride], &gray[static_cast<size_t>(y) * w], w);
      }
      const ImageView view = ImageView::packed(data.data(), w, h, stride, PixelFormat::kGRAY8);
      EXPECT_EQ(compare_bytes(to_rgb8(view), want), "") << w << "x" << h << " padding " << padding;
    }
  }
}

// Copies `rows` rows of `row_bytes` from a tight buffer into one with `stride`.
std::vector<uint8_t> with_stride(const uint8_t* tight,
                                 int32_t row_bytes,
                                 int32_t rows,
                                 int32_t stride) {
  std::vector<uint8_t> data(static_cast<size_t>(stride) * rows, 0xC3);
  for (int32_t y = 0; y < rows; ++y) {
    std::memcpy(&data[static_cast<size_t>(y) * stride], tight + static_cast<size_t>(y) * row_bytes,
                row_bytes);
  }
  return data;
}

// YUV parity is against the BT.601 limited-range integer formula stated in
// image_processor.cpp (ported to numpy by the oracle), not against Pillow.
TEST(PixelFormats, YuvMatchesTheStatedBt601Formula) {
  const Json& entries = index_json()["yuv"];
  ASSERT_GE(entries.size(), 10u);
  for (const Json& entry : entries) {
    const int32_t w = entry["width"], h = entry["height"];
    const int32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    const bool nv12 = entry["format"] == "NV12";
    const std::vector<uint8_t> input = read_bytes(pixels_dir() / entry["input"].get<std::string>());
    const std::vector<uint8_t> want =
        read_bytes(pixels_dir() / entry["expected_rgb"].get<std::string>());
    ASSERT_EQ(input.size(), static_cast<size_t>(w) * h + 2 * static_cast<size_t>(cw) * ch);
    for (int padding : {0, 5}) {
      const uint8_t* luma = input.data();
      const uint8_t* chroma = luma + static_cast<size_t>(w) * h;
      ImageView view;
      view.format = nv12 ? PixelFormat::kNV12 : PixelFormat::kI420;
      view.width = w;
      view.height = h;
      std::vector<std::vector<uint8_t>> planes;
      planes.push_back(with_stride(luma, w, h, w + padding));
      if (nv12) {
        planes.push_back(with_stride(chroma, 2 * cw, ch, 2 * cw + padding));
      } else {
        planes.push_back(with_stride(chroma, cw, ch, cw + padding));
        planes.push_back(with_stride(chroma + static_cast<size_t>(cw) * ch, cw, ch, cw + padding));
      }
      const int32_t widths[3] = {w, nv12 ? 2 * cw : cw, cw};
      for (size_t p = 0; p < planes.size(); ++p) {
        view.planes[p] = planes[p].data();
        view.strides[p] = widths[p] + padding;
      }
      EXPECT_EQ(compare_bytes(to_rgb8(view), want), "")
          << entry["format"] << " " << w << "x" << h << " padding " << padding;
    }
  }
}

// ---------------------------------------------------------------- bad input

TEST(PixelFormats, RejectsBadImages) {
  std::vector<uint8_t> buffer(64 * 64 * 4, 0);
  const uint8_t* data = buffer.data();
  auto packed = [&](int32_t w, int32_t h, int32_t stride, PixelFormat f) {
    return error_code_of([&] { to_rgb8(ImageView::packed(data, w, h, stride, f)); });
  };
  EXPECT_EQ(packed(0, 0, 0, PixelFormat::kRGB), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(0, 4, 12, PixelFormat::kRGB), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(4, -1, 12, PixelFormat::kRGB), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(4, 4, 11, PixelFormat::kRGB), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(4, 4, 15, PixelFormat::kBGRx), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(4, 4, 3, PixelFormat::kGRAY8), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(4, 4, -16, PixelFormat::kRGBA), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(1 << 30, 1 << 30, 1 << 30, PixelFormat::kRGB), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(100000, 1, 300000, PixelFormat::kRGB), ErrorCode::kInvalidArgument);
  EXPECT_EQ(packed(4, 4, 16, static_cast<PixelFormat>(99)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      error_code_of([&] { to_rgb8(ImageView::packed(nullptr, 4, 4, 12, PixelFormat::kRGB)); }),
      ErrorCode::kInvalidArgument);

  // Planar: every plane must be present and wide enough (chroma of a 5-wide
  // image is 3 samples wide).
  auto planar = [&](PixelFormat f, std::array<const uint8_t*, 3> planes,
                    std::array<int32_t, 3> strides) {
    ImageView view;
    view.format = f;
    view.width = 5;
    view.height = 3;
    for (int p = 0; p < 3; ++p) {
      view.planes[p] = planes[p];
      view.strides[p] = strides[p];
    }
    return view;
  };
  const ImageView good_i420 = planar(PixelFormat::kI420, {data, data, data}, {5, 3, 3});
  const ImageView good_nv12 = planar(PixelFormat::kNV12, {data, data, nullptr}, {5, 6, 0});
  EXPECT_EQ(to_rgb8(good_i420).size(), 5u * 3 * 3);
  EXPECT_EQ(to_rgb8(good_nv12).size(), 5u * 3 * 3);
  const ImageView bad[] = {
      planar(PixelFormat::kI420, {data, data, nullptr}, {5, 3, 3}),
      planar(PixelFormat::kI420, {nullptr, data, data}, {5, 3, 3}),
      planar(PixelFormat::kI420, {data, data, data}, {4, 3, 3}),
      planar(PixelFormat::kI420, {data, data, data}, {5, 2, 3}),
      planar(PixelFormat::kI420, {data, data, data}, {5, 3, 2}),
      planar(PixelFormat::kNV12, {data, nullptr, nullptr}, {5, 6, 0}),
      planar(PixelFormat::kNV12, {data, data, nullptr}, {5, 5, 0}),
      planar(PixelFormat::kNV12, {data, data, nullptr}, {4, 6, 0}),
  };
  for (const ImageView& view : bad) {
    EXPECT_EQ(error_code_of([&] { to_rgb8(view); }), ErrorCode::kInvalidArgument)
        << "format " << static_cast<int>(view.format) << " strides " << view.strides[0] << ","
        << view.strides[1] << "," << view.strides[2];
    ImageProcessorConfig config;
    EXPECT_EQ(error_code_of([&] { preprocess(view, config); }), ErrorCode::kInvalidArgument);
  }
}

// ---------------------------------------------------------------- config file

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("blip2-image-config-" + std::to_string(std::random_device()()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& text) {
    const fs::path path = dir_ / ("config" + std::to_string(count_++) + ".json");
    std::ofstream(path) << text;
    return path.string();
  }
  ErrorCode load_error(const std::string& text) {
    const std::string path = write(text);
    return error_code_of([&] { ImageProcessorConfig::from_file(path); });
  }

  fs::path dir_;
  int count_ = 0;
};

TEST_F(ConfigFile, ReadsTheFilesTransformersWrites) {
  for (const Json& pixels : index_json()["images"][0]["pixels"]) {
    const fs::path path = pixels_dir() / pixels["config"].get<std::string>();
    const std::vector<uint8_t> text = read_bytes(path);
    const Json json = Json::parse(text.begin(), text.end());
    const auto config = ImageProcessorConfig::from_file(path.string());
    EXPECT_EQ(config.height, json["size"]["height"].get<int>());
    EXPECT_EQ(config.width, json["size"]["width"].get<int>());
    EXPECT_EQ(config.height, pixels["size"].get<int>());
    EXPECT_EQ(config.do_resize, json["do_resize"].get<bool>());
    EXPECT_EQ(config.do_rescale, json["do_rescale"].get<bool>());
    EXPECT_EQ(config.do_normalize, json["do_normalize"].get<bool>());
    EXPECT_EQ(config.do_convert_rgb, json["do_convert_rgb"].get<bool>());
    EXPECT_EQ(config.resample, json["resample"].get<int>());
    EXPECT_EQ(config.rescale_factor, json["rescale_factor"].get<double>());
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(config.image_mean[c], static_cast<float>(json["image_mean"][c].get<double>()));
      EXPECT_EQ(config.image_std[c], static_cast<float>(json["image_std"][c].get<double>()));
    }
  }
}

TEST_F(ConfigFile, ReadsEveryField) {
  const auto config = ImageProcessorConfig::from_file(
      write(R"({"size": {"height": 70, "width": 56}, "do_resize": false, "do_rescale": false,
                "do_normalize": false, "do_convert_rgb": false, "resample": 3,
                "rescale_factor": 0.5, "image_mean": [0.25, 0.5, 0.75],
                "image_std": 2.0, "do_center_crop": false, "crop_size": null})"));
  EXPECT_EQ(config.height, 70);
  EXPECT_EQ(config.width, 56);
  EXPECT_FALSE(config.do_resize);
  EXPECT_FALSE(config.do_rescale);
  EXPECT_FALSE(config.do_normalize);
  EXPECT_FALSE(config.do_convert_rgb);
  EXPECT_EQ(config.rescale_factor, 0.5);
  EXPECT_EQ(config.image_mean, (std::array<float, 3>{0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(config.image_std, (std::array<float, 3>{2.0f, 2.0f, 2.0f}));

  const auto square = ImageProcessorConfig::from_file(write(R"({"size": 364})"));
  EXPECT_EQ(square.height, 364);
  EXPECT_EQ(square.width, 364);
  const auto defaults = ImageProcessorConfig::from_file(write("{}"));
  EXPECT_EQ(defaults.height, ImageProcessorConfig().height);
}

TEST_F(ConfigFile, ReportsBadOrUnsupportedFiles) {
  EXPECT_EQ(
      error_code_of([&] { ImageProcessorConfig::from_file((dir_ / "missing.json").string()); }),
      ErrorCode::kNotFound);
  EXPECT_EQ(load_error("{\"size\": "), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error("[1, 2]"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"size": {"shortest_edge": 224}})"), ErrorCode::kUnsupported);
  EXPECT_EQ(load_error(R"({"size": {"longest_edge": 224}})"), ErrorCode::kUnsupported);
  EXPECT_EQ(load_error(R"({"size": {"height": 224}})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"size": {"height": 0, "width": 224}})"), ErrorCode::kUnsupported);
  EXPECT_EQ(load_error(R"({"size": {"height": 1.5, "width": 224}})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"size": "big"})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"resample": 2})"), ErrorCode::kUnsupported);
  EXPECT_EQ(load_error(R"({"resample": "bicubic"})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"do_center_crop": true})"), ErrorCode::kUnsupported);
  EXPECT_EQ(load_error(R"({"do_pad": true})"), ErrorCode::kUnsupported);
  EXPECT_EQ(load_error(R"({"do_resize": "yes"})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"image_mean": [0.5, 0.5]})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"image_std": [0.5, "a", 0.5]})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"image_std": [0.5, 0, 0.5]})"), ErrorCode::kInvalidFormat);
  EXPECT_EQ(load_error(R"({"rescale_factor": "1/255"})"), ErrorCode::kInvalidFormat);
}

}  // namespace
}  // namespace blip2
