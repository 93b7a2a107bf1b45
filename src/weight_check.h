// weight_check.h — refuse a checkpoint whose weights hold NaN or Inf.
//
// All-NaN weights otherwise caption "<s>" thirty times with a null score and
// nothing says the checkpoint is broken. One pass over the loaded parameters
// (so values that overflowed in a cast to float16 are caught too).
#pragma once

#include <torch/nn/module.h>

#include <string>

namespace blip2 {

// Throws Error(kInvalidFormat) naming `origin`, the first parameter (in
// registration order) holding a non-finite value, and how many it holds.
// Placeholders on the meta device (quantized weights) are skipped.
void check_finite_parameters(torch::nn::Module& module, const std::string& origin);

// Throws that error for tensor `name` (`t`: its values, counted).
[[noreturn]] void throw_non_finite(const std::string& origin, const std::string& name,
                                   const at::Tensor& t);

// Whether every value of `t` (any floating dtype, any device) is finite;
// reads it in chunks so no temporary is larger than a few MB.
bool all_finite(const at::Tensor& t);

}  // namespace blip2
