// decode_mode.cpp — names of the decode steps and what "auto" means.
#include "decode_mode.h"

#include "error.h"

namespace blip2 {

DecodeMode resolve_decode_mode(const std::string& name, const at::Device& device) {
  if (name == "auto") return device.is_cuda() ? DecodeMode::kGraph : DecodeMode::kDynamic;
  if (name == "graph") return DecodeMode::kGraph;
  if (name == "static") return DecodeMode::kStatic;
  if (name == "dynamic") return DecodeMode::kDynamic;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown decode step \"" + name + "\" (expected auto, graph, static or dynamic)");
}

const char* decode_mode_name(DecodeMode mode) {
  switch (mode) {
    case DecodeMode::kGraph:
      return "graph";
    case DecodeMode::kStatic:
      return "static";
    case DecodeMode::kDynamic:
      break;
  }
  return "dynamic";
}

}  // namespace blip2
