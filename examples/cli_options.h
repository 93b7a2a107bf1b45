// cli_options.h — the command line of blip2-caption: GOptionContext parsing
// and every check that needs no model (a bad value exits 2 before loading).
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "blip2.h"
#include "remote_captioner.h"

namespace blip2_cli {

// A bad command line: printed as "blip2-caption: MESSAGE", exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One decoding option given on the command line, applied on top of the
// checkpoint's defaults (generation_config.json) once they are known.
using GenerationOverride = std::function<void(blip2::GenerationOptions&)>;

struct Arguments {
  std::string model;     // folder or Hugging Face repo id
  std::string revision;  // "" = main
  blip2::ModelOptions model_options;  // device and dtype (path set after resolving)
  std::vector<GenerationOverride> generation;
  std::optional<std::string> prompt;  // unset: the checkpoint's default prompt
  bool json = false;
  bool quiet = false;  // no progress bar or device line on stderr
  int batch = 1;
  int repeat = 0;  // 0: caption once, no latency report
  std::vector<std::string> images;  // "-" = standard input
  // --server: captions come from that OpenAI-compatible server (remote.model
  // = --model); no weights are loaded. Empty server = in process.
  blip2::RemoteOptions remote;
  bool show_version = false;
};

// Parses argv (GOptionContext; --help prints and exits 0). Throws UsageError.
Arguments parse_arguments(int argc, char** argv);

// The decoding options for `defaults` with the command line's applied, checked
// with blip2::validate_generation_options. Throws UsageError.
blip2::GenerationOptions generation_options(const Arguments& args,
                                            const blip2::GenerationOptions& defaults);

}  // namespace blip2_cli
