// blip2-caption — caption images with a BLIP-2 OPT checkpoint (no GStreamer).
//
//   blip2-caption --model DIR [--device cpu|cuda|cuda:N] [--dtype float32|float16|bfloat16]
//                 [--prompt TEXT] [--max-new-tokens N] [--min-new-tokens N] [--json] IMAGE...
//
// Images are binary PPM (P6). With --json one JSON object per image and line:
//   {"image": PATH, "caption": TEXT, "token_ids": [...], "score": S}
// token_ids are the new ids exactly as transformers' generate returns them
// after the prompt (the EOS id included when one was generated).
// Errors: one line on stderr and exit status 1 (2 for bad arguments).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "blip2.h"
#include "ppm.h"

namespace {

constexpr const char* kUsage =
    "usage: blip2-caption --model DIR [--device auto|cpu|cuda|cuda:N]\n"
    "                     [--dtype auto|float32|float16|bfloat16] [--prompt TEXT]\n"
    "                     [--max-new-tokens N] [--min-new-tokens N] [--batch N] [--json] IMAGE...\n";

struct Arguments {
  blip2::ModelOptions model;
  blip2::GenerationOptions generation;
  std::optional<std::string> prompt;  // unset: the checkpoint's default prompt
  bool json = false;
  int batch = 1;
  std::vector<std::string> images;
};

struct UsageError {
  std::string message;
};

int parse_int(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    const int parsed = std::stoi(value, &used);
    if (used == value.size()) return parsed;
  } catch (const std::exception&) {
  }
  throw UsageError{flag + " expects an integer, got \"" + value + "\""};
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments args;
  args.model.device = "cpu";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      return argv[++i];
    };
    if (arg == "--model") {
      args.model.path = value();
    } else if (arg == "--device") {
      args.model.device = value();
    } else if (arg == "--dtype") {
      args.model.dtype = value();
    } else if (arg == "--prompt") {
      args.prompt = value();
    } else if (arg == "--max-new-tokens") {
      args.generation.max_new_tokens = parse_int(arg, value());
    } else if (arg == "--min-new-tokens") {
      args.generation.min_new_tokens = parse_int(arg, value());
    } else if (arg == "--batch") {
      args.batch = parse_int(arg, value());
    } else if (arg == "--json") {
      args.json = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg.rfind("--", 0) == 0) {
      throw UsageError{"unknown option " + arg};
    } else {
      args.images.push_back(arg);
    }
  }
  if (args.model.path.empty()) throw UsageError{"--model DIR is required"};
  if (args.images.empty()) throw UsageError{"no IMAGE given"};
  if (args.batch < 1) throw UsageError{"--batch must be at least 1"};
  return args;
}

void print_caption(const Arguments& args, const std::string& image, const blip2::Caption& c) {
  if (args.json) {
    const nlohmann::json line = {
        {"image", image}, {"caption", c.text}, {"token_ids", c.token_ids}, {"score", c.score}};
    std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << image << ": " << c.text << "\n";
  }
}

int run(const Arguments& args) {
  const auto model = blip2::Model::load(args.model);
  blip2::Captioner captioner(model);
  blip2::GenerationOptions generation = args.generation;
  generation.prompt = args.prompt.value_or(model->info().default_prompt);
  for (size_t first = 0; first < args.images.size(); first += args.batch) {
    const size_t last = std::min(args.images.size(), first + args.batch);
    std::vector<blip2::RgbImage> images;
    for (size_t i = first; i < last; ++i) images.push_back(blip2::read_ppm(args.images[i]));
    std::vector<blip2::ImageView> views;
    for (const auto& image : images) views.push_back(image.view());
    const std::vector<blip2::Caption> captions = captioner.caption(views, generation);
    for (size_t i = first; i < last; ++i) print_caption(args, args.images[i], captions[i - first]);
  }
  std::cout.flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  try {
    args = parse_arguments(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "blip2-caption: " << e.message << "\n" << kUsage;
    return 2;
  }
  try {
    return run(args);
  } catch (const blip2::Error& e) {
    std::cerr << "blip2-caption: error (" << blip2::error_code_name(e.code()) << "): " << e.what()
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "blip2-caption: error: " << e.what() << "\n";
  }
  return 1;
}
