// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// AsyncCaptioner with a fake caption function that blocks until the test
// releases it: latest-wins replacement, flush, drain, stop, errors, copies.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "async_captioner.h"

namespace {

using namespace std::chrono_literals;

// A caption function the test steps through one call at a time.
class Gate {
 public:
  blip2::Caption caption(const blip2::ImageView& image, const blip2::GenerationOptions& options) {
    std::unique_lock<std::mutex> lk(lock_);
    ++started_;
    seen_first_bytes_.push_back(image.planes[0][0]);
    cond_.notify_all();
    cond_.wait(lk, [&] { return released_ >= started_; });
    if (options.prompt == "fail") throw blip2::Error(blip2::ErrorCode::kRuntime, "boom");
    blip2::Caption c;
    c.text = "caption of " + std::to_string(image.planes[0][0]);
    c.token_ids = {1, 2, 3};
    return c;
  }
  void wait_started(int n) {
    std::unique_lock<std::mutex> lk(lock_);
    ASSERT_TRUE(cond_.wait_for(lk, 10s, [&] { return started_ >= n; }));
  }
  void release_one() {
    std::lock_guard<std::mutex> lk(lock_);
    ++released_;
    cond_.notify_all();
  }
  void release_all() {
    std::lock_guard<std::mutex> lk(lock_);
    released_ = 1 << 30;
    cond_.notify_all();
  }
  std::vector<uint8_t> seen() {
    std::lock_guard<std::mutex> lk(lock_);
    return seen_first_bytes_;
  }

 private:
  std::mutex lock_;
  std::condition_variable cond_;
  int started_ = 0;
  int released_ = 0;
  std::vector<uint8_t> seen_first_bytes_;
};

struct Collected {
  std::mutex lock;
  std::vector<blip2::CaptionResult> results;
  std::vector<uint64_t> ids() {
    std::lock_guard<std::mutex> lk(lock);
    std::vector<uint64_t> out;
    for (const auto& r : results) out.push_back(r.id);
    return out;
  }
};

blip2::CaptionRequest request(uint64_t id,
                              std::vector<uint8_t>& pixels,
                              uint8_t value,
                              const std::string& prompt = "") {
  pixels.assign(4 * 2 * 3, value);
  blip2::CaptionRequest r;
  r.image = blip2::ImageBuffer::copy_of(
      blip2::ImageView::packed(pixels.data(), 4, 2, 12, blip2::PixelFormat::kRGB));
  r.options.prompt = prompt;
  r.id = id;
  return r;
}

class AsyncCaptionerTest : public ::testing::Test {
 protected:
  Gate gate;
  Collected collected;
  std::vector<uint8_t> pixels;
  std::unique_ptr<blip2::AsyncCaptioner> worker;

  void SetUp() override {
    worker = std::make_unique<blip2::AsyncCaptioner>(
        [this](const blip2::ImageView& i, const blip2::GenerationOptions& o) {
          return gate.caption(i, o);
        },
        [this](blip2::CaptionResult&& r) {
          std::lock_guard<std::mutex> lk(collected.lock);
          collected.results.push_back(std::move(r));
        });
  }
  void TearDown() override {
    gate.release_all();
    worker->stop();
  }
};

TEST_F(AsyncCaptionerTest, LatestWaitingRequestWins) {
  EXPECT_FALSE(worker->submit(request(1, pixels, 10)).has_value());
  gate.wait_started(1);  // 1 is in progress
  EXPECT_FALSE(worker->submit(request(2, pixels, 20)).has_value());
  auto replaced = worker->submit(request(3, pixels, 30));
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(*replaced, 2u);
  replaced = worker->submit(request(4, pixels, 40));
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(*replaced, 3u);
  EXPECT_FALSE(worker->idle());
  gate.release_all();
  ASSERT_TRUE(worker->drain(10000ms));
  EXPECT_TRUE(worker->idle());
  EXPECT_EQ(collected.ids(), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(gate.seen(), (std::vector<uint8_t>{10, 40}));
  EXPECT_EQ(collected.results[1].caption.text, "caption of 40");
  EXPECT_TRUE(collected.results[1].ok);
}

TEST_F(AsyncCaptionerTest, RequestOwnsACopyOfThePixels) {
  worker->submit(request(1, pixels, 10));
  gate.wait_started(1);
  worker->submit(request(2, pixels, 77));
  std::memset(pixels.data(), 0, pixels.size());  // the caller reuses its frame
  gate.release_all();
  ASSERT_TRUE(worker->drain(10000ms));
  EXPECT_EQ(gate.seen(), (std::vector<uint8_t>{10, 77}));
}

TEST_F(AsyncCaptionerTest, FlushDropsWaitingAndInProgress) {
  worker->submit(request(1, pixels, 1));
  gate.wait_started(1);
  worker->submit(request(2, pixels, 2));
  auto dropped = worker->flush();
  EXPECT_EQ(dropped, (std::vector<uint64_t>{2, 1}));
  gate.release_one();  // 1 finishes after the flush: not delivered
  worker->submit(request(3, pixels, 3));
  gate.release_all();
  ASSERT_TRUE(worker->drain(10000ms));
  EXPECT_EQ(collected.ids(), (std::vector<uint64_t>{3}));
}

TEST_F(AsyncCaptionerTest, DrainTimesOutAndIsInterruptedByFlush) {
  worker->submit(request(1, pixels, 1));
  gate.wait_started(1);
  EXPECT_FALSE(worker->drain(50ms));
  std::atomic<bool> drained_ok{true};
  std::thread waiter([&] { drained_ok = worker->drain(); });
  std::this_thread::sleep_for(50ms);
  worker->flush();
  waiter.join();
  EXPECT_FALSE(drained_ok.load());
  gate.release_all();
}

TEST_F(AsyncCaptionerTest, ErrorsAreResultsAndTheWorkerGoesOn) {
  worker->submit(request(1, pixels, 1, "fail"));
  gate.release_all();
  ASSERT_TRUE(worker->drain(10000ms));
  worker->submit(request(2, pixels, 2));
  ASSERT_TRUE(worker->drain(10000ms));
  ASSERT_EQ(collected.results.size(), 2u);
  EXPECT_FALSE(collected.results[0].ok);
  EXPECT_EQ(collected.results[0].error, "boom");
  EXPECT_EQ(collected.results[0].error_code, blip2::ErrorCode::kRuntime);
  EXPECT_TRUE(collected.results[1].ok);
}

TEST_F(AsyncCaptionerTest, StopJoinsAndRefusesNewWork) {
  worker->submit(request(1, pixels, 1));
  gate.wait_started(1);
  std::thread stopper([&] { worker->stop(); });
  std::this_thread::sleep_for(20ms);
  gate.release_all();  // stop() waits for the caption in progress
  stopper.join();
  EXPECT_TRUE(collected.ids().empty());  // not delivered after stop
  auto dropped = worker->submit(request(2, pixels, 2));
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(*dropped, 2u);
  worker->stop();  // idempotent
}

TEST(ImageBufferTest, CopiesEveryPlaneWithoutPadding) {
  // I420 5x3 with padded strides: Y 8 bytes/row, U and V 4 bytes/row.
  std::vector<uint8_t> y(8 * 3), u(4 * 2), v(4 * 2);
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<uint8_t>(100 + i);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(200 + i);
  blip2::ImageView view;
  view.format = blip2::PixelFormat::kI420;
  view.width = 5;
  view.height = 3;
  view.planes[0] = y.data();
  view.planes[1] = u.data();
  view.planes[2] = v.data();
  view.strides[0] = 8;
  view.strides[1] = 4;
  view.strides[2] = 4;
  auto copy = blip2::ImageBuffer::copy_of(view);
  const auto& c = copy.view();
  EXPECT_EQ(c.strides[0], 5);
  EXPECT_EQ(c.strides[1], 3);
  EXPECT_EQ(c.strides[2], 3);
  EXPECT_EQ(copy.size_bytes(), 5u * 3 + 3 * 2 * 2);
  for (int row = 0; row < 3; ++row)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(c.planes[0][row * 5 + x], y[row * 8 + x]);
  for (int row = 0; row < 2; ++row)
    for (int x = 0; x < 3; ++x) {
      EXPECT_EQ(c.planes[1][row * 3 + x], u[row * 4 + x]);
      EXPECT_EQ(c.planes[2][row * 3 + x], v[row * 4 + x]);
    }
}

TEST(ImageBufferTest, RefusesBadViews) {
  uint8_t data[12] = {};
  EXPECT_THROW(blip2::ImageBuffer::copy_of(
                   blip2::ImageView::packed(data, 0, 2, 12, blip2::PixelFormat::kRGB)),
               blip2::Error);
  EXPECT_THROW(blip2::ImageBuffer::copy_of(
                   blip2::ImageView::packed(data, 4, 1, 8, blip2::PixelFormat::kRGB)),
               blip2::Error);  // stride below 4 * 3
  EXPECT_THROW(blip2::ImageBuffer::copy_of(
                   blip2::ImageView::packed(nullptr, 4, 1, 12, blip2::PixelFormat::kRGB)),
               blip2::Error);
}

}  // namespace
