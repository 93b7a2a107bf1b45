// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// What the C++ element tests share: the oracle's fixtures
// ($BLIP2_FIXTURES: models/, images/ and reference/<model>/greedy.json,
// written by transformers at build time) and their PPM images as video
// buffers, and GStreamer's initialisation.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oracle {

// gst_init once per test program, before its first test (each program that
// includes this header registers it once).
class GstEnvironment : public ::testing::Environment
{
 public:
  void
  SetUp () override
  {
    gst_init (nullptr, nullptr);
  }
};
[[maybe_unused]] inline ::testing::Environment* const gst_environment =
    ::testing::AddGlobalTestEnvironment (new GstEnvironment);

inline std::string
fixtures ()
{
  const char* root = std::getenv ("BLIP2_FIXTURES");
  return root ? root : "";
}

// transformers' greedy captions of the tiny checkpoint `model`.
inline nlohmann::json
greedy_reference (const std::string& model)
{
  std::ifstream in (fixtures () + "/reference/" + model + "/greedy.json");
  EXPECT_TRUE (in.good ()) << "missing greedy.json for " << model;
  return in.good () ? nlohmann::json::parse (in) : nlohmann::json ();
}

struct Ppm
{
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;

  std::string
  caps () const
  {
    return "video/x-raw, format=RGB, width=" + std::to_string (width) +
           ", height=" + std::to_string (height) + ", framerate=1/1";
  }
};

inline Ppm
read_ppm (const std::string& path)
{
  std::ifstream in (path, std::ios::binary);
  Ppm ppm;
  std::string magic;
  int maxval = 0;
  in >> magic >> ppm.width >> ppm.height >> maxval;
  in.get ();
  EXPECT_EQ (magic, "P6") << path;
  EXPECT_EQ (maxval, 255) << path;
  ppm.rgb.resize (static_cast<size_t> (ppm.width) * ppm.height * 3);
  in.read (reinterpret_cast<char*> (ppm.rgb.data ()),
           static_cast<std::streamsize> (ppm.rgb.size ()));
  EXPECT_TRUE (in.good ()) << "short read in " << path;
  return ppm;
}

// A fixture image ($BLIP2_FIXTURES/images/<name>).
inline Ppm
fixture_image (const std::string& name)
{
  return read_ppm (fixtures () + "/images/" + name);
}

// The picture as an RGB video buffer (rows padded to GStreamer's stride).
inline GstBuffer*
ppm_buffer (const Ppm& ppm, GstClockTime pts, GstClockTime duration)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, ppm.width, ppm.height);
  GstBuffer* buf = gst_buffer_new_allocate (nullptr, GST_VIDEO_INFO_SIZE (&info), nullptr);
  GstVideoFrame frame;
  EXPECT_TRUE (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  auto* data = static_cast<uint8_t*> (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
  for (int y = 0; y < ppm.height; ++y) {
    std::copy_n (ppm.rgb.data () + static_cast<size_t> (y) * ppm.width * 3, ppm.width * 3,
                 data + static_cast<size_t> (y) * stride);
  }
  gst_video_frame_unmap (&frame);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

}  // namespace oracle
