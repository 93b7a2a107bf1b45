// libFuzzer target: tokenizer.json. A folder that loads must then encode and
// decode without anything but blip2::Error escaping.
#include "error.h"
#include "fuzz_common.h"
#include "tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  blip2::fuzz::write_file("tokenizer.json", data, size);
  try {
    const blip2::Tokenizer tokenizer = blip2::Tokenizer::from_directory(blip2::fuzz::scratch_dir());
    const std::vector<int64_t> ids = tokenizer.encode("a photo of  a cat\n<image> </s>", true);
    (void)tokenizer.decode(ids, true);
    std::vector<int64_t> all;
    for (int64_t id = 0; id < tokenizer.size() && id < 512; ++id) all.push_back(id);
    (void)tokenizer.decode(all, false);
  } catch (const blip2::Error& e) {
    blip2::fuzz::expect_checked(e);
  }
  return 0;
}
