// libFuzzer target: one .safetensors file (8-byte length, JSON header, data).
// Every input must open or throw blip2::Error; any opened view must lie
// inside the file.
#include <cstdlib>

#include "error.h"
#include "fuzz_common.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = blip2::fuzz::write_file("model.safetensors", data, size);
  try {
    auto file = blip2::SafetensorsFile::open(path);
    for (const auto& [name, view] : file->tensors()) {
      if (view.numel() * static_cast<int64_t>(blip2::dtype_size(view.dtype)) !=
          static_cast<int64_t>(view.nbytes)) {
        std::abort();  // a view whose shape disagrees with its bytes escaped validation
      }
      volatile uint8_t sink = 0;
      if (view.nbytes > 0) sink = view.data[0] ^ view.data[view.nbytes - 1];
      (void)sink;
    }
  } catch (const blip2::Error& e) {
    blip2::fuzz::expect_checked(e);
  }
  return 0;
}
