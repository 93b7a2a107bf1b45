// What reduced precision costs in accuracy: logits of bfloat16 and of
// bfloat16 + int8 weights against float32, step by step, on one image.
//
//   bench_accuracy --model DIR --image PPM [--prompt TEXT] [--new-tokens N]
//                  [--configs float32,bfloat16,bfloat16+int8] [--threads N] [--json OUT]
//
// The first configuration is the reference. It decodes greedily with EOS
// banned for N tokens (min = max new tokens, as the benchmarks force), the
// plain decoder loop one token after the other. Every other configuration
// is fed the same tokens (teacher forcing), so each step compares the logits
// of the same context: the relative error ‖a − b‖ / ‖b‖ of the whole logit
// vector and whether the top-1 token agrees. Each configuration then also
// captions the image freely (greedy, the same lengths): its ids, and the
// first step where they leave the reference's. Models are loaded one at a
// time (a full-size float32 model is 15 GB of mappings).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "blip2.h"
#include "model_impl.h"
#include "ppm.h"

namespace {

using blip2::Model;

struct Options {
  std::string model, image, prompt = "a photo of", json_out;
  std::vector<std::string> configs = {"float32", "bfloat16", "bfloat16+int8"};
  int new_tokens = 12;
  int threads = 0;
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, sep);) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model") o.model = value;
    else if (flag == "--image") o.image = value;
    else if (flag == "--prompt") o.prompt = value;
    else if (flag == "--new-tokens") o.new_tokens = std::stoi(value);
    else if (flag == "--configs") o.configs = split(value, ',');
    else if (flag == "--threads") o.threads = std::stoi(value);
    else if (flag == "--json") o.json_out = value;
    else throw std::runtime_error("unknown option " + flag);
  }
  if (o.model.empty() || o.image.empty()) {
    throw std::runtime_error("--model and --image are required");
  }
  return o;
}

// "bfloat16+int8" -> dtype bfloat16, quantize int8
blip2::ModelOptions model_options(const Options& o, const std::string& config) {
  blip2::ModelOptions m;
  m.path = o.model;
  m.device = "cpu";
  m.dtype = config;
  const size_t plus = config.find('+');
  if (plus != std::string::npos) {
    m.dtype = config.substr(0, plus);
    m.quantize = config.substr(plus + 1);
  }
  return m;
}

// Logits [N, V] (float32) of N greedy steps. `forced`: the tokens to feed
// (teacher forcing); empty: choose them (argmax, EOS banned) into `chosen`.
at::Tensor step_logits(const Model& model, const blip2::ImageView& image, const Options& o,
                       const std::vector<int64_t>& forced, std::vector<int64_t>* chosen) {
  c10::InferenceMode guard;
  const Model::Impl& m = model.impl();
  const at::Tensor features = m.net->image_features(m.pixel_values({image}));
  const at::Tensor embeds = m.inputs_embeds(features, m.input_ids_for(o.prompt));
  const blip2::OptConfig& c = m.config.text_config;
  blip2::KvCache cache;
  cache.allocate(c.num_hidden_layers, 1, c.num_attention_heads, embeds.size(1) + o.new_tokens,
                 c.hidden_size / c.num_attention_heads, embeds.options());
  blip2::OptForCausalLMImpl& lm = *m.net->language_model;
  at::Tensor hidden = lm.model->decoder->forward(embeds, cache);
  std::vector<at::Tensor> steps;
  for (int step = 0; step < o.new_tokens; ++step) {
    const at::Tensor logits = lm.logits(hidden.select(1, hidden.size(1) - 1))[0].to(at::kFloat);
    steps.push_back(logits);
    int64_t token = 0;
    if (forced.empty()) {
      at::Tensor banned = logits.clone();
      banned[c.eos_token_id] = -std::numeric_limits<float>::infinity();
      token = banned.argmax().item<int64_t>();
      chosen->push_back(token);
    } else {
      token = forced[static_cast<size_t>(step)];
    }
    const at::Tensor ids = at::full({1, 1}, token, at::kLong);
    hidden = lm.model->decoder->forward(m.net->embed_tokens(ids), cache);
  }
  return at::stack(steps);
}

std::vector<int64_t> free_caption(const std::shared_ptr<Model>& model,
                                  const blip2::ImageView& image, const Options& o) {
  blip2::Captioner captioner(model);
  blip2::GenerationOptions g;
  g.prompt = o.prompt;
  g.max_new_tokens = g.min_new_tokens = o.new_tokens;
  return captioner.caption(image, g).token_ids;
}

int first_difference(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) return static_cast<int>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<int>(std::min(a.size(), b.size()));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (o.threads > 0) at::set_num_threads(o.threads);
    const blip2::RgbImage image = blip2::read_ppm(o.image);
    nlohmann::json report = {{"model", o.model}, {"image", o.image}, {"prompt", o.prompt},
                             {"new_tokens", o.new_tokens}, {"configs", nlohmann::json::array()}};
    std::vector<int64_t> reference_ids;
    at::Tensor reference;
    std::printf(
        "| configuration | mean rel. error | max rel. error | top-1 agreement | "
        "free caption = reference |\n");
    std::printf("|---|---|---|---|---|\n");
    for (const std::string& config : o.configs) {
      std::shared_ptr<Model> model = Model::load(model_options(o, config));
      nlohmann::json entry = {{"config", config}};
      if (!reference.defined()) {
        reference = step_logits(*model, image.view(), o, {}, &reference_ids);
        entry["token_ids"] = reference_ids;
        report["configs"].push_back(entry);
        std::printf("| %s | (reference) | | | |\n", config.c_str());
        continue;
      }
      const at::Tensor logits = step_logits(*model, image.view(), o, reference_ids, nullptr);
      const at::Tensor errors = (logits - reference).norm(2, 1) / reference.norm(2, 1);
      const at::Tensor agree = logits.argmax(1).eq(reference.argmax(1));
      const std::vector<int64_t> ids = free_caption(model, image.view(), o);
      const at::Tensor errors64 = errors.to(at::kDouble).contiguous();
      entry["relative_error"] = std::vector<double>(
          errors64.data_ptr<double>(), errors64.data_ptr<double>() + errors64.numel());
      std::vector<bool> agreement;
      for (int64_t i = 0; i < agree.numel(); ++i) agreement.push_back(agree[i].item<bool>());
      entry["top1_agreement"] = agreement;
      entry["free_token_ids"] = ids;
      entry["first_difference"] = first_difference(ids, reference_ids);
      report["configs"].push_back(entry);
      std::printf("| %s | %.4f | %.4f | %lld/%lld | %s |\n", config.c_str(),
                  errors.mean().item<double>(), errors.max().item<double>(),
                  static_cast<long long>(agree.sum().item<int64_t>()),
                  static_cast<long long>(agree.numel()),
                  ids == reference_ids
                      ? "yes"
                      : ("from step " + std::to_string(first_difference(ids, reference_ids)))
                            .c_str());
    }
    if (!o.json_out.empty()) std::ofstream(o.json_out) << report.dump(1) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_accuracy: %s\n", e.what());
    return 1;
  }
}
