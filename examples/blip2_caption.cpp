// blip2-caption — caption images with a BLIP-2 OPT checkpoint.
//
// `blip2-caption --help` lists every option with its default (cli_options.cpp).
// The decoding options are transformers' generate arguments of the same names
// (docs/generation.md); they default to the checkpoint's generation_config.json.
// Images are binary PPM (P6), or PNG/JPEG when built with GStreamer; "-" reads
// one from standard input. With --json one JSON object per image and line:
//   {"image": PATH, "caption": TEXT, "token_ids": [...], "score": S}
// plus "alternatives": [{"caption", "token_ids", "score"}, ...] with
// --num-return-sequences > 1. token_ids are the new ids exactly as
// transformers' generate returns them after the prompt (the EOS id included
// when one was generated); score is the mean log-probability of those ids.
// A bad image is reported on stderr and the others are still captioned.
// --repeat N captions the images N times (printing them once) and reports the
// caption latency on stderr, model loading excluded:
//   blip2-caption: latency {"calls": C, "images": I, "per_caption_ms": {"mean": .., "median": ..,
//   "min": ..}}
// On a terminal, stderr shows a loading bar and then which device and dtype
// "auto" chose; --quiet turns both off (nothing extra when stderr is not one).
// With --server URL the captions come from an OpenAI-compatible server
// (remote_captioner.h) and no weights are loaded; the output is the same, with
// token_ids / score null when the server does not return them.
// Exit status: 0 all captioned, 1 a model or image failed, 2 a bad argument
// (every argument value is checked before the model loads, except those only
// the loaded model can judge, checked before the first image is captioned).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "blip2-build-config.h"
#include "generation_options.h"
#include "blip2.h"
#include "cli_options.h"
#include "hub_cache.h"
#include "image_file.h"
#include "progress_bar.h"
#include "remote_captioner.h"

namespace {

using blip2_cli::Arguments;
using blip2_cli::UsageError;

constexpr const char* kName = "blip2-caption";

// A bad argument: one line, exit status 2.
int report_usage_error(const UsageError& e) {
  std::cerr << kName << ": " << e.what() << " (see " << kName << " --help)\n";
  return 2;
}

void report_error(const blip2::Error& e) {
  std::cerr << kName << ": error (" << blip2::error_code_name(e.code()) << "): " << e.what()
            << "\n";
}

nlohmann::json sequence_json(const std::string& text,
                             const std::vector<int64_t>& ids,
                             double score) {
  return {{"caption", text}, {"token_ids", ids}, {"score", score}};
}

// A caption's own line: token_ids and score are null when a server did not
// return them.
nlohmann::json caption_json(const blip2::Caption& c) {
  nlohmann::json line = sequence_json(c.text, c.token_ids, c.score);
  if (!c.token_ids_known) line["token_ids"] = nullptr;
  if (!c.score_known) line["score"] = nullptr;
  return line;
}

void print_caption(const Arguments& args,
                   const blip2::GenerationOptions& generation,
                   const std::string& image,
                   const blip2::Caption& c) {
  if (args.json) {
    nlohmann::json line = {{"image", image}};
    line.update(caption_json(c));
    if (generation.num_return_sequences > 1) {
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
  if (per_caption_ms.empty()) return;
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
  std::cerr << kName << ": latency " << report.dump() << "\n";
}

// The images of one batch that could be read; the others are reported.
struct Batch {
  std::vector<std::string> names;
  std::vector<blip2::RgbImage> images;
};

Batch read_batch(const std::vector<std::string>& paths, bool& any_failed) {
  Batch batch;
  for (const std::string& path : paths) {
    try {
      batch.images.push_back(blip2::read_image_file(path));
      batch.names.push_back(path);
    } catch (const blip2::Error& e) {
      report_error(e);
      any_failed = true;
    }
  }
  return batch;
}

struct Session {
  const Arguments& args;
  blip2::Captioner* captioner;             // in process, or
  blip2::RemoteCaptioner* remote;          // --server
  blip2::GenerationOptions generation;
  std::vector<double> per_caption_ms;
  size_t calls = 0;
  bool any_failed = false;
};

// In process: one batched model call. Remote: one request per image, all in
// flight at once. Throws the first error (remote: after every request ended).
std::vector<blip2::Caption> caption_views(Session& s, const std::vector<blip2::ImageView>& views) {
  if (s.captioner) return s.captioner->caption(views, s.generation);
  std::vector<std::future<blip2::Caption>> requests;
  for (const auto& view : views) {
    requests.push_back(std::async(std::launch::async, [&s, view] {
      return s.remote->caption(view, s.generation);
    }));
  }
  for (auto& r : requests) r.wait();
  std::vector<blip2::Caption> captions;
  for (auto& r : requests) captions.push_back(r.get());
  return captions;
}


void caption_batch(Session& s, const std::vector<std::string>& paths, bool print) {
  Batch batch = read_batch(paths, s.any_failed);
  if (batch.images.empty()) return;
  std::vector<blip2::ImageView> views;
  for (const auto& image : batch.images) views.push_back(image.view());
  try {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<blip2::Caption> captions = caption_views(s, views);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    s.per_caption_ms.push_back(ms / static_cast<double>(views.size()));
    ++s.calls;
    if (!print) return;
    for (size_t i = 0; i < captions.size(); ++i) {
      print_caption(s.args, s.generation, batch.names[i], captions[i]);
    }
    std::cout.flush();
  } catch (const blip2::Error& e) {
    report_error(e);
    s.any_failed = true;
  }
}

// The device and dtype that "auto" chose, on a terminal.
void report_choice(const Arguments& args, const blip2::ModelInfo& info) {
  const bool automatic = args.model_options.device == "auto" || args.model_options.dtype == "auto";
  if (args.quiet || !automatic || !isatty(STDERR_FILENO)) return;
  std::cerr << kName << ": running on " << info.device << " in " << info.dtype
            << (info.quantize == "int8" ? " with int8 weights" : "") << " (device "
            << args.model_options.device << ", dtype " << args.model_options.dtype << ")\n";
}

// Loads the model, with a progress bar on stderr when it is a terminal (the
// bar's line is ended when loading stops, also by an error).
std::shared_ptr<blip2::Model> load_model(const Arguments& args, const std::string& folder) {
  blip2::ModelOptions options = args.model_options;
  options.path = folder;
  if (args.quiet || !isatty(STDERR_FILENO)) return blip2::Model::load(options);
  blip2_cli::ProgressBar bar(std::cerr, blip2_cli::terminal_columns(STDERR_FILENO));
  options.on_progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
  return blip2::Model::load(options);
}

// The argument values only the loaded model can judge (the prompt's length
// and its tokens against the position table, beams against memory): a bad
// one is a UsageError, before any image is captioned.
void check_against_model(const blip2::Captioner& captioner,
                         const blip2::GenerationOptions& generation,
                         size_t images_per_call) {
  try {
    captioner.check(generation, images_per_call);
  } catch (const blip2::Error& e) {
    if (e.code() != blip2::ErrorCode::kInvalidArgument) throw;
    throw UsageError(e.what());
  }
}

void caption_images(const Arguments& args, Session& session) {
  const size_t batch = static_cast<size_t>(args.batch);
  for (int round = 0; round < std::max(1, args.repeat); ++round) {
    for (size_t first = 0; first < args.images.size(); first += batch) {
      const auto last = args.images.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min(args.images.size(), first + batch));
      caption_batch(session, {args.images.begin() + static_cast<std::ptrdiff_t>(first), last},
                    round == 0);
    }
  }
  if (args.repeat > 0) report_latency(session.per_caption_ms, session.calls, args.images.size());
}

int run(const Arguments& args, const std::string& folder,
        const blip2::GenerationOptions& generation) {
  const auto model = load_model(args, folder);
  report_choice(args, model->info());
  blip2::Captioner captioner(model);
  check_against_model(captioner, generation,
                      std::min(static_cast<size_t>(args.batch), args.images.size()));
  Session session{args, &captioner, nullptr, generation, {}, 0, false};
  caption_images(args, session);
  return session.any_failed ? 1 : 0;
}

// --server: asks the server for its models first (unreachable, or not serving
// MODEL: exit 1), then refuses options it cannot honour (exit 2).
int run_remote(const Arguments& args, const blip2::GenerationOptions& generation) {
  blip2::RemoteCaptioner remote(args.remote);
  remote.connect();
  try {
    remote.check(generation);
  } catch (const blip2::Error& e) {
    return report_usage_error(UsageError(e.what()));
  }
  Session session{args, nullptr, &remote, generation, {}, 0, false};
  caption_images(args, session);
  return session.any_failed ? 1 : 0;
}

// The decoding defaults with --server: the checkpoint's when MODEL is found
// here too, else the library's (no prompt).
blip2::GenerationOptions remote_defaults(const Arguments& args) {
  try {
    return blip2::generation_defaults(blip2::resolve_model_path(args.model, args.revision));
  } catch (const blip2::Error&) {
    return blip2::GenerationOptions{};
  }
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  std::string folder;
  blip2::GenerationOptions generation;
  try {
    args = blip2_cli::parse_arguments(argc, argv);
    if (args.show_version) {
      std::cout << kName << " " << BLIP2_VERSION << "\n";
      return 0;
    }
    if (args.remote.server.empty()) {
      folder = blip2::resolve_model_path(args.model, args.revision);
      generation = blip2_cli::generation_options(args, blip2::generation_defaults(folder));
    } else {
      generation = blip2_cli::generation_options(args, remote_defaults(args));
    }
  } catch (const UsageError& e) {
    return report_usage_error(e);
  } catch (const blip2::Error& e) {
    report_error(e);
    return e.code() == blip2::ErrorCode::kInvalidArgument ? 2 : 1;
  }
  try {
    return args.remote.server.empty() ? run(args, folder, generation)
                                      : run_remote(args, generation);
  } catch (const UsageError& e) {
    return report_usage_error(e);
  } catch (const blip2::Error& e) {
    report_error(e);
  } catch (const std::exception& e) {
    std::cerr << kName << ": error: " << e.what() << "\n";
  }
  return 1;
}
