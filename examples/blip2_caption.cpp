// blip2-caption — caption images with a BLIP-2 OPT checkpoint (no GStreamer).
//
//   blip2-caption --model DIR [--device cpu|cuda|cuda:N] [--dtype float32|float16|bfloat16]
//                 [--prompt TEXT] [--max-new-tokens N] [--min-new-tokens N]
//                 [--num-beams N] [--length-penalty X] [--early-stopping true|false|never]
//                 [--num-return-sequences N] [--repetition-penalty X] [--no-repeat-ngram-size N]
//                 [--do-sample] [--temperature X] [--top-k N] [--top-p X] [--seed N]
//                 [--batch N] [--repeat N] [--json] IMAGE...
//
// The decoding options are transformers' generate arguments of the same
// names (docs/generation.md). Images are binary PPM (P6), or PNG/JPEG when
// built with GStreamer. With --json one
// JSON object per image and line:
//   {"image": PATH, "caption": TEXT, "token_ids": [...], "score": S}
// plus "alternatives": [{"caption", "token_ids", "score"}, ...] with
// --num-return-sequences > 1. token_ids are the new ids exactly as
// transformers' generate returns them after the prompt (the EOS id included
// when one was generated); score is the mean log-probability of those ids.
// --repeat N captions the images N times (printing them once) and reports the
// caption latency on stderr, model loading excluded:
//   blip2-caption: latency {"calls": C, "images": I, "per_caption_ms": {"mean": .., "median": ..,
//   "min": ..}}
// Errors: one line on stderr and exit status 1 (2 for bad arguments).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "blip2.h"
#include "image_file.h"

namespace {

constexpr const char* kUsage =
    "usage: blip2-caption --model DIR [--device auto|cpu|cuda|cuda:N]\n"
    "                     [--dtype auto|float32|float16|bfloat16] [--prompt TEXT]\n"
    "                     [--max-new-tokens N] [--min-new-tokens N] [--num-beams N]\n"
    "                     [--length-penalty X] [--early-stopping true|false|never]\n"
    "                     [--num-return-sequences N] [--repetition-penalty X]\n"
    "                     [--no-repeat-ngram-size N] [--do-sample] [--temperature X] [--top-k N]\n"
    "                     [--top-p X] [--seed N] [--batch N] [--repeat N] [--json] IMAGE...\n";

struct Arguments {
  blip2::ModelOptions model;
  blip2::GenerationOptions generation;
  std::optional<std::string> prompt;  // unset: the checkpoint's default prompt
  bool json = false;
  int batch = 1;
  int repeat = 0;  // 0: caption once, no latency report
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

double parse_double(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    const double parsed = std::stod(value, &used);
    if (used == value.size()) return parsed;
  } catch (const std::exception&) {
  }
  throw UsageError{flag + " expects a number, got \"" + value + "\""};
}

uint64_t parse_seed(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    const unsigned long long parsed = std::stoull(value, &used);
    if (used == value.size() && value.find('-') == std::string::npos) return parsed;
  } catch (const std::exception&) {
  }
  throw UsageError{flag + " expects a non-negative integer, got \"" + value + "\""};
}

blip2::EarlyStopping parse_early_stopping(const std::string& flag, const std::string& value) {
  if (value == "true") return blip2::EarlyStopping::kTrue;
  if (value == "false") return blip2::EarlyStopping::kFalse;
  if (value == "never") return blip2::EarlyStopping::kNever;
  throw UsageError{flag + " expects true, false or never, got \"" + value + "\""};
}

// The decoding flags; false when `arg` is not one of them.
bool parse_generation_flag(const std::string& arg,
                           const std::function<std::string()>& value,
                           blip2::GenerationOptions& g) {
  if (arg == "--max-new-tokens") {
    g.max_new_tokens = parse_int(arg, value());
  } else if (arg == "--min-new-tokens") {
    g.min_new_tokens = parse_int(arg, value());
  } else if (arg == "--num-beams") {
    g.num_beams = parse_int(arg, value());
  } else if (arg == "--length-penalty") {
    g.length_penalty = parse_double(arg, value());
  } else if (arg == "--early-stopping") {
    g.early_stopping = parse_early_stopping(arg, value());
  } else if (arg == "--num-return-sequences") {
    g.num_return_sequences = parse_int(arg, value());
  } else if (arg == "--repetition-penalty") {
    g.repetition_penalty = parse_double(arg, value());
  } else if (arg == "--no-repeat-ngram-size") {
    g.no_repeat_ngram_size = parse_int(arg, value());
  } else if (arg == "--do-sample") {
    g.do_sample = true;
  } else if (arg == "--temperature") {
    g.temperature = parse_double(arg, value());
  } else if (arg == "--top-k") {
    g.top_k = parse_int(arg, value());
  } else if (arg == "--top-p") {
    g.top_p = parse_double(arg, value());
  } else if (arg == "--seed") {
    g.seed = parse_seed(arg, value());
  } else {
    return false;
  }
  return true;
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
    } else if (parse_generation_flag(arg, value, args.generation)) {
      // a decoding option, stored in args.generation
    } else if (arg == "--repeat") {
      args.repeat = parse_int(arg, value());
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
  if (args.repeat < 0) throw UsageError{"--repeat must not be negative"};
  return args;
}

nlohmann::json sequence_json(const std::string& text,
                             const std::vector<int64_t>& ids,
                             double score) {
  return {{"caption", text}, {"token_ids", ids}, {"score", score}};
}

void print_caption(const Arguments& args, const std::string& image, const blip2::Caption& c) {
  if (args.json) {
    nlohmann::json line = {{"image", image}};
    line.update(sequence_json(c.text, c.token_ids, c.score));
    if (args.generation.num_return_sequences > 1) {
      line["alternatives"] = nlohmann::json::array();
      for (const auto& s : c.alternatives) {
        line["alternatives"].push_back(sequence_json(s.text, s.token_ids, s.score));
      }
    }
    std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << image << ": " << c.text << "\n";
    for (const auto& s : c.alternatives) std::cout << "  or: " << s.text << "\n";
  }
}

// Per-caption latencies (ms) of the timed calls, summarised on stderr.
void report_latency(std::vector<double> per_caption_ms, size_t calls, size_t images) {
  std::sort(per_caption_ms.begin(), per_caption_ms.end());
  double sum = 0.0;
  for (double ms : per_caption_ms) sum += ms;
  const size_t n = per_caption_ms.size();
  const double median =
      n % 2 ? per_caption_ms[n / 2] : 0.5 * (per_caption_ms[n / 2 - 1] + per_caption_ms[n / 2]);
  const nlohmann::json report = {{"calls", calls},
                                 {"images", images},
                                 {"per_caption_ms",
                                  {{"mean", sum / static_cast<double>(n)},
                                   {"median", median},
                                   {"min", per_caption_ms.front()}}}};
  std::cerr << "blip2-caption: latency " << report.dump() << "\n";
}

int run(const Arguments& args) {
  const auto model = blip2::Model::load(args.model);
  blip2::Captioner captioner(model);
  blip2::GenerationOptions generation = args.generation;
  generation.prompt = args.prompt.value_or(model->info().default_prompt);
  std::vector<double> per_caption_ms;
  size_t calls = 0;
  for (int round = 0; round < std::max(1, args.repeat); ++round) {
    for (size_t first = 0; first < args.images.size(); first += args.batch) {
      const size_t last = std::min(args.images.size(), first + args.batch);
      std::vector<blip2::RgbImage> images;
      for (size_t i = first; i < last; ++i) images.push_back(blip2::read_image_file(args.images[i]));
      std::vector<blip2::ImageView> views;
      for (const auto& image : images) views.push_back(image.view());
      const auto start = std::chrono::steady_clock::now();
      const std::vector<blip2::Caption> captions = captioner.caption(views, generation);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      per_caption_ms.push_back(ms / static_cast<double>(views.size()));
      ++calls;
      if (round > 0) continue;
      for (size_t i = first; i < last; ++i)
        print_caption(args, args.images[i], captions[i - first]);
    }
  }
  std::cout.flush();
  if (args.repeat > 0) report_latency(per_caption_ms, calls, args.images.size());
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
