// blip2-bench — times the captioning pipeline stage by stage on CUDA (or on
// the CPU, as a dry run): GPU preprocessing of raw frames, vision encoder,
// Q-Former + projection, prefill, per-token decode (the CUDA-graph decode
// step), end-to-end latency, captions/s and peak device memory.
//
//   blip2-bench (--model DIR | --random-config CONFIG.json) [--device cuda|cpu]
//               [--dtype float16|bfloat16|float32] [--batches 1,4,8,16,32]
//               [--beams 1,5] [--beam-batches 1] [--new-tokens 12] [--iters 10] [--warmup 2]
//               [--frame 1920x1080] [--frame-format nv12|bgrx|rgb]
//               [--attention auto|eager|sdpa] [--no-graph] [--qformer-half]
//               [--json OUT.json]
//   blip2-bench --parity DIR --model MODEL [--device cuda] [--dtype float16]
//
// The token count is forced (EOS is banned until --new-tokens, as
// min_new_tokens = max_new_tokens does in transformers), so every run decodes
// the same number of steps. --random-config builds the architecture of a
// config.json with random weights directly on the device (no checkpoint);
// its prompt is BOS + 3 fixed ids (the length of "a photo of").
// --parity DIR (written by tests/bench/bench_transformers_gpu.py parity-ref)
// runs the reference pixels through the checkpoint, feeds transformers' own
// tokens through the decode step (teacher forcing) and writes our logits for
// the comparison script.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "blip2-build-config.h"
#include "blip2.h"
#include "blip2_model.h"
#include "cuda_decode_graph.h"
#include "gpu_image.h"
#include "layers.h"
#include "model_impl.h"
#include "ppm.h"

#if BLIP2_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace {

using Json = nlohmann::json;

struct Options {
  std::string model, random_config, parity, device = "cuda", dtype = "float16";
  std::vector<int64_t> batches{1, 4, 8, 16, 32}, beams{1},
      beam_batches;  // beam_batches: for beams > 1
  int64_t new_tokens = 12, iters = 10, warmup = 2, frame_width = 1920, frame_height = 1080;
  std::string frame_format = "nv12", attention = "auto", json_out;
  bool graphs = true, qformer_half = false;
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
      {"--random-config", [&](const std::string& v) { o.random_config = v; }},
      {"--parity", [&](const std::string& v) { o.parity = v; }},
      {"--device", [&](const std::string& v) { o.device = v; }},
      {"--dtype", [&](const std::string& v) { o.dtype = v; }},
      {"--batches", [&](const std::string& v) { o.batches = parse_list(v); }},
      {"--beams", [&](const std::string& v) { o.beams = parse_list(v); }},
      {"--beam-batches", [&](const std::string& v) { o.beam_batches = parse_list(v); }},
      {"--new-tokens", [&](const std::string& v) { o.new_tokens = parse_list(v).front(); }},
      {"--iters", [&](const std::string& v) { o.iters = parse_list(v).front(); }},
      {"--warmup", [&](const std::string& v) { o.warmup = parse_count(v); }},
      {"--frame-format", [&](const std::string& v) { o.frame_format = v; }},
      {"--attention", [&](const std::string& v) { o.attention = v; }},
      {"--json", [&](const std::string& v) { o.json_out = v; }},
      {"--frame", [&](const std::string& v) { parse_frame(v, &o); }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-graph") {
      o.graphs = false;
    } else if (arg == "--qformer-half") {
      o.qformer_half = true;
    } else if (auto it = with_value.find(arg); it != with_value.end()) {
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      it->second(argv[++i]);
    } else {
      throw UsageError{"unknown option " + arg};
    }
  }
  if (o.model.empty() == o.random_config.empty() && o.parity.empty()) {
    throw UsageError{"give exactly one of --model DIR and --random-config FILE"};
  }
  if (!o.parity.empty() && o.model.empty()) throw UsageError{"--parity needs --model"};
  if (o.beam_batches.empty()) o.beam_batches = o.batches;
  return o;
}

// ------------------------------------------------------------ timing

void sync(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Stage laps: synchronises the device at each lap only when `enabled`.
class Laps {
 public:
  Laps(const at::Device& device, bool enabled) : device_(device), enabled_(enabled) {
    last_ = now_ms();
  }
  void lap(const char* name) {
    if (!enabled_) return;
    sync(device_);
    const double t = now_ms();
    times_[name] += t - last_;
    last_ = t;
  }
  const std::map<std::string, double>& times() const { return times_; }

 private:
  at::Device device_;
  bool enabled_;
  double last_;
  std::map<std::string, double> times_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void reset_peak_memory(const at::Device& device) {
#if BLIP2_HAVE_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  (void)device;
}

// Peak bytes held by tensors since the last reset (0 on the CPU).
int64_t peak_memory(const at::Device& device) {
#if BLIP2_HAVE_CUDA
  if (device.is_cuda()) {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index())
        .allocated_bytes[0]  // the aggregate over all pools
        .peak;
  }
#endif
  (void)device;
  return 0;
}

// Bytes held by tensors now (0 on the CPU).
int64_t current_memory(const at::Device& device) {
#if BLIP2_HAVE_CUDA
  if (device.is_cuda()) {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index())
        .allocated_bytes[0]
        .current;
  }
#endif
  (void)device;
  return 0;
}

// ------------------------------------------------------------ the model

// What the bench runs: a loaded checkpoint, or a random network of a config.
struct Pipeline {
  std::shared_ptr<blip2::Model> model;                   // checkpoint mode
  blip2::Blip2ForConditionalGeneration random{nullptr};  // random mode
  blip2::Blip2ForConditionalGenerationImpl* net = nullptr;
  blip2::ImageProcessorConfig image_config;
  std::vector<int64_t> input_ids;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  int64_t eos = 2;

  // image features [B, Q, D] -> LM prefix [B, L, E]
  at::Tensor embeds(const at::Tensor& features) const {
    if (model) return model->impl().inputs_embeds(features, input_ids);
    const int64_t queries = features.size(1);
    const bool image_ids = net->config.image_token_index.has_value();
    std::vector<int64_t> text(input_ids.begin() + (image_ids ? queries : 0), input_ids.end());
    const at::Tensor ids = at::tensor(text).to(device).unsqueeze(0).expand({features.size(0), -1});
    const at::Tensor text_embeds = net->embed_tokens(ids);
    return at::cat({features.to(text_embeds.scalar_type()), text_embeds}, 1);
  }
};

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float32") return at::kFloat;
  throw UsageError{"unknown dtype " + name};
}

// Unit-free random weights (the values do not matter for timing): norms 1,
// everything else N(0, 0.02).
void randomize(torch::nn::Module& net) {
  torch::manual_seed(1234);
  for (auto& item : net.named_parameters()) {
    at::Tensor p = item.value();
    const std::string& name = item.key();
    const bool norm =
        name.find("norm") != std::string::npos || name.find("LayerNorm") != std::string::npos;
    if (norm && name.size() > 6 && name.compare(name.size() - 6, 6, "weight") == 0) {
      p.fill_(1.0);
    } else {
      p.normal_(0.0, 0.02);
    }
  }
}

Pipeline random_pipeline(const Options& o) {
  Pipeline p;
  const blip2::Blip2Config config = blip2::Blip2Config::from_file(o.random_config);
  if (config.text_config.word_embed_proj_dim > 0 &&
      config.text_config.word_embed_proj_dim != config.text_config.hidden_size) {
    throw UsageError{"--random-config: word_embed_proj_dim != hidden_size is not supported"};
  }
  p.device = o.device == "cuda" ? at::Device("cuda:0") : at::Device(o.device);
  p.dtype = parse_dtype(o.dtype);
  p.random = blip2::Blip2ForConditionalGeneration(
      config, at::TensorOptions().dtype(p.dtype).device(p.device));
  randomize(*p.random);
  p.net = p.random.get();
  p.image_config.height = p.image_config.width =
      static_cast<int32_t>(config.vision_config.image_size);
  if (config.image_token_index) {
    p.input_ids.assign(static_cast<size_t>(config.num_query_tokens), *config.image_token_index);
  }
  // BOS + 3 fixed ids (folded into small test vocabularies)
  for (int64_t id : {int64_t{2}, int64_t{102}, int64_t{1345}, int64_t{9}}) {
    p.input_ids.push_back(id % config.text_config.vocab_size);
  }
  p.eos = config.text_config.eos_token_id;
  return p;
}

Pipeline checkpoint_pipeline(const Options& o) {
  Pipeline p;
  p.model = blip2::Model::load({o.model, o.device, o.dtype});
  const blip2::Model::Impl& m = p.model->impl();
  p.net = m.net.get();
  p.image_config = m.image_config;
  p.input_ids = m.input_ids_for(
      p.model->info().default_prompt.empty() ? "a photo of" : p.model->info().default_prompt);
  p.device = m.device;
  p.dtype = m.dtype;
  p.eos = m.config.text_config.eos_token_id;
  return p;
}

// ------------------------------------------------------------ frames

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

// ------------------------------------------------------------ one caption batch

// Decode steps by (rows, capacity), kept between calls as a captioner would.
class StepCache {
 public:
  StepCache(Pipeline& p, bool graphs) : p_(p), graphs_(graphs) {}
  blip2::DecodeStep& get(int64_t rows, int64_t needed) {
    const int64_t capacity = blip2::DecodeStep::round_capacity(needed);
    auto& slot = steps_[{rows, capacity}];
    if (!slot) {
      slot = std::make_unique<blip2::DecodeStep>(
          *p_.net->language_model, rows, capacity,
          at::TensorOptions().dtype(p_.dtype).device(p_.device), graphs_);
    }
    last_ = slot.get();
    return *slot;
  }
  const blip2::DecodeStep* last() const { return last_; }

 private:
  Pipeline& p_;
  bool graphs_;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<blip2::DecodeStep>> steps_;
  const blip2::DecodeStep* last_ = nullptr;
};

// logits [R, V] -> float32 scores with EOS banned (forced length)
at::Tensor forced_scores(const at::Tensor& logits, int64_t eos) {
  at::Tensor scores = logits.to(at::kFloat);
  if (eos >= 0 && eos < scores.size(1))
    scores.select(1, eos).fill_(-std::numeric_limits<float>::infinity());
  return scores;
}

// Greedy: prefill logits -> new tokens [B][N]; one host copy per token.
std::vector<std::vector<int64_t>> greedy(blip2::DecodeStep& step,
                                         at::Tensor logits,
                                         int64_t new_tokens,
                                         int64_t eos) {
  std::vector<std::vector<int64_t>> tokens(step.batch());
  for (int64_t s = 0; s < new_tokens; ++s) {
    const at::Tensor ids = forced_scores(logits, eos).argmax(-1);
    const at::Tensor host = ids.cpu();  // the stop test's sync
    const auto id = host.accessor<int64_t, 1>();
    for (int64_t b = 0; b < step.batch(); ++b) tokens[b].push_back(id[b]);
    if (s + 1 < new_tokens) logits = step.step(ids);
  }
  return tokens;
}

// Beam search timing harness (the work of a beam step: log-softmax, top 2K
// over K·V, one host copy, cache reorder, next step); EOS is banned, so no
// hypothesis ends early. Returns the best beam's tokens per image.
std::vector<std::vector<int64_t>> beam(
    blip2::DecodeStep& step, at::Tensor logits, int64_t beams, int64_t new_tokens, int64_t eos) {
  const int64_t rows = step.batch(), images = rows / beams;
  std::vector<float> beam_scores(rows, -1e9f);
  for (int64_t i = 0; i < images; ++i) beam_scores[i * beams] = 0.0f;
  std::vector<std::vector<int64_t>> seqs(rows);
  for (int64_t s = 0; s < new_tokens; ++s) {
    const int64_t vocab = logits.size(1);
    at::Tensor scores = at::log_softmax(forced_scores(logits, eos), -1) +
                        at::tensor(beam_scores).to(logits.device()).unsqueeze(1);
    auto [values, indices] = scores.view({images, beams * vocab}).topk(2 * beams, 1);
    const at::Tensor values_host = values.cpu(), indices_host = indices.cpu();  // the sync
    const auto v = values_host.accessor<float, 2>();
    const auto ix = indices_host.accessor<int64_t, 2>();
    std::vector<int64_t> parents(rows), ids(rows);
    std::vector<std::vector<int64_t>> next(rows);
    for (int64_t i = 0; i < images; ++i) {
      for (int64_t k = 0; k < beams; ++k) {
        const int64_t flat = ix[i][k], row = i * beams + k;
        parents[row] = i * beams + flat / vocab;
        ids[row] = flat % vocab;
        beam_scores[row] = v[i][k];
        next[row] = seqs[parents[row]];
        next[row].push_back(ids[row]);
      }
    }
    seqs = std::move(next);
    if (s + 1 < new_tokens) {
      step.reorder(at::tensor(parents));
      logits = step.step(at::tensor(ids).to(logits.device()));
    }
  }
  std::vector<std::vector<int64_t>> best;
  for (int64_t i = 0; i < images; ++i) best.push_back(seqs[i * beams]);
  return best;
}

// Frames -> tokens; stage laps when laps->enabled.
std::vector<std::vector<int64_t>> caption_batch(Pipeline& p,
                                                const std::vector<blip2::ImageView>& views,
                                                int64_t beams,
                                                int64_t new_tokens,
                                                StepCache& steps,
                                                Laps& laps) {
  const int64_t batch = static_cast<int64_t>(views.size());
  const at::Tensor pixels = blip2::preprocess_on_device(views, p.image_config, p.device);
  laps.lap("preprocess");
  const at::Tensor image_embeds = p.net->vision_model->forward(pixels);  // [B, N, Dv]
  laps.lap("vision");
  const at::Tensor query_output =
      p.net->qformer->forward(p.net->query_tokens.expand({batch, -1, -1}), image_embeds);
  const at::Tensor features =
      p.net->language_projection->forward(query_output.to(image_embeds.scalar_type()));
  laps.lap("qformer");
  at::Tensor embeds = p.embeds(features);  // [B, L, E]
  if (beams > 1) embeds = embeds.repeat_interleave(beams, 0);
  blip2::DecodeStep& step = steps.get(batch * beams, embeds.size(1) + new_tokens);
  const at::Tensor logits = step.prefill(embeds);
  laps.lap("prefill");
  auto tokens = beams > 1 ? beam(step, logits, beams, new_tokens, p.eos)
                          : greedy(step, logits, new_tokens, p.eos);
  laps.lap("decode");
  return tokens;
}

// ------------------------------------------------------------ benchmark runs

Json time_config(Pipeline& p, const Options& o, StepCache& steps, int64_t batch, int64_t beams) {
  std::vector<Frame> frames;
  std::vector<blip2::ImageView> views;
  for (int64_t i = 0; i < batch; ++i) frames.push_back(random_frame(o, static_cast<uint32_t>(i)));
  for (const Frame& f : frames) views.push_back(f.view);
  Laps off(p.device, false);
  for (int64_t i = 0; i < o.warmup; ++i) caption_batch(p, views, beams, o.new_tokens, steps, off);
  reset_peak_memory(p.device);
  std::map<std::string, std::vector<double>> stages;
  std::vector<double> totals;
  for (int64_t i = 0; i < o.iters; ++i) {
    Laps laps(p.device, true);
    caption_batch(p, views, beams, o.new_tokens, steps, laps);
    for (const auto& [name, ms] : laps.times()) stages[name].push_back(ms);
    sync(p.device);
    const double start = now_ms();  // end to end: no syncs between stages
    caption_batch(p, views, beams, o.new_tokens, steps, off);
    totals.push_back(now_ms() - start);
  }
  Json r = {{"batch", batch}, {"beams", beams}, {"new_tokens", o.new_tokens}};
  for (const auto& [name, v] : stages) r["stages_ms"][name] = median(v);
  r["decode_per_token_ms"] =
      o.new_tokens > 1 ? median(stages["decode"]) / static_cast<double>(o.new_tokens - 1) : 0.0;
  r["caption_ms"] = median(totals);
  r["captions_per_s"] = 1000.0 * static_cast<double>(batch) / median(totals);
  r["peak_memory_bytes"] = peak_memory(p.device);
  r["decode_graphed"] = steps.last()->graphed();
  r["decode_eager_reason"] = steps.last()->eager_reason();
  return r;
}

void print_row(const Json& r) {
  std::printf(
      "batch %3ld beams %ld: pre %.2f vis %.2f qf %.2f prefill %.2f decode %.3f/token | "
      "caption %.2f ms, %.1f captions/s, peak %.2f GiB, graph %s\n",
      static_cast<long>(r["batch"].get<int64_t>()), static_cast<long>(r["beams"].get<int64_t>()),
      r["stages_ms"]["preprocess"].get<double>(), r["stages_ms"]["vision"].get<double>(),
      r["stages_ms"]["qformer"].get<double>(), r["stages_ms"]["prefill"].get<double>(),
      r["decode_per_token_ms"].get<double>(), r["caption_ms"].get<double>(),
      r["captions_per_s"].get<double>(),
      static_cast<double>(r["peak_memory_bytes"].get<int64_t>()) / (1 << 30),
      r["decode_graphed"].get<bool>() ? "yes" : "no");
  std::fflush(stdout);
}

// Q-Former stage alone at batch B (median ms), in its current dtype.
double time_qformer(Pipeline& p, const Options& o, int64_t batch) {
  const int64_t tokens = (p.image_config.height / p.net->config.vision_config.patch_size) *
                             (p.image_config.width / p.net->config.vision_config.patch_size) +
                         1;
  const at::Tensor image_embeds =
      at::randn({batch, tokens, p.net->config.vision_config.hidden_size},
                at::TensorOptions().dtype(p.dtype).device(p.device));
  std::vector<double> times;
  for (int64_t i = 0; i < o.warmup + o.iters; ++i) {
    sync(p.device);
    const double start = now_ms();
    p.net->qformer->forward(p.net->query_tokens.expand({batch, -1, -1}), image_embeds);
    sync(p.device);
    if (i >= o.warmup) times.push_back(now_ms() - start);
  }
  return median(times);
}

// What keeping the Q-Former in float32 costs: its time in float32 and in the
// model dtype, at the smallest and largest batch.
Json qformer_dtype_cost(Pipeline& p, const Options& o) {
  Json rows = Json::array();
  try {
    for (int64_t batch : {o.batches.front(), o.batches.back()}) {
      Json q = {{"batch", batch}, {"float32_ms", time_qformer(p, o, batch)}};
      p.net->qformer->to(p.dtype);
      q["half_ms"] = time_qformer(p, o, batch);
      p.net->qformer->to(at::kFloat);
      std::printf("qformer batch %ld: float32 %.3f ms, %s %.3f ms\n", static_cast<long>(batch),
                  q["float32_ms"].get<double>(), o.dtype.c_str(), q["half_ms"].get<double>());
      rows.push_back(q);
    }
  } catch (const std::exception& e) {
    rows.push_back({{"error", e.what()}});
  }
  return rows;
}

int run_bench(const Options& o) {
  Pipeline p = o.random_config.empty() ? checkpoint_pipeline(o) : random_pipeline(o);
  StepCache steps(p, o.graphs);
  Json report = {{"device", p.device.str()},
                 {"dtype", o.dtype},
                 {"attention", o.attention},
                 {"graphs", o.graphs},
                 {"frame", std::to_string(o.frame_width) + "x" + std::to_string(o.frame_height) +
                               " " + o.frame_format},
                 {"image_size", p.image_config.height},
                 {"prompt_length", p.input_ids.size()}};
  report["memory_after_load_bytes"] = current_memory(p.device);
  for (int64_t beams : o.beams) {
    for (int64_t batch : beams > 1 ? o.beam_batches : o.batches) {
      const Json r = time_config(p, o, steps, batch, beams);
      print_row(r);
      report["runs"].push_back(r);
    }
  }
  if (o.qformer_half) report["qformer_dtype_cost"] = qformer_dtype_cost(p, o);
  if (!o.json_out.empty()) std::ofstream(o.json_out) << report.dump(1) << "\n";
  return 0;
}

// ------------------------------------------------------------ parity

at::Tensor read_floats(const std::string& path, const std::vector<int64_t>& shape) {
  std::ifstream file(path, std::ios::binary);
  at::Tensor t = at::empty(shape, at::kFloat);
  file.read(reinterpret_cast<char*>(t.data_ptr<float>()), t.numel() * 4);
  if (!file) throw blip2::Error(blip2::ErrorCode::kInvalidFormat, "cannot read " + path);
  return t;
}

// The device preprocessing of the reference image against transformers' pixels.
Json preprocess_difference(const Pipeline& p, const std::string& image, const at::Tensor& ref) {
  const blip2::RgbImage rgb = blip2::read_ppm(image);
  const at::Tensor ours = blip2::preprocess_on_device({rgb.view()}, p.image_config, p.device).cpu();
  const at::Tensor diff = (ours - ref).abs();
  return {{"max_abs", diff.max().item<double>()},
          {"fraction_differing", diff.gt(0).to(at::kDouble).mean().item<double>()}};
}

int run_parity(const Options& o) {
  std::ifstream ref_file(o.parity + "/parity_ref.json");
  const Json ref = Json::parse(ref_file);
  Pipeline p = checkpoint_pipeline(o);
  p.input_ids = p.model->impl().input_ids_for(ref["prompt"].get<std::string>());
  if (p.input_ids != ref["input_ids"].get<std::vector<int64_t>>()) {
    throw blip2::Error(blip2::ErrorCode::kRuntime,
                       "parity: our input ids differ from transformers'");
  }
  c10::InferenceMode guard;
  const at::Tensor pixels =
      read_floats(o.parity + "/pixels.f32", ref["pixel_shape"].get<std::vector<int64_t>>());
  const at::Tensor embeds = p.embeds(p.net->image_features(pixels.to(p.device)));
  const std::vector<int64_t> tokens = ref["tokens"];
  const int64_t n = static_cast<int64_t>(tokens.size());
  StepCache steps(p, o.graphs);
  blip2::DecodeStep& step = steps.get(1, embeds.size(1) + n);
  std::vector<at::Tensor> logits{step.prefill(embeds).to(at::kFloat).cpu()};
  for (int64_t i = 0; i + 1 < n; ++i) {  // teacher forcing with transformers' tokens
    logits.push_back(
        step.step(at::full({1}, tokens[i], at::TensorOptions().dtype(at::kLong).device(p.device)))
            .to(at::kFloat)
            .cpu());
  }
  const at::Tensor all = at::cat(logits).contiguous();  // [n, V]
  std::ofstream(o.parity + "/ours_logits.f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(all.data_ptr<float>()), all.numel() * 4);
  Json ours = {{"logits_shape", {all.size(0), all.size(1)}},
               {"graphed", step.graphed()},
               {"eager_reason", step.eager_reason()},
               {"device", p.device.str()},
               {"dtype", o.dtype},
               {"attention", o.attention}};
  ours["free_run_tokens"] = greedy(step, step.prefill(embeds), n, p.eos)[0];
  if (ref.contains("image")) ours["preprocess"] = preprocess_difference(p, ref["image"], pixels);
  std::ofstream(o.parity + "/ours.json") << ours.dump(1) << "\n";
  std::printf("parity: wrote %ld steps of logits (graph %s)\n", static_cast<long>(n),
              step.graphed() ? "yes" : step.eager_reason().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "blip2-bench: " << e.message << "\n";
    return 2;
  }
  try {
    blip2::set_attention_backend(blip2::parse_attention_backend(o.attention));
    c10::InferenceMode guard;
    return o.parity.empty() ? run_bench(o) : run_parity(o);
  } catch (const UsageError& e) {
    std::cerr << "blip2-bench: " << e.message << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "blip2-bench: error: " << e.what() << "\n";
  }
  return 1;
}
