/* SPDX-License-Identifier: LGPL-2.1-or-later
 * Copyright (C) 2026 The blip2caption authors
 *
 * gst-check tests of the element's timing at the edges: the end of the
 * stream, video without timestamps, intervals near their maximum, reverse
 * playback, a generation value the library refuses, and the enum types'
 * plugin API flag. Tiny random checkpoint ($BLIP2_FIXTURES/models/tiny).
 */
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <string.h>
#include <unistd.h>

#include "check_common.h"

#define MS GST_MSECOND

/* What left text_src: buffers and gaps as [start, end) in arrival order. */
typedef struct
{
  GMutex lock;
  GArray *starts, *ends;
  guint buffers;
  gboolean eos;
} TextRecord;

static GstPadProbeReturn
record_text (GstPad *pad G_GNUC_UNUSED, GstPadProbeInfo *info, gpointer user_data)
{
  TextRecord *r = user_data;
  GstClockTime start = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
    start = GST_BUFFER_PTS (b);
    duration = GST_BUFFER_DURATION (b);
    g_mutex_lock (&r->lock);
    r->buffers++;
    g_mutex_unlock (&r->lock);
  } else {
    GstEvent *e = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (e) == GST_EVENT_GAP)
      gst_event_parse_gap (e, &start, &duration);
    if (GST_EVENT_TYPE (e) == GST_EVENT_EOS) {
      g_mutex_lock (&r->lock);
      r->eos = TRUE;
      g_mutex_unlock (&r->lock);
    }
  }
  if (!GST_CLOCK_TIME_IS_VALID (start))
    return GST_PAD_PROBE_OK;
  GstClockTime end = GST_CLOCK_TIME_IS_VALID (duration) ? start + duration : start;
  g_mutex_lock (&r->lock);
  g_array_append_val (r->starts, start);
  g_array_append_val (r->ends, end);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static TextRecord *
text_record_new (GstElement *element)
{
  TextRecord *r = g_new0 (TextRecord, 1);
  g_mutex_init (&r->lock);
  r->starts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  r->ends = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  GstPad *pad = gst_element_get_static_pad (element, "text_src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                     record_text, r, NULL);
  gst_object_unref (pad);
  return r;
}

static void
text_record_free (TextRecord *r)
{
  g_array_unref (r->starts);
  g_array_unref (r->ends);
  g_mutex_clear (&r->lock);
  g_free (r);
}

static gboolean
text_record_wait_eos (TextRecord *r, gint seconds)
{
  gint64 end = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;
  gboolean eos = FALSE;
  while (!eos && g_get_monotonic_time () < end) {
    g_mutex_lock (&r->lock);
    eos = r->eos;
    g_mutex_unlock (&r->lock);
    if (!eos)
      g_usleep (2000);
  }
  return eos;
}

/* The smallest start and largest end of everything the text stream sent
 * (not named first/last: fail_unless_equals_* declares those). */
static void
text_extent (TextRecord *r, GstClockTime *start, GstClockTime *end)
{
  *start = GST_CLOCK_TIME_NONE;
  *end = 0;
  g_mutex_lock (&r->lock);
  for (guint i = 0; i < r->starts->len; i++) {
    *start = MIN (*start, g_array_index (r->starts, GstClockTime, i));
    *end = MAX (*end, g_array_index (r->ends, GstClockTime, i));
  }
  g_mutex_unlock (&r->lock);
}

/* Plays to EOS; fails on an error or when EOS takes longer than `limit`.
 * Returns the wall time it took; counts the WARNING messages. */
static GstClockTime
play_to_eos (GstElement *pipeline, GstClockTime limit, guint *warnings)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 start = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, limit, GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
    fail_unless (msg != NULL, "no EOS within %" GST_TIME_FORMAT, GST_TIME_ARGS (limit));
    GstMessageType type = GST_MESSAGE_TYPE (msg);
    if (type == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      fail ("error: %s", err->message);
    }
    gst_message_unref (msg);
    if (type == GST_MESSAGE_EOS)
      break;
    if (warnings)
      (*warnings)++;
  }
  gst_object_unref (bus);
  return (g_get_monotonic_time () - start) * GST_USECOND;
}

static GstBuffer *
make_frame (gsize size, GstClockTime pts, GstClockTime duration, guint seed)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = (guint8)((i * 7 + seed * 29) & 0xff);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

static guint
count_metas_out (GstHarness *h)
{
  guint metas = 0;
  GstBuffer *out;
  while ((out = gst_harness_try_pull (h))) {
    if (gst_buffer_get_custom_meta (out, "Blip2CaptionMeta"))
      metas++;
    gst_buffer_unref (out);
  }
  return metas;
}

static GstHarness *
harness_new (const gchar *caps, const gchar *first_property, ...)
{
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  gchar *model = tiny_model ();
  g_object_set (e, "model", model, "device", "cpu", "max-new-tokens", 2, NULL);
  g_free (model);
  va_list args;
  va_start (args, first_property);
  g_object_set_valist (G_OBJECT (e), first_property, args);
  va_end (args);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_live (h, FALSE); /* offline: the meta is on the sampled frame */
  gst_harness_set_src_caps_str (h, caps);
  return h;
}

/* ------------------------------------------------------------------------ */

/* A 1 s clip at interval 20 s: the caption ends at the end of the clip, and
 * a synchronised text sink reaches EOS after about 1 s, not 20 s. */
GST_START_TEST (test_eos_not_held_back)
{
  gchar *model = tiny_model ();
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=30 ! video/x-raw,width=32,height=24,framerate=30/1 ! "
      "blip2caption name=c model=\"%s\" device=cpu interval=20000000000 max-new-tokens=2 ! "
      "fakesink sync=true  c.text_src ! queue ! fakesink sync=true",
      model);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  TextRecord *r = text_record_new (c);
  GstClockTime took = play_to_eos (p, 60 * GST_SECOND, NULL);
  fail_unless (took < 10 * GST_SECOND, "EOS took %" GST_TIME_FORMAT, GST_TIME_ARGS (took));
  GstClockTime text_start, text_end;
  text_extent (r, &text_start, &text_end);
  fail_unless_equals_uint64 (text_start, 0);
  fail_unless_equals_uint64 (text_end, GST_SECOND);
  gst_element_set_state (p, GST_STATE_NULL);
  text_record_free (r);
  gst_object_unref (c);
  gst_object_unref (p);
  g_free (model);
}

GST_END_TEST;

/* A 5 s clip at interval 3 s: cues 0-3 s and 3-5 s (not 3-6 s), also in the
 * SubRip file. */
GST_START_TEST (test_last_cue_ends_with_the_stream)
{
  gchar *model = tiny_model ();
  gchar *srt = NULL;
  gint fd = g_file_open_tmp ("blip2-timing-XXXXXX.srt", &srt, NULL);
  fail_unless (fd >= 0);
  close (fd);
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=50 ! video/x-raw,width=32,height=24,framerate=10/1 ! "
      "blip2caption name=c model=\"%s\" device=cpu interval=3000000000 max-new-tokens=3 "
      "min-new-tokens=2 ! fakesink  c.text_src ! queue ! srtenc ! filesink location=\"%s\"",
      model, srt);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  TextRecord *r = text_record_new (c);
  play_to_eos (p, 60 * GST_SECOND, NULL);
  gst_element_set_state (p, GST_STATE_NULL);
  GstClockTime text_start, text_end;
  text_extent (r, &text_start, &text_end);
  fail_unless_equals_uint64 (text_end, 5 * GST_SECOND);
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (srt, &contents, NULL, NULL));
  fail_if (strstr (contents, "00:00:06,000") != NULL, "a cue runs past the end:\n%s", contents);
  if (r->buffers == 2)
    fail_unless (strstr (contents, "00:00:03,000 --> 00:00:05,000") != NULL, "%s", contents);
  g_free (contents);
  g_unlink (srt);
  g_free (srt);
  text_record_free (r);
  gst_object_unref (c);
  gst_object_unref (p);
  g_free (model);
}

GST_END_TEST;

static void
push_untimestamped (GstElement *appsrc, guint n, gsize size, gboolean with_duration)
{
  for (guint i = 0; i < n; i++) {
    GstBuffer *b = make_frame (size, GST_CLOCK_TIME_NONE,
                               with_duration ? 100 * MS : GST_CLOCK_TIME_NONE, i);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (appsrc), b), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (appsrc));
}

/* Video without timestamps and a linked, synchronised text branch reaches
 * EOS (no deadlock), samples by frame duration, and warns once. */
GST_START_TEST (test_untimestamped_video_with_text_linked)
{
  gchar *model = tiny_model ();
  GstElement *p = parse_pipeline (
      "appsrc name=src format=time caps=video/x-raw,format=RGB,width=16,height=16,"
      "framerate=10/1 ! blip2caption name=c model=\"%s\" device=cpu interval=500000000 "
      "max-new-tokens=2 ! fakesink sync=true  c.text_src ! queue ! fakesink sync=true",
      model);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  push_untimestamped (src, 10, 16 * 16 * 3, FALSE);
  guint warnings = 0;
  play_to_eos (p, 30 * GST_SECOND, &warnings);
  guint64 captions = 0;
  g_object_get (c, "captions", &captions, NULL);
  fail_unless_equals_uint64 (captions, 2); /* 10 frames of 100 ms at 500 ms */
  fail_unless_equals_int (warnings, 1);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (c);
  gst_object_unref (p);
  g_free (model);
}

GST_END_TEST;

/* The same with text_src unlinked: captions, not silence. */
GST_START_TEST (test_untimestamped_video_unlinked)
{
  GstHarness *h = harness_new ("video/x-raw, format=GRAY8, width=8, height=8, framerate=5/1",
                               "interval", GST_SECOND, NULL);
  for (guint i = 0; i < 10; i++)
    gst_harness_push (h, make_frame (64, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, i));
  fail_unless_equals_int (count_metas_out (h), 2); /* 10 frames of 200 ms at 1 s */
  gst_harness_teardown (h);
}

GST_END_TEST;

/* An interval whose next grid point does not fit in 64 bits samples the
 * first frame only, not every frame. */
GST_START_TEST (test_interval_overflow)
{
  const guint64 intervals[] = {G_MAXUINT64, G_MAXUINT64 - GST_SECOND};
  for (guint c = 0; c < G_N_ELEMENTS (intervals); c++) {
    GstHarness *h = harness_new ("video/x-raw, format=GRAY8, width=8, height=8, framerate=10/1",
                                 "interval", intervals[c], NULL);
    for (guint i = 0; i < 10; i++)
      gst_harness_push (h, make_frame (64, 2 * GST_SECOND + i * 100 * MS, 100 * MS, i));
    fail_unless_equals_int (count_metas_out (h), 1);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Reverse playback (rate -1) of 5 s at 1 s: five captions, and the text
 * stream stays inside the 5 s segment. */
GST_START_TEST (test_reverse_playback)
{
  gchar *model = tiny_model ();
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  g_object_set (e, "model", model, "device", "cpu", "max-new-tokens", 2, "interval", GST_SECOND,
                NULL);
  TextRecord *r = text_record_new (e);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  GstHarness *text = gst_harness_new_with_element (h->element, NULL, "text_src");
  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, "video/x-raw, format=GRAY8, width=8, height=8, "
                                   "framerate=10/1");
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.rate = -1.0;
  segment.start = 0;
  segment.stop = 5 * GST_SECOND;
  segment.position = segment.stop;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  for (gint i = 49; i >= 0; i--)
    gst_harness_push (h, make_frame (64, i * 100 * MS, 100 * MS, i));
  fail_unless_equals_int (count_metas_out (h), 5);
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless (text_record_wait_eos (r, 30));
  GstClockTime text_start, text_end;
  text_extent (r, &text_start, &text_end);
  fail_unless_equals_uint64 (text_start, 0);
  fail_unless_equals_uint64 (text_end, 5 * GST_SECOND);
  /* items go backwards and tile the segment: each ends where the one before
   * began (a zero-length preroll gap covers no time, and lies inside the
   * segment: just before its stop) */
  GstClockTime previous_start = GST_CLOCK_TIME_NONE;
  for (guint i = 0; i < r->starts->len; i++) {
    GstClockTime start = g_array_index (r->starts, GstClockTime, i);
    GstClockTime end = g_array_index (r->ends, GstClockTime, i);
    if (start == end) {
      fail_unless (start < 5 * GST_SECOND, "a zero-length gap at the segment's stop");
      continue;
    }
    if (GST_CLOCK_TIME_IS_VALID (previous_start))
      fail_unless_equals_uint64 (end, previous_start);
    previous_start = start;
  }
  gst_harness_teardown (text);
  gst_harness_teardown (h);
  text_record_free (r);
  g_free (model);
}

GST_END_TEST;

/* A clip of one still picture (identical captions) to a prerolling text
 * sink, played at `rate` over [0, 3 s] after a flushing seek in PAUSED;
 * returns the text stream's record. */
static TextRecord *
play_still_clip (gdouble rate)
{
  gchar *model = tiny_model ();
  GstElement *p = parse_pipeline (
      "videotestsrc pattern=black ! video/x-raw,format=RGB,width=32,height=24,framerate=30/1 ! "
      "blip2caption name=c model=\"%s\" device=cpu max-new-tokens=3 ! fakesink sync=false "
      "c.text_src ! fakesink sync=false",
      model);
  g_free (model);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  TextRecord *r = text_record_new (c);
  fail_unless (gst_element_set_state (p, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (p, NULL, NULL, 60 * GST_SECOND) == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_seek (p, rate, GST_FORMAT_TIME,
                                 GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET, 0,
                                 GST_SEEK_TYPE_SET, 3 * GST_SECOND));
  /* only what the seek brings counts */
  g_mutex_lock (&r->lock);
  g_array_set_size (r->starts, 0);
  g_array_set_size (r->ends, 0);
  r->buffers = 0;
  g_mutex_unlock (&r->lock);
  play_to_eos (p, 120 * GST_SECOND, NULL);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (c);
  gst_object_unref (p);
  return r;
}

/* Reverse playback of a still picture gives what forward playback gives:
 * one cue for the whole clip (the repeats merged), not one piece per frame
 * (the text sink prerolls on the held cue in both directions). */
GST_START_TEST (test_reverse_playback_merges_repeats_as_forward)
{
  TextRecord *forward = play_still_clip (1.0);
  TextRecord *reverse = play_still_clip (-1.0);
  fail_unless_equals_int (forward->buffers, 1);
  fail_unless_equals_int (reverse->buffers, forward->buffers);
  GstClockTime f_start, f_end, r_start, r_end;
  text_extent (forward, &f_start, &f_end);
  text_extent (reverse, &r_start, &r_end);
  fail_unless_equals_uint64 (f_start, 0);
  fail_unless_equals_uint64 (f_end, 3 * GST_SECOND);
  fail_unless_equals_uint64 (r_start, 0);
  fail_unless (r_end >= 3 * GST_SECOND, "the reverse cue ends at %" GST_TIME_FORMAT,
               GST_TIME_ARGS (r_end));
  text_record_free (forward);
  text_record_free (reverse);
}

GST_END_TEST;

/* top-p = 0 is refused with a warning, the old value kept, and captioning
 * goes on. */
GST_START_TEST (test_top_p_zero_refused)
{
  GstHarness *h = harness_new ("video/x-raw, format=GRAY8, width=8, height=8, framerate=10/1",
                               "interval", (guint64)0, NULL);
  gdouble top_p = 0.0;
  ASSERT_WARNING (g_object_set (h->element, "top-p", 0.0, NULL));
  g_object_get (h->element, "top-p", &top_p, NULL);
  fail_unless (top_p == 1.0);
  g_object_set (h->element, "top-p", 0.5, NULL);
  ASSERT_WARNING (g_object_set (h->element, "top-p", 0.0, NULL));
  g_object_get (h->element, "top-p", &top_p, NULL);
  fail_unless (top_p == 0.5);
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (gst_harness_push (h, make_frame (64, i * 100 * MS, 100 * MS, i)),
                            GST_FLOW_OK);
  fail_unless_equals_int (count_metas_out (h), 3);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The element's enum types, EarlyStopping included, are documented with it
 * (plugin API). */
GST_START_TEST (test_enum_types_are_plugin_api)
{
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  const gchar *names[] = {"GstBlip2CaptionMode", "GstBlip2CaptionDtype",
                          "GstBlip2CaptionEarlyStopping"};
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    GType type = g_type_from_name (names[i]);
    fail_unless (type != 0, "%s is not registered", names[i]);
    fail_unless (gst_type_is_plugin_api (type, NULL), "%s is not plugin API", names[i]);
  }
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
blip2caption_timing_suite (void)
{
  Suite *s = suite_create ("blip2caption_timing");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_eos_not_held_back);
  tcase_add_test (tc, test_last_cue_ends_with_the_stream);
  tcase_add_test (tc, test_untimestamped_video_with_text_linked);
  tcase_add_test (tc, test_untimestamped_video_unlinked);
  tcase_add_test (tc, test_interval_overflow);
  tcase_add_test (tc, test_reverse_playback);
  tcase_add_test (tc, test_reverse_playback_merges_repeats_as_forward);
  tcase_add_test (tc, test_top_p_zero_refused);
  tcase_add_test (tc, test_enum_types_are_plugin_api);
  return s;
}

GST_CHECK_MAIN (blip2caption_timing);
