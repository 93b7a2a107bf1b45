// test_batch_scheduler.cpp — captions requested from many threads at once are
// batched through one model and still equal transformers' unbatched ones.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace blip2
