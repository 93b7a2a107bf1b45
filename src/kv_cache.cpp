#include "kv_cache.h"

namespace blip2 {

void KvCache::allocate(int64_t num_layers, int64_t batch, int64_t num_heads, int64_t cap,
                       int64_t head_dim, const at::TensorOptions& options) {
  keys.clear();
  values.clear();
  for (int64_t i = 0; i < num_layers; ++i) {
    keys.push_back(at::empty({batch, num_heads, cap, head_dim}, options));
    values.push_back(at::empty({batch, num_heads, cap, head_dim}, options));
  }
  length = 0;
  capacity = cap;
}

void KvCache::reorder(const at::Tensor& rows) {
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = keys[i].index_select(0, rows);
    values[i] = values[i].index_select(0, rows);
  }
}

}  // namespace blip2
