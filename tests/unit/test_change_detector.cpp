// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The change test of the change sampling mode: luma thumbnails of every
// supported format, their distance, and the min/max interval decisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "change_detector.h"

namespace {

using blip2::ImageView;
using blip2::PixelFormat;
using blip2caption::ChangeSampler;
using blip2caption::ChangeSettings;
using blip2caption::ChangeVerdict;
using blip2caption::kNoTime;
using blip2caption::LumaThumbnail;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kSec = 1000 * kMs;

// An RGB picture drawn by a function of (x, y) -> {r, g, b}, stored in any
// of the supported formats with padded strides.
struct Picture {
  int width, height;
  std::vector<uint8_t> rgb;  // packed RGB

  template <typename F>
  Picture(int w, int h, F pixel) : width(w), height(h), rgb(static_cast<size_t>(w) * h * 3) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        auto [r, g, b] = pixel(x, y);
        uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
        p[0] = r, p[1] = g, p[2] = b;
      }
  }
  const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

int y_of(const uint8_t* p) { return ((66 * p[0] + 129 * p[1] + 25 * p[2] + 128) >> 8) + 16; }

// Owns the bytes of a picture in one format and hands out a view.
struct Stored {
  std::vector<uint8_t> planes[3];
  ImageView view;
};

Stored store(const Picture& pic, PixelFormat format) {
  Stored s;
  s.view.format = format;
  s.view.width = pic.width;
  s.view.height = pic.height;
  const int w = pic.width, h = pic.height;
  auto packed = [&](int bpp, int r, int g, int b) {
    int stride = w * bpp + 7;  // padded rows
    s.planes[0].assign(static_cast<size_t>(stride) * h, 0xAB);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t* d = &s.planes[0][static_cast<size_t>(y) * stride + x * bpp];
        d[r] = pic.at(x, y)[0], d[g] = pic.at(x, y)[1], d[b] = pic.at(x, y)[2];
      }
    s.view.strides[0] = stride;
  };
  switch (format) {
    case PixelFormat::kRGB:
      packed(3, 0, 1, 2);
      break;
    case PixelFormat::kBGR:
      packed(3, 2, 1, 0);
      break;
    case PixelFormat::kRGBA:
    case PixelFormat::kRGBx:
      packed(4, 0, 1, 2);
      break;
    case PixelFormat::kBGRA:
    case PixelFormat::kBGRx:
      packed(4, 2, 1, 0);
      break;
    case PixelFormat::kARGB:
    case PixelFormat::kxRGB:
      packed(4, 1, 2, 3);
      break;
    case PixelFormat::kABGR:
    case PixelFormat::kxBGR:
      packed(4, 3, 2, 1);
      break;
    case PixelFormat::kGRAY8:
    case PixelFormat::kI420:
    case PixelFormat::kNV12: {
      int stride = w + 5;
      s.planes[0].assign(static_cast<size_t>(stride) * h, 0);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const uint8_t* p = pic.at(x, y);
          s.planes[0][static_cast<size_t>(y) * stride + x] =
              format == PixelFormat::kGRAY8 ? p[1] : static_cast<uint8_t>(y_of(p));
        }
      s.view.strides[0] = stride;
      // Chroma planes with values that must not matter.
      for (int plane = 1; plane < (format == PixelFormat::kI420   ? 3
                                   : format == PixelFormat::kNV12 ? 2
                                                                  : 1);
           ++plane) {
        s.planes[plane].assign(static_cast<size_t>(w) * h, static_cast<uint8_t>(37 * plane));
        s.view.strides[plane] = w;
      }
      break;
    }
  }
  for (int p = 0; p < 3; ++p) s.view.planes[p] = s.planes[p].empty() ? nullptr : s.planes[p].data();
  return s;
}

Picture gradient(int w, int h) {
  return Picture(w, h, [&](int x, int y) {
    return std::tuple<uint8_t, uint8_t, uint8_t>(x * 255 / w, y * 255 / h, (x + y) % 256);
  });
}

Picture flat(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  return Picture(w, h, [&](int, int) { return std::tuple<uint8_t, uint8_t, uint8_t>(r, g, b); });
}

TEST(LumaThumbnail, FlatPictureGivesItsLumaEverywhere) {
  Picture grey = flat(320, 240, 128, 128, 128);
  LumaThumbnail t = LumaThumbnail::of(store(grey, PixelFormat::kRGB).view);
  const int expected = y_of(grey.at(0, 0));
  for (int y = 0; y < LumaThumbnail::kSide; ++y)
    for (int x = 0; x < LumaThumbnail::kSide; ++x) EXPECT_EQ(t.cell(x, y), expected);
}

TEST(LumaThumbnail, CellsFollowThePictureLayout) {
  // Left half black, right half white: cells 0..7 dark, 8..15 bright.
  Picture half(640, 360, [](int x, int) {
    uint8_t v = x < 320 ? 0 : 255;
    return std::tuple<uint8_t, uint8_t, uint8_t>(v, v, v);
  });
  LumaThumbnail t = LumaThumbnail::of(store(half, PixelFormat::kRGB).view);
  EXPECT_EQ(t.cell(0, 5), 16);
  EXPECT_EQ(t.cell(7, 5), 16);
  EXPECT_EQ(t.cell(8, 5), 235);
  EXPECT_EQ(t.cell(15, 15), 235);
}

TEST(LumaThumbnail, EveryFormatGivesNearlyTheSameThumbnail) {
  Picture pic = gradient(200, 120);
  LumaThumbnail reference = LumaThumbnail::of(store(pic, PixelFormat::kRGB).view);
  for (PixelFormat f :
       {PixelFormat::kBGR, PixelFormat::kRGBA, PixelFormat::kBGRA, PixelFormat::kRGBx,
        PixelFormat::kBGRx, PixelFormat::kxRGB, PixelFormat::kxBGR, PixelFormat::kARGB,
        PixelFormat::kABGR, PixelFormat::kI420, PixelFormat::kNV12}) {
    Stored s = store(pic, f);
    EXPECT_EQ(LumaThumbnail::of(s.view).distance(reference), 0.0) << static_cast<int>(f);
  }
  // GRAY8 stores one channel: a grey picture gives the luma of its RGB copy.
  Picture grey_pic(200, 120, [](int x, int) {
    uint8_t v = static_cast<uint8_t>(x);
    return std::tuple<uint8_t, uint8_t, uint8_t>(v, v, v);
  });
  EXPECT_LT(LumaThumbnail::of(store(grey_pic, PixelFormat::kGRAY8).view)
                .distance(LumaThumbnail::of(store(grey_pic, PixelFormat::kRGB).view)),
            0.01);
}

TEST(LumaThumbnail, TinyAndOddSizedFramesWork) {
  for (auto [w, h] : {std::pair{1, 1}, {3, 2}, {17, 250}, {1921, 1081}}) {
    Picture pic = gradient(w, h);
    LumaThumbnail a = LumaThumbnail::of(store(pic, PixelFormat::kI420).view);
    LumaThumbnail b = LumaThumbnail::of(store(pic, PixelFormat::kBGRx).view);
    EXPECT_EQ(a.distance(b), 0.0) << w << "x" << h;
  }
  ImageView empty;
  EXPECT_EQ(LumaThumbnail::of(empty).cell(0, 0), 0);
}

TEST(LumaThumbnail, BrightnessCountsHalfLayoutCountsFully) {
  Picture black = flat(64, 64, 0, 0, 0), white = flat(64, 64, 255, 255, 255);
  LumaThumbnail b = LumaThumbnail::of(store(black, PixelFormat::kGRAY8).view);
  LumaThumbnail w = LumaThumbnail::of(store(white, PixelFormat::kGRAY8).view);
  EXPECT_EQ(b.distance(b), 0.0);
  // GRAY8 0 and 255 map to luma 16 and 235: a flat change of 219 counts half.
  EXPECT_NEAR(b.distance(w), 0.5 * 219.0 / 255.0, 1e-12);
  EXPECT_EQ(b.distance(w), w.distance(b));
  // Left half white on black vs right half white: the layout changes fully
  // (every cell by 219) at the same mean brightness.
  auto half = [](bool left) {
    return Picture(64, 64, [left](int x, int) {
      uint8_t v = (x < 32) == left ? 255 : 0;
      return std::tuple<uint8_t, uint8_t, uint8_t>(v, v, v);
    });
  };
  LumaThumbnail l = LumaThumbnail::of(store(half(true), PixelFormat::kGRAY8).view);
  LumaThumbnail r = LumaThumbnail::of(store(half(false), PixelFormat::kGRAY8).view);
  EXPECT_NEAR(l.distance(r), 219.0 / 255.0, 1e-12);
  // A uniform exposure change of 10% moves the distance by much less.
  Picture pic = gradient(64, 64);
  Picture brighter(64, 64, [&](int x, int y) {
    auto up = [](uint8_t v) { return static_cast<uint8_t>(std::min(255, v * 11 / 10)); };
    const uint8_t* p = pic.at(x, y);
    return std::tuple<uint8_t, uint8_t, uint8_t>(up(p[0]), up(p[1]), up(p[2]));
  });
  EXPECT_LT(LumaThumbnail::of(store(pic, PixelFormat::kRGB).view)
                .distance(LumaThumbnail::of(store(brighter, PixelFormat::kRGB).view)),
            ChangeSampler::kDefaultThreshold);
}

TEST(LumaThumbnail, SensorNoiseStaysFarBelowTheDefaultThreshold) {
  Picture pic = gradient(640, 360);
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 6.0);
  Picture noisy(640, 360, [&](int x, int y) {
    auto n = [&](uint8_t v) {
      return static_cast<uint8_t>(std::clamp(v + noise(rng), 0.0, 255.0));
    };
    const uint8_t* p = pic.at(x, y);
    return std::tuple<uint8_t, uint8_t, uint8_t>(n(p[0]), n(p[1]), n(p[2]));
  });
  double d = LumaThumbnail::of(store(pic, PixelFormat::kRGB).view)
                 .distance(LumaThumbnail::of(store(noisy, PixelFormat::kRGB).view));
  EXPECT_LT(d, ChangeSampler::kDefaultThreshold / 4);
}

// A sampler fed frames of two pictures, A or B.
struct Feed {
  LumaThumbnail a = LumaThumbnail::of(store(flat(32, 32, 0, 0, 0), PixelFormat::kRGB).view);
  LumaThumbnail b = LumaThumbnail::of(store(flat(32, 32, 255, 255, 255), PixelFormat::kRGB).view);
  ChangeSampler sampler;
  int thumbnails = 0;

  ChangeVerdict frame(uint64_t pts, bool is_b, const ChangeSettings& s) {
    return sampler.decide(pts, s, [&] {
      ++thumbnails;
      return is_b ? b : a;
    });
  }
};

ChangeSettings settings(uint64_t min_interval, uint64_t max_interval) {
  ChangeSettings s;
  s.min_interval = min_interval;
  s.max_interval = max_interval;
  s.threshold = ChangeSampler::kDefaultThreshold;
  return s;
}

TEST(ChangeSampler, CaptionsTheFirstFrameThenOnlyChanges) {
  Feed f;
  ChangeSettings s = settings(0, kNoTime);
  EXPECT_EQ(f.frame(0, false, s), ChangeVerdict::kFirst);
  for (int i = 1; i < 10; ++i)
    EXPECT_EQ(f.frame(i * 40 * kMs, false, s), ChangeVerdict::kUnchanged);
  EXPECT_EQ(f.frame(400 * kMs, true, s), ChangeVerdict::kChanged);
  EXPECT_NEAR(f.sampler.last_distance(), 0.5 * 219.0 / 255.0, 1e-9);  // black to white
  // The reference is now B: B again is no change, A is one.
  EXPECT_EQ(f.frame(440 * kMs, true, s), ChangeVerdict::kUnchanged);
  EXPECT_EQ(f.frame(480 * kMs, false, s), ChangeVerdict::kChanged);
}

TEST(ChangeSampler, MinIntervalDefersAChangeAndSkipsThePixels) {
  Feed f;
  ChangeSettings s = settings(1 * kSec, kNoTime);
  EXPECT_EQ(f.frame(0, false, s), ChangeVerdict::kFirst);
  EXPECT_EQ(f.thumbnails, 1);
  // A cut at 0.5 s: too soon, and no thumbnail is computed.
  for (uint64_t t = 500 * kMs; t < 1 * kSec; t += 100 * kMs)
    EXPECT_EQ(f.frame(t, true, s), ChangeVerdict::kTooSoon);
  EXPECT_EQ(f.thumbnails, 1);
  // At 1 s the picture still differs from the captioned one: captioned now.
  EXPECT_EQ(f.frame(1 * kSec, true, s), ChangeVerdict::kChanged);
}

TEST(ChangeSampler, MaxIntervalCaptionsAnUnchangedPicture) {
  Feed f;
  ChangeSettings s = settings(500 * kMs, 3 * kSec);
  EXPECT_EQ(f.frame(0, false, s), ChangeVerdict::kFirst);
  std::vector<uint64_t> captioned;
  for (uint64_t t = 100 * kMs; t <= 10 * kSec; t += 100 * kMs)
    if (blip2caption::verdict_captions(f.frame(t, false, s))) captioned.push_back(t);
  EXPECT_EQ(captioned, (std::vector<uint64_t>{3 * kSec, 6 * kSec, 9 * kSec}));
}

TEST(ChangeSampler, ZeroMaxIntervalCaptionsEveryTestedFrame) {
  Feed f;
  ChangeSettings s = settings(0, 0);
  EXPECT_EQ(f.frame(0, false, s), ChangeVerdict::kFirst);
  EXPECT_EQ(f.frame(40 * kMs, false, s), ChangeVerdict::kMaxGap);
  EXPECT_EQ(f.frame(80 * kMs, false, s), ChangeVerdict::kMaxGap);
}

TEST(ChangeSampler, HugeIntervalsDoNotOverflow) {
  Feed f;
  ChangeSettings s = settings(kNoTime - 1, kNoTime - 1);
  const uint64_t late = kNoTime - 10;
  EXPECT_EQ(f.frame(late - 5, false, s), ChangeVerdict::kFirst);
  EXPECT_EQ(f.frame(late, true, s), ChangeVerdict::kTooSoon);
  ChangeSettings no_min = settings(0, kNoTime - 1);
  EXPECT_EQ(f.frame(late, false, no_min), ChangeVerdict::kUnchanged);
  EXPECT_EQ(f.frame(late + 1, true, no_min), ChangeVerdict::kChanged);
}

TEST(ChangeSampler, GoingBackInTimeOrResetStartsOver) {
  Feed f;
  ChangeSettings s = settings(1 * kSec, 5 * kSec);
  EXPECT_EQ(f.frame(10 * kSec, false, s), ChangeVerdict::kFirst);
  EXPECT_EQ(f.frame(2 * kSec, false, s), ChangeVerdict::kFirst);
  f.sampler.reset();
  EXPECT_EQ(f.frame(2 * kSec + 1, false, s), ChangeVerdict::kFirst);
}

TEST(ChangeSampler, UntimedFramesAreJudgedByThePictureAlone) {
  Feed f;
  ChangeSettings s = settings(1 * kSec, 2 * kSec);
  EXPECT_EQ(f.frame(kNoTime, false, s), ChangeVerdict::kFirst);
  EXPECT_EQ(f.frame(kNoTime, false, s), ChangeVerdict::kUnchanged);
  EXPECT_EQ(f.frame(kNoTime, true, s), ChangeVerdict::kChanged);
}

TEST(ChangeSampler, ThresholdDecides) {
  Feed f;
  ChangeSettings s = settings(0, kNoTime);
  s.threshold = 0.5;  // black to white is 0.43 here
  EXPECT_EQ(f.frame(0, false, s), ChangeVerdict::kFirst);
  EXPECT_EQ(f.frame(1, true, s), ChangeVerdict::kUnchanged);
  s.threshold = 0.0;  // everything is a change
  EXPECT_EQ(f.frame(2, false, s), ChangeVerdict::kChanged);
}

}  // namespace
