#include "beam_search.h"

#include <cmath>
#include <optional>

#include "logits_process.h"
#include "sampling.h"

namespace blip2 {
namespace {

constexpr double kExcluded = -1.0e9;  // transformers' "very large negative" score

// The fixed shape of one beam search.
struct BeamShape {
  int64_t batch;          // B inputs
  int64_t beams;          // K
  int64_t prompt_length;  // L ids in each row before the new ones
  int64_t max_new;        // new tokens at most
  double length_penalty;
  EarlyStopping early_stopping;
};

// The running beams and finished hypotheses, all on the model's device.
struct BeamState {
  at::Tensor running_sequences;  // [B, K, L + max_new] int64
  at::Tensor running_scores;     // [B, K] float32: summed processed log-probabilities
  at::Tensor sequences;          // [B, K, L + max_new] int64: finished hypotheses, best first
  at::Tensor scores;             // [B, K] float32: sum / new_length^length_penalty
  at::Tensor sums;               // [B, K] float32: summed log-probabilities
  at::Tensor lengths;            // [B, K] int64: new ids (EOS included)
  at::Tensor finished;           // [B, K] bool: slot holds a finished hypothesis
  at::Tensor improvable;         // [B, 1] bool: running beams may still beat the finished ones
};

// The 2K continuations kept at one step.
struct Candidates {
  at::Tensor log_probs;  // [B, 2K] float32: accumulated scores
  at::Tensor sequences;  // [B, 2K, L + max_new] int64 with the new id written
  at::Tensor origins;    // [B, 2K] int64: flat row (b * K + beam) each continues
  at::Tensor stopped;    // [B, 2K] bool: EOS or the last step (a stopping criterion)
};

// Selects along the beam dimension: t [B, K, ...], index [B, K'] -> [B, K', ...].
at::Tensor gather_beams(const at::Tensor& t, const at::Tensor& index) {
  at::Tensor i = index;
  while (i.dim() < t.dim()) i = i.unsqueeze(-1);
  return at::take_along_dim(t, i, 1);
}

BeamState initial_state(const BeamShape& shape,
                        const DecodeRequest& request,
                        const at::Device& device) {
  const int64_t b = shape.batch, k = shape.beams;
  // transformers fills unused positions with `pad_token_id or eos_token_id`
  const int64_t fill = request.pad_token_id != 0 ? request.pad_token_id : request.eos_token_id;
  const at::TensorOptions on_device = at::TensorOptions().device(device);
  BeamState s;
  s.running_sequences = initial_sequences(request.input_ids, b * k, shape.max_new, fill, device)
                            .view({b, k, shape.prompt_length + shape.max_new});
  s.sequences = s.running_sequences.clone();
  s.running_scores = at::zeros({b, k}, on_device.dtype(at::kFloat));
  s.running_scores.narrow(1, 1, k - 1).fill_(kExcluded);  // only beam 0 starts
  s.scores = at::full({b, k}, kExcluded, on_device.dtype(at::kFloat));
  s.sums = at::zeros({b, k}, on_device.dtype(at::kFloat));
  s.lengths = at::zeros({b, k}, on_device.dtype(at::kLong));
  s.finished = at::zeros({b, k}, on_device.dtype(at::kBool));
  s.improvable = at::ones({b, 1}, on_device.dtype(at::kBool));
  return s;
}

// Best (or sampled) 2K continuations of all beams: log_probs [B*K, V] processed.
Candidates top_continuations(const BeamShape& shape,
                             const BeamState& s,
                             const at::Tensor& log_probs,
                             int64_t step,
                             int64_t eos_token_id,
                             TokenSampler* sampler) {
  const int64_t b = shape.batch, k = shape.beams, vocab = log_probs.size(1);
  const at::Tensor accumulated =
      (log_probs.view({b, k, vocab}) + s.running_scores.unsqueeze(2)).reshape({b, k * vocab});
  at::Tensor top_log_probs, top_indices;
  if (sampler != nullptr) {
    top_indices = sampler->draw(at::softmax(accumulated, -1), 2 * k);
    top_log_probs = at::gather(accumulated, 1, top_indices);
  } else {
    std::tie(top_log_probs, top_indices) = at::topk(accumulated, 2 * k);
  }
  const at::Tensor beam = top_indices.div(vocab, "floor");
  const at::Tensor ids = top_indices.remainder(vocab);
  Candidates c;
  c.log_probs = top_log_probs;
  c.sequences = gather_beams(s.running_sequences, beam);
  c.sequences.select(2, shape.prompt_length + step).copy_(ids);
  c.origins = beam + at::arange(b, beam.options()).unsqueeze(1) * k;
  c.stopped = step + 1 >= shape.max_new ? at::ones_like(ids, ids.options().dtype(at::kBool))
                                        : ids.eq(eos_token_id);
  return c;
}

// The best K continuations that did not stop keep running; returns the flat
// cache rows [B*K] they continue.
at::Tensor keep_running(const BeamShape& shape, BeamState& s, const Candidates& c) {
  const at::Tensor running_log_probs = c.log_probs + c.stopped.to(at::kFloat) * kExcluded;
  const at::Tensor next = std::get<1>(at::topk(running_log_probs, shape.beams));
  s.running_sequences = gather_beams(c.sequences, next);
  s.running_scores = gather_beams(running_log_probs, next);
  return gather_beams(c.origins, next).flatten();
}

// Stopped continuations among the first K join the finished hypotheses when
// they beat the worst of them.
void update_finished(const BeamShape& shape, BeamState& s, const Candidates& c, int64_t step) {
  const int64_t k = shape.beams;
  const at::Tensor in_first_k = at::arange(2 * k, c.stopped.options().dtype(at::kLong)).lt(k);
  const at::Tensor just_finished = c.stopped & in_first_k.unsqueeze(0);
  at::Tensor scores = c.log_probs / std::pow(static_cast<double>(step + 1), shape.length_penalty);
  if (shape.early_stopping == EarlyStopping::kTrue) {
    scores = scores + s.finished.all(-1, /*keepdim=*/true).to(at::kFloat) * kExcluded;
  }
  scores = scores + s.improvable.logical_not().to(at::kFloat) * kExcluded;
  scores = scores + just_finished.logical_not().to(at::kFloat) * kExcluded;

  const at::Tensor best = std::get<1>(at::topk(at::cat({s.scores, scores}, 1), k));
  const at::Tensor new_lengths =
      at::full_like(s.lengths.narrow(1, 0, 1), step + 1).expand({-1, 2 * k});
  s.sequences = gather_beams(at::cat({s.sequences, c.sequences}, 1), best);
  s.scores = gather_beams(at::cat({s.scores, scores}, 1), best);
  s.sums = gather_beams(at::cat({s.sums, c.log_probs}, 1), best);
  s.lengths = gather_beams(at::cat({s.lengths, new_lengths}, 1), best);
  s.finished = gather_beams(at::cat({s.finished, just_finished}, 1), best);
}

// transformers' _check_early_stop_heuristic after `generated` new tokens.
void update_improvable(const BeamShape& shape, BeamState& s, int64_t generated) {
  const bool never = shape.early_stopping == EarlyStopping::kNever && shape.length_penalty > 0.0;
  const int64_t best_length = never ? shape.max_new : generated;
  const at::Tensor best_running = s.running_scores.narrow(1, 0, 1) /
                                  std::pow(static_cast<double>(best_length), shape.length_penalty);
  const at::Tensor worst_finished =
      at::where(s.finished, std::get<0>(s.scores.min(1, /*keepdim=*/true)), kExcluded);
  s.improvable = s.improvable & best_running.gt(worst_finished).any(-1, /*keepdim=*/true);
}

// transformers' _beam_search_has_unfinished_sequences; the one host sync of a step.
bool should_continue(const BeamShape& shape, const BeamState& s, const Candidates& c) {
  at::Tensor go = s.improvable.any() & c.stopped.all().logical_not();
  if (shape.early_stopping == EarlyStopping::kTrue) go = go & s.finished.all().logical_not();
  return go.item<bool>();
}

DecodeResult collect_hypotheses(const BeamShape& shape, const BeamState& s, int64_t per_input) {
  const at::Tensor sequences = s.sequences.narrow(1, 0, per_input).cpu();
  const at::Tensor scores = s.scores.narrow(1, 0, per_input).to(at::kDouble).cpu();
  const at::Tensor sums = s.sums.narrow(1, 0, per_input).to(at::kDouble).cpu();
  const at::Tensor lengths = s.lengths.narrow(1, 0, per_input).cpu();
  DecodeResult result;
  result.sequences_per_input = per_input;
  for (int64_t b = 0; b < shape.batch; ++b) {
    for (int64_t j = 0; j < per_input; ++j) {
      const int64_t n = lengths[b][j].item<int64_t>();
      const at::Tensor ids = sequences[b][j].narrow(0, shape.prompt_length, n).contiguous();
      result.tokens.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + n);
      result.scores.push_back(n > 0 ? sums[b][j].item<double>() / static_cast<double>(n) : 0.0);
      result.beam_scores.push_back(scores[b][j].item<double>());
    }
  }
  return result;
}

}  // namespace

DecodeResult beam_search_decode(StepDecoder& decoder, const DecodeRequest& request) {
  const GenerationOptions& o = request.options;
  const BeamShape shape{request.inputs_embeds.size(0),
                        o.num_beams,
                        static_cast<int64_t>(request.input_ids.size()),
                        o.max_new_tokens,
                        o.length_penalty,
                        o.early_stopping};
  const at::Device device = request.inputs_embeds.device();
  const ProcessorSettings settings =
      make_processor_settings(o, request.eos_token_id, request.banned_ids, device);
  std::optional<TokenSampler> sampler;
  if (o.do_sample) sampler.emplace(o.seed);

  at::Tensor logits = decoder.prefill(request.inputs_embeds, shape.max_new, shape.beams);
  BeamState s = initial_state(shape, request, device);
  for (int64_t step = 0; step < shape.max_new; ++step) {
    const at::Tensor ids = s.running_sequences.reshape({shape.batch * shape.beams, -1})
                               .narrow(1, 0, shape.prompt_length + step);
    at::Tensor log_probs = at::log_softmax(logits.to(at::kFloat), -1);  // [B*K, V]
    log_probs = apply_warpers(apply_processors(log_probs, ids, step, settings), settings);
    const Candidates c = top_continuations(shape, s, log_probs, step, request.eos_token_id,
                                           sampler ? &*sampler : nullptr);
    const at::Tensor origins = keep_running(shape, s, c);
    update_finished(shape, s, c, step);
    update_improvable(shape, s, step + 1);
    if (!should_continue(shape, s, c)) break;
    decoder.reorder(origins);
    logits = decoder.step(s.running_sequences.select(2, shape.prompt_length + step).reshape({-1}));
  }
  return collect_hypotheses(shape, s, o.num_return_sequences);
}

}  // namespace blip2
