#include "image_file.h"

#include <fstream>

#include "error.h"

#ifdef BLIP2_CLI_WITH_GSTREAMER
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <cstring>
#endif

namespace blip2 {
namespace {

bool starts_like_ppm(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[2] = {0, 0};
  file.read(magic, 2);
  return file.gcount() == 2 && magic[0] == 'P' && magic[1] == '6';
}

#ifdef BLIP2_CLI_WITH_GSTREAMER

constexpr GstClockTime kDecodeTimeout = 30 * GST_SECOND;

// The first error on the pipeline's bus, or a generic text.
std::string bus_error(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  std::string text = "no picture could be decoded";
  if (msg != nullptr) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    text = err->message;
    g_error_free(err);
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  return text;
}

// Copies one RGB sample (any stride) into a packed image.
RgbImage packed_rgb(GstSample* sample, const std::string& path) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample))) {
    throw Error(ErrorCode::kInvalidFormat, path + ": decoder gave unusable caps");
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ)) {
    throw Error(ErrorCode::kRuntime, path + ": cannot map the decoded picture");
  }
  RgbImage image;
  image.width = GST_VIDEO_INFO_WIDTH(&info);
  image.height = GST_VIDEO_INFO_HEIGHT(&info);
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  const auto* src = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  for (int y = 0; y < image.height; ++y) {
    std::memcpy(image.pixels.data() + static_cast<size_t>(y) * image.width * 3, src + y * stride,
                static_cast<size_t>(image.width) * 3);
  }
  gst_video_frame_unmap(&frame);
  return image;
}

RgbImage decode_with_gstreamer(const std::string& path) {
  gst_init(nullptr, nullptr);
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(
      "filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=RGB ! "
      "appsink name=sink sync=false max-buffers=1",
      &err);
  if (pipeline == nullptr) {
    std::string text = err ? err->message : "unknown";
    if (err) g_error_free(err);
    throw Error(ErrorCode::kUnsupported, path + ": cannot build a decoder: " + text);
  }
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(src, "location", path.c_str(), nullptr);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), kDecodeTimeout);
  std::string failure;
  RgbImage image;
  if (sample == nullptr) {
    failure = bus_error(pipeline);
  } else {
    try {
      image = packed_rgb(sample, path);
    } catch (const Error& e) {
      failure = e.what();
    }
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  if (!failure.empty()) throw Error(ErrorCode::kInvalidFormat, path + ": " + failure);
  return image;
}

#endif

}  // namespace

RgbImage read_image_file(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw Error(ErrorCode::kNotFound, "cannot open image " + path);
  if (starts_like_ppm(path)) return read_ppm(path);
#ifdef BLIP2_CLI_WITH_GSTREAMER
  return decode_with_gstreamer(path);
#else
  throw Error(ErrorCode::kUnsupported,
              path + ": not a binary PPM (P6) file; this build reads PPM only "
                     "(build with GStreamer for PNG and JPEG)");
#endif
}

}  // namespace blip2
