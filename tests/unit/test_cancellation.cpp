// Cancellation between decoding steps, and the checks made on every step's
// logits: first with a scripted StepDecoder (exact step counts), then with the
// oracle's tiny model on a caption made slow on purpose, cancelled from
// another thread (directly and through AsyncCaptioner::flush and stop).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "async_captioner.h"
#include "blip2.h"
#include "fixtures.h"
#include "guarded_decoder.h"

namespace blip2 {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kVocab = 16;
constexpr int64_t kChosen = 3;  // the id the scripted logits always prefer
constexpr int64_t kEos = 5;     // and the one they make (almost) impossible

// Logits that always choose kChosen (never EOS); `on_step` runs before each step.
class ScriptedDecoder : public StepDecoder {
 public:
  std::function<void(int64_t)> on_step = [](int64_t) {};
  float fill = 0.0f;
  int64_t steps = 0;

  at::Tensor prefill(const at::Tensor& embeds, int64_t, int64_t copies) override {
    return logits(embeds.size(0) * copies);
  }
  at::Tensor step(const at::Tensor& ids) override {
    on_step(steps);
    ++steps;
    return logits(ids.size(0));
  }
  void reorder(const at::Tensor&) override {}

 private:
  at::Tensor logits(int64_t rows) const {
    at::Tensor l = at::full({rows, kVocab}, fill);
    l.select(1, kChosen).fill_(1.0f);
    l.select(1, kEos).fill_(-30.0f);
    return l;
  }
};

DecodeRequest scripted_request(int32_t max_new, int32_t beams) {
  DecodeRequest r;
  r.inputs_embeds = at::zeros({1, 2, 4});
  r.input_ids = {2};
  r.eos_token_id = kEos;
  r.pad_token_id = 1;
  r.options.max_new_tokens = max_new;
  r.options.num_beams = beams;
  r.options.cancel = std::make_shared<std::atomic<bool>>(false);
  return r;
}

void expect_error(const std::function<void()>& call, ErrorCode code, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GuardedDecoder, NoStepRunsAfterTheCancel) {
  for (int32_t beams : {1, 4}) {
    SCOPED_TRACE(beams);
    ScriptedDecoder inner;
    DecodeRequest request = scripted_request(1000, beams);
    inner.on_step = [&](int64_t step) {
      if (step == 5) request.options.cancel->store(true);
    };
    expect_error([&] { guarded_decode(inner, request); }, ErrorCode::kCancelled, "cancelled");
    EXPECT_EQ(inner.steps, 6);  // the step that saw the flag set was the last one
  }
}

TEST(GuardedDecoder, ASetFlagRefusesBeforeThePrefill) {
  ScriptedDecoder inner;
  DecodeRequest request = scripted_request(10, 1);
  request.options.cancel->store(true);
  expect_error([&] { guarded_decode(inner, request); }, ErrorCode::kCancelled, "cancelled");
  EXPECT_EQ(inner.steps, 0);
}

TEST(GuardedDecoder, WithoutAFlagTheCaptionRunsToItsEnd) {
  ScriptedDecoder inner;
  DecodeRequest request = scripted_request(10, 1);
  request.options.cancel.reset();
  const DecodeResult result = guarded_decode(inner, request);
  EXPECT_EQ(result.tokens.at(0).size(), 10u);
}

TEST(GuardedDecoder, NonFiniteLogitsAreAnError) {
  for (float bad : {std::nanf(""), -std::numeric_limits<float>::infinity()}) {
    ScriptedDecoder inner;
    inner.fill = bad;
    expect_error([&] { guarded_decode(inner, scripted_request(10, 1)); }, ErrorCode::kRuntime,
                 "NaN or infinite logits at decoding step 0");
  }
}

// The tiny model made slow: a long beam search that cannot stop early.
class SlowCaption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load({testing::model_dir("tiny"), "cpu", "float32"});
    image_ = testing::fixture_image("gradient-64x48.ppm");
    // Widen the beam until one caption takes at least a second and a half.
    Captioner captioner(model_);
    options_.max_new_tokens = options_.min_new_tokens = 100;
    for (int32_t beams = 16;; beams *= 2) {
      options_.num_beams = beams;
      const auto start = Clock::now();
      captioner.caption(image_.view(), options_);
      full_ = Clock::now() - start;
      if (full_ >= std::chrono::milliseconds(1500) || beams >= 1024) break;
    }
  }
  static void TearDownTestSuite() { model_.reset(); }

  // Less than a third of the uncancelled caption, however slow the machine.
  static Clock::duration bound() { return full_ / 3; }

  static std::shared_ptr<Model> model_;
  static RgbImage image_;
  static GenerationOptions options_;
  static Clock::duration full_;
};
std::shared_ptr<Model> SlowCaption::model_;
RgbImage SlowCaption::image_;
GenerationOptions SlowCaption::options_;
Clock::duration SlowCaption::full_{};

TEST_F(SlowCaption, CancelFromAnotherThreadReturnsWithinABound) {
  Captioner captioner(model_);
  GenerationOptions options = options_;
  options.cancel = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool> done{false};
  ErrorCode code = ErrorCode::kRuntime;
  Clock::time_point returned;
  std::thread worker([&] {
    try {
      captioner.caption(image_.view(), options);
    } catch (const Error& e) {
      code = e.code();
    }
    returned = Clock::now();
    done = true;
  });
  std::this_thread::sleep_for(full_ / 10);
  ASSERT_FALSE(done.load()) << "the caption ended before the cancel";
  const auto cancelled = Clock::now();
  options.cancel->store(true);
  worker.join();
  EXPECT_EQ(code, ErrorCode::kCancelled);
  EXPECT_LT(returned - cancelled, bound())
      << "full caption " << std::chrono::duration<double>(full_).count() << " s";
  // the same Captioner captions normally afterwards
  GenerationOptions quick;
  quick.max_new_tokens = 3;
  EXPECT_FALSE(captioner.caption(image_.view(), quick).token_ids.empty());
}

TEST_F(SlowCaption, AsyncFlushAndStopDoNotWaitForTheCaption) {
  for (bool use_stop : {false, true}) {
    SCOPED_TRACE(use_stop ? "stop" : "flush");
    std::atomic<int> delivered{0};
    AsyncCaptioner worker(model_, [&](CaptionResult&&) { ++delivered; });
    CaptionRequest request{ImageBuffer::copy_of(image_.view()), options_, 1};
    worker.submit(std::move(request));
    std::this_thread::sleep_for(full_ / 10);
    ASSERT_FALSE(worker.idle());
    const auto start = Clock::now();
    if (use_stop) {
      worker.stop();
    } else {
      worker.flush();
      while (!worker.idle() && Clock::now() - start < full_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    EXPECT_LT(Clock::now() - start, bound())
        << "full caption " << std::chrono::duration<double>(full_).count() << " s";
    EXPECT_TRUE(worker.idle());
    EXPECT_EQ(delivered.load(), 0);
  }
}

}  // namespace
}  // namespace blip2
