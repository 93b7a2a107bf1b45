// blip2.h — public, torch-free API of the BLIP-2 OPT captioning library.
//
// Basic usage:
//
//   blip2::ModelOptions options;
//   options.path = "/path/to/blip2-opt-2.7b-coco";   // Hugging Face layout
//   auto model = blip2::Model::load(options);         // immutable, shareable
//   blip2::Captioner captioner(model);                // per-user state
//   blip2::GenerationOptions gen;                     // prompt, lengths, ...
//   blip2::Caption c = captioner.caption(image_view, gen);
//
// Threading: a Model may be shared by any number of threads; a Captioner must
// be used by one thread at a time (it owns the KV cache). Every failure is
// reported as blip2::Error; nothing here aborts, exits or prints to stdout.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "image.h"

namespace blip2 {

struct CaptionerState;

struct ModelOptions {
  std::string path;              // checkpoint folder (config.json, safetensors, tokenizer)
  std::string device = "auto";   // auto | cpu | cuda | cuda:N  (auto = cuda if present)
  std::string dtype = "auto";    // auto | float32 | float16 | bfloat16 (auto = fp16 on cuda, fp32 on cpu)
};

// What a loaded checkpoint is; filled by Model::load.
struct ModelInfo {
  std::string path;
  std::string device;            // resolved, e.g. "cpu", "cuda:0"
  std::string dtype;             // resolved, e.g. "float32"
  int32_t image_size = 224;      // vision_config.image_size (364 for -coco)
  int32_t num_query_tokens = 32;
  int64_t vocab_size = 0;        // rows of embed_tokens (50272 or 50304)
  int64_t eos_token_id = 50118;  // text_config.eos_token_id ("\n" for BLIP-2 OPT)
  int64_t bos_token_id = 2;
  int64_t pad_token_id = 1;
  int64_t max_positions = 2048;  // text_config.max_position_embeddings
  bool uses_image_token = false; // new convention: config.image_token_index set
  std::string default_prompt;    // "a photo of" for -coco checkpoints, else ""
};

enum class EarlyStopping { kFalse, kTrue, kNever };

// Decoding settings, named and defaulting as transformers' GenerationConfig.
// The published -coco captioning setup is num_beams 5, max_new_tokens 30,
// min_new_tokens 8 (LAVIS min_len), prompt "a photo of".
struct GenerationOptions {
  std::string prompt;              // "" = no prompt (BOS only); e.g. "a photo of"
  int32_t max_new_tokens = 30;     // newly generated tokens at most (EOS counted)
  int32_t min_new_tokens = 0;      // EOS is banned before this many new tokens
  // beam search (num_beams > 1)
  int32_t num_beams = 1;
  double length_penalty = 1.0;     // score = sum logprob / length^length_penalty
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  int32_t num_return_sequences = 1;  // <= num_beams
  // logits processors
  double repetition_penalty = 1.0;   // 1.0 = none
  int32_t no_repeat_ngram_size = 0;  // 0 = none
  // sampling (do_sample)
  bool do_sample = false;
  double temperature = 1.0;
  int32_t top_k = 50;              // 0 = no top-k filter
  double top_p = 1.0;              // 1.0 = no nucleus filter
  uint64_t seed = 0;               // same seed, same device -> same caption
};

struct Sequence {
  std::string text;                // decoded, special tokens skipped, stripped
  std::vector<int64_t> token_ids;  // new ids as transformers returns them (EOS included)
  double score = 0.0;              // mean log-probability of the chosen tokens
};

struct Caption {
  std::string text;                // decoded, special tokens skipped, stripped
  std::vector<int64_t> token_ids;  // new ids as transformers returns them (EOS included)
  double score = 0.0;              // mean log-probability of the chosen tokens (a confidence)
  double inference_ms = 0.0;       // wall time of the whole caption call (per batch)
  std::vector<Sequence> alternatives;  // the other returned sequences (num_return_sequences > 1)
};

class Model {
 public:
  struct Impl;

  // Loads a checkpoint; throws blip2::Error naming the file and the problem.
  static std::shared_ptr<Model> load(const ModelOptions& options);
  // The same, but shared: one Model per (path, device, dtype) per process,
  // kept alive while anyone holds it.
  static std::shared_ptr<Model> load_shared(const ModelOptions& options);

  const ModelInfo& info() const;
  Impl& impl() const { return *impl_; }

  explicit Model(std::unique_ptr<Impl> impl);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

 private:
  std::unique_ptr<Impl> impl_;
};

class Captioner {
 public:
  explicit Captioner(std::shared_ptr<const Model> model);
  ~Captioner();
  Captioner(const Captioner&) = delete;
  Captioner& operator=(const Captioner&) = delete;

  // One caption per image (batched through the whole model).
  std::vector<Caption> caption(const std::vector<ImageView>& images,
                               const GenerationOptions& options);
  Caption caption(const ImageView& image, const GenerationOptions& options);

  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<CaptionerState> state_;  // KV cache and scratch
};

// Library log messages go here (default: none). Level 0 = error .. 3 = debug.
using LogCallback = std::function<void(int level, const std::string& message)>;
void set_log_callback(LogCallback callback);

}  // namespace blip2
