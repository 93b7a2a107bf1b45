// blip2-bench — times the production captioning path (blip2.h: Model::load
// and Captioner::caption, exactly what the element and the CLI run) on a
// checkpoint: load time, time to the first caption, and per caption the
// stage times the library reports (preprocess, vision, Q-Former, prefill,
// per-token decode), end-to-end latency, captions/s and peak host memory.
//
//   blip2-bench --model DIR [--device auto|cpu|cuda|cuda:N]
//               [--dtype auto|float32|float16|bfloat16] [--quantize none|int8]
//               [--decode-step auto|graph|static|dynamic]
//               [--batches 1,4,8] [--beams 1,5] [--beam-batches 1] [--new-tokens 12]
//               [--iters 10] [--warmup 2] [--frame 1920x1080] [--frame-format nv12|bgrx|rgb]
//               [--check-finite yes|no] [--json OUT.json]
//
// The token count is forced (min_new_tokens = max_new_tokens = --new-tokens,
// so EOS is banned until then), and every run decodes the same number of
// steps. `--iters 0` stops after the first caption (load figures only);
// `--check-finite no` skips the load's NaN/Inf scan of the weights
// (ModelOptions::check_finite), to measure what it costs. Prompt: "a photo of". Frames are random bytes of the given size and
// format. Every number comes from the public API; nothing here touches the
// model's internals.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "blip2.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model, device = "auto", dtype = "auto", quantize = "none", decode_step = "auto",
      json_out;
  std::vector<int64_t> batches{1}, beams{1}, beam_batches;  // beam_batches: for beams > 1
  int64_t new_tokens = 12, iters = 10, warmup = 2, frame_width = 1920, frame_height = 1080;
  std::string frame_format = "nv12";
  bool check_finite = true;
};

struct UsageError {
  std::string message;
};

std::vector<int64_t> parse_list(const std::string& text) {
  std::vector<int64_t> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    try {
      values.push_back(std::stoll(text.substr(start, comma - start)));
    } catch (const std::exception&) {
      throw UsageError{"bad number list \"" + text + "\""};
    }
    if (values.back() < 1) throw UsageError{"values must be >= 1: \"" + text + "\""};
    start = comma + 1;
  }
  return values;
}

int64_t parse_count(const std::string& text) {
  try {
    size_t used = 0;
    const int64_t n = std::stoll(text, &used);
    if (used == text.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  throw UsageError{"expected a count >= 0, got \"" + text + "\""};
}

bool parse_yes_no(const std::string& text) {
  if (text == "yes") return true;
  if (text == "no") return false;
  throw UsageError{"expected yes or no, got \"" + text + "\""};
}

// "WxH" -> frame size
void parse_frame(const std::string& text, Options* o) {
  const size_t x = text.find('x');
  if (x == std::string::npos) throw UsageError{"--frame expects WxH, got \"" + text + "\""};
  o->frame_width = parse_list(text.substr(0, x)).front();
  o->frame_height = parse_list(text.substr(x + 1)).front();
}

Options parse_options(int argc, char** argv) {
  Options o;
  using Setter = std::function<void(const std::string&)>;
  const std::map<std::string, Setter> with_value = {
      {"--model", [&](const std::string& v) { o.model = v; }},
      {"--device", [&](const std::string& v) { o.device = v; }},
      {"--dtype", [&](const std::string& v) { o.dtype = v; }},
      {"--quantize", [&](const std::string& v) { o.quantize = v; }},
      {"--decode-step", [&](const std::string& v) { o.decode_step = v; }},
      {"--batches", [&](const std::string& v) { o.batches = parse_list(v); }},
      {"--beams", [&](const std::string& v) { o.beams = parse_list(v); }},
      {"--beam-batches", [&](const std::string& v) { o.beam_batches = parse_list(v); }},
      {"--new-tokens", [&](const std::string& v) { o.new_tokens = parse_list(v).front(); }},
      {"--iters", [&](const std::string& v) { o.iters = parse_count(v); }},
      {"--warmup", [&](const std::string& v) { o.warmup = parse_count(v); }},
      {"--frame-format", [&](const std::string& v) { o.frame_format = v; }},
      {"--json", [&](const std::string& v) { o.json_out = v; }},
      {"--check-finite", [&](const std::string& v) { o.check_finite = parse_yes_no(v); }},
      {"--frame", [&](const std::string& v) { parse_frame(v, &o); }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto it = with_value.find(arg);
    if (it == with_value.end()) throw UsageError{"unknown option " + arg};
    if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
    it->second(argv[++i]);
  }
  if (o.model.empty()) throw UsageError{"--model DIR is required"};
  if (o.beam_batches.empty()) o.beam_batches = o.batches;
  return o;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Peak and current resident memory of this process (VmHWM, RssAnon, RssFile), bytes.
std::map<std::string, int64_t> host_memory() {
  std::map<std::string, int64_t> found;
  std::ifstream status("/proc/self/status");
  std::string key;
  int64_t kib = 0;
  while (status >> key) {
    if (key == "VmHWM:" || key == "VmRSS:" || key == "RssAnon:" || key == "RssFile:") {
      status >> kib;
      found[key.substr(0, key.size() - 1)] = kib * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return found;
}

struct Frame {
  std::vector<uint8_t> bytes;
  blip2::ImageView view;
};

Frame random_frame(const Options& o, uint32_t seed) {
  Frame f;
  const int32_t w = static_cast<int32_t>(o.frame_width), h = static_cast<int32_t>(o.frame_height);
  std::mt19937 rng(seed);
  auto fill = [&](size_t n) {
    f.bytes.resize(n);
    for (auto& b : f.bytes) b = static_cast<uint8_t>(rng());
  };
  if (o.frame_format == "nv12") {
    fill(static_cast<size_t>(w) * h + static_cast<size_t>((w + 1) / 2 * 2) * ((h + 1) / 2));
    f.view.format = blip2::PixelFormat::kNV12;
    f.view.width = w;
    f.view.height = h;
    f.view.planes[0] = f.bytes.data();
    f.view.strides[0] = w;
    f.view.planes[1] = f.bytes.data() + static_cast<size_t>(w) * h;
    f.view.strides[1] = (w + 1) / 2 * 2;
  } else if (o.frame_format == "bgrx" || o.frame_format == "rgb") {
    const bool rgb = o.frame_format == "rgb";
    fill(static_cast<size_t>(w) * h * (rgb ? 3 : 4));
    f.view = blip2::ImageView::packed(f.bytes.data(), w, h, w * (rgb ? 3 : 4),
                                      rgb ? blip2::PixelFormat::kRGB : blip2::PixelFormat::kBGRx);
  } else {
    throw UsageError{"--frame-format must be nv12, bgrx or rgb"};
  }
  return f;
}

blip2::GenerationOptions generation(const Options& o, int64_t beams) {
  blip2::GenerationOptions g;
  g.prompt = "a photo of";
  g.max_new_tokens = g.min_new_tokens = static_cast<int32_t>(o.new_tokens);
  g.num_beams = static_cast<int32_t>(beams);
  return g;
}

// Medians over --iters calls of one (batch, beams) configuration.
Json time_config(blip2::Captioner& captioner, const Options& o, int64_t batch, int64_t beams) {
  std::vector<Frame> frames;
  std::vector<blip2::ImageView> views;
  for (int64_t i = 0; i < batch; ++i) frames.push_back(random_frame(o, static_cast<uint32_t>(i)));
  for (const Frame& f : frames) views.push_back(f.view);
  const blip2::GenerationOptions g = generation(o, beams);
  for (int64_t i = 0; i < o.warmup; ++i) captioner.caption(views, g);
  std::map<std::string, std::vector<double>> stages;
  std::vector<double> totals, per_token;
  blip2::StageTimings last;
  for (int64_t i = 0; i < o.iters; ++i) {
    const blip2::Caption c = captioner.caption(views, g).front();
    last = c.timings;
    stages["preprocess"].push_back(last.preprocess_ms);
    stages["vision"].push_back(last.vision_ms);
    stages["qformer"].push_back(last.qformer_ms);
    stages["prefill"].push_back(last.prefill_ms);
    stages["decode"].push_back(last.decode_ms);
    per_token.push_back(last.per_token_ms());
    totals.push_back(c.inference_ms);
  }
  Json r = {{"batch", batch}, {"beams", beams}, {"new_tokens", o.new_tokens}};
  for (const auto& [name, v] : stages) r["stages_ms"][name] = median(v);
  r["decode_per_token_ms"] = median(per_token);
  r["caption_ms"] = median(totals);
  r["captions_per_s"] = 1000.0 * static_cast<double>(batch) / median(totals);
  r["decoder"] = last.decoder;
  r["peak_rss_bytes"] = host_memory()["VmHWM"];
  return r;
}

void print_row(const Json& r) {
  std::printf(
      "batch %3ld beams %ld: pre %.2f vis %.2f qf %.2f prefill %.2f decode %.3f/token | "
      "caption %.2f ms, %.2f captions/s, decoder %s\n",
      static_cast<long>(r["batch"].get<int64_t>()), static_cast<long>(r["beams"].get<int64_t>()),
      r["stages_ms"]["preprocess"].get<double>(), r["stages_ms"]["vision"].get<double>(),
      r["stages_ms"]["qformer"].get<double>(), r["stages_ms"]["prefill"].get<double>(),
      r["decode_per_token_ms"].get<double>(), r["caption_ms"].get<double>(),
      r["captions_per_s"].get<double>(), r["decoder"].get<std::string>().c_str());
  std::fflush(stdout);
}

int run_bench(const Options& o) {
  blip2::ModelOptions mo;
  mo.path = o.model;
  mo.device = o.device;
  mo.dtype = o.dtype;
  mo.quantize = o.quantize;
  mo.decode_step = o.decode_step;
  mo.check_finite = o.check_finite;
  const Clock::time_point start = Clock::now();
  const auto model = blip2::Model::load(mo);
  const double load_ms = ms_since(start);
  const auto after_load = host_memory();
  blip2::Captioner captioner(model);
  const Frame first = random_frame(o, 0);
  const blip2::Caption c = captioner.caption(first.view, generation(o, 1));
  const double first_caption_ms = ms_since(start);
  const blip2::ModelInfo& info = model->info();
  Json report = {{"device", info.device},
                 {"dtype", info.dtype},
                 {"quantize", info.quantize},
                 {"decode_step", info.decode_step},
                 {"frame", std::to_string(o.frame_width) + "x" + std::to_string(o.frame_height) +
                               " " + o.frame_format},
                 {"image_size", info.image_size},
                 {"weight_bytes", info.weight_bytes},
                 {"load_ms", load_ms},
                 {"first_caption_ms", first_caption_ms},
                 {"first_caption_decoder", c.timings.decoder},
                 {"check_finite", o.check_finite},
                 {"rss_after_load", after_load},
                 {"runs", Json::array()}};
  std::printf("%s on %s (%s, decode step %s): load %.0f ms, first caption after %.0f ms\n",
              o.model.c_str(), info.device.c_str(), info.dtype.c_str(), info.decode_step.c_str(),
              load_ms, first_caption_ms);
  for (int64_t beams : o.iters > 0 ? o.beams : std::vector<int64_t>{}) {
    for (int64_t batch : beams > 1 ? o.beam_batches : o.batches) {
      const Json r = time_config(captioner, o, batch, beams);
      print_row(r);
      report["runs"].push_back(r);
    }
  }
  report["rss_at_end"] = host_memory();
  if (!o.json_out.empty()) std::ofstream(o.json_out) << report.dump(1) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse_options(argc, argv);
    return run_bench(o);
  } catch (const UsageError& e) {
    std::cerr << "blip2-bench: " << e.message << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "blip2-bench: error: " << e.what() << "\n";
  }
  return 1;
}
