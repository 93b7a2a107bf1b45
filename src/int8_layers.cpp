#include "int8_layers.h"

namespace blip2 {

std::map<std::string, Int8Weight*> use_int8_layers(Blip2ForConditionalGenerationImpl& net) {
  std::map<std::string, Int8Weight*> targets;
  OptForCausalLMImpl& lm = *net.language_model;
  for (const auto& item : lm.named_modules("language_model")) {
    auto* linear = item.value()->as<LinearImpl>();
    if (linear == nullptr || !int8_supported(linear->weight.size(1))) continue;
    linear->use_int8();
    targets[item.key() + ".weight"] = &linear->int8;
  }
  const at::Tensor& embed = lm.model->decoder->embed_tokens->weight;
  if (!lm.lm_head && int8_supported(embed.size(1))) {
    targets["language_model.model.decoder.embed_tokens.weight"] = &lm.tied_head_int8;
  }
  return targets;
}

}  // namespace blip2
