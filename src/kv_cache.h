// kv_cache.h — a preallocated (static) key/value cache for the OPT decoder.
//
// Owned by the per-use generation state, never by the (shared) model. Every
// layer gets K and V tensors of [B, H, capacity, hd]; `length` positions are
// filled. Static storage keeps addresses fixed between decode steps (what CUDA
// graph replay needs) and makes beam reordering an index_select on dim 0.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace blip2 {

struct KvCache {
  std::vector<at::Tensor> keys;    // per layer [B, H, capacity, hd]
  std::vector<at::Tensor> values;  // per layer [B, H, capacity, hd]
  int64_t length = 0;              // filled positions
  int64_t capacity = 0;

  void allocate(int64_t num_layers, int64_t batch, int64_t num_heads, int64_t capacity,
                int64_t head_dim, const at::TensorOptions& options);
  // Rows follow `rows` (beam search / batch reordering): [B'] int64 indices.
  void reorder(const at::Tensor& rows);
};

}  // namespace blip2
