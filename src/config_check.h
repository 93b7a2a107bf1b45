// config_check.h — config.json against the weights, before anything is allocated.
//
// The model is built from config.json; a config that lies (100000 layers, a
// hidden size of 2^40) must be refused before a single parameter exists, with
// the field named. These checks read only the safetensors headers: layer
// counts from the tensor names, sizes from the shapes of one tensor per field.
// A field whose tensor is absent is left to the strict loader, which reports
// the missing tensor after all; a lower bound of the parameter count the
// config implies, against the elements the files hold, catches the rest.
#pragma once

#include <cstdint>
#include <string>

#include "config.h"
#include "safetensors.h"

namespace blip2 {

// Throws Error(kConfigMismatch) naming the config.json field, its value and the
// tensor (or layer count) of the weights that contradicts it.
void check_config_against_weights(const Blip2Config& config,
                                  const Checkpoint& checkpoint,
                                  const std::string& config_path);

// Throws Error(kConfigMismatch) when bos/eos/pad_token_id of text_config lies
// outside [0, vocab_size) (vocab_size: the rows of the embedding table).
void check_special_token_ids(const Blip2Config& config, const std::string& config_path);

// Number of distinct `prefix`N. layer indices among the checkpoint's tensor
// names, and the lowest index missing from 0..count-1 (-1 when none).
struct LayerCount {
  int64_t count = 0;
  int64_t first_gap = -1;
  int64_t highest = -1;
};
LayerCount count_layers(const Checkpoint& checkpoint, const std::string& prefix);

// A lower bound of the parameters the config's modules hold (the large
// matrices only), saturating at INT64_MAX.
int64_t minimum_parameter_count(const Blip2Config& config);

}  // namespace blip2
