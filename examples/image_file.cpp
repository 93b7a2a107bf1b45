#include "image_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "error.h"

#ifdef BLIP2_CLI_WITH_GSTREAMER
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#endif

namespace blip2 {
namespace {

[[noreturn]] void too_large(const std::string& name) {
  throw Error(ErrorCode::kInvalidFormat,
              name + ": larger than " + std::to_string(kMaxImageBytes >> 20) + " MiB");
}

// The bytes of a regular file; anything else is refused before it is opened
// for reading (opening a FIFO would block until a writer comes).
std::string read_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(ErrorCode::kNotFound,
                "cannot open image " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kUnsupported,
                path + ": not a regular file (" +
                    (S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO"
                                                                             : "a device") +
                    "); use - to read a stream from standard input");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxImageBytes) too_large(path);
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::kNotFound, "cannot open image " + path);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  file.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(file.gcount()));
  return data;
}

std::string read_standard_input() {
  std::string data;
  char chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof chunk, stdin)) > 0) {
    if (data.size() + got > kMaxImageBytes) too_large("standard input");
    data.append(chunk, got);
  }
  if (std::ferror(stdin)) throw Error(ErrorCode::kRuntime, "cannot read standard input");
  return data;
}

bool looks_like_ppm(const std::string& data) {
  return data.size() >= 2 && data[0] == 'P' && data[1] == '6';
}

#ifdef BLIP2_CLI_WITH_GSTREAMER

// A safety net only: errors and the decoded picture end the wait at once.
constexpr GstClockTime kDecodeTimeout = 60 * GST_SECOND;

std::string error_text(GstMessage* msg) {
  GError* err = nullptr;
  gst_message_parse_error(msg, &err, nullptr);
  std::string text = err != nullptr ? err->message : "decoder error";
  g_clear_error(&err);
  return text;
}

// Copies one RGB sample (any stride) into a packed image.
RgbImage packed_rgb(GstSample* sample, const std::string& name) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample))) {
    throw Error(ErrorCode::kInvalidFormat, name + ": decoder gave unusable caps");
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ)) {
    throw Error(ErrorCode::kRuntime, name + ": cannot map the decoded picture");
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

// Owns the decoding pipeline: appsrc (the bytes) ! decodebin ! RGB ! appsink.
class Decoder {
 public:
  explicit Decoder(const std::string& name) : name_(name) {
    gst_init(nullptr, nullptr);
    GError* err = nullptr;
    pipeline_ = gst_parse_launch(
        "appsrc name=src ! decodebin ! videoconvert ! video/x-raw,format=RGB ! "
        "appsink name=sink sync=false max-buffers=1",
        &err);
    if (pipeline_ == nullptr) {
      std::string text = err ? err->message : "unknown";
      g_clear_error(&err);
      throw Error(ErrorCode::kUnsupported, name + ": cannot build a decoder: " + text);
    }
    src_ = gst_bin_get_by_name(GST_BIN(pipeline_), "src");
    sink_ = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
  }
  ~Decoder() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(src_);
    gst_object_unref(sink_);
    gst_object_unref(pipeline_);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  RgbImage decode(const std::string& data) {
    push(data);
    gst_element_set_state(pipeline_, GST_STATE_PAUSED);  // prerolls the first picture
    wait_for_preroll();
    GstSample* sample = gst_app_sink_pull_preroll(GST_APP_SINK(sink_));
    if (sample == nullptr) {
      throw Error(ErrorCode::kInvalidFormat, name_ + ": no picture could be decoded");
    }
    try {
      RgbImage image = packed_rgb(sample, name_);
      gst_sample_unref(sample);
      return image;
    } catch (...) {
      gst_sample_unref(sample);
      throw;
    }
  }

 private:
  void push(const std::string& data) {
    GstBuffer* buffer = gst_buffer_new_memdup(data.data(), data.size());
    g_object_set(src_, "max-bytes", static_cast<guint64>(data.size() + 1), nullptr);
    gst_app_src_push_buffer(GST_APP_SRC(src_), buffer);
    gst_app_src_end_of_stream(GST_APP_SRC(src_));
  }

  // Returns when the sink holds a picture or the stream ended; throws the
  // first error the decoder posts, the moment it is posted.
  void wait_for_preroll() {
    GstBus* bus = gst_element_get_bus(pipeline_);
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, kDecodeTimeout,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_EOS));
    gst_object_unref(bus);
    if (msg == nullptr) {
      throw Error(ErrorCode::kRuntime, name_ + ": the decoder gave nothing within " +
                                           std::to_string(kDecodeTimeout / GST_SECOND) + " s");
    }
    const bool failed = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
    const std::string text = failed ? error_text(msg) : "";
    gst_message_unref(msg);
    if (failed) throw Error(ErrorCode::kInvalidFormat, name_ + ": " + text);
  }

  std::string name_;
  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;
  GstElement* sink_ = nullptr;
};

#endif

RgbImage decode_image(const std::string& data, const std::string& name) {
  if (data.empty()) throw Error(ErrorCode::kInvalidFormat, name + ": empty");
  if (looks_like_ppm(data)) return decode_ppm(data, name);
#ifdef BLIP2_CLI_WITH_GSTREAMER
  Decoder decoder(name);
  return decoder.decode(data);
#else
  throw Error(ErrorCode::kUnsupported,
              name + ": not a binary PPM (P6) file; this build reads PPM only "
                     "(build with GStreamer for PNG and JPEG)");
#endif
}

}  // namespace

RgbImage read_image_file(const std::string& path) {
  if (path == "-") return decode_image(read_standard_input(), "standard input");
  return decode_image(read_regular_file(path), path);
}

}  // namespace blip2
