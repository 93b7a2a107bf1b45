// hub_cache.h — resolve a model name the way transformers does offline.
#pragma once

#include <string>

namespace blip2 {

// `model` is either a folder (returned as is when it exists) or a Hugging Face
// repo id ("Salesforce/blip2-opt-2.7b-coco") looked up in the local Hugging
// Face cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub,
// folder models--<org>--<name>/snapshots/<hash>. `revision` is what
// huggingface_hub takes: a branch or tag (refs/<revision> names the commit) or
// a commit hash; "" means refs/main, or the only snapshot when there is no
// refs/main. A revision with a folder is an error (kInvalidArgument).
// Throws blip2::Error(kNotFound) saying where it looked and giving the
// `hf download` command that would fetch the model.
std::string resolve_model_path(const std::string& model, const std::string& revision = "");

// The command that downloads `model` (at `revision`, "" = main) into the cache:
// "hf download Salesforce/blip2-opt-2.7b-coco [--revision R]".
std::string hf_download_command(const std::string& model, const std::string& revision = "");

}  // namespace blip2
