// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// change_detector.h — the picture-change test of the change sampling mode.
// No GStreamer and no torch: a frame is a blip2::ImageView (src/image.h).
//
// A frame is reduced to a 16x16 luma thumbnail (each cell the mean of a
// 16x16 grid of luma samples spread over the cell, so at most 65536 pixels
// are read whatever the frame size). The distance of two thumbnails is the
// mean absolute difference of their cells once each is levelled to its mean
// brightness, plus half the difference of the mean brightness, over 255: a
// new layout counts fully, a global exposure change half (cameras flicker
// and adjust exposure; a cut between two flat pictures still counts).
// ChangeSampler decides which frames are captioned: the first one, then a
// frame whose thumbnail differs from the last captioned frame's by at least
// `threshold`, never sooner than `min_interval` after the last caption and
// never later than `max_interval`.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "image.h"

namespace blip2caption {

inline constexpr uint64_t kNoTime = UINT64_MAX;  // as GST_CLOCK_TIME_NONE

class LumaThumbnail
{
 public:
  static constexpr int kSide = 16;                  // cells per row and per column
  static constexpr int kSamplesPerSide = 16;        // luma samples per cell, per axis
  static constexpr double kBrightnessWeight = 0.5;  // weight of a global brightness change

  // The thumbnail of `image`; an empty image (0x0) gives an all-zero one.
  static LumaThumbnail of (const blip2::ImageView &image);

  // 0 for equal thumbnails; at most 1.
  double distance (const LumaThumbnail &other) const;

  uint8_t
  cell (int x, int y) const
  {
    return cells_[y * kSide + x];
  }

 private:
  std::array<uint8_t, kSide * kSide> cells_{};
};

// Why ChangeSampler::decide took or left a frame.
enum class ChangeVerdict {
  kFirst,      // first frame (or first after reset / a jump back in time): captioned
  kChanged,    // differs from the last captioned frame by >= threshold: captioned
  kMaxGap,     // max_interval since the last caption: captioned although unchanged
  kUnchanged,  // tested after min_interval, no change: not captioned
  kTooSoon,    // less than min_interval since the last caption: not tested, not captioned
};

inline bool
verdict_captions (ChangeVerdict v)
{
  return v == ChangeVerdict::kFirst || v == ChangeVerdict::kChanged || v == ChangeVerdict::kMaxGap;
}

struct ChangeSettings
{
  uint64_t min_interval = 0;        // ns; shortest gap between captions
  uint64_t max_interval = kNoTime;  // ns; longest gap; 0 = every frame, kNoTime = none
  double threshold = 0.0;           // distance that counts as a change
};

// The sampling decision of the change mode. Times are stream-time
// nanoseconds (kNoTime = unknown). Overflow-safe for any interval value.
class ChangeSampler
{
 public:
  // Default threshold, chosen with tests/bench/change_threshold.py (see
  // docs/change-detection.md): above the largest distance measured within a
  // still shot (sensor-like noise and exposure flicker, TV snow, a moving
  // ball: at most 0.029) and below 94% of the distances measured across
  // cuts between two different still pictures.
  static constexpr double kDefaultThreshold = 0.035;

  // Decides for the frame at `pts`. `thumbnail` is called only when the
  // frame is tested or captioned (never for kTooSoon), so a frame that is
  // too soon costs no pixel reads.
  ChangeVerdict decide (uint64_t pts,
                        const ChangeSettings &settings,
                        const std::function<LumaThumbnail ()> &thumbnail);

  // The distance measured by the last decide() that tested (-1 if none).
  double
  last_distance () const
  {
    return last_distance_;
  }

  // Forget the reference frame (new segment, flush).
  void
  reset ()
  {
    *this = ChangeSampler ();
  }

 private:
  bool have_reference_ = false;
  LumaThumbnail reference_;
  uint64_t reference_pts_ = kNoTime;
  double last_distance_ = -1.0;
};

}  // namespace blip2caption
