#include "layers.h"

#include <atomic>
#include <optional>

#include "error.h"

namespace blip2 {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out, in}, options), false);
  if (with_bias) bias = register_parameter("bias", at::empty({out}, options), false);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) const {
  return int8.defined() ? int8_linear(x, int8, bias) : dense_linear(x, weight, bias);
}

void LinearImpl::use_int8() {
  weight = at::empty(weight.sizes(), weight.options().device(at::kMeta));
  parameters_["weight"] = weight;
}

LayerNormImpl::LayerNormImpl(int64_t d, double e, bool affine, const at::TensorOptions& options)
    : dim(d), eps(e) {
  if (affine) {
    weight = register_parameter("weight", at::empty({d}, options), false);
    bias = register_parameter("bias", at::empty({d}, options), false);
  }
}

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t d, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({num, d}, options), false);
}

namespace {

std::atomic<AttentionBackend> g_attention_backend{AttentionBackend::kAuto};

// [B, H, Tq, hd] -> [B, Tq, H·hd]
at::Tensor merge_heads(const at::Tensor& out) {
  return out.transpose(1, 2).reshape({out.size(0), out.size(2), -1});
}

}  // namespace

void set_attention_backend(AttentionBackend backend) { g_attention_backend.store(backend); }

AttentionBackend attention_backend() { return g_attention_backend.load(); }

AttentionBackend parse_attention_backend(const std::string& name) {
  if (name == "auto") return AttentionBackend::kAuto;
  if (name == "eager") return AttentionBackend::kEager;
  if (name == "sdpa") return AttentionBackend::kSdpa;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown attention backend \"" + name + "\" (expected auto, eager or sdpa)");
}

const char* attention_backend_name(AttentionBackend backend) {
  switch (backend) {
    case AttentionBackend::kEager:
      return "eager";
    case AttentionBackend::kSdpa:
      return "sdpa";
    case AttentionBackend::kAuto:
      break;
  }
  return "auto";
}

bool attention_uses_sdpa(const at::Tensor& q) {
  switch (attention_backend()) {
    case AttentionBackend::kEager:
      return false;
    case AttentionBackend::kSdpa:
      return true;
    case AttentionBackend::kAuto:
      break;
  }
  return q.is_cuda();
}

at::Tensor eager_attention_math(const at::Tensor& q,
                                const at::Tensor& k,
                                const at::Tensor& v,
                                const at::Tensor& mask,
                                double scaling,
                                bool softmax_in_float32) {
  at::Tensor weights = at::matmul(q, k.transpose(-1, -2));
  if (scaling != 1.0) weights = weights * scaling;
  if (mask.defined()) weights = weights + mask;
  weights = softmax_in_float32 ? at::softmax(weights, -1, at::kFloat).to(q.scalar_type())
                               : at::softmax(weights, -1);
  return merge_heads(at::matmul(weights, v));  // [B, H, Tq, hd] -> [B, Tq, H·hd]
}

at::Tensor sdpa_attention(const at::Tensor& q,
                          const at::Tensor& k,
                          const at::Tensor& v,
                          const at::Tensor& mask,
                          double scaling) {
  const std::optional<at::Tensor> attn_mask =
      mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt;
  return merge_heads(at::scaled_dot_product_attention(q, k, v, attn_mask, /*dropout_p=*/0.0,
                                                      /*is_causal=*/false, scaling));
}

at::Tensor attention(const at::Tensor& q,
                     const at::Tensor& k,
                     const at::Tensor& v,
                     const at::Tensor& mask,
                     double scaling,
                     bool softmax_in_float32) {
  if (attention_uses_sdpa(q)) return sdpa_attention(q, k, v, mask, scaling);
  return eager_attention_math(q, k, v, mask, scaling, softmax_in_float32);
}

at::Tensor dense_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const bool single_row = x.numel() == x.size(-1);
  if (!single_row || !x.is_cpu() || x.scalar_type() != at::kBFloat16) {
    return at::linear(x, weight, bias);
  }
  // [1, in] -> [2, in] (a zero row) -> first row of [2, out]
  const at::Tensor rows = at::cat({x.reshape({1, -1}), at::zeros({1, x.size(-1)}, x.options())});
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  return at::linear(rows, weight, bias).narrow(0, 0, 1).view(shape);
}

at::Tensor split_heads(const at::Tensor& x, int64_t num_heads) {
  return x.view({x.size(0), x.size(1), num_heads, -1}).transpose(1, 2);
}

}  // namespace blip2
