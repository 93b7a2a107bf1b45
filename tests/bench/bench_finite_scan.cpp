// What ModelOptions::check_finite costs: the NaN/Inf scan of the loaded
// weights, next to the copy from the mapped files that loading does anyway
// (same bytes, same run, same threads). Prints one table; the line for the
// full-size model is an extrapolation (scan time per value x its parameter
// count), labelled as such.
//
//   bench_finite_scan [MILLIONS_OF_VALUES (256)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "weight_check.h"

namespace {

using Clock = std::chrono::steady_clock;

// blip2-opt-2.7b: EVA ViT-g (~1.0B) + Q-Former (~0.1B) + OPT-2.7B (~2.7B)
constexpr double kFullSizeParameters = 3.87e9;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Weights shaped like OPT-2.7B's decoder layers ([10240, 2560] and [2560, 2560]).
std::vector<at::Tensor> layer_shaped(int64_t total_values) {
  std::vector<at::Tensor> out;
  const std::vector<std::vector<int64_t>> shapes = {{10240, 2560}, {2560, 10240}, {2560, 2560},
                                                    {2560, 2560}, {2560, 2560},  {2560, 2560}};
  int64_t made = 0;
  for (size_t i = 0; made < total_values; ++i) {
    const auto& shape = shapes[i % shapes.size()];
    out.push_back(at::randn(shape, at::kFloat));
    made += shape[0] * shape[1];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t millions = argc > 1 ? std::atoll(argv[1]) : 256;
  torch::nn::Module module;
  std::vector<at::Tensor> sources = layer_shaped(millions * 1000000);
  int64_t values = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    values += sources[i].numel();
    module.register_parameter("p" + std::to_string(i), at::empty_like(sources[i]), false);
  }
  auto params = module.parameters();

  double copy_s = 1e30, scan_s = 1e30;
  for (int run = 0; run < 3; ++run) {  // best of three
    auto start = Clock::now();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(sources[i]);
    copy_s = std::min(copy_s, seconds_since(start));
    start = Clock::now();
    blip2::check_finite_parameters(module, "bench");
    scan_s = std::min(scan_s, seconds_since(start));
  }
  const double gb = static_cast<double>(values) * 4 / 1e9;
  std::printf("threads %d, %lld float32 values (%.2f GB), best of 3\n", at::get_num_threads(),
              static_cast<long long>(values), gb);
  std::printf("%-34s %10s %10s\n", "", "seconds", "GB/s");
  std::printf("%-34s %10.3f %10.2f\n", "load copy (reference)", copy_s, gb / copy_s);
  std::printf("%-34s %10.3f %10.2f\n", "NaN/Inf scan (check_finite)", scan_s, gb / scan_s);
  std::printf("%-34s %10.2f\n", "ratio scan / copy", scan_s / copy_s);
  std::printf("%-34s %10.2f   (extrapolated: %.2fe9 values x measured s/value)\n",
              "full size blip2-opt-2.7b scan", scan_s / static_cast<double>(values) * kFullSizeParameters,
              kFullSizeParameters / 1e9);
  return 0;
}
