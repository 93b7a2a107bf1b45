/* SPDX-License-Identifier: LGPL-2.1-or-later
 * Copyright (C) 2026 The blip2caption authors
 *
 * gst-check tests of blip2caption around a caption in progress: a flushing
 * seek and a state change to READY cancel an offline caption instead of
 * waiting for it, quietly, and captioning goes on after the flush. Run on
 * the tiny random checkpoint ($BLIP2_FIXTURES/models/tiny) with decoding
 * options that make one caption take seconds (64 beams, 90 tokens).
 */
#include <gst/check/gstcheck.h>

#include "check_common.h"

/* 64 beams over 90 forced tokens: seconds per caption on the tiny model,
 * against milliseconds per decoding step (where a cancel is seen). */
#define SLOW_BEAMS 64
#define SLOW_TOKENS 90

/* A video test source into blip2caption (offline, a caption every second)
 * into a fakesink, with the slow decoding options. */
static GstElement *
slow_pipeline (const gchar *extra_source)
{
  gchar *model = tiny_model ();
  GstElement *p = parse_pipeline (
      "videotestsrc %s ! video/x-raw,format=RGB,width=32,height=24,framerate=10/1 "
      "! blip2caption name=c model=\"%s\" device=cpu mode=offline interval=1000000000 "
      "num-beams=%d max-new-tokens=%d min-new-tokens=%d ! fakesink sync=false",
      extra_source, model, SLOW_BEAMS, SLOW_TOKENS, SLOW_TOKENS);
  g_free (model);
  return p;
}

static GstElement *
caption_element (GstElement *pipeline)
{
  GstElement *c = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  fail_unless (c != NULL);
  return c;
}

static guint64
get_u64 (GstElement *e, const gchar *name)
{
  guint64 v = 0;
  g_object_get (e, name, &v, NULL);
  return v;
}

/* Fails on an ERROR message waiting on the bus. */
static void
expect_no_error (GstBus *bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError *err = NULL;
    gchar *debug = NULL;
    gst_message_parse_error (msg, &err, &debug);
    fail ("error on the bus: %s (%s)", err->message, debug);
  }
}

/* The wall time of one uncancelled slow caption, in seconds (the element's
 * mean-inference-time after one frame). */
static gdouble
measure_slow_caption (void)
{
  GstElement *p = slow_pipeline ("num-buffers=1");
  GstElement *c = caption_element (p);
  GstBus *bus = gst_element_get_bus (p);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstMessage *msg =
      gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "no EOS");
  gst_message_unref (msg);
  fail_unless_equals_uint64 (get_u64 (c, "captions"), 1);
  gdouble ms = 0.0;
  g_object_get (c, "mean-inference-time", &ms, NULL);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (c);
  gst_object_unref (p);
  return ms / 1000.0;
}

/* Waits (at most 30 s) until the element has started captioning a frame,
 * then a little more, so that the caption is decoding. */
static void
wait_caption_in_progress (GstElement *c)
{
  gint64 end = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  while (get_u64 (c, "frames-sampled") == 0 && g_get_monotonic_time () < end)
    g_usleep (5000);
  fail_unless (get_u64 (c, "frames-sampled") >= 1, "no frame sampled within 30 s");
  fail_unless_equals_uint64 (get_u64 (c, "captions"), 0);
  g_usleep (200000);
}

static gdouble
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1e6;
}

/* A cancelled caption must end well before the caption would have: a third
 * of its measured time, and 2 s at most (one decoding step of the tiny model
 * takes milliseconds). */
static void
expect_quick (gdouble seconds, gdouble caption_seconds, const gchar *what)
{
  GST_INFO ("%s took %.3f s (a caption takes %.3f s)", what, seconds, caption_seconds);
  fail_unless (seconds < caption_seconds / 3 && seconds < 2.0,
               "%s took %.3f s: it waited for the caption (%.3f s)", what, seconds,
               caption_seconds);
}

/* A caption message for the frame at `pts` (stream time), within 60 s; fails
 * on an error. */
static void
expect_caption_at (GstBus *bus, GstClockTime pts)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_SECOND,
                                                  GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    if (msg == NULL)
      continue;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *debug = NULL;
      gst_message_parse_error (msg, &err, &debug);
      fail ("error on the bus: %s (%s)", err->message, debug);
    }
    guint64 frame_pts = GST_CLOCK_TIME_NONE;
    gboolean ours = gst_message_has_name (msg, "blip2caption");
    if (ours)
      fail_unless (gst_structure_get_uint64 (gst_message_get_structure (msg), "frame-pts",
                                             &frame_pts));
    gst_message_unref (msg);
    if (!ours)
      continue;
    fail_unless (frame_pts >= pts, "a caption of %" GST_TIME_FORMAT " from before the seek",
                 GST_TIME_ARGS (frame_pts));
    fail_unless_equals_uint64 (frame_pts, pts);
    return;
  }
  fail ("no caption of %" GST_TIME_FORMAT " within 60 s", GST_TIME_ARGS (pts));
}

/* Offline mode: a flushing seek during a slow caption cancels it (the seek
 * does not wait for it), posts no error, and the new segment's first frame is
 * captioned. */
GST_START_TEST (test_seek_cancels_offline_caption)
{
  gdouble caption_seconds = measure_slow_caption ();
  fail_unless (caption_seconds >= 0.3, "one slow caption took only %.3f s: nothing to cancel",
               caption_seconds);

  GstElement *p = slow_pipeline ("");
  GstElement *c = caption_element (p);
  GstBus *bus = gst_element_get_bus (p);
  /* the first frame's caption holds the preroll */
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  wait_caption_in_progress (c);
  /* the captions after the seek are quick ones */
  g_object_set (c, "num-beams", 1, "min-new-tokens", 0, "max-new-tokens", 3, NULL);

  gint64 start = g_get_monotonic_time ();
  fail_unless (gst_element_seek_simple (p, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 5 * GST_SECOND));
  expect_quick (seconds_since (start), caption_seconds, "the flushing seek");

  expect_caption_at (bus, 5 * GST_SECOND);
  expect_no_error (bus);
  fail_unless (get_u64 (c, "captions") >= 1);

  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (c);
  gst_object_unref (p);
}

GST_END_TEST;

/* Offline mode: going to READY during a slow caption cancels it; no error is
 * posted, and the element captions again when it plays again. */
GST_START_TEST (test_ready_cancels_offline_caption)
{
  gdouble caption_seconds = measure_slow_caption ();
  fail_unless (caption_seconds >= 0.3, "one slow caption took only %.3f s: nothing to cancel",
               caption_seconds);

  GstElement *p = slow_pipeline ("");
  GstElement *c = caption_element (p);
  GstBus *bus = gst_element_get_bus (p);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  wait_caption_in_progress (c);

  gint64 start = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (p, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  expect_quick (seconds_since (start), caption_seconds, "PLAYING -> READY");
  expect_no_error (bus);
  fail_unless_equals_uint64 (get_u64 (c, "captions"), 0);

  /* and it captions again from the start */
  g_object_set (c, "num-beams", 1, "min-new-tokens", 0, "max-new-tokens", 3, NULL);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  expect_caption_at (bus, 0);
  expect_no_error (bus);

  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (c);
  gst_object_unref (p);
}

GST_END_TEST;

static Suite *
blip2caption_lifecycle_suite (void)
{
  Suite *s = suite_create ("blip2caption_lifecycle");
  TCase *tc = tcase_create ("lifecycle");

  tcase_set_timeout (tc, 180);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_seek_cancels_offline_caption);
  tcase_add_test (tc, test_ready_cancels_offline_caption);
  return s;
}

GST_CHECK_MAIN (blip2caption_lifecycle);
