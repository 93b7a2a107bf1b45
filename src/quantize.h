// quantize.h — weight-only int8 for linear layers (ModelOptions::quantize).
//
// Each weight [out, in] becomes int8 values with one absmax scale per output
// channel, quantized at load from the checkpoint's own values. Decoding rows
// run through at::_weight_int8pack_mm (bfloat16 activations), the kernel torch
// itself uses for int8 weight-only linears on the CPU.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace blip2 {

enum class Quantization { kNone, kInt8 };
// "none" | "int8" (throws blip2::Error kInvalidArgument otherwise)
Quantization parse_quantization(const std::string& name);
const char* quantization_name(Quantization quantization);

// weight ≈ values · scales[:, None], scales = max |row| / 127 (rounded to the
// scales' dtype first, so that the values are exact for the stored scale).
struct Int8Weight {
  at::Tensor values;  // [out, in] int8
  at::Tensor scales;  // [out], the activations' dtype
  bool defined() const { return values.defined(); }
};

// The kernel reads `in` in blocks of 16: other widths stay unquantized.
bool int8_supported(int64_t in_features);

// Quantizes `weight` ([out, in], any floating dtype, e.g. a read-only file
// mapping) row by row in one pass over it (rows in parallel), making no float
// copy. Rows of zeros get scale 1. A row holding a NaN or infinite weight gets
// a NaN scale (see all_finite).
Int8Weight quantize_int8(const at::Tensor& weight, at::ScalarType scale_dtype);

// x: [..., in] in the scales' dtype -> [..., out] (+ bias). Up to 15 rows
// through at::_weight_int8pack_mm; more (a prefill) as exact integers in the
// scales' dtype through the matrix kernel, scaled after.
at::Tensor int8_linear(const at::Tensor& x, const Int8Weight& weight, const at::Tensor& bias);

// The float weight back from its int8 form, [out, in] in the scales' dtype (tests, accuracy).
at::Tensor dequantize(const Int8Weight& weight);

}  // namespace blip2
