// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#include "change_detector.h"

#include <cmath>
#include <cstdlib>

namespace blip2caption {
namespace {

struct PackedLayout
{
  int bytes_per_pixel;
  int r, g, b;  // byte offsets
};

// Byte layout of the packed RGB formats; GRAY8 and YUV read plane 0 as is.
bool
packed_layout (blip2::PixelFormat format, PackedLayout *out)
{
  using F = blip2::PixelFormat;
  switch (format) {
    case F::kRGB:
      *out = {3, 0, 1, 2};
      return true;
    case F::kBGR:
      *out = {3, 2, 1, 0};
      return true;
    case F::kRGBA:
    case F::kRGBx:
      *out = {4, 0, 1, 2};
      return true;
    case F::kBGRA:
    case F::kBGRx:
      *out = {4, 2, 1, 0};
      return true;
    case F::kARGB:
    case F::kxRGB:
      *out = {4, 1, 2, 3};
      return true;
    case F::kABGR:
    case F::kxBGR:
      *out = {4, 3, 2, 1};
      return true;
    default:
      return false;
  }
}

// BT.601 limited-range luma, the scale of the Y plane of I420 and NV12, so
// one picture gives nearly the same thumbnail in every format.
inline int
luma_of_rgb (int r, int g, int b)
{
  return ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
}

// Luma of the pixel at (x, y).
class LumaReader
{
 public:
  explicit LumaReader (const blip2::ImageView &image) : image_ (image)
  {
    packed_ = packed_layout (image.format, &layout_);
  }

  int
  at (int x, int y) const
  {
    const uint8_t *row = image_.planes[0] + static_cast<int64_t> (y) * image_.strides[0];
    if (packed_) {
      const uint8_t *p = row + x * layout_.bytes_per_pixel;
      return luma_of_rgb (p[layout_.r], p[layout_.g], p[layout_.b]);
    }
    if (image_.format == blip2::PixelFormat::kGRAY8)
      return luma_of_rgb (row[x], row[x], row[x]);
    return row[x];  // I420, NV12: the Y plane
  }

 private:
  const blip2::ImageView &image_;
  PackedLayout layout_{};
  bool packed_ = false;
};

// The pixel coordinate of sample `i` of `n` spread evenly over `extent`.
inline int
sample_coordinate (int i, int n, int extent)
{
  return static_cast<int> ((static_cast<int64_t> (2 * i + 1) * extent) / (2 * n));
}

}  // namespace

LumaThumbnail
LumaThumbnail::of (const blip2::ImageView &image)
{
  LumaThumbnail thumb;
  if (image.width <= 0 || image.height <= 0 || image.planes[0] == nullptr)
    return thumb;
  constexpr int kGrid = kSide * kSamplesPerSide;
  std::array<int, kGrid> xs;
  for (int i = 0; i < kGrid; ++i)
    xs[i] = sample_coordinate (i, kGrid, image.width);
  LumaReader reader (image);
  std::array<int, kSide * kSide> sums{};
  for (int j = 0; j < kGrid; ++j) {
    const int y = sample_coordinate (j, kGrid, image.height);
    int *row_sums = &sums[(j / kSamplesPerSide) * kSide];
    for (int i = 0; i < kGrid; ++i)
      row_sums[i / kSamplesPerSide] += reader.at (xs[i], y);
  }
  constexpr int kPerCell = kSamplesPerSide * kSamplesPerSide;
  for (size_t c = 0; c < sums.size (); ++c)
    thumb.cells_[c] = static_cast<uint8_t> ((sums[c] + kPerCell / 2) / kPerCell);
  return thumb;
}

double
LumaThumbnail::distance (const LumaThumbnail &other) const
{
  int sum_a = 0, sum_b = 0;
  for (size_t c = 0; c < cells_.size (); ++c)
    sum_a += cells_[c], sum_b += other.cells_[c];
  const double n = static_cast<double> (cells_.size ());
  const double mean_a = sum_a / n, mean_b = sum_b / n;
  double layout = 0.0;  // how the picture differs once the brightness is levelled
  for (size_t c = 0; c < cells_.size (); ++c)
    layout += std::abs ((cells_[c] - mean_a) - (other.cells_[c] - mean_b));
  const double brightness = std::abs (mean_a - mean_b);
  return (layout / n + kBrightnessWeight * brightness) / 255.0;
}

ChangeVerdict
ChangeSampler::decide (uint64_t pts,
                       const ChangeSettings &settings,
                       const std::function<LumaThumbnail ()> &thumbnail)
{
  last_distance_ = -1.0;
  const bool timed = pts != kNoTime && reference_pts_ != kNoTime;
  const bool went_back = timed && pts < reference_pts_;
  if (!have_reference_ || went_back) {
    reference_ = thumbnail ();
    reference_pts_ = pts;
    have_reference_ = true;
    return ChangeVerdict::kFirst;
  }
  const uint64_t elapsed = timed ? pts - reference_pts_ : 0;
  if (timed && elapsed < settings.min_interval)
    return ChangeVerdict::kTooSoon;

  LumaThumbnail current = thumbnail ();
  last_distance_ = current.distance (reference_);
  ChangeVerdict verdict = ChangeVerdict::kUnchanged;
  if (last_distance_ >= settings.threshold)
    verdict = ChangeVerdict::kChanged;
  else if (timed && settings.max_interval != kNoTime && elapsed >= settings.max_interval)
    verdict = ChangeVerdict::kMaxGap;
  if (verdict != ChangeVerdict::kUnchanged) {
    reference_ = current;
    if (pts != kNoTime)
      reference_pts_ = pts;
  }
  return verdict;
}

}  // namespace blip2caption
