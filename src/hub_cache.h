// hub_cache.h — resolve a model name the way transformers does offline.
#pragma once

#include <string>

namespace blip2 {

// `model` is either a folder (returned as is when it exists) or a Hugging Face
// repo id ("Salesforce/blip2-opt-2.7b-coco") looked up in the local Hugging
// Face cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub,
// folder models--<org>--<name>/snapshots/<refs/main or the only snapshot>.
// Throws blip2::Error(kNotFound) saying where it looked.
std::string resolve_model_path(const std::string& model);

}  // namespace blip2
