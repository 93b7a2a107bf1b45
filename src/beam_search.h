// beam_search.h — beam search (and beam sampling) as transformers 5.17 does it.
//
// A port of GenerationMixin._beam_search, the vectorised rewrite: per step,
// float32 log-softmax of the logits, then the logits processors (and, when
// sampling, the warpers), plus the running beam scores; the best 2K of the
// K·V continuations (or 2K drawn without replacement); the best K that did
// not stop keep running; the ones of the first K that stopped (EOS, or the
// last step) join the finished hypotheses, scored sum / new_length^length_penalty
// (new_length counts the EOS); and the early-stop heuristic for
// early_stopping false / true / "never". The state lives on the model's
// device; the KV cache rows are reordered there; the host syncs once a step.
#pragma once

#include "generation.h"

namespace blip2 {

// num_beams >= 1 beams per input; num_return_sequences best hypotheses per
// input, best first, with their transformers sequences_scores in beam_scores.
DecodeResult beam_search_decode(StepDecoder& decoder, const DecodeRequest& request);

}  // namespace blip2
