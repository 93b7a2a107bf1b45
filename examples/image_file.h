// image_file.h — reading a picture file for the CLI: binary PPM always, and
// PNG, JPEG (anything decodebin can decode) when built with GStreamer.
#pragma once

#include <string>

#include "ppm.h"

namespace blip2 {

// Throws blip2::Error naming the file (kUnsupported for a non-PPM file in a
// build without GStreamer).
RgbImage read_image_file(const std::string& path);

}  // namespace blip2
