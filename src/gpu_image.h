// gpu_image.h — BLIP image preprocessing on a torch device (the CUDA path).
//
// The frame's bytes are uploaded once, as they are (one copy per plane, rows
// at the caller's stride), then everything runs on the device:
//   bytes -> RGB8 (packed formats, GRAY8, I420 and NV12; the BT.601 integer
//   formula of image_processor.cpp, so the RGB8 image is bit-identical to
//   to_rgb8) -> Pillow's two separable bicubic passes, each with libtorch's
//   antialiased bicubic (_upsample_bicubic2d_aa, Pillow's filter) in float32
//   and rounded back to 8 bits as Pillow does between and after its passes ->
//   rescale + normalise through the same 256-entry table as the CPU path (so
//   equal bytes give equal floats).
// Only the resize arithmetic differs from Pillow (float32 weights instead of
// 22-bit fixed point): a few values come out one level apart
// (tests/unit/test_gpu_path.cpp measures it). The same code runs on CPU
// tensors, which is how it is tested without a GPU.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "image.h"
#include "image_processor.h"

namespace blip2 {

// One frame uploaded and converted: [3, H, W] uint8 on `device`, bit-identical
// to to_rgb8(image) (transposed to channel-major). Throws blip2::Error on a bad
// view (empty, null plane, stride smaller than a row, unknown format).
at::Tensor frame_to_rgb_on_device(const ImageView& image, const at::Device& device);

// rgb: [3, H, W] uint8 -> [3, out_height, out_width] uint8: one pass per axis
// whose size changes, in Pillow's order, each an antialiased bicubic (a = -0.5,
// support scaled by the shrink factor) in float32 rounded to 8 bits.
at::Tensor resize_rgb_on_device(const at::Tensor& rgb, int64_t out_height, int64_t out_width);

// rgb: [3, H, W] uint8 -> [3, H, W] float32: rescale and normalise with the
// exact values of rescale_and_normalize (a per-channel lookup table).
at::Tensor normalize_rgb_on_device(const at::Tensor& rgb, const ImageProcessorConfig& config);

// The whole pipeline for a batch: -> [B, 3, height, width] float32 on
// `device` (config height/width when do_resize, else every image's own size,
// which must then agree).
at::Tensor preprocess_on_device(const std::vector<ImageView>& images,
                                const ImageProcessorConfig& config,
                                const at::Device& device);

// Whether Model::Impl::pixel_values takes this path for a CUDA model
// (process-wide; default true). false: the Pillow-exact CPU path, then upload.
void set_device_preprocessing(bool enabled);
bool device_preprocessing();

}  // namespace blip2
