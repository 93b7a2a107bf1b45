// int8_layers.h — which linear layers of BLIP-2 take int8 weights (quantize=int8).
#pragma once

#include <map>
#include <string>

#include "blip2_model.h"
#include "quantize.h"

namespace blip2 {

// Turns the language model's linear layers (every decoder layer's
// projections and FFN, project_in/out) and its head into int8 layers: their
// float weights become meta placeholders (LinearImpl::use_int8). Layers whose
// input width the kernel cannot take keep their float weights. The vision
// tower, the Q-Former and language_projection stay in the model's dtype.
// -> checkpoint tensor name -> the Int8Weight to quantize it into (a tied
//    head's comes from embed_tokens, which itself stays a float embedding)
std::map<std::string, Int8Weight*> use_int8_layers(Blip2ForConditionalGenerationImpl& net);

}  // namespace blip2
