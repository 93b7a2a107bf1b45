#include "quantize.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "error.h"

namespace blip2 {
namespace {

constexpr int64_t kInt8Granularity = 16;  // _weight_int8pack_mm reads `in` by 16

}  // namespace

Quantization parse_quantization(const std::string& name) {
  if (name == "none") return Quantization::kNone;
  if (name == "int8") return Quantization::kInt8;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown quantize \"" + name + "\" (expected none or int8)");
}

const char* quantization_name(Quantization quantization) {
  return quantization == Quantization::kInt8 ? "int8" : "none";
}

bool int8_supported(int64_t in_features) {
  return in_features > 0 && in_features % kInt8Granularity == 0;
}

namespace {

// One row: its absmax scale (rounded to `Scale`), then each value divided by
// that scale and rounded to the nearest integer (ties to even, as at::round).
template <typename Source, typename Scale>
void quantize_rows(const Source* weight, int64_t cols, int64_t begin, int64_t end,
                   int8_t* values, Scale* scales) {
  for (int64_t r = begin; r < end; ++r) {
    const Source* row = weight + r * cols;
    float absmax = 0.0f;
    bool finite = true;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = static_cast<float>(row[c]);
      finite = finite && std::isfinite(v);
      absmax = std::max(absmax, std::fabs(v));
    }
    const Scale scale = static_cast<Scale>(
        !finite ? std::numeric_limits<float>::quiet_NaN() : absmax == 0.0f ? 1.0f : absmax / 127.0f);
    scales[r] = scale;
    const float step = static_cast<float>(scale);
    int8_t* out = values + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float q = std::nearbyint(static_cast<float>(row[c]) / step);
      out[c] = static_cast<int8_t>(finite ? std::clamp(q, -127.0f, 127.0f) : 0.0f);
    }
  }
}

template <typename Source>
void quantize_into(const at::Tensor& weight, Int8Weight& out) {
  const int64_t rows = weight.size(0), cols = weight.size(1);
  const Source* source = weight.const_data_ptr<Source>();
  int8_t* values = out.values.data_ptr<int8_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, out.scales.scalar_type(), "scales", [&] {
    scalar_t* scales = out.scales.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      quantize_rows<Source, scalar_t>(source, cols, begin, end, values, scales);
    });
  });
}

}  // namespace

Int8Weight quantize_int8(const at::Tensor& weight, at::ScalarType scale_dtype) {
  const int64_t rows = weight.size(0), cols = weight.size(1);
  Int8Weight out{at::empty({rows, cols}, at::kChar), at::empty({rows}, scale_dtype)};
  const at::Tensor source = weight.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, source.scalar_type(), "quantize_int8",
                                  [&] { quantize_into<scalar_t>(source, out); });
  return out;
}

namespace {

// From this many rows on (the prefill: queries and prompt), converting the
// int8 weight to bfloat16 and taking the bfloat16 matrix kernel is faster
// than _weight_int8pack_mm, which is made for a few rows (decoding, beams):
// tests/bench/cpu_kernels.py, docs/full-size-cpu.md.
constexpr int64_t kConvertFromRows = 16;

// [out, in] int8 as exact integers in `dtype`, in a buffer kept per thread
// (re-allocating it per call costs page faults larger than the conversion).
at::Tensor integer_weight(const at::Tensor& values, at::ScalarType dtype) {
  static thread_local at::Tensor scratch;
  if (!scratch.defined() || scratch.scalar_type() != dtype || scratch.numel() < values.numel()) {
    scratch = at::empty({values.numel()}, values.options().dtype(dtype));
  }
  return scratch.narrow(0, 0, values.numel()).view(values.sizes()).copy_(values);
}

}  // namespace

at::Tensor int8_linear(const at::Tensor& x, const Int8Weight& weight, const at::Tensor& bias) {
  const int64_t in = weight.values.size(1), out = weight.values.size(0);
  const at::Tensor rows = x.reshape({-1, in}).to(weight.scales.scalar_type()).contiguous();
  at::Tensor y;  // [rows, out]
  if (rows.size(0) >= kConvertFromRows) {
    y = at::linear(rows, integer_weight(weight.values, rows.scalar_type())).mul_(weight.scales);
  } else {
    y = at::_weight_int8pack_mm(rows, weight.values, weight.scales);
  }
  if (bias.defined()) y.add_(bias);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  return y.view(shape);
}

at::Tensor dequantize(const Int8Weight& weight) {
  return weight.values.to(weight.scales.scalar_type()) * weight.scales.unsqueeze(1);
}

}  // namespace blip2
