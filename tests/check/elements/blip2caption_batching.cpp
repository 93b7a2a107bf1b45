// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// Live batching across elements: three live blip2caption elements of one
// pipeline share a model with max-batch > 1; their captions run in batches
// and each equals transformers' caption of its picture
// ($BLIP2_FIXTURES/reference/tiny-legacy/greedy.json, whose three-image case
// with the prompt "a photo of" gives three different captions). A flush or a stop while a caption waits
// for company neither hangs nor loses the next frame.
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "oracle_common.h"

namespace {

// The oracle case's settings. (Not tiny-proj: its word_embed_proj_dim differs
// from its hidden size, and transformers' captions of that shape depend on
// the other images of the batch.)
constexpr const char* kModel = "tiny-legacy";
constexpr const char* kPrompt = "a photo of";
constexpr guint kMaxNewTokens = 10;

// One picture and transformers' caption of it.
struct Expected
{
  std::string image;
  oracle::Ppm ppm;
  std::string text;
  guint token_count = 0;
};

// The oracle's batched case of several images with kPrompt and
// kMaxNewTokens (transformers captioned them together; each caption is also
// its unbatched one, which the library's parity tests check).
std::vector<Expected>
oracle_batch ()
{
  std::vector<Expected> expected;
  const nlohmann::json reference = oracle::greedy_reference (kModel);
  for (const auto& c : reference.at ("cases")) {
    if (c.at ("images").size () < 3 || c.at ("prompt") != kPrompt ||
        c.at ("max_new_tokens") != kMaxNewTokens || c.at ("min_new_tokens") != 0)
      continue;
    for (size_t i = 0; i < c.at ("images").size (); ++i) {
      Expected e;
      e.image = c.at ("images")[i].get<std::string> ();
      e.ppm = oracle::fixture_image (e.image);
      e.text = c.at ("text")[i].get<std::string> ();
      e.token_count = (guint)c.at ("token_ids")[i].size ();
      expected.push_back (std::move (e));
    }
    break;
  }
  return expected;
}

std::string
model_dir ()
{
  return oracle::fixtures () + "/models/" + kModel;
}

// The element settings every stream shares: live, every frame sampled, the
// oracle's generation settings.
std::string
caption_settings (guint max_batch, guint64 batch_wait)
{
  std::ostringstream s;
  s << "model=\"" << model_dir () << "\" device=cpu dtype=float32 mode=live interval=0 "
    << "prompt=\"" << kPrompt << "\" max-new-tokens=" << kMaxNewTokens << " min-new-tokens=0 "
    << "latency=30000 max-batch=" << max_batch << " batch-wait=" << batch_wait;
  return s.str ();
}

GstStructure*
batch_stats (GstElement* element)
{
  GstStructure* stats = nullptr;
  g_object_get (element, "batch-stats", &stats, nullptr);
  return stats;
}

struct Stream
{
  const Expected* expected = nullptr;
  GstElement* src = nullptr;
  GstElement* caption = nullptr;
  std::vector<std::string> texts;
  std::vector<guint> token_counts;
  std::vector<guint> batch_sizes;
};

// Reads the bus until every stream has `count` captions; false on an error
// or after `timeout`.
bool
collect_captions (GstBus* bus, std::vector<Stream>& streams, size_t count, GstClockTime timeout)
{
  auto done = [&] {
    for (const Stream& s : streams) {
      if (s.texts.size () < count)
        return false;
    }
    return true;
  };
  const gint64 deadline = g_get_monotonic_time () + (gint64)(timeout / GST_USECOND);
  while (!done ()) {
    const gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return false;
    GstMessage* msg = gst_bus_timed_pop_filtered (
        bus, left * GST_USECOND, (GstMessageType)(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR));
    if (msg == nullptr)
      return false;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError* err = nullptr;
      gst_message_parse_error (msg, &err, nullptr);
      ADD_FAILURE () << "error from " << GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)) << ": "
                     << err->message;
      g_error_free (err);
      gst_message_unref (msg);
      return false;
    }
    const GstStructure* s = gst_message_get_structure (msg);
    for (Stream& stream : streams) {
      if (GST_MESSAGE_SRC (msg) != GST_OBJECT (stream.caption) ||
          !gst_structure_has_name (s, "blip2caption"))
        continue;
      guint tokens = 0, batch_size = 0;
      EXPECT_TRUE (gst_structure_get_uint (s, "token-count", &tokens));
      EXPECT_TRUE (gst_structure_get_uint (s, "batch-size", &batch_size));
      stream.texts.push_back (gst_structure_get_string (s, "caption"));
      stream.token_counts.push_back (tokens);
      stream.batch_sizes.push_back (batch_size);
    }
    gst_message_unref (msg);
  }
  return true;
}

// Three live streams, three pictures, one model: captions come in batches
// (max-batch 4, so each batch runs when batch-wait is over) and each is the
// oracle's caption of its stream's picture. Every frame is captioned: each
// round of frames is pushed once the previous round's captions are out.
TEST (ElementBatching, LiveStreamsShareBatchesAndMatchTheOracle)
{
  const std::vector<Expected> expected = oracle_batch ();
  ASSERT_GE (expected.size (), 3u) << "no batched oracle case for " << kModel;
  const guint64 batch_wait = 400 * GST_MSECOND;  // generous: all frames arrive within it
  const size_t rounds = 3;

  std::ostringstream desc;
  for (size_t i = 0; i < expected.size (); ++i) {
    desc << "appsrc name=src" << i << " is-live=true format=time caps=\""
         << expected[i].ppm.caps () << "\" ! blip2caption name=c" << i << " "
         << caption_settings (4, batch_wait) << " ! fakesink sync=false async=false ";
  }
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch (desc.str ().c_str (), &err);
  ASSERT_TRUE (pipeline != nullptr && err == nullptr) << (err ? err->message : "");
  std::vector<Stream> streams (expected.size ());
  for (size_t i = 0; i < expected.size (); ++i) {
    streams[i].expected = &expected[i];
    std::string n = std::to_string (i);
    streams[i].src = gst_bin_get_by_name (GST_BIN (pipeline), ("src" + n).c_str ());
    streams[i].caption = gst_bin_get_by_name (GST_BIN (pipeline), ("c" + n).c_str ());
  }
  GstBus* bus = gst_element_get_bus (pipeline);
  ASSERT_NE (gst_element_set_state (pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  for (size_t round = 0; round < rounds; ++round) {
    for (Stream& s : streams) {
      GstBuffer* buf = oracle::ppm_buffer (s.expected->ppm, round * GST_SECOND, GST_SECOND);
      EXPECT_EQ (gst_app_src_push_buffer (GST_APP_SRC (s.src), buf), GST_FLOW_OK);
    }
    ASSERT_TRUE (collect_captions (bus, streams, round + 1, 60 * GST_SECOND))
        << "round " << round << ": captions missing";
  }

  bool batched = false;
  for (const Stream& s : streams) {
    SCOPED_TRACE (s.expected->image);
    ASSERT_EQ (s.texts.size (), rounds);  // no frame lost or skipped
    for (size_t r = 0; r < rounds; ++r) {
      EXPECT_EQ (s.texts[r], s.expected->text) << "round " << r;
      EXPECT_EQ (s.token_counts[r], s.expected->token_count) << "round " << r;
      EXPECT_GE (s.batch_sizes[r], 1u);
      EXPECT_LE (s.batch_sizes[r], 4u);
      batched = batched || s.batch_sizes[r] > 1;
    }
  }
  EXPECT_TRUE (batched) << "no caption came from a batch of several streams";

  GstStructure* stats = batch_stats (streams[0].caption);
  ASSERT_NE (stats, nullptr);
  guint64 batches = 0, captions = 0, wait = 0;
  guint largest = 0, max_batch = 0;
  gdouble mean = 0.0;
  EXPECT_TRUE (gst_structure_get_uint64 (stats, "batches", &batches));
  EXPECT_TRUE (gst_structure_get_uint64 (stats, "captions", &captions));
  EXPECT_TRUE (gst_structure_get_uint (stats, "largest", &largest));
  EXPECT_TRUE (gst_structure_get_double (stats, "mean-batch-size", &mean));
  EXPECT_TRUE (gst_structure_get_uint (stats, "max-batch", &max_batch));
  EXPECT_TRUE (gst_structure_get_uint64 (stats, "batch-wait", &wait));
  EXPECT_EQ (captions, rounds * streams.size ());
  EXPECT_LT (batches, captions);
  EXPECT_GT (largest, 1u);
  EXPECT_GT (mean, 1.0);
  EXPECT_EQ (max_batch, 4u);
  EXPECT_EQ (wait, batch_wait);
  std::printf ("%zu captions of %zu streams in %lu batches (mean %.2f, largest %u)\n",
               (size_t)captions, streams.size (), (unsigned long)batches, mean, largest);
  gst_structure_free (stats);

  // The elements share one scheduler: the others read the same counters.
  for (const Stream& s : streams) {
    GstStructure* other = batch_stats (s.caption);
    ASSERT_NE (other, nullptr);
    guint64 other_captions = 0;
    gst_structure_get_uint64 (other, "captions", &other_captions);
    EXPECT_EQ (other_captions, captions);
    gst_structure_free (other);
  }

  for (Stream& s : streams) {
    gst_app_src_end_of_stream (GST_APP_SRC (s.src));
    gst_object_unref (s.src);
    gst_object_unref (s.caption);
  }
  GstMessage* eos =
      gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, (GstMessageType)GST_MESSAGE_EOS);
  EXPECT_NE (eos, nullptr) << "no EOS";
  if (eos)
    gst_message_unref (eos);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

// One live element in a harness with batching on.
GstHarness*
batching_harness (const Expected& e, guint64 batch_wait)
{
  GstElement* element = gst_element_factory_make ("blip2caption", nullptr);
  g_object_set (element, "model", model_dir ().c_str (), "device", "cpu", "dtype", 1, "mode", 2,
                "interval", (guint64)0, "prompt", kPrompt, "max-new-tokens", kMaxNewTokens,
                "latency", 30000u, "max-batch", 4u, "batch-wait", batch_wait, nullptr);
  GstHarness* h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_live (h, TRUE);
  gst_harness_set_src_caps_str (h, e.ppm.caps ().c_str ());
  return h;
}

guint64
element_captions (GstHarness* h)
{
  guint64 captions = 0;
  g_object_get (h->element, "captions", &captions, nullptr);
  return captions;
}

// Stopping while the only caption waits for company (a long batch-wait)
// returns at once: the caption leaves its batch.
TEST (ElementBatching, StopWhileWaitingForCompanyDoesNotHang)
{
  const std::vector<Expected> expected = oracle_batch ();
  ASSERT_FALSE (expected.empty ());
  GstHarness* h = batching_harness (expected[0], 30 * GST_SECOND);
  EXPECT_EQ (gst_harness_push (h, oracle::ppm_buffer (expected[0].ppm, 0, GST_SECOND)),
             GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  std::this_thread::sleep_for (std::chrono::milliseconds (300));  // now waiting in its batch
  GstStructure* stats = batch_stats (h->element);
  ASSERT_NE (stats, nullptr);
  guint64 batches = 1;
  gst_structure_get_uint64 (stats, "batches", &batches);
  gst_structure_free (stats);
  EXPECT_EQ (batches, 0u);  // still waiting

  const auto start = std::chrono::steady_clock::now ();
  gst_harness_teardown (h);
  const double seconds =
      std::chrono::duration<double> (std::chrono::steady_clock::now () - start).count ();
  EXPECT_LT (seconds, 10.0) << "stopping waited for the batch (batch-wait is 30 s)";
}

// A flush while a caption waits for company drops it at once (it never
// runs), and the next frame is captioned: the oracle's caption, with its own
// PTS, on a later buffer's meta.
TEST (ElementBatching, FlushWhileWaitingKeepsTheNextFrame)
{
  const std::vector<Expected> expected = oracle_batch ();
  ASSERT_FALSE (expected.empty ());
  const Expected& e = expected[0];
  GstHarness* h = batching_harness (e, 2 * GST_SECOND);
  EXPECT_EQ (gst_harness_push (h, oracle::ppm_buffer (e.ppm, 0, GST_SECOND)), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  std::this_thread::sleep_for (std::chrono::milliseconds (200));

  EXPECT_TRUE (gst_harness_push_event (h, gst_event_new_flush_start ()));
  EXPECT_TRUE (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = segment.time = 10 * GST_SECOND;
  EXPECT_TRUE (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  const GstClockTime after = 10 * GST_SECOND;
  EXPECT_EQ (gst_harness_push (h, oracle::ppm_buffer (e.ppm, after, GST_SECOND)), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));

  // Alone, the new caption runs when its batch-wait is over.
  const auto deadline = std::chrono::steady_clock::now () + std::chrono::seconds (60);
  while (element_captions (h) < 1 && std::chrono::steady_clock::now () < deadline)
    std::this_thread::sleep_for (std::chrono::milliseconds (20));
  ASSERT_EQ (element_captions (h), 1u) << "the frame after the flush was not captioned";

  // The meta goes on the next buffer and names the frame after the flush.
  EXPECT_EQ (gst_harness_push (h, oracle::ppm_buffer (e.ppm, after + GST_SECOND, GST_SECOND)),
             GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull (h);
  ASSERT_NE (out, nullptr);
  GstCustomMeta* meta = gst_buffer_get_custom_meta (out, "Blip2CaptionMeta");
  ASSERT_NE (meta, nullptr);
  const GstStructure* s = gst_custom_meta_get_structure (meta);
  guint64 frame_pts = 0;
  guint tokens = 0, batch_size = 0;
  EXPECT_TRUE (gst_structure_get_uint64 (s, "frame-pts", &frame_pts));
  EXPECT_TRUE (gst_structure_get_uint (s, "token-count", &tokens));
  EXPECT_TRUE (gst_structure_get_uint (s, "batch-size", &batch_size));
  EXPECT_EQ (frame_pts, after);
  EXPECT_STREQ (gst_structure_get_string (s, "caption"), e.text.c_str ());
  EXPECT_EQ (tokens, e.token_count);
  EXPECT_EQ (batch_size, 1u);
  gst_buffer_unref (out);

  GstStructure* stats = batch_stats (h->element);
  ASSERT_NE (stats, nullptr);
  guint64 batches = 0, captions = 0;
  gst_structure_get_uint64 (stats, "batches", &batches);
  gst_structure_get_uint64 (stats, "captions", &captions);
  gst_structure_free (stats);
  EXPECT_EQ (batches, 1u) << "the flushed caption still ran";
  EXPECT_EQ (captions, 1u);
  EXPECT_EQ (element_captions (h), 1u);
  gst_harness_teardown (h);
}

// Offline mode never batches, whatever max-batch says: no scheduler, no wait.
TEST (ElementBatching, OfflineModeDoesNotBatch)
{
  const std::vector<Expected> expected = oracle_batch ();
  ASSERT_FALSE (expected.empty ());
  const Expected& e = expected[0];
  GstElement* element = gst_element_factory_make ("blip2caption", nullptr);
  g_object_set (element, "model", model_dir ().c_str (), "device", "cpu", "dtype", 1, "mode", 1,
                "interval", (guint64)0, "prompt", kPrompt, "max-new-tokens", kMaxNewTokens,
                "max-batch", 4u, "batch-wait", 30 * GST_SECOND, nullptr);
  GstHarness* h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, e.ppm.caps ().c_str ());
  const auto start = std::chrono::steady_clock::now ();
  EXPECT_EQ (gst_harness_push (h, oracle::ppm_buffer (e.ppm, 0, GST_SECOND)), GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull (h);
  const double seconds =
      std::chrono::duration<double> (std::chrono::steady_clock::now () - start).count ();
  EXPECT_LT (seconds, 20.0) << "offline caption waited for a batch";
  ASSERT_NE (out, nullptr);
  GstCustomMeta* meta = gst_buffer_get_custom_meta (out, "Blip2CaptionMeta");
  ASSERT_NE (meta, nullptr);
  EXPECT_STREQ (gst_structure_get_string (gst_custom_meta_get_structure (meta), "caption"),
                e.text.c_str ());
  gst_buffer_unref (out);
  EXPECT_EQ (batch_stats (h->element), nullptr);
  gst_harness_teardown (h);
}

}  // namespace
