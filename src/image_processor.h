// image_processor.h — BlipImageProcessor in C++ (torch-free).
//
// Any ImageView -> packed RGB8 -> Pillow-exact bicubic resize to the model's
// size -> rescale (x/255 computed as in transformers) -> normalise with the
// preprocessor_config.json mean/std -> CHW float32.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "image.h"

namespace blip2 {

// Fields named as in preprocessor_config.json, with BLIP-2's values as defaults.
struct ImageProcessorConfig {
  int32_t height = 224;
  int32_t width = 224;
  bool do_resize = true;
  bool do_rescale = true;
  bool do_normalize = true;
  bool do_convert_rgb = true;
  int32_t resample = 3;  // PIL.Image.BICUBIC (the only filter supported)
  double rescale_factor = 1.0 / 255.0;
  std::array<float, 3> image_mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> image_std = {0.26862954f, 0.26130258f, 0.27577711f};

  // Reads preprocessor_config.json; throws blip2::Error naming the file.
  static ImageProcessorConfig from_file(const std::string& path);
};

// Packed RGB8 (row-major HxWx3) of any supported ImageView. Throws on an empty
// image, a null plane, a stride smaller than a row, or an unknown format.
std::vector<uint8_t> to_rgb8(const ImageView& image);

// Pillow's Image.resize(..., BICUBIC) on RGB8, bit for bit as Pillow 13 does
// it (reducing_gap=None): two separable passes in 22-bit fixed point through
// a uint8 intermediate, a pass skipped when its size does not change,
// horizontal first unless the height shrinks by more than twice as many pixels
// as the width (then vertical first). Throws on null input or bad sizes.
std::vector<uint8_t> resize_bicubic_rgb8(
    const uint8_t* rgb, int32_t width, int32_t height, int32_t out_width, int32_t out_height);

// Packed RGB8 (HxWx3) -> [3, height, width] float32: rescale (when
// do_rescale) as float32(float64(v) * rescale_factor), then normalise (when
// do_normalize) as (x - mean) / std in float32, like transformers' PIL backend.
std::vector<float> rescale_and_normalize(const uint8_t* rgb,
                                         int32_t width,
                                         int32_t height,
                                         const ImageProcessorConfig& config);

// The whole pipeline; returns [3, height, width] float32, channel-major
// (config height/width when do_resize, else the image's own size). Throws
// blip2::Error on a bad image or an unsupported config (e.g. resample != 3).
std::vector<float> preprocess(const ImageView& image, const ImageProcessorConfig& config);

}  // namespace blip2
