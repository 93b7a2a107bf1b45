// state_dict.h — strict loading of checkpoint tensors into torch modules.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
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
  uint64_t bytes = 0;                    // bytes of the checkpoint tensors placed
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string to_string() const;         // every problem, one per line
};

// How load_state_dict places tensors.
struct LoadOptions {
  // bytes placed so far / in all: (0, total) first, then after every tensor
  std::function<void(uint64_t done, uint64_t total)> on_progress;
  // A CPU tensor whose dtype the file already has becomes a view of the
  // read-only mapping (it keeps the file mapped) instead of a copy. Such
  // parameters must never be written to.
  bool share_mapping = false;
  // After a tensor is copied (cast, or moved to a GPU), its pages of the
  // mapping are released, so the file does not stay resident beside the copy.
  bool release_copied = false;
  // GPU tensors go through one pinned host buffer of at most this many bytes.
  size_t staging_bytes = size_t{64} << 20;
  // Called with each checkpoint tensor used (its name in the file, a view of
  // the mapping) before it is placed and its pages released, e.g. to quantize
  // it. A target on the meta device is not placed at all: this callback is
  // what fills its module.
  std::function<void(const std::string& name, const at::Tensor& mapped)> on_tensor;
};

// Fills every named parameter/buffer of `module` from `checkpoint`, casting
// to the parameter's dtype and device (or sharing the mapping, see LoadOptions). `aliases` maps a module name to an
// alternative checkpoint name used when the first is absent (tied weights).
// `ignored` names file tensors that are allowed to be unused. Never partially
// reports: all problems are collected, then one blip2::Error
// (kConfigMismatch) listing every one is thrown.
LoadReport load_state_dict(torch::nn::Module& module, const Checkpoint& checkpoint,
                           const std::map<std::string, std::string>& aliases = {},
                           const std::vector<std::string>& ignored = {},
                           const LoadOptions& options = {});

}  // namespace blip2
