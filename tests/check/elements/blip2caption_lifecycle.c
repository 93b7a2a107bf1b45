/* SPDX-License-Identifier: LGPL-2.1-or-later
 * Copyright (C) 2026 The blip2caption authors
 *
 * gst-check tests of blip2caption around a caption in progress: a flushing
 * seek and a state change to READY cancel an offline caption instead of
 * waiting for it, quietly, and captioning goes on after the flush. Run on
 * the tiny random checkpoint ($BLIP2_FIXTURES/models/tiny).
 *
 * The caption in progress is one by construction, not by the clock: the
 * element's test hook ("blip2caption-hold-step") holds it before its first
 * decoding step until it is cancelled, so it would never end by itself. The
 * seek and the state change run on a thread of their own; a bound of 60 s
 * only turns a hang into a failure.
 */
#include <gst/check/gstcheck.h>

#include "check_common.h"

/* The hold: every caption waits before its first decoding step until the
 * test releases it (or the element cancels the caption). */
static GMutex hold_lock;
static gboolean hold_released;
static gint64 hold_calls;   /* calls of hold_step */
static gint64 highest_step; /* the highest step a caption reached, -1: none */

static gboolean
hold_step (GstElement *element, gint64 step)
{
  g_mutex_lock (&hold_lock);
  hold_calls++;
  highest_step = MAX (highest_step, step);
  gboolean hold = !hold_released;
  g_mutex_unlock (&hold_lock);
  return hold;
}

static void
reset_hold (void)
{
  g_mutex_lock (&hold_lock);
  hold_released = FALSE;
  hold_calls = 0;
  highest_step = -1;
  g_mutex_unlock (&hold_lock);
}

static void
release_hold (void)
{
  g_mutex_lock (&hold_lock);
  hold_released = TRUE;
  g_mutex_unlock (&hold_lock);
}

static gint64
read_hold (gint64 *value)
{
  g_mutex_lock (&hold_lock);
  gint64 v = *value;
  g_mutex_unlock (&hold_lock);
  return v;
}

/* A video test source into blip2caption (offline, a caption every second,
 * 10 tokens) into a fakesink, with the hold installed. */
static GstElement *
held_pipeline (void)
{
  gchar *model = tiny_model ();
  GstElement *p = parse_pipeline (
      "videotestsrc ! video/x-raw,format=RGB,width=32,height=24,framerate=10/1 "
      "! blip2caption name=c model=\"%s\" device=cpu mode=offline interval=1000000000 "
      "max-new-tokens=10 min-new-tokens=10 ! fakesink sync=false",
      model);
  g_free (model);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  fail_unless (c != NULL);
  g_object_set_data (G_OBJECT (c), "blip2caption-hold-step", (gpointer)hold_step);
  gst_object_unref (c);
  reset_hold ();
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

/* Waits (at most 60 s) until a caption is held before its first decoding
 * step. */
static void
wait_caption_held (GstElement *c)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (read_hold (&hold_calls) == 0 && g_get_monotonic_time () < end)
    g_usleep (1000);
  fail_unless (read_hold (&hold_calls) > 0, "no caption reached its first decoding step in 60 s");
  fail_unless_equals_uint64 (get_u64 (c, "captions"), 0);
}

/* Something done on a thread of its own, so that the test sees whether it
 * returns while the caption is held. */
typedef struct
{
  GstElement *pipeline;
  gboolean (*action) (GstElement *pipeline);
  GMutex lock;
  GCond cond;
  gboolean done;
  gboolean result;
} Action;

static gpointer
run_action (gpointer data)
{
  Action *a = data;
  gboolean result = a->action (a->pipeline);
  g_mutex_lock (&a->lock);
  a->result = result;
  a->done = TRUE;
  g_cond_signal (&a->cond);
  g_mutex_unlock (&a->lock);
  return NULL;
}

/* Runs `action` on a thread while the caption is held; fails unless it
 * returns (within 60 s) before the hold is released, and with TRUE. The hold
 * is released afterwards either way, so the thread can end. */
static void
expect_returns_while_held (GstElement *pipeline,
                           gboolean (*action) (GstElement *),
                           const gchar *what)
{
  Action a = {pipeline, action};
  g_mutex_init (&a.lock);
  g_cond_init (&a.cond);
  GThread *thread = g_thread_new (what, run_action, &a);
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&a.lock);
  while (!a.done && g_cond_wait_until (&a.cond, &a.lock, end))
    ;
  gboolean done = a.done;
  g_mutex_unlock (&a.lock);
  /* cancelled where it was held: no decoding step after the first */
  gint64 highest = read_hold (&highest_step);
  release_hold ();
  g_thread_join (thread);
  fail_unless (done, "%s waited for the held caption instead of cancelling it", what);
  fail_unless (a.result, "%s failed", what);
  fail_unless_equals_int64 (highest, 0);
  g_mutex_clear (&a.lock);
  g_cond_clear (&a.cond);
}

static gboolean
seek_to_5s (GstElement *pipeline)
{
  return gst_element_seek_simple (pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 5 * GST_SECOND);
}

static gboolean
go_to_ready (GstElement *pipeline)
{
  return gst_element_set_state (pipeline, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS;
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

/* Offline mode: a flushing seek during a caption cancels it (the seek does
 * not wait for it), posts no error, and the new segment's first frame is
 * captioned. */
GST_START_TEST (test_seek_cancels_offline_caption)
{
  GstElement *p = held_pipeline ();
  GstElement *c = caption_element (p);
  GstBus *bus = gst_element_get_bus (p);
  /* the first frame's caption holds the preroll */
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  wait_caption_held (c);

  expect_returns_while_held (p, seek_to_5s, "the flushing seek");
  expect_caption_at (bus, 5 * GST_SECOND);
  expect_no_error (bus);
  fail_unless (get_u64 (c, "captions") >= 1);

  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (c);
  gst_object_unref (p);
}

GST_END_TEST;

/* Offline mode: going to READY during a caption cancels it; no error is
 * posted, and the element captions again when it plays again. */
GST_START_TEST (test_ready_cancels_offline_caption)
{
  GstElement *p = held_pipeline ();
  GstElement *c = caption_element (p);
  GstBus *bus = gst_element_get_bus (p);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  wait_caption_held (c);

  expect_returns_while_held (p, go_to_ready, "PLAYING -> READY");
  expect_no_error (bus);
  fail_unless_equals_uint64 (get_u64 (c, "captions"), 0);

  /* and it captions again from the start */
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
