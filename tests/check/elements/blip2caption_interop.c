/* SPDX-License-Identifier: LGPL-2.1-or-later
 * Copyright (C) 2026 The blip2caption authors
 *
 * The text stream with real consumers: srtenc (and subparse reading the file
 * back), webvttenc, textoverlay (default wait-text, live and not live) and
 * matroskamux (read back with matroskademux). One consumer per run, chosen by
 * $BLIP2_INTEROP; when its elements are not installed the program exits 77
 * (a skip for meson and tests/summarize.py) without a report.
 */
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>

#include "check_common.h"
#include <string.h>
#include <unistd.h>

/* One cue per caption with the model's text: what srtenc, webvttenc and
 * matroskamux are checked with here (the subtitle-text defaults are tested
 * in blip2caption_subtitles.c, textoverlay below keeps them). */
#define RAW_CUES "raw-text=true merge-repeats=false min-cue-duration=0"

/* Runs to EOS (60 s at most, no error) and returns the non-empty captions
 * posted on the bus, in order. */
static GPtrArray *
run_collecting_captions (GstElement *pipeline)
{
  GPtrArray *captions = g_ptr_array_new_with_free_func (g_free);
  GstBus *bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  gboolean eos = FALSE;
  while (!eos) {
    gint64 left = end - g_get_monotonic_time ();
    fail_unless (left > 0, "no EOS within 60 s: the pipeline stalled");
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, left * GST_USECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "no EOS within 60 s: the pipeline stalled");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *debug = NULL;
      gst_message_parse_error (msg, &err, &debug);
      fail ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, debug);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      eos = TRUE;
    } else if (gst_message_has_name (msg, "blip2caption")) {
      const gchar *caption = gst_structure_get_string (gst_message_get_structure (msg), "caption");
      if (caption && caption[0])
        g_ptr_array_add (captions, g_strdup (caption));
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return captions;
}

/* File to SubRip: one cue per non-empty caption, timed from the sampled
 * frame to the next sampling point; subparse reads the file back. */
GST_START_TEST (test_srtenc)
{
  gchar *model = tiny_model ();
  gchar *srt = temp_file (".srt");
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=40 pattern=ball ! "
      "video/x-raw,width=48,height=32,framerate=10/1 ! blip2caption name=c model=\"%s\" "
      "device=cpu interval=1000000000 max-new-tokens=5 min-new-tokens=2 " RAW_CUES " ! fakesink "
      "c.text_src ! queue ! srtenc ! filesink location=\"%s\"",
      model, srt);
  GPtrArray *captions = run_collecting_captions (p);
  gst_object_unref (p);

  gchar *contents = NULL;
  fail_unless (g_file_get_contents (srt, &contents, NULL, NULL));
  GST_INFO ("SRT:\n%s", contents);
  for (guint i = 0; i < captions->len; i++) {
    fail_unless (strstr (contents, g_ptr_array_index (captions, i)) != NULL,
                 "caption '%s' is not in the SRT file", (gchar *)g_ptr_array_index (captions, i));
  }
  if (captions->len == 4) {
    /* every caption non-empty: the cues tile 0..4 s */
    fail_unless (strstr (contents, "00:00:00,000 --> 00:00:01,000") != NULL);
    fail_unless (strstr (contents, "00:00:03,000 --> 00:00:04,000") != NULL);
  }
  g_free (contents);

  /* subparse reads the cues back with the same timing */
  p = parse_pipeline ("filesrc location=\"%s\" ! subparse ! appsink name=out sync=false", srt);
  GstElement *out = gst_bin_get_by_name (GST_BIN (p), "out");
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  guint cues = 0;
  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample ((GstAppSink *)out, 10 * GST_SECOND))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    fail_unless (GST_BUFFER_PTS (buf) % GST_SECOND == 0, "cue not on the 1 s grid");
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), GST_SECOND);
    cues++;
    gst_sample_unref (sample);
  }
  fail_unless_equals_int (cues, captions->len);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (p);
  g_unlink (srt);
  g_free (srt);
  g_ptr_array_unref (captions);
  g_free (model);
}

GST_END_TEST;

/* File to WebVTT: the header and one cue per non-empty caption. */
GST_START_TEST (test_webvttenc)
{
  gchar *model = tiny_model ();
  gchar *vtt = temp_file (".vtt");
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=25 ! "
      "video/x-raw,width=32,height=32,framerate=10/1 ! blip2caption name=c model=\"%s\" "
      "device=cpu interval=500000000 max-new-tokens=4 min-new-tokens=2 " RAW_CUES " ! fakesink "
      "c.text_src ! queue ! webvttenc ! filesink location=\"%s\"",
      model, vtt);
  GPtrArray *captions = run_collecting_captions (p);
  gst_object_unref (p);
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (vtt, &contents, NULL, NULL));
  fail_unless (g_str_has_prefix (contents, "WEBVTT"));
  guint arrows = 0;
  for (const gchar *s = contents; (s = strstr (s, "-->")); s += 3)
    arrows++;
  fail_unless_equals_int (arrows, captions->len);
  for (guint i = 0; i < captions->len; i++)
    fail_unless (strstr (contents, g_ptr_array_index (captions, i)) != NULL);
  g_free (contents);
  g_unlink (vtt);
  g_free (vtt);
  g_ptr_array_unref (captions);
  g_free (model);
}

GST_END_TEST;

static void
count_handoff (GstElement *sink G_GNUC_UNUSED,
               GstBuffer *buf G_GNUC_UNUSED,
               GstPad *pad G_GNUC_UNUSED,
               gpointer user_data)
{
  g_atomic_int_inc ((gint *)user_data);
}

/* textoverlay with its default wait-text never stalls on the sparse text
 * stream, for a live (worker thread) and a non-live (offline) source, with
 * synchronised sinks. */
GST_START_TEST (test_textoverlay)
{
  gchar *model = tiny_model ();
  for (gint live = 0; live <= 1; live++) {
    GstElement *p = parse_pipeline (
        "videotestsrc num-buffers=20 is-live=%s ! "
        "video/x-raw,width=64,height=48,framerate=20/1 ! blip2caption name=c model=\"%s\" "
        "device=cpu interval=250000000 max-new-tokens=4 latency=3000 ! videoconvert ! "
        "textoverlay name=o ! fakesink name=sink sync=true signal-handoffs=true "
        "c.text_src ! o.text_sink",
        live ? "true" : "false", model);
    gint frames = 0;
    GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
    g_signal_connect (sink, "handoff", G_CALLBACK (count_handoff), &frames);
    GPtrArray *captions = run_collecting_captions (p);
    fail_unless_equals_int (g_atomic_int_get (&frames), 20);
    GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
    guint64 n = 0, skipped = 0;
    g_object_get (c, "captions", &n, "frames-skipped", &skipped, NULL);
    fail_unless_equals_uint64 (n + skipped, 4);
    fail_unless (n >= 1);
    gst_object_unref (c);
    gst_object_unref (sink);
    gst_object_unref (p);
    g_ptr_array_unref (captions);
  }
  g_free (model);
}

GST_END_TEST;

/* File to Matroska with a subtitle track: matroskademux gives back one
 * subtitle buffer per non-empty caption. */
GST_START_TEST (test_matroskamux)
{
  gchar *model = tiny_model ();
  gchar *mkv = temp_file (".mkv");
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=30 ! "
      "video/x-raw,format=I420,width=32,height=32,framerate=10/1 ! blip2caption name=c "
      "model=\"%s\" device=cpu interval=1000000000 max-new-tokens=4 min-new-tokens=2 " RAW_CUES
      " ! queue ! "
      "matroskamux name=m ! filesink location=\"%s\" c.text_src ! queue ! m.subtitle_%%u",
      model, mkv);
  GPtrArray *captions = run_collecting_captions (p);
  gst_object_unref (p);
  fail_unless_equals_int (captions->len >= 1, TRUE);

  p = parse_pipeline (
      "filesrc location=\"%s\" ! matroskademux ! text/x-raw ! "
      "appsink name=out sync=false",
      mkv);
  GstElement *out = gst_bin_get_by_name (GST_BIN (p), "out");
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  guint subtitles = 0;
  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample ((GstAppSink *)out, 10 * GST_SECOND))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstMapInfo map;
    gst_buffer_map (buf, &map, GST_MAP_READ);
    fail_unless (subtitles < captions->len);
    gchar *text = g_strndup ((const gchar *)map.data, map.size);
    fail_unless_equals_string (text, g_ptr_array_index (captions, subtitles));
    g_free (text);
    gst_buffer_unmap (buf, &map);
    subtitles++;
    gst_sample_unref (sample);
  }
  fail_unless_equals_int (subtitles, captions->len);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (p);
  g_unlink (mkv);
  g_free (mkv);
  g_ptr_array_unref (captions);
  g_free (model);
}

GST_END_TEST;

typedef struct
{
  const gchar *name;
  TFun test;
  const gchar *needs[5];
} Case;

int
main (int argc, char **argv)
{
  const Case cases[] = {
      {"srtenc", test_srtenc, {"srtenc", "subparse", "appsink", "videotestsrc", NULL}},
      {"webvttenc", test_webvttenc, {"webvttenc", "videotestsrc", NULL}},
      {"textoverlay", test_textoverlay, {"textoverlay", "videoconvert", "videotestsrc", NULL}},
      {"matroskamux",
       test_matroskamux,
       {"matroskamux", "matroskademux", "appsink", "videotestsrc", NULL}},
  };
  gst_check_init (&argc, &argv);
  const gchar *which = g_getenv ("BLIP2_INTEROP");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    if (which == NULL || strcmp (which, cases[i].name) != 0)
      continue;
    for (const gchar *const *need = cases[i].needs; *need; need++) {
      GstElementFactory *factory = gst_element_factory_find (*need);
      if (factory == NULL) {
        g_print (
            "SKIP: the element %s is not installed (Debian: gstreamer1.0-plugins-bad "
            "for srtenc/webvttenc, gstreamer1.0-x for textoverlay)\n",
            *need);
        return 77;
      }
      gst_object_unref (factory);
    }
    Suite *s = suite_create ("blip2caption_interop");
    TCase *tc = tcase_create (cases[i].name);
    tcase_set_timeout (tc, 120);
    suite_add_tcase (s, tc);
    _tcase_add_test (tc, cases[i].test, cases[i].name, 0, 0, 0, 1);
    return gst_check_run_suite (s, "blip2caption_interop", __FILE__);
  }
  g_printerr ("BLIP2_INTEROP must name one of srtenc, webvttenc, textoverlay, matroskamux\n");
  return 1;
}
