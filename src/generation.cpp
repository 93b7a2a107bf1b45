#include "generation.h"

#include <memory>

#include "beam_search.h"
#include "error.h"
#include "logits_process.h"
#include "sampling.h"

namespace blip2 {
namespace {

// Per-row state of one-token-per-row decoding, all on the model's device.
struct RowState {
  at::Tensor sequences;     // [N, L + max_new] int64: input_ids, then the new ids
  at::Tensor unfinished;    // [N] bool
  at::Tensor lengths;       // [N] int64: new ids per row (EOS included)
  at::Tensor logprob_sums;  // [N] float64: log-probabilities of the chosen ids
};

// Chooses one id per row from processed scores [N, V] -> ids [N] and their
// log-probabilities [N] (log-softmax of the scores the choice was made from).
std::pair<at::Tensor, at::Tensor> choose_tokens(const at::Tensor& scores,
                                                const ProcessorSettings& settings,
                                                TokenSampler* sampler) {
  at::Tensor final_scores = scores;
  at::Tensor chosen;
  if (sampler != nullptr) {
    final_scores = apply_warpers(scores, settings);
    chosen = sampler->draw(at::softmax(final_scores, -1), 1).squeeze(1);
  } else {
    chosen = final_scores.argmax(-1);
  }
  at::Tensor logprobs = at::log_softmax(final_scores, -1).gather(1, chosen.unsqueeze(1)).squeeze(1);
  return {chosen, logprobs};
}

DecodeResult collect_rows(const RowState& state, int64_t prompt_length, int64_t per_input) {
  const at::Tensor sequences = state.sequences.cpu();
  const at::Tensor lengths = state.lengths.cpu();
  const at::Tensor sums = state.logprob_sums.cpu();
  DecodeResult result;
  result.sequences_per_input = per_input;
  for (int64_t row = 0; row < sequences.size(0); ++row) {
    const int64_t n = lengths[row].item<int64_t>();
    const at::Tensor ids = sequences[row].narrow(0, prompt_length, n).contiguous();
    result.tokens.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + n);
    result.scores.push_back(n > 0 ? sums[row].item<double>() / static_cast<double>(n) : 0.0);
  }
  return result;
}

// Greedy or sampled decoding of `per_input` rows per input (transformers' _sample).
DecodeResult decode_rows(StepDecoder& decoder,
                         const DecodeRequest& request,
                         int64_t per_input,
                         TokenSampler* sampler) {
  const int64_t batch = request.inputs_embeds.size(0);
  const int64_t rows = batch * per_input;
  const int64_t max_new = request.options.max_new_tokens;
  const int64_t prompt_length = static_cast<int64_t>(request.input_ids.size());
  const at::Device device = request.inputs_embeds.device();
  const ProcessorSettings settings =
      make_processor_settings(request.options, request.eos_token_id, request.banned_ids, device);
  const at::TensorOptions on_device = at::TensorOptions().device(device);

  at::Tensor logits = decoder.prefill(request.inputs_embeds, max_new, per_input);
  RowState state{initial_sequences(request.input_ids, rows, max_new, request.pad_token_id, device),
                 at::ones({rows}, on_device.dtype(at::kBool)),
                 at::zeros({rows}, on_device.dtype(at::kLong)),
                 at::zeros({rows}, on_device.dtype(at::kDouble))};
  for (int64_t step = 0; step < max_new; ++step) {
    const at::Tensor ids = state.sequences.narrow(1, 0, prompt_length + step);
    const at::Tensor scores =
        apply_processors(logits.to(at::kFloat), ids, step, settings);  // [N, V] float32
    auto [chosen, logprobs] = choose_tokens(scores, settings, sampler);
    // finished rows take the pad id, as transformers does
    chosen = at::where(state.unfinished, chosen, request.pad_token_id);
    state.logprob_sums += at::where(state.unfinished, logprobs.to(at::kDouble), 0.0);
    state.lengths += state.unfinished.to(at::kLong);
    state.sequences.select(1, prompt_length + step).copy_(chosen);
    state.unfinished &= chosen.ne(request.eos_token_id);
    if (step + 1 == max_new || !state.unfinished.any().item<bool>()) break;  // the one sync
    logits = decoder.step(chosen);
  }
  return collect_rows(state, prompt_length, per_input);
}

}  // namespace

at::Tensor EagerStepDecoder::prefill(const at::Tensor& inputs_embeds,
                                     int64_t max_new_tokens,
                                     int64_t copies) {
  const OptConfig& c = lm_.config;
  const int64_t batch = inputs_embeds.size(0);
  cache_.allocate(c.num_hidden_layers, batch, c.num_attention_heads,
                  inputs_embeds.size(1) + max_new_tokens, c.hidden_size / c.num_attention_heads,
                  inputs_embeds.options());
  at::Tensor hidden = lm_.model->decoder->forward(inputs_embeds, cache_);
  at::Tensor logits = lm_.logits(hidden.select(1, hidden.size(1) - 1));  // [B, V]
  if (copies == 1) return logits;
  const at::Tensor rows =
      at::arange(batch, at::TensorOptions().dtype(at::kLong).device(logits.device()))
          .repeat_interleave(copies);
  cache_.reorder(rows);
  return logits.index_select(0, rows);
}

at::Tensor EagerStepDecoder::step(const at::Tensor& ids) {
  const at::Tensor embeds = lm_.model->decoder->embed_tokens->forward(ids.unsqueeze(1));
  at::Tensor hidden = lm_.model->decoder->forward(embeds, cache_);  // [N, 1, E]
  return lm_.logits(hidden.select(1, 0));
}

at::Tensor initial_sequences(const std::vector<int64_t>& input_ids,
                             int64_t rows,
                             int64_t max_new_tokens,
                             int64_t fill,
                             const at::Device& device) {
  const auto length = static_cast<int64_t>(input_ids.size());
  at::Tensor sequences = at::full({rows, length + max_new_tokens}, fill, at::kLong);
  sequences.narrow(1, 0, length).copy_(at::tensor(at::ArrayRef<int64_t>(input_ids), at::kLong));
  return sequences.to(device);
}

DecodeResult greedy_decode(StepDecoder& decoder, const DecodeRequest& request) {
  return decode_rows(decoder, request, 1, nullptr);
}

DecodeResult sample_decode(StepDecoder& decoder, const DecodeRequest& request) {
  TokenSampler sampler(request.options.seed);
  return decode_rows(decoder, request, request.options.num_return_sequences, &sampler);
}

DecodeResult decode(StepDecoder& decoder, const DecodeRequest& request) {
  if (request.options.num_beams > 1) return beam_search_decode(decoder, request);
  if (request.options.do_sample) return sample_decode(decoder, request);
  return greedy_decode(decoder, request);
}

DecodeResult greedy_decode(OptForCausalLMImpl& lm, const DecodeRequest& request, KvCache& cache) {
  EagerStepDecoder decoder(lm, cache);
  return greedy_decode(decoder, request);
}

DecodeResult decode(OptForCausalLMImpl& lm, const DecodeRequest& request, KvCache& cache) {
  EagerStepDecoder decoder(lm, cache);
  return decode(decoder, request);
}

}  // namespace blip2
