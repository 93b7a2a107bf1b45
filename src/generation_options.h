// generation_options.h — decoding defaults of a checkpoint and the checks on
// options that need no loaded model (public; torch-free).
#pragma once

#include <cstdint>
#include <string>

#include "blip2.h"

namespace blip2 {

// The decoding defaults of a checkpoint folder: GenerationOptions' defaults
// overlaid with the folder's generation_config.json when it has one (as
// transformers' pipelines pass model.generation_config to generate; explicit
// options then override them), and prompt = the checkpoint's default prompt
// (default_prompt_for_image_size). Reads config.json and
// generation_config.json only. Throws blip2::Error naming the file.
GenerationOptions generation_defaults(const std::string& checkpoint_folder);

// Throws Error(kInvalidArgument) for decoding values that no model accepts
// (num_beams < 1, top_p outside (0, 1], ...): what can be checked before a
// model is loaded. Captioner::caption checks them too.
void validate_generation_options(const GenerationOptions& options);

// Throws Error(kInvalidArgument) for a malformed device, dtype or quantize name
// (or int8 with a dtype other than bfloat16/auto) and
// Error(kUnsupported / kInvalidArgument) for a device this process cannot use,
// without loading anything (defined with Model::load).
void validate_model_options(const ModelOptions& options);

// "a photo of" when the vision tower takes 364 px images (only the
// COCO-finetuned BLIP-2 checkpoints do: they were fine-tuned with that
// prompt), "" otherwise. The folder's name plays no part.
std::string default_prompt_for_image_size(int64_t image_size);

// Overlays the decoding keys of a generation_config.json text on `options`
// (null and absent keys leave a value as it is). Throws Error(kInvalidFormat)
// naming `origin` and the key for a value of the wrong type.
void apply_generation_config_json(const std::string& text,
                                  const std::string& origin,
                                  GenerationOptions& options);

}  // namespace blip2
