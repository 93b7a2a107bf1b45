// captioner.cpp — one caption call: pixels -> image features -> decoding -> text.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>

#include "captioner_state.h"
#include "decode_limits.h"
#include "generation.h"
#include "generation_options.h"
#include "guarded_decoder.h"
#include "model_impl.h"
#include "torch_error.h"

namespace blip2 {
namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

void validate_lengths(const GenerationOptions& options, const Model::Impl& m, size_t n_input_ids) {
  if (options.max_new_tokens < 1) {
    invalid("max_new_tokens must be at least 1 (got " + std::to_string(options.max_new_tokens) +
            ")");
  }
  if (options.min_new_tokens < 0) invalid("min_new_tokens must not be negative");
  const int64_t needed = static_cast<int64_t>(n_input_ids) + options.max_new_tokens;
  if (needed > m.config.text_config.max_position_embeddings) {
    invalid("prompt (" + std::to_string(n_input_ids) + " positions with the image) plus " +
            std::to_string(options.max_new_tokens) + " new tokens exceeds the " +
            std::to_string(m.config.text_config.max_position_embeddings) +
            " positions of the language model");
  }
}

DecodeFootprint footprint(const Model::Impl& m, size_t batch, size_t n_input_ids) {
  return {static_cast<int64_t>(batch),
          static_cast<int64_t>(n_input_ids) + m.config.num_query_tokens,
          static_cast<int64_t>(c10::elementSize(m.dtype))};
}

std::string clean_caption(const std::string& text) {
  const char* space = " \t\n\r\f\v";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

Sequence to_sequence(const DecodeResult& decoded, int64_t row, const Tokenizer& tokenizer) {
  Sequence s;
  s.token_ids = decoded.tokens[static_cast<size_t>(row)];
  s.text = clean_caption(tokenizer.decode(s.token_ids, /*skip_special_tokens=*/true));
  s.score = decoded.scores[static_cast<size_t>(row)];
  return s;
}

// Input `input`'s best sequence as the caption, the others as alternatives.
Caption to_caption(const DecodeResult& decoded, int64_t input, const Tokenizer& tokenizer) {
  const int64_t first = input * decoded.sequences_per_input;
  Sequence best = to_sequence(decoded, first, tokenizer);
  Caption c;
  c.text = std::move(best.text);
  c.token_ids = std::move(best.token_ids);
  c.score = best.score;
  for (int64_t j = 1; j < decoded.sequences_per_input; ++j) {
    c.alternatives.push_back(to_sequence(decoded, first + j, tokenizer));
  }
  return c;
}

// Wall-clock time between readings; on a GPU each reading first waits for the
// work queued so far, so a stage is charged its own device time.
class StageClock {
 public:
  explicit StageClock(const at::Device& device) : device_(device), last_(Clock::now()) {}
  void wait() const {
    if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
  }
  // -> milliseconds since the previous lap (or the start)
  double lap() {
    wait();
    const Clock::time_point now = Clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    return ms;
  }

 private:
  using Clock = std::chrono::steady_clock;
  at::Device device_;
  Clock::time_point last_;
};

// Passes through to `inner`, timing the prefill and counting the steps.
class TimedDecoder : public StepDecoder {
 public:
  TimedDecoder(StepDecoder& inner, const StageClock& clock) : inner_(inner), clock_(clock) {}
  at::Tensor prefill(const at::Tensor& inputs_embeds, int64_t max_new, int64_t copies) override {
    const auto start = std::chrono::steady_clock::now();
    at::Tensor logits = inner_.prefill(inputs_embeds, max_new, copies);
    clock_.wait();
    prefill_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                            start).count();
    return logits;
  }
  at::Tensor step(const at::Tensor& ids) override {
    ++steps_;
    return inner_.step(ids);
  }
  void reorder(const at::Tensor& rows) override { inner_.reorder(rows); }
  double prefill_ms() const { return prefill_ms_; }
  int32_t steps() const { return steps_; }

 private:
  StepDecoder& inner_;
  const StageClock& clock_;
  double prefill_ms_ = 0.0;
  int32_t steps_ = 0;
};

// The input ids of `options.prompt`, once the options are checked against the
// model for a call on `images` images (Error(kInvalidArgument) otherwise).
std::vector<int64_t> checked_input_ids(const Model::Impl& m,
                                       const GenerationOptions& options,
                                       size_t images) {
  std::vector<int64_t> input_ids = m.input_ids_for(options.prompt);
  validate_lengths(options, m, input_ids.size());
  validate_generation_options(options);
  check_decode_memory(options, m.config, footprint(m, images, input_ids.size()),
                      default_decode_budget_bytes());
  return input_ids;
}

// Rows the decoder runs per input: beams, sampled sequences, or one.
int64_t rows_per_input(const GenerationOptions& o) {
  if (o.num_beams > 1) return o.num_beams;
  return o.do_sample ? o.num_return_sequences : 1;
}

}  // namespace

Captioner::Captioner(std::shared_ptr<const Model> model)
    : model_(std::move(model)), state_(std::make_unique<CaptionerState>()) {
  if (!model_) throw Error(ErrorCode::kInvalidArgument, "Captioner needs a model");
}

Captioner::~Captioner() = default;

void Captioner::check(const GenerationOptions& options, size_t images) const {
  checked_input_ids(model_->impl(), options, std::max<size_t>(images, 1));
}

std::vector<Caption> Captioner::caption(const std::vector<ImageView>& images,
                                        const GenerationOptions& options) {
  if (images.empty()) return {};
  const auto start = std::chrono::steady_clock::now();
  const Model::Impl& m = model_->impl();
  const std::vector<int64_t> input_ids = checked_input_ids(m, options, images.size());
  throw_if_cancelled(options.cancel.get());
  try {
    c10::InferenceMode guard;
    StageClock clock(m.device);
    StageTimings timings;
    const at::Tensor pixels = m.pixel_values(images);  // [B, 3, S, S]
    timings.preprocess_ms = clock.lap();
    const at::Tensor image_embeds = m.net->vision_model->forward(pixels);  // [B, N, Dv]
    timings.vision_ms = clock.lap();
    DecodeRequest request{m.inputs_embeds(m.net->query_features(image_embeds), input_ids),
                          input_ids, m.config.text_config.eos_token_id,
                          m.config.text_config.pad_token_id, options, {}};
    timings.qformer_ms = clock.lap();
    StepDecoder& decoder = state_->decoder_for(
        *m.net->language_model, m.decode_mode,
        static_cast<int64_t>(images.size()) * rows_per_input(options),
        static_cast<int64_t>(input_ids.size()) + options.max_new_tokens,
        request.inputs_embeds.options());
    TimedDecoder timed(decoder, clock);
    const DecodeResult decoded = guarded_decode(timed, request);  // cancel, NaN/Inf
    state_->report_capture_failure();
    timings.prefill_ms = timed.prefill_ms();
    timings.decode_ms = clock.lap() - timed.prefill_ms();
    timings.decode_steps = timed.steps();
    timings.decoder = state_->last_decoder_name();
    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::vector<Caption> captions;
    for (size_t i = 0; i < images.size(); ++i) {
      captions.push_back(to_caption(decoded, static_cast<int64_t>(i), m.tokenizer));
      captions.back().inference_ms = elapsed_ms;
      captions.back().timings = timings;
      captions.back().batch_size = static_cast<int32_t>(images.size());
    }
    return captions;
  } catch (...) {  // c10::Error and friends, on one line
    rethrow_as_blip2_error("captioning failed");
  }
}

Caption Captioner::caption(const ImageView& image, const GenerationOptions& options) {
  return caption(std::vector<ImageView>{image}, options).front();
}

}  // namespace blip2
