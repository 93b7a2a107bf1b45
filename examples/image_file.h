// image_file.h — reading a picture for the CLI: binary PPM always, and PNG,
// JPEG (anything decodebin can decode) when built with GStreamer.
#pragma once

#include <cstddef>
#include <string>

#include "ppm.h"

namespace blip2 {

// Largest image file (or standard input) read: 256 MiB.
constexpr size_t kMaxImageBytes = size_t{256} << 20;

// Reads and decodes one image; "-" reads standard input (up to
// kMaxImageBytes). A path that is not a regular file (a FIFO, a device, a
// folder) is refused without reading it. Throws blip2::Error naming the file
// (kUnsupported for a non-PPM file in a build without GStreamer); a decoder
// error is reported as soon as the decoder posts it.
RgbImage read_image_file(const std::string& path);

}  // namespace blip2
