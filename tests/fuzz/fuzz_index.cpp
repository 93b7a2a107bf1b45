// libFuzzer target: model.safetensors.index.json of a sharded checkpoint,
// next to two small valid shards (a.safetensors holds "x", b.safetensors "y").
#include "error.h"
#include "fuzz_common.h"
#include "safetensors.h"

namespace {

// A valid one-tensor safetensors file: `name` F32 [2].
std::string shard_bytes(const std::string& name) {
  const std::string header =
      "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + header + std::string(8, '\x01');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool shards_written = [] {
    blip2::fuzz::write_file("a.safetensors", shard_bytes("x"));
    blip2::fuzz::write_file("b.safetensors", shard_bytes("y"));
    return true;
  }();
  (void)shards_written;
  blip2::fuzz::write_file("model.safetensors.index.json", data, size);
  try {
    blip2::Checkpoint checkpoint = blip2::Checkpoint::open_directory(blip2::fuzz::scratch_dir());
    (void)checkpoint.find("x");
  } catch (const blip2::Error& e) {
    blip2::fuzz::expect_checked(e);
  }
  return 0;
}
