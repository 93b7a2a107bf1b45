// libFuzzer target: the binary PPM (P6) reader.
#include <cstdlib>

#include "error.h"
#include "fuzz_common.h"
#include "ppm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = blip2::fuzz::write_file("image.ppm", data, size);
  try {
    const blip2::RgbImage image = blip2::read_ppm(path);
    if (image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) std::abort();
  } catch (const blip2::Error& e) {
    blip2::fuzz::expect_checked(e);
  }
  return 0;
}
