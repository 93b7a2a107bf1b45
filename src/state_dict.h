// state_dict.h — strict loading of checkpoint tensors into torch modules.
#pragma once

#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

#include "safetensors.h"

namespace blip2 {

// A tensor of the checkpoint as a torch tensor (F32/F16/BF16 -> same dtype,
// zero-copy view of the mapping; callers copy/cast before the file closes).
at::Tensor to_torch(const TensorView& view);

struct LoadReport {
  std::vector<std::string> missing;      // module parameters absent from the file
  std::vector<std::string> unexpected;   // file tensors the module does not have
  std::vector<std::string> mismatched;   // "name: file [a, b] vs model [c, d]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string to_string() const;         // every problem, one per line
};

// Copies every named parameter/buffer of `module` from `checkpoint`, casting
// to the parameter's dtype and device. `aliases` maps a module name to an
// alternative checkpoint name used when the first is absent (tied weights).
// `ignored` names file tensors that are allowed to be unused. Never partially
// reports: all problems are collected, then one blip2::Error
// (kConfigMismatch) listing every one is thrown.
LoadReport load_state_dict(torch::nn::Module& module, const Checkpoint& checkpoint,
                           const std::map<std::string, std::string>& aliases = {},
                           const std::vector<std::string>& ignored = {});

}  // namespace blip2
