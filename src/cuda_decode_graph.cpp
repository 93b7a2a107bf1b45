// cuda_decode_graph.cpp — the static-shape OPT decode step and its CUDA graph.
#include "cuda_decode_graph.h"

#include <c10/core/InferenceMode.h>

#include <limits>

#include "blip2-build-config.h"
#include "error.h"
#include "layers.h"

#if BLIP2_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace blip2 {
namespace {

constexpr int kWarmupCalls = 2;  // eager calls on the capture stream before capture

// The most negative finite value of a floating dtype (what transformers masks with).
double lowest_of(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return -65504.0;
    case at::kBFloat16:
      return -3.3895313892515355e38;
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

#if BLIP2_HAVE_CUDA
// `waiter` runs its later work only after what `signaller` has queued so far.
void stream_wait(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& signaller) {
  cudaEvent_t event = nullptr;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  C10_CUDA_CHECK(cudaEventRecord(event, signaller.stream()));
  C10_CUDA_CHECK(cudaStreamWaitEvent(waiter.stream(), event, 0));
  C10_CUDA_CHECK(cudaEventDestroy(event));  // released once the wait is satisfied
}

// Ends a capture left open by an exception, dropping what was recorded.
void abandon_capture(const c10::cuda::CUDAStream& stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream.stream(), &status) == cudaSuccess &&
      status != cudaStreamCaptureStatusNone) {
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(stream.stream(), &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
  }
  (void)cudaGetLastError();  // clear the error the failed capture left
}
#endif

}  // namespace

// ------------------------------------------------------------ GraphedFunction

#if BLIP2_HAVE_CUDA
struct GraphedFunction::Capture {
  at::cuda::CUDAGraph graph;
};
#else
struct GraphedFunction::Capture {};
#endif

GraphedFunction::GraphedFunction(Body body, std::function<void()> undo_warmup, bool use_graph)
    : body_(std::move(body)), undo_warmup_(std::move(undo_warmup)), use_graph_(use_graph) {}

GraphedFunction::~GraphedFunction() = default;

bool GraphedFunction::graphed() const { return capture_ != nullptr; }

at::Tensor GraphedFunction::run(const at::Device& device) {
#if BLIP2_HAVE_CUDA
  if (capture_) {
    capture_->graph.replay();  // on the caller's current stream
    return output_;
  }
#endif
  if (eager_reason_.empty()) {
    if (!use_graph_) {
      eager_reason_ = "CUDA graphs disabled";
    } else if (!device.is_cuda()) {
      eager_reason_ = "not a CUDA device";
    } else if (!BLIP2_HAVE_CUDA) {
      eager_reason_ = "built without CUDA";
    } else {
      return capture(device);
    }
  }
  return body_();
}

at::Tensor GraphedFunction::capture(const at::Device& device) {
#if BLIP2_HAVE_CUDA
  c10::cuda::CUDAGuard device_guard(device);
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device.index());
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device.index());
  auto capture = std::make_unique<Capture>();
  try {
    stream_wait(side, caller);
    {
      // warm-up (cuBLAS handles, workspaces, allocator blocks) and capture
      // on a side stream: capture is not allowed on the legacy default stream
      c10::cuda::CUDAStreamGuard stream_guard(side);
      for (int i = 0; i < kWarmupCalls; ++i) body_();
      if (undo_warmup_) undo_warmup_();
      capture->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      output_ = body_();
      capture->graph.capture_end();
    }
    stream_wait(caller, side);
  } catch (const std::exception& e) {
    abandon_capture(side);
    capture.reset();
    output_ = at::Tensor();
    eager_reason_ = std::string("CUDA graph capture failed: ") + e.what();
    capture_failed_ = true;
    stream_wait(caller, side);
    if (undo_warmup_) undo_warmup_();
    return body_();
  }
  capture_ = std::move(capture);
  capture_->graph.replay();
  return output_;
#else
  (void)device;
  return body_();
#endif
}

// ------------------------------------------------------------ DecodeStep

DecodeStep::DecodeStep(OptForCausalLMImpl& lm,
                       int64_t batch,
                       int64_t capacity,
                       const at::TensorOptions& options,
                       bool use_graph)
    : lm_(lm), batch_(batch), capacity_(capacity), device_(options.device()) {
  const OptConfig& c = lm.config;
  if (batch < 1 || capacity < 1 || capacity > c.max_position_embeddings) {
    throw Error(ErrorCode::kInvalidArgument,
                "decode step: batch " + std::to_string(batch) + " and capacity " +
                    std::to_string(capacity) +
                    " must be >= 1 and capacity <= " + std::to_string(c.max_position_embeddings));
  }
  c10::InferenceMode guard;
  cache_.allocate(c.num_hidden_layers, batch, c.num_attention_heads, capacity,
                  c.hidden_size / c.num_attention_heads, options);
  // masked positions still meet the attention matmuls: keep them finite
  for (at::Tensor& t : cache_.keys) t.zero_();
  for (at::Tensor& t : cache_.values) t.zero_();
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device_);
  ids_ = at::zeros({batch}, longs);
  position_ = at::zeros({1}, longs);
  key_positions_ = at::arange(capacity, longs);
  graph_ = std::make_unique<GraphedFunction>([this] { return body(); },
                                             [this] { position_.fill_(length_); }, use_graph);
}

DecodeStep::~DecodeStep() = default;

int64_t DecodeStep::round_capacity(int64_t needed) { return (needed + 31) / 32 * 32; }

void DecodeStep::check_prefix(const at::Tensor& inputs_embeds,
                              int64_t copies,
                              int64_t reserve) const {
  const bool fits = inputs_embeds.dim() == 3 && copies >= 1 &&
                    inputs_embeds.size(0) * copies == batch_ && inputs_embeds.size(1) >= 1 &&
                    inputs_embeds.size(1) + reserve <= capacity_;
  if (!fits) {
    throw Error(ErrorCode::kInvalidArgument,
                "decode step: prefix of shape " + std::to_string(inputs_embeds.size(0)) + "x" +
                    std::to_string(inputs_embeds.size(1)) + " (" + std::to_string(copies) +
                    " rows each, " + std::to_string(reserve) + " more positions) does not fit batch " +
                    std::to_string(batch_) + " and capacity " + std::to_string(capacity_));
  }
}

at::Tensor DecodeStep::prefill(const at::Tensor& inputs_embeds) {
  check_prefix(inputs_embeds, 1, 0);
  const int64_t length = inputs_embeds.size(1);
  c10::InferenceMode guard;
  cache_.length = 0;
  const at::Tensor hidden = lm_.model->decoder->forward(inputs_embeds, cache_);  // [B, L, E]
  length_ = length;
  position_.fill_(length);
  return lm_.logits(hidden.select(1, length - 1));  // [B, V]
}

at::Tensor DecodeStep::prefill(const at::Tensor& inputs_embeds,
                               int64_t max_new_tokens,
                               int64_t copies) {
  check_prefix(inputs_embeds, copies, max_new_tokens);
  if (copies == 1) return prefill(inputs_embeds);
  c10::InferenceMode guard;
  const OptConfig& c = lm_.config;
  const int64_t inputs = inputs_embeds.size(0), length = inputs_embeds.size(1);
  KvCache prompt;  // the N inputs' prompt alone, as the plain decoder loop computes it
  prompt.allocate(c.num_hidden_layers, inputs, c.num_attention_heads, length,
                  c.hidden_size / c.num_attention_heads, cache_.keys.front().options());
  const at::Tensor hidden = lm_.model->decoder->forward(inputs_embeds, prompt);  // [N, L, E]
  const at::Tensor rows =
      at::arange(inputs, at::TensorOptions().dtype(at::kLong).device(device_))
          .repeat_interleave(copies);  // [N * copies]
  copy_prompt_cache(prompt, rows);
  cache_.length = length;
  length_ = length;
  position_.fill_(length);
  return lm_.logits(hidden.select(1, length - 1)).index_select(0, rows);  // [N * copies, V]
}

void DecodeStep::copy_prompt_cache(const KvCache& prompt, const at::Tensor& rows) {
  const int64_t length = prompt.length;
  for (size_t i = 0; i < cache_.keys.size(); ++i) {
    cache_.keys[i].narrow(2, 0, length).copy_(prompt.keys[i].index_select(0, rows));
    cache_.values[i].narrow(2, 0, length).copy_(prompt.values[i].index_select(0, rows));
  }
}

at::Tensor DecodeStep::step(const at::Tensor& ids) {
  if (length_ < 1) throw Error(ErrorCode::kInvalidArgument, "decode step: prefill first");
  if (length_ >= capacity_) {
    throw Error(ErrorCode::kInvalidArgument,
                "decode step: all " + std::to_string(capacity_) + " cache positions are used");
  }
  if (ids.numel() != batch_) {
    throw Error(ErrorCode::kInvalidArgument, "decode step: " + std::to_string(ids.numel()) +
                                                 " ids for a batch of " + std::to_string(batch_));
  }
  c10::InferenceMode guard;
  ids_.copy_(ids.reshape({batch_}));
  at::Tensor logits = graph_->run(device_);
  ++length_;
  return logits;
}

void DecodeStep::reorder(const at::Tensor& rows) {
  c10::InferenceMode guard;
  const at::Tensor index = rows.to(device_, at::kLong);
  for (at::Tensor& t : cache_.keys) t.copy_(t.index_select(0, index));
  for (at::Tensor& t : cache_.values) t.copy_(t.index_select(0, index));
}

at::Tensor DecodeStep::position_mask() const {
  const at::ScalarType dtype = cache_.keys.front().scalar_type();
  const at::Tensor mask = at::zeros({capacity_}, cache_.keys.front().options());
  return mask.masked_fill(key_positions_ > position_, lowest_of(dtype)).view({1, 1, 1, capacity_});
}

at::Tensor DecodeStep::self_attention(const at::Tensor& h, const at::Tensor& mask, int64_t layer) {
  OptDecoderLayerImpl& block = *lm_.model->decoder->layers[layer]->as<OptDecoderLayerImpl>();
  OptAttentionImpl& attn = *block.self_attn;
  const at::Tensor q = split_heads(attn.q_proj->forward(h) * attn.scaling, attn.num_heads);
  at::Tensor& keys = cache_.keys[layer];  // [B, H, capacity, hd]
  at::Tensor& values = cache_.values[layer];
  keys.index_copy_(2, position_, split_heads(attn.k_proj->forward(h), attn.num_heads));
  values.index_copy_(2, position_, split_heads(attn.v_proj->forward(h), attn.num_heads));
  return attn.out_proj->forward(attention(q, keys, values, mask, 1.0, /*softmax_in_float32=*/true));
}

at::Tensor DecodeStep::layer_forward(const at::Tensor& x, const at::Tensor& mask, int64_t layer) {
  // the arithmetic of OptDecoderLayerImpl::forward, with the static attention
  OptDecoderLayerImpl& block = *lm_.model->decoder->layers[layer]->as<OptDecoderLayerImpl>();
  at::Tensor h = block.pre_norm ? block.self_attn_layer_norm->forward(x) : x;
  h = x + self_attention(h, mask, layer);
  if (!block.pre_norm) h = block.self_attn_layer_norm->forward(h);
  at::Tensor f = block.pre_norm ? block.final_layer_norm->forward(h) : h;
  f = block.fc1->forward(f);
  f = h + block.fc2->forward(block.gelu_activation ? at::gelu(f) : at::relu(f));
  return block.pre_norm ? f : block.final_layer_norm->forward(f);
}

at::Tensor DecodeStep::body() {
  OptDecoderImpl& decoder = *lm_.model->decoder;
  at::Tensor h = decoder.embed_tokens->forward(ids_.unsqueeze(1));  // [B, 1, E]
  if (decoder.project_in) h = decoder.project_in->forward(h);
  h = h + decoder.embed_positions->forward(position_ + kOptPositionOffset).unsqueeze(0);
  const at::Tensor mask = position_mask();
  for (int64_t i = 0; i < static_cast<int64_t>(decoder.layers->size()); ++i) {
    h = layer_forward(h, mask, i);
  }
  if (decoder.final_layer_norm) h = decoder.final_layer_norm->forward(h);
  if (decoder.project_out) h = decoder.project_out->forward(h);
  at::Tensor logits = lm_.logits(h.select(1, 0));  // [B, V]
  position_.add_(1);
  return logits;
}

}  // namespace blip2
