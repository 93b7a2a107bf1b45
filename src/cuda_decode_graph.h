// cuda_decode_graph.h — the OPT decode step with fixed shapes and addresses,
// captured once as a CUDA graph and replayed for every token.
//
// A DecodeStep owns, for one (batch, capacity): a zeroed static KV cache, a
// static input-id buffer [B], the position on the device [1] and, on CUDA, a
// captured graph of one whole step (embedding, every layer, final norm, LM
// head). Attention runs over the full capacity with an additive mask built on
// the device from the position, so nothing in a step depends on a host value
// and a replay needs no host synchronisation; the position advances inside the
// graph. On the CPU, or when capture is off or fails, the very same step runs
// eagerly (this is how the CPU tests check it against the plain decoder loop).
//
// Use: prefill(prefix embeds) -> logits; then step(ids) -> logits per token.
// The logits tensor is a fixed buffer overwritten by the next step. As a
// StepDecoder it is what greedy, sampling and beam search decode through.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>

#include "generation.h"
#include "kv_cache.h"
#include "opt.h"

namespace blip2 {

// A function of fixed tensors returning one tensor, replayed as a CUDA graph
// once captured (CUDA builds, CUDA tensors); otherwise simply called.
class GraphedFunction {
 public:
  using Body = std::function<at::Tensor()>;
  // `undo_warmup` runs after the eager warm-up calls that precede capture
  // (e.g. to rewind a position the body advances); may be empty.
  GraphedFunction(Body body, std::function<void()> undo_warmup, bool use_graph);
  ~GraphedFunction();
  GraphedFunction(const GraphedFunction&) = delete;
  GraphedFunction& operator=(const GraphedFunction&) = delete;

  // Calls the body: the first CUDA call warms up, captures and replays; later
  // calls replay. Returns the body's output (the same tensor every replay).
  at::Tensor run(const at::Device& device);
  bool graphed() const;
  // Why the eager path is used ("" when graphed or not yet run).
  const std::string& eager_reason() const { return eager_reason_; }
  // A capture was tried and failed (the body runs eagerly from then on).
  bool capture_failed() const { return capture_failed_; }

 private:
  struct Capture;  // CUDA objects (only in CUDA builds)
  at::Tensor capture(const at::Device& device);

  Body body_;
  std::function<void()> undo_warmup_;
  bool use_graph_;
  std::unique_ptr<Capture> capture_;
  at::Tensor output_;
  std::string eager_reason_;
  bool capture_failed_ = false;
};

class DecodeStep : public StepDecoder {
 public:
  // lm: the model (not owned; must outlive this). options: the dtype and
  // device of the cache (the model's). use_graph: capture on CUDA.
  DecodeStep(OptForCausalLMImpl& lm,
             int64_t batch,
             int64_t capacity,
             const at::TensorOptions& options,
             bool use_graph);
  ~DecodeStep();

  // Capacity for `needed` positions rounded up to a multiple of 32, so that
  // prompts of similar length share one graph.
  static int64_t round_capacity(int64_t needed);

  // inputs_embeds: [B, L, E] prefix -> logits [B, V] of its last position.
  // Restarts the sequence (the cache is refilled from position 0; eager, no graph).
  at::Tensor prefill(const at::Tensor& inputs_embeds);
  // StepDecoder: inputs_embeds [N, L, E] of N inputs with batch() == N *
  // copies and L + max_new_tokens <= capacity(). The prompt runs once for the
  // N inputs and its cache is copied to the `copies` rows of each -> logits
  // [N * copies, V].
  at::Tensor prefill(const at::Tensor& inputs_embeds,
                     int64_t max_new_tokens,
                     int64_t copies) override;
  // ids: [B] int64 (any device), the tokens at the current position ->
  // logits [B, V] for the next one. Throws when the capacity is used up.
  at::Tensor step(const at::Tensor& ids) override;
  // Beam search: row i of the cache becomes old row rows[i]; rows: [B] int64.
  // Copies in place, so the captured addresses stay valid.
  void reorder(const at::Tensor& rows) override;

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }  // filled positions
  bool graphed() const { return graph_->graphed(); }
  const std::string& eager_reason() const { return graph_->eager_reason(); }
  bool capture_failed() const { return graph_->capture_failed(); }
  const KvCache& cache() const { return cache_; }

 private:
  // The static step: reads ids_, position_, the cache -> logits [B, V]
  at::Tensor body();
  // x: [B, 1, D] through decoder layer `layer` -> [B, 1, D]
  at::Tensor layer_forward(const at::Tensor& x, const at::Tensor& mask, int64_t layer);
  // h: [B, 1, D] (normed) -> attention output [B, 1, D]; writes K/V at position_
  at::Tensor self_attention(const at::Tensor& h, const at::Tensor& mask, int64_t layer);
  // -> additive mask [1, 1, 1, capacity]: 0 up to position_, lowest after
  at::Tensor position_mask() const;
  // The prompt's K/V of `prompt` rows into rows `rows` [batch_] of the cache
  void copy_prompt_cache(const KvCache& prompt, const at::Tensor& rows);
  // Checks a prefix [N, L, E] for N * copies rows and L + reserve positions
  void check_prefix(const at::Tensor& inputs_embeds, int64_t copies, int64_t reserve) const;

  OptForCausalLMImpl& lm_;
  int64_t batch_;
  int64_t capacity_;
  int64_t length_ = 0;
  at::Device device_;
  KvCache cache_;
  at::Tensor ids_;            // [B] int64
  at::Tensor position_;       // [1] int64: the position of the next token
  at::Tensor key_positions_;  // [capacity] int64: 0 .. capacity - 1
  std::unique_ptr<GraphedFunction> graph_;
};

}  // namespace blip2
