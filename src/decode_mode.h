// decode_mode.h — which decode step a model's captioners use (internal).
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace blip2 {

// kGraph   - the static DecodeStep, captured as a CUDA graph on CUDA devices
// kStatic  - the static DecodeStep, always eager
// kDynamic - the plain decoder loop (EagerStepDecoder)
enum class DecodeMode { kGraph, kStatic, kDynamic };

// "auto" | "graph" | "static" | "dynamic" for `device` (throws blip2::Error
// kInvalidArgument otherwise). auto: graph on CUDA; on the CPU the faster of
// the two measured there (docs/gpu.md).
DecodeMode resolve_decode_mode(const std::string& name, const at::Device& device);
const char* decode_mode_name(DecodeMode mode);

}  // namespace blip2
