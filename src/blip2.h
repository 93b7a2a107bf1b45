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

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "image.h"

namespace blip2 {

struct CaptionerState;

// Loading progress: bytes of checkpoint tensors placed in the model so far, of
// `bytes_total` (the tensors the model uses). Called on the loading thread:
// once with (0, total) before the first tensor, then after every tensor; the
// last call has bytes_done == bytes_total. An exception thrown from it stops
// the load (Model::load then throws it as a blip2::Error).
using LoadProgressCallback = std::function<void(uint64_t bytes_done, uint64_t bytes_total)>;

struct ModelOptions {
  std::string path;              // checkpoint folder (config.json, safetensors, tokenizer)
  std::string device = "auto";   // auto | cpu | cuda | cuda:N  (auto = cuda if present)
  std::string dtype = "auto";    // auto | float32 | float16 | bfloat16 (auto = fp16 on cuda, fp32 on cpu)
  LoadProgressCallback on_progress;  // optional; see LoadProgressCallback
  // How the language model decodes token by token:
  //   graph   - a fixed-shape step, replayed as a CUDA graph on CUDA (captured
  //             once per batch shape; a failed capture runs it eagerly)
  //   static  - the same fixed-shape step, never captured
  //   dynamic - the plain decoder loop over a growing cache
  //   auto    - graph on CUDA, dynamic on the CPU (the faster there)
  std::string decode_step = "auto";
  // Scan every loaded parameter for NaN/Inf and refuse a checkpoint holding
  // any (docs/reliability.md gives the cost: one pass over the weights).
  bool check_finite = true;
  // Weight-only quantization of the language model, done at load from the
  // checkpoint's weights (nothing is written):
  //   none - weights in `dtype`
  //   int8 - the language model's linear layers and its head as int8 with one
  //          scale per output channel, bfloat16 activations (dtype auto or
  //          bfloat16); CPU only (refused on CUDA). Faster and smaller on the
  //          CPU, not exact: docs/full-size-cpu.md has the measured cost.
  std::string quantize = "none";
};

// What a loaded checkpoint is; filled by Model::load.
struct ModelInfo {
  std::string path;
  std::string device;            // resolved, e.g. "cpu", "cuda:0"
  std::string dtype;             // resolved, e.g. "float32"
  std::string quantize;          // "none" or "int8"
  int32_t image_size = 224;      // vision_config.image_size (364 for -coco)
  int32_t num_query_tokens = 32;
  int64_t vocab_size = 0;        // rows of embed_tokens (50272 or 50304)
  int64_t eos_token_id = 50118;  // text_config.eos_token_id ("\n" for BLIP-2 OPT)
  int64_t bos_token_id = 2;
  int64_t pad_token_id = 1;
  int64_t max_positions = 2048;  // text_config.max_position_embeddings
  bool uses_image_token = false; // new convention: config.image_token_index set
  std::string default_prompt;    // "a photo of" for -coco checkpoints, else ""
  uint64_t weight_bytes = 0;     // bytes of checkpoint tensors the model uses (as stored)
  std::string decode_step;       // resolved: "graph", "static" or "dynamic"
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
  // Set *cancel to true from any thread to abort a caption in flight: the
  // call then throws Error(kCancelled) before its next decoding step. Null:
  // not cancellable. A set flag also refuses later calls until it is cleared.
  std::shared_ptr<std::atomic<bool>> cancel;
  // Called on the decoding thread before each decoding step after the prefill
  // (step 0, 1, ...), before the cancel flag is looked at; it may block, e.g.
  // to hold a caption in progress in a test. A batch calls its first
  // request's. Empty: nothing is called.
  std::function<void(int64_t step)> on_step;
};

struct Sequence {
  std::string text;                // decoded, special tokens skipped, stripped
  std::vector<int64_t> token_ids;  // new ids as transformers returns them (EOS included)
  double score = 0.0;              // mean log-probability of the chosen tokens
};

// Where the time of one caption call went, in milliseconds of wall time (on
// a GPU each stage is waited for before the next starts). The captions of one
// batched call share them.
struct StageTimings {
  double preprocess_ms = 0.0;  // images -> normalised pixels on the device
  double vision_ms = 0.0;      // the vision encoder
  double qformer_ms = 0.0;     // Q-Former, language projection, prompt embeddings
  double prefill_ms = 0.0;     // the language model over the prompt
  double decode_ms = 0.0;      // every later step, token choice included
  int32_t decode_steps = 0;    // language-model steps after the prefill
  std::string decoder;         // what decoded: "graph" (CUDA graph replay), "static", "dynamic",
                               // "remote" (a server, RemoteCaptioner)
  double encode_ms = 0.0;      // remote: the picture to a data: URL and the request to JSON
  double round_trip_ms = 0.0;  // remote: the HTTP exchange that answered (retries not included)
  double per_token_ms() const { return decode_steps > 0 ? decode_ms / decode_steps : 0.0; }
};

struct Caption {
  std::string text;                // decoded, special tokens skipped, stripped
  std::vector<int64_t> token_ids;  // new ids as transformers returns them (EOS included)
  double score = 0.0;              // mean log-probability of the chosen tokens (a confidence)
  double inference_ms = 0.0;       // wall time of the whole caption call (per batch)
  std::vector<Sequence> alternatives;  // the other returned sequences (num_return_sequences > 1)
  StageTimings timings;            // of the whole call (per batch)
  int32_t batch_size = 1;          // images captioned together in that call
  // A remote caption (RemoteCaptioner) has what the server returned: token
  // ids when it gives them (vLLM with return_token_ids), a score when it
  // gives log-probabilities, and its own count of the new tokens.
  bool token_ids_known = true;     // false: token_ids is empty for want of them
  bool score_known = true;         // false: score is 0 for want of log-probabilities
  int32_t server_token_count = 0;  // remote: new tokens as the server counted them
  // New tokens, EOS included: token_ids' length in process, else the server's count.
  size_t token_count() const {
    return token_ids_known ? token_ids.size() : static_cast<size_t>(server_token_count);
  }
};

// What captions an image: the in-process Captioner or a remote server
// (RemoteCaptioner, remote_captioner.h). Same inputs, same Caption out.
class CaptionBackend {
 public:
  virtual ~CaptionBackend() = default;
  virtual Caption caption(const ImageView& image, const GenerationOptions& options) = 0;
};

class Model {
 public:
  struct Impl;

  // Loads a checkpoint; throws blip2::Error naming the file and the problem.
  static std::shared_ptr<Model> load(const ModelOptions& options);
  // The same, but shared: one Model per (path, device, dtype, quantize) per process,
  // kept alive while anyone holds it. When the model is already loaded,
  // on_progress is called once with (weight_bytes, weight_bytes).
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

class Captioner : public CaptionBackend {
 public:
  explicit Captioner(std::shared_ptr<const Model> model);
  ~Captioner() override;
  Captioner(const Captioner&) = delete;
  Captioner& operator=(const Captioner&) = delete;

  // One caption per image (batched through the whole model).
  std::vector<Caption> caption(const std::vector<ImageView>& images,
                               const GenerationOptions& options);
  Caption caption(const ImageView& image, const GenerationOptions& options) override;
  // Throws the Error(kInvalidArgument) that caption() would throw for
  // `options` on this model with `images` images, without captioning: a
  // prompt too long for the position table or holding the image token, rows
  // (beams) beyond the memory budget, a bad value.
  void check(const GenerationOptions& options, size_t images) const;

  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<CaptionerState> state_;  // KV cache and scratch
};

// Library log messages go here (default: none). Level 0 = error .. 3 = debug.
using LogCallback = std::function<void(int level, const std::string& message)>;
void set_log_callback(LogCallback callback);

}  // namespace blip2
