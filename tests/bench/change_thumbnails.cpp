// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// change-thumbnails: the luma thumbnails the change sampling mode compares,
// for every frame of a raw I420 file: one line per frame, the distance to the
// previous frame (LumaThumbnail::distance; -1 for the first) and the 256
// cell values.
// Used by change_threshold.py to measure distances within shots and across
// cuts with the element's own code.
//
//   change-thumbnails WIDTH HEIGHT FILE.i420
//   change-thumbnails --time WIDTH HEIGHT     (microseconds per thumbnail)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "change_detector.h"

// The cost of the change test on one I420 frame of WIDTH x HEIGHT.
int time_thumbnail(int width, int height) {
  const size_t luma = static_cast<size_t>(width) * height;
  std::vector<uint8_t> frame(luma + luma / 2);
  for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i * 7 + i / 613);
  blip2::ImageView view;
  view.format = blip2::PixelFormat::kI420;
  view.width = width;
  view.height = height;
  view.planes[0] = frame.data();
  view.strides[0] = width;
  using blip2caption::LumaThumbnail;
  const int runs = 2000;
  LumaThumbnail previous = LumaThumbnail::of(view);
  double sink = 0.0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    frame[i % luma] ^= 0xFF;  // not the same frame twice
    LumaThumbnail t = LumaThumbnail::of(view);
    sink += t.distance(previous);
    previous = t;
  }
  double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      runs;
  std::printf("%dx%d I420: %.1f us per thumbnail and distance (checksum %.3f)\n", width, height, us,
              sink);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--time") == 0)
    return time_thumbnail(std::atoi(argv[2]), std::atoi(argv[3]));
  if (argc != 4) {
    std::cerr << "usage: change-thumbnails WIDTH HEIGHT FILE.i420\n";
    return 2;
  }
  const int width = std::atoi(argv[1]);
  const int height = std::atoi(argv[2]);
  if (width <= 0 || height <= 0 || width % 2 || height % 2) {
    std::cerr << "width and height must be even and positive\n";
    return 2;
  }
  std::ifstream in(argv[3], std::ios::binary);
  if (!in) {
    std::cerr << "cannot open " << argv[3] << "\n";
    return 1;
  }
  const size_t luma = static_cast<size_t>(width) * height;
  std::vector<uint8_t> frame(luma + luma / 2);
  using blip2caption::LumaThumbnail;
  LumaThumbnail previous;
  bool first = true;
  while (
      in.read(reinterpret_cast<char*>(frame.data()), static_cast<std::streamsize>(frame.size()))) {
    blip2::ImageView view;
    view.format = blip2::PixelFormat::kI420;
    view.width = width;
    view.height = height;
    view.planes[0] = frame.data();
    view.planes[1] = frame.data() + luma;
    view.planes[2] = frame.data() + luma + luma / 4;
    view.strides[0] = width;
    view.strides[1] = view.strides[2] = width / 2;
    LumaThumbnail t = LumaThumbnail::of(view);
    std::printf("%.9f", first ? -1.0 : t.distance(previous));
    for (int y = 0; y < LumaThumbnail::kSide; ++y)
      for (int x = 0; x < LumaThumbnail::kSide; ++x) std::printf(" %d", t.cell(x, y));
    std::printf("\n");
    previous = t;
    first = false;
  }
  return 0;
}
