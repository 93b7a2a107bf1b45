// test_batch_scheduler.cpp — captions requested from many threads at once are
// batched through one model and still equal transformers' unbatched ones.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "batch_scheduler.h"
#include "fixtures.h"

namespace blip2 {
namespace {

using testing::fixture_image;
using testing::greedy_reference;
using testing::model_dir;

// One oracle caption: an image, its options and transformers' ids.
struct Expected {
  RgbImage image;
  GenerationOptions options;
  std::vector<int64_t> token_ids;
};

std::vector<Expected> oracle_captions(const std::string& model) {
  std::vector<Expected> all;
  const nlohmann::json reference = greedy_reference(model);
  for (const auto& c : reference["cases"]) {
    for (size_t i = 0; i < c["images"].size(); ++i) {
      Expected e{fixture_image(c["images"][i]), {}, c["token_ids"][i]};
      e.options.prompt = c["prompt"];
      e.options.max_new_tokens = c["max_new_tokens"];
      e.options.min_new_tokens = c["min_new_tokens"];
      all.push_back(std::move(e));
    }
  }
  return all;
}

// Asks for every expected caption from its own thread, all at once.
std::vector<Caption> caption_concurrently(BatchScheduler& scheduler,
                                          const std::vector<Expected>& expected) {
  std::vector<Caption> captions(expected.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < expected.size(); ++i) {
    threads.emplace_back([&, i] {
      captions[i] = scheduler.caption(expected[i].image.view(), expected[i].options);
    });
  }
  for (auto& t : threads) t.join();
  return captions;
}

class BatchSchedulerOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchSchedulerOracle, BatchedCaptionsEqualTransformersUnbatched) {
  const auto model = Model::load({model_dir(GetParam()), "cpu", "float32"});
  const std::vector<Expected> expected = oracle_captions(GetParam());
  ASSERT_GE(expected.size(), 6u);
  BatchScheduler scheduler(model, {static_cast<int32_t>(expected.size()),
                                   std::chrono::milliseconds(1500)});
  const std::vector<Caption> captions = caption_concurrently(scheduler, expected);
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i) + " prompt \"" + expected[i].options.prompt + "\"");
    EXPECT_EQ(captions[i].token_ids, expected[i].token_ids);
  }
  const BatchScheduler::Counters counters = scheduler.counters();
  EXPECT_EQ(counters.captions, expected.size());
  EXPECT_LT(counters.batches, expected.size());  // requests with equal options shared a batch
  EXPECT_GT(counters.largest, 1u);
  EXPECT_GT(counters.mean_batch_size(), 1.0);
  std::printf("%s: %zu requests in %lu batches (mean %.2f, largest %u)\n", GetParam().c_str(),
              expected.size(), static_cast<unsigned long>(counters.batches),
              counters.mean_batch_size(), counters.largest);
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, BatchSchedulerOracle,
                         ::testing::Values("tiny", "tiny-coco"), [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(BatchScheduler, DifferentOptionsAndSamplingNeverShareABatch) {
  const auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  const RgbImage image = fixture_image(greedy_reference("tiny")["cases"][0]["images"][0]);
  BatchScheduler scheduler(model, {8, std::chrono::milliseconds(300)});
  std::vector<Expected> requests(4, Expected{image, {}, {}});
  requests[0].options.max_new_tokens = requests[1].options.max_new_tokens = 4;
  requests[2].options.max_new_tokens = 5;
  requests[3].options.do_sample = true;
  requests[3].options.max_new_tokens = 4;
  const std::vector<Caption> captions = caption_concurrently(scheduler, requests);
  EXPECT_EQ(captions[0].token_ids, captions[1].token_ids);
  const BatchScheduler::Counters counters = scheduler.counters();
  EXPECT_EQ(counters.batches, 3u);  // {0, 1}, {2}, {3}
  EXPECT_EQ(counters.largest, 2u);
}

// tiny-proj (word_embed_proj_dim != hidden_size): batched, transformers and
// the library give a caption that depends on the other images of the batch;
// the scheduler runs such requests one by one, each the unbatched caption.
TEST(BatchScheduler, NarrowWordEmbeddingsNeverBatch) {
  const auto model = Model::load({model_dir("tiny-proj"), "cpu", "float32"});
  const nlohmann::json reference = greedy_reference("tiny-proj");
  std::vector<Expected> requests;
  for (const auto& c : reference["cases"]) {
    if (c["images"].size() < 3) continue;
    for (const auto& name : c["images"]) {
      Expected e{fixture_image(name), {}, {}};
      e.options.prompt = c["prompt"];
      e.options.max_new_tokens = c["max_new_tokens"];
      requests.push_back(std::move(e));
    }
    break;
  }
  ASSERT_EQ(requests.size(), 3u);
  Captioner alone(model);
  for (Expected& e : requests) e.token_ids = alone.caption(e.image.view(), e.options).token_ids;
  BatchScheduler scheduler(model, {3, std::chrono::milliseconds(300)});
  const std::vector<Caption> captions = caption_concurrently(scheduler, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(captions[i].token_ids, requests[i].token_ids) << "request " << i;
    EXPECT_EQ(captions[i].batch_size, 1);
  }
  EXPECT_EQ(scheduler.counters().largest, 1u);
  EXPECT_EQ(scheduler.counters().batches, 3u);
}

TEST(BatchScheduler, BadSettingsAreRejected) {
  const auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  EXPECT_THROW(BatchScheduler(model, {0, std::chrono::milliseconds(1)}), Error);
  EXPECT_THROW(BatchScheduler(model, {2, std::chrono::milliseconds(-1)}), Error);
}

TEST(BatchScheduler, OneSchedulerPerSharedModel) {
  const auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  const auto a = BatchScheduler::shared(model, {4, std::chrono::milliseconds(5)});
  const auto b = BatchScheduler::shared(model, {2, std::chrono::milliseconds(9)});
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(b->settings().max_batch, 4);
}

// A request cancelled while it waits for company leaves at once (not after
// the wait), and the scheduler keeps serving the others.
TEST(BatchScheduler, CancelledWhileWaitingLeavesAtOnce) {
  const auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  const std::vector<Expected> expected = oracle_captions("tiny");
  BatchScheduler scheduler(model, {4, std::chrono::seconds(30)});
  GenerationOptions options = expected[0].options;
  options.cancel = std::make_shared<std::atomic<bool>>(false);
  auto call = std::async(std::launch::async, [&] {
    try {
      scheduler.caption(expected[0].image.view(), options);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kRuntime;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  options.cancel->store(true);
  ASSERT_EQ(call.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the cancelled request waited for its batch";
  EXPECT_EQ(call.get(), ErrorCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(scheduler.counters().batches, 0u);

  // Four callers fill a batch: the scheduler did not keep the cancelled one.
  const std::vector<Expected> four(4, expected[0]);
  const std::vector<Caption> captions = caption_concurrently(scheduler, four);
  for (size_t i = 0; i < four.size(); ++i) EXPECT_EQ(captions[i].token_ids, four[i].token_ids);
  EXPECT_EQ(scheduler.counters().captions, 4u);
}

// One caller cancelling, whenever it does, never costs another caller of the
// same batch its caption: a batch runs with its own cancel flag.
TEST(BatchScheduler, OneCancelledCallerDoesNotStopItsBatch) {
  // tiny-legacy: two different captions, each the same alone or batched
  const auto model = Model::load({model_dir("tiny-legacy"), "cpu", "float32"});
  const nlohmann::json reference = greedy_reference("tiny-legacy");
  std::vector<Expected> pair;
  for (const auto& c : reference["cases"]) {
    if (c["images"].size() < 2 || c["prompt"] != "a photo of") continue;
    for (size_t i = 0; i < 2; ++i) {
      Expected e{fixture_image(c["images"][i]), {}, c["token_ids"][i]};
      e.options.prompt = c["prompt"];
      e.options.max_new_tokens = c["max_new_tokens"];
      e.options.min_new_tokens = c["min_new_tokens"];
      pair.push_back(std::move(e));
    }
    break;
  }
  ASSERT_EQ(pair.size(), 2u);
  BatchScheduler scheduler(model, {2, std::chrono::seconds(1)});
  int cancelled_callers = 0;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    GenerationOptions first_options = pair[0].options;
    first_options.cancel = std::make_shared<std::atomic<bool>>(false);
    auto first = std::async(std::launch::async, [&] {
      return scheduler.caption(pair[0].image.view(), first_options);
    });
    auto second = std::async(std::launch::async, [&] {
      return scheduler.caption(pair[1].image.view(), pair[1].options);
    });
    std::this_thread::sleep_for(std::chrono::microseconds(500 * round));
    first_options.cancel->store(true);
    EXPECT_EQ(second.get().token_ids, pair[1].token_ids);
    try {
      EXPECT_EQ(first.get().token_ids, pair[0].token_ids);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCancelled);
      ++cancelled_callers;
    }
  }
  std::printf("%d of 12 first callers cancelled in time\n", cancelled_callers);
}

// A batch whose every caller cancelled stops, and the next batch runs.
TEST(BatchScheduler, BatchOfCancelledCallersStops) {
  const auto model = Model::load({model_dir("tiny"), "cpu", "float32"});
  const std::vector<Expected> expected = oracle_captions("tiny");
  BatchScheduler scheduler(model, {2, std::chrono::seconds(5)});
  GenerationOptions options = expected[0].options;
  options.cancel = std::make_shared<std::atomic<bool>>(false);
  auto call = [&] {
    try {
      scheduler.caption(expected[0].image.view(), options);
      return true;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCancelled);
      return false;
    }
  };
  auto a = std::async(std::launch::async, call);
  auto b = std::async(std::launch::async, call);
  options.cancel->store(true);  // both share one flag: cancelled wherever they are
  ASSERT_EQ(a.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  ASSERT_EQ(b.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  a.get();
  b.get();
  const std::vector<Expected> two(2, expected[0]);
  const std::vector<Caption> captions = caption_concurrently(scheduler, two);
  EXPECT_EQ(captions[0].token_ids, two[0].token_ids);
  EXPECT_EQ(captions[1].token_ids, two[1].token_ids);
  EXPECT_EQ(captions[0].batch_size, 2);
}

}  // namespace
}  // namespace blip2
