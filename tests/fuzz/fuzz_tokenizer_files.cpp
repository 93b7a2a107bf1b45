// libFuzzer target: the original Salesforce tokenizer layout. The input holds
// up to four files separated by "\n#----\n": vocab.json, merges.txt,
// added_tokens.json and special_tokens_map.json.
#include "error.h"
#include "fuzz_common.h"
#include "tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = blip2::fuzz::split_parts(data, size, 4);
  blip2::fuzz::remove_file("tokenizer.json");
  blip2::fuzz::write_file("vocab.json", parts[0]);
  blip2::fuzz::write_file("merges.txt", parts[1]);
  const char* optional[] = {"added_tokens.json", "special_tokens_map.json"};
  for (int i = 0; i < 2; ++i) {
    if (parts[2 + i].empty()) {
      blip2::fuzz::remove_file(optional[i]);
    } else {
      blip2::fuzz::write_file(optional[i], parts[2 + i]);
    }
  }
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
