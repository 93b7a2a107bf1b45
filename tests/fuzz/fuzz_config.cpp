// libFuzzer target: config.json, then the checks made against the weights
// (a small fixed checkpoint) and the special token ids.
#include "config.h"
#include "config_check.h"
#include "decode_limits.h"
#include "error.h"
#include "fuzz_common.h"
#include "safetensors.h"

namespace {

std::string one_tensor_file() {
  const std::string header =
      "{\"language_model.model.decoder.layers.0.fc1.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],"
      "\"data_offsets\":[0,16]},\"query_tokens\":{\"dtype\":\"F32\",\"shape\":[1,1,2],"
      "\"data_offsets\":[16,24]}}";
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + header + std::string(24, '\0');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const blip2::Checkpoint checkpoint = [] {
    blip2::fuzz::write_file("model.safetensors", one_tensor_file());
    return blip2::Checkpoint::open_directory(blip2::fuzz::scratch_dir());
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const blip2::Blip2Config config = blip2::Blip2Config::from_json_text(text, "config.json");
    (void)blip2::minimum_parameter_count(config);
    blip2::GenerationOptions options;
    (void)blip2::decode_state_bytes(options, config, {1, 40, 4});
    blip2::check_special_token_ids(config, "config.json");
    blip2::check_config_against_weights(config, checkpoint, "config.json");
  } catch (const blip2::Error& e) {
    blip2::fuzz::expect_checked(e);
  }
  return 0;
}
