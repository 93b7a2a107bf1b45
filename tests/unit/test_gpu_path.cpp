// The pieces of the CUDA path, run on the CPU: device preprocessing against
// the Pillow-exact CPU path (RGB conversion and normalisation exact, the
// resize measured), SDPA against eager attention, and the static-shape decode
// step (what the CUDA graph replays) against the plain decoder loop.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "cuda_decode_graph.h"
#include "fixtures.h"
#include "gpu_image.h"
#include "image_processor.h"
#include "layers.h"
#include "model_impl.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::model_dir;
using testing::reference_tensor;
using testing::relative_error;

const at::Device kCpu(at::kCPU);

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
  return bytes;
}

// Packed RGB8 [H, W, 3] from to_rgb8 -> [3, H, W] tensor
at::Tensor rgb8_tensor(const std::vector<uint8_t>& rgb, int64_t width, int64_t height) {
  return at::from_blob(const_cast<uint8_t*>(rgb.data()), {height, width, 3}, at::kByte)
      .permute({2, 0, 1})
      .clone();
}

struct Frame {
  std::vector<uint8_t> bytes;  // all planes, each row padded to its stride
  ImageView view;
};

// A random frame of `format` with rows padded by 5 bytes (odd strides).
Frame random_frame(PixelFormat format, int32_t width, int32_t height, uint32_t seed) {
  Frame f;
  f.view.format = format;
  f.view.width = width;
  f.view.height = height;
  const int32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
  std::vector<std::pair<int32_t, int32_t>> planes;  // (row bytes, rows)
  if (format == PixelFormat::kI420) {
    planes = {{width, height}, {cw, ch}, {cw, ch}};
  } else if (format == PixelFormat::kNV12) {
    planes = {{width, height}, {2 * cw, ch}};
  } else {
    const int32_t bpp = format == PixelFormat::kGRAY8                                  ? 1
                        : (format == PixelFormat::kRGB || format == PixelFormat::kBGR) ? 3
                                                                                       : 4;
    planes = {{width * bpp, height}};
  }
  size_t total = 0;
  for (const auto& [row, rows] : planes) total += static_cast<size_t>(row + 5) * rows;
  f.bytes = random_bytes(total, seed);
  size_t offset = 0;
  for (size_t p = 0; p < planes.size(); ++p) {
    f.view.planes[p] = f.bytes.data() + offset;
    f.view.strides[p] = planes[p].first + 5;
    offset += static_cast<size_t>(planes[p].first + 5) * planes[p].second;
  }
  return f;
}

TEST(GpuImage, RgbConversionIsBitIdenticalToTheCpuPath) {
  const PixelFormat formats[] = {PixelFormat::kRGB,  PixelFormat::kBGR,   PixelFormat::kRGBA,
                                 PixelFormat::kBGRA, PixelFormat::kRGBx,  PixelFormat::kBGRx,
                                 PixelFormat::kxRGB, PixelFormat::kxBGR,  PixelFormat::kARGB,
                                 PixelFormat::kABGR, PixelFormat::kGRAY8, PixelFormat::kI420,
                                 PixelFormat::kNV12};
  uint32_t seed = 1;
  for (PixelFormat format : formats) {
    for (auto [w, h] : {std::pair{33, 17}, std::pair{1, 1}, std::pair{64, 48}}) {
      SCOPED_TRACE("format " + std::to_string(static_cast<int>(format)) + " size " +
                   std::to_string(w) + "x" + std::to_string(h));
      const Frame frame = random_frame(format, w, h, seed++);
      const at::Tensor ours = frame_to_rgb_on_device(frame.view, kCpu);
      const at::Tensor expected = rgb8_tensor(to_rgb8(frame.view), w, h);
      EXPECT_TRUE(at::equal(ours, expected));
    }
  }
}

TEST(GpuImage, BadViewsAreRejected) {
  ImageView view = ImageView::packed(nullptr, 4, 4, 12, PixelFormat::kRGB);
  EXPECT_THROW(frame_to_rgb_on_device(view, kCpu), Error);
  std::vector<uint8_t> bytes(64);
  view = ImageView::packed(bytes.data(), 4, 4, 8, PixelFormat::kRGB);  // stride < row
  EXPECT_THROW(frame_to_rgb_on_device(view, kCpu), Error);
  view = ImageView::packed(bytes.data(), 0, 4, 12, PixelFormat::kRGB);
  EXPECT_THROW(frame_to_rgb_on_device(view, kCpu), Error);
  EXPECT_THROW(preprocess_on_device({}, ImageProcessorConfig{}, kCpu), Error);
}

// Without a resize the device path gives exactly the processor's floats.
TEST(GpuImage, WithoutResizeTheFloatsAreExact) {
  ImageProcessorConfig config;
  config.height = 24;
  config.width = 40;
  const Frame frame = random_frame(PixelFormat::kNV12, 40, 24, 7);
  const at::Tensor ours = preprocess_on_device({frame.view}, config, kCpu);
  const std::vector<float> expected = preprocess(frame.view, config);
  const at::Tensor reference =
      at::from_blob(const_cast<float*>(expected.data()), {1, 3, 24, 40}, at::kFloat);
  EXPECT_TRUE(at::equal(ours, reference));
}

// The one inexact stage: libtorch's antialiased bicubic in float32 against
// Pillow's fixed-point resize. Measured on the fixture images and random
// frames, at the two BLIP-2 sizes; printed for docs/gpu.md.
TEST(GpuImage, ResizeStaysWithinOneLevelOfPillow) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> images;
  std::vector<std::pair<int32_t, int32_t>> sizes;
  for (const char* name : {"gradient-64x48.ppm", "noise-33x77.ppm", "checker-100x100.ppm",
                           "stripes-640x480.ppm", "pixel-1x1.ppm"}) {
    RgbImage image = fixture_image(name);
    images.emplace_back(name, image.pixels);
    sizes.emplace_back(image.width, image.height);
  }
  images.emplace_back("random-1920x1080", random_bytes(1920 * 1080 * 3, 11));
  sizes.emplace_back(1920, 1080);
  int64_t worst = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto [w, h] = sizes[i];
    for (int32_t out : {224, 364}) {
      const at::Tensor rgb = rgb8_tensor(images[i].second, w, h);
      const at::Tensor ours = resize_rgb_on_device(rgb, out, out).to(at::kInt);
      const at::Tensor pillow =
          rgb8_tensor(resize_bicubic_rgb8(images[i].second.data(), w, h, out, out), out, out)
              .to(at::kInt);
      const at::Tensor diff = (ours - pillow).abs();
      const int64_t max_diff = diff.max().item<int64_t>();
      const double differing = diff.gt(0).to(at::kDouble).mean().item<double>();
      worst = std::max(worst, max_diff);
      std::printf("resize %-22s -> %d: max |diff| %ld level(s), %.2f%% of values differ\n",
                  images[i].first.c_str(), out, static_cast<long>(max_diff), 100.0 * differing);
      EXPECT_LE(max_diff, 1) << images[i].first << " -> " << out;
      EXPECT_LT(differing, 0.05) << images[i].first << " -> " << out;
    }
  }
  ::testing::Test::RecordProperty("worst_resize_level_difference", static_cast<int>(worst));
}

TEST(Attention, AutoIsEagerOnTheCpuAndSdpaAgrees) {
  ASSERT_EQ(attention_backend(), AttentionBackend::kAuto);
  at::manual_seed(3);
  const at::Tensor q = at::randn({2, 4, 5, 8}), k = at::randn({2, 4, 7, 8}),
                   v = at::randn({2, 4, 7, 8});
  const at::Tensor mask = at::zeros({1, 1, 5, 7}).masked_fill(at::rand({1, 1, 5, 7}) > 0.7, -1e30);
  EXPECT_FALSE(attention_uses_sdpa(q));
  EXPECT_TRUE(at::equal(attention(q, k, v, mask, 0.3, true),
                        eager_attention_math(q, k, v, mask, 0.3, true)));
  const at::Tensor fused = sdpa_attention(q, k, v, mask, 0.3);
  EXPECT_LT(relative_error(fused, eager_attention_math(q, k, v, mask, 0.3, false)), 1e-5);
  EXPECT_EQ(parse_attention_backend("sdpa"), AttentionBackend::kSdpa);
  EXPECT_THROW(parse_attention_backend("flash"), Error);
}

// ------------------------------------------------------------ decode step

struct Prefix {
  at::Tensor embeds;  // [B, L, E]
  int64_t length;
};

Prefix prefix_for(const Model::Impl& m, const std::string& model, int64_t batch) {
  const at::Tensor pixels = reference_tensor(model, "pixel_values").narrow(0, 0, batch);
  const at::Tensor features = m.net->image_features(pixels);
  const at::Tensor embeds = m.inputs_embeds(features, m.input_ids_for("a photo of"));
  return {embeds, embeds.size(1)};
}

// Greedy logits of the plain decoder loop: [steps, B, V]
at::Tensor plain_loop_logits(OptForCausalLMImpl& lm, const Prefix& prefix, int64_t steps) {
  const OptConfig& c = lm.config;
  KvCache cache;
  cache.allocate(c.num_hidden_layers, prefix.embeds.size(0), c.num_attention_heads,
                 prefix.length + steps, c.hidden_size / c.num_attention_heads,
                 prefix.embeds.options());
  std::vector<at::Tensor> all;
  at::Tensor hidden = lm.model->decoder->forward(prefix.embeds, cache);
  all.push_back(lm.logits(hidden.select(1, hidden.size(1) - 1)));
  for (int64_t s = 1; s < steps; ++s) {
    const at::Tensor ids = all.back().argmax(-1);
    hidden = lm.model->decoder->forward(lm.model->decoder->embed_tokens->forward(ids.unsqueeze(1)),
                                        cache);
    all.push_back(lm.logits(hidden.select(1, 0)));
  }
  return at::stack(all);
}

// The same with a DecodeStep fed the plain loop's ids: [steps, B, V]
at::Tensor decode_step_logits(OptForCausalLMImpl& lm,
                              const Prefix& prefix,
                              const at::Tensor& plain,
                              int64_t capacity) {
  DecodeStep step(lm, prefix.embeds.size(0), capacity, prefix.embeds.options(), true);
  std::vector<at::Tensor> all{step.prefill(prefix.embeds).clone()};
  for (int64_t s = 1; s < plain.size(0); ++s)
    all.push_back(step.step(plain[s - 1].argmax(-1)).clone());
  EXPECT_FALSE(step.graphed());
  EXPECT_EQ(step.eager_reason(), "not a CUDA device");
  EXPECT_EQ(step.length(), prefix.length + plain.size(0) - 1);
  return at::stack(all);
}

class DecodeStepParity : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeStepParity, LogitsEqualThePlainDecoderLoop) {
  auto model = Model::load({model_dir(GetParam()), "cpu", "float32"});
  const Model::Impl& m = model->impl();
  c10::InferenceMode guard;
  OptForCausalLMImpl& lm = *m.net->language_model;
  constexpr int64_t kSteps = 12;
  for (int64_t batch : {1, 3}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const Prefix prefix = prefix_for(m, GetParam(), batch);
    const at::Tensor plain = plain_loop_logits(lm, prefix, kSteps);
    // capacity larger than needed: the masked tail must change nothing
    const int64_t capacity = DecodeStep::round_capacity(prefix.length + kSteps + 20);
    const at::Tensor ours = decode_step_logits(lm, prefix, plain, capacity);
    // the prefill is the same code: identical; the steps attend over the whole
    // capacity (masked), so sums may be ordered differently: float32 rounding
    EXPECT_TRUE(at::equal(ours[0], plain[0]));
    const double error = relative_error(ours, plain);
    std::printf("%s batch %ld: decode step vs plain loop: max rel error %.3g (%s)\n",
                GetParam().c_str(), static_cast<long>(batch), error,
                at::equal(ours, plain) ? "bit-identical" : "not bit-identical");
    EXPECT_LT(error, 1e-5);
    EXPECT_TRUE(at::equal(ours.argmax(-1), plain.argmax(-1)));
  }
}

TEST_P(DecodeStepParity, SdpaBackendStaysClose) {
  auto model = Model::load({model_dir(GetParam()), "cpu", "float32"});
  const Model::Impl& m = model->impl();
  c10::InferenceMode guard;
  OptForCausalLMImpl& lm = *m.net->language_model;
  const Prefix prefix = prefix_for(m, GetParam(), 1);
  const at::Tensor plain = plain_loop_logits(lm, prefix, 8);
  set_attention_backend(AttentionBackend::kSdpa);
  const at::Tensor fused = decode_step_logits(lm, prefix, plain, prefix.length + 8);
  set_attention_backend(AttentionBackend::kAuto);
  EXPECT_LT(relative_error(fused, plain), 1e-4);
  EXPECT_TRUE(at::equal(fused.argmax(-1), plain.argmax(-1)));
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints,
                         DecodeStepParity,
                         ::testing::Values("tiny", "tiny-legacy", "tiny-proj"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(DecodeStep, ReorderMovesCacheRows) {
  auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  const Model::Impl& m = model->impl();
  c10::InferenceMode guard;
  OptForCausalLMImpl& lm = *m.net->language_model;
  const Prefix prefix = prefix_for(m, "tiny", 2);
  DecodeStep straight(lm, 2, prefix.length + 4, prefix.embeds.options(), false);
  DecodeStep swapped(lm, 2, prefix.length + 4, prefix.embeds.options(), false);
  const at::Tensor ids = straight.prefill(prefix.embeds).argmax(-1);  // [2]
  swapped.prefill(prefix.embeds);
  swapped.reorder(at::tensor({int64_t{1}, int64_t{0}}));
  const at::Tensor a = straight.step(ids).clone();
  const at::Tensor b = swapped.step(ids.flip(0)).clone();
  EXPECT_TRUE(at::equal(b, a.flip(0)));
  EXPECT_EQ(swapped.eager_reason(), "CUDA graphs disabled");
}

TEST(DecodeStep, MisuseIsAnError) {
  auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  const Model::Impl& m = model->impl();
  c10::InferenceMode guard;
  OptForCausalLMImpl& lm = *m.net->language_model;
  const Prefix prefix = prefix_for(m, "tiny", 1);
  EXPECT_THROW(DecodeStep(lm, 0, 8, prefix.embeds.options(), true), Error);
  DecodeStep step(lm, 1, prefix.length + 1, prefix.embeds.options(), true);
  const at::Tensor id = at::zeros({1}, at::kLong);
  EXPECT_THROW(step.step(id), Error);  // before prefill
  EXPECT_THROW(step.prefill(at::cat({prefix.embeds, prefix.embeds}, 1)), Error);
  step.prefill(prefix.embeds);
  EXPECT_THROW(step.step(at::zeros({2}, at::kLong)), Error);  // wrong batch
  step.step(id);
  EXPECT_THROW(step.step(id), Error);  // capacity used up
}

}  // namespace
}  // namespace blip2
