// Cancellation between decoding steps, and the checks made on every step's
// logits: first with a scripted StepDecoder (exact step counts), then with the
// oracle's tiny model on a caption held at a decoding step by its on_step
// hook, cancelled from another thread (directly and through
// AsyncCaptioner::flush and stop).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
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

// GenerationOptions::on_step runs before each step, before the cancel flag
// is looked at; a flag it sets stops the caption before that step.
TEST(GuardedDecoder, OnStepRunsBeforeEachStep) {
  ScriptedDecoder inner;
  DecodeRequest request = scripted_request(1000, 1);
  std::vector<int64_t> seen;
  request.options.on_step = [&](int64_t step) {
    seen.push_back(step);
    if (step == 3) request.options.cancel->store(true);
  };
  expect_error([&] { guarded_decode(inner, request); }, ErrorCode::kCancelled, "cancelled");
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(inner.steps, 3);  // step 3 never ran
}

// The tiny model with a caption held in progress by construction: on_step
// blocks a decoding step until the test lets it go or the caption is
// cancelled, so the caption is in progress whatever the machine's speed. The
// waits are bounded (60 s) only to turn a hang into a failure.
class HeldCaption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load({testing::model_dir("tiny"), "cpu", "float32"});
    image_ = testing::fixture_image("gradient-64x48.ppm");
  }
  static void TearDownTestSuite() { model_.reset(); }

  // 20 forced tokens, cancellable, held before decoding step `at` until
  // release() or the cancel flag; highest() is the highest step reached.
  GenerationOptions held_options(int64_t at) {
    GenerationOptions options;
    options.max_new_tokens = options.min_new_tokens = 20;
    options.cancel = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<bool>> cancel = options.cancel;
    options.on_step = [this, at, cancel](int64_t step) {
      {
        std::lock_guard<std::mutex> guard(lock_);
        highest_ = std::max(highest_, step);
        held_ = held_ || step == at;
      }
      changed_.notify_all();
      if (step != at) return;
      std::unique_lock<std::mutex> guard(lock_);
      changed_.wait_for(guard, std::chrono::seconds(60),
                        [&] { return released_ || cancel->load(); });
    };
    return options;
  }
  // Waits (60 s at most) until a caption is held.
  bool wait_held() {
    std::unique_lock<std::mutex> guard(lock_);
    return changed_.wait_for(guard, std::chrono::seconds(60), [&] { return held_; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> guard(lock_);
      released_ = true;
    }
    changed_.notify_all();
  }
  // Wakes the hold to look at its cancel flag again (under the lock, so the
  // wake-up cannot fall between its look and its wait).
  void poke() {
    {
      std::lock_guard<std::mutex> guard(lock_);
    }
    changed_.notify_all();
  }
  int64_t highest() {
    std::lock_guard<std::mutex> guard(lock_);
    return highest_;
  }

  static std::shared_ptr<Model> model_;
  static RgbImage image_;
  std::mutex lock_;
  std::condition_variable changed_;
  bool held_ = false;
  bool released_ = false;
  int64_t highest_ = -1;
};
std::shared_ptr<Model> HeldCaption::model_;
RgbImage HeldCaption::image_;

TEST_F(HeldCaption, CancelFromAnotherThreadStopsAtTheHeldStep) {
  Captioner captioner(model_);
  GenerationOptions options = held_options(5);
  std::atomic<bool> done{false};
  ErrorCode code = ErrorCode::kRuntime;
  std::thread worker([&] {
    try {
      captioner.caption(image_.view(), options);
    } catch (const Error& e) {
      code = e.code();
    }
    done = true;
  });
  ASSERT_TRUE(wait_held()) << "the caption never reached decoding step 5";
  EXPECT_FALSE(done.load());
  options.cancel->store(true);
  poke();
  worker.join();
  EXPECT_EQ(code, ErrorCode::kCancelled);
  EXPECT_EQ(highest(), 5) << "a decoding step ran after the cancel";
  // the same Captioner captions normally afterwards
  GenerationOptions quick;
  quick.max_new_tokens = 3;
  EXPECT_FALSE(captioner.caption(image_.view(), quick).token_ids.empty());
}

TEST_F(HeldCaption, AsyncFlushAndStopDoNotWaitForTheCaption) {
  for (bool use_stop : {false, true}) {
    SCOPED_TRACE(use_stop ? "stop" : "flush");
    {
      std::lock_guard<std::mutex> guard(lock_);
      held_ = released_ = false;
      highest_ = -1;
    }
    std::atomic<int> delivered{0};
    AsyncCaptioner worker(model_, [&](CaptionResult&&) { ++delivered; });
    GenerationOptions options = held_options(0);
    std::shared_ptr<std::atomic<bool>> cancel = options.cancel;
    worker.submit(CaptionRequest{ImageBuffer::copy_of(image_.view()), options, 1});
    ASSERT_TRUE(wait_held()) << "the caption never reached its first decoding step";
    ASSERT_FALSE(worker.idle());
    if (use_stop) {
      std::thread poker([&] {  // stop() joins: wake the hold once the flag is set
        while (!cancel->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        poke();
      });
      worker.stop();  // returns only once the held caption has stopped
      poker.join();
    } else {
      worker.flush();
      EXPECT_TRUE(cancel->load()) << "flush() did not cancel the caption in progress";
      poke();
      const auto end = Clock::now() + std::chrono::seconds(60);
      while (!worker.idle() && Clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    EXPECT_TRUE(worker.idle());
    EXPECT_EQ(highest(), 0) << "a decoding step ran after the cancel";
    EXPECT_EQ(delivered.load(), 0);
  }
}

}  // namespace
}  // namespace blip2
