/* SPDX-License-Identifier: LGPL-2.1-or-later
 * Copyright (C) 2026 The blip2caption authors
 *
 * Subtitles people can read, in real pipelines with the tiny model: the
 * change sampling mode captions at the known cuts of a generated clip and
 * nowhere else, repeated captions extend one cue, the cues are caption-style
 * text, SRT and WebVTT files read back by subparse hold the expected cues,
 * offline change mode is deterministic, live change mode never makes the
 * video wait, and consumers that wait for text (textoverlay, matroskamux)
 * never stall on held cues.
 */
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <string.h>
#include <unistd.h>

#include "check_common.h"

#define MS (GST_MSECOND)

/* The comparison key of the element: ASCII punctuation dropped, ASCII
 * letters lowercased, white space runs (and line breaks) one space. */
static gchar *
key_of (const gchar *text)
{
  GString *key = g_string_new (NULL);
  gboolean space = FALSE;
  for (const gchar *c = text; *c; c++) {
    if (g_ascii_ispunct (*c))
      continue;
    if (g_ascii_isspace (*c)) {
      space = key->len > 0;
      continue;
    }
    if (space)
      g_string_append_c (key, ' ');
    space = FALSE;
    g_string_append_c (key, g_ascii_tolower (*c));
  }
  return g_string_free (key, FALSE);
}

/* One caption from the bus. */
typedef struct
{
  gchar *text;
  GstClockTime pts;
  gchar *trigger;
  gboolean repeat;
} Caption;

static void
caption_free (Caption *c)
{
  g_free (c->text);
  g_free (c->trigger);
  g_free (c);
}

/* One subtitle buffer (text_src, or read back from a file). */
typedef struct
{
  gchar *text;
  GstClockTime start, end;
} Cue;

static void
cue_free (Cue *c)
{
  g_free (c->text);
  g_free (c);
}

/* Switches the videotestsrc `src` to the next pattern at the given frames. */
typedef struct
{
  GstElement *src;
  guint frame;
  const gchar *const *patterns; /* patterns[0] is set in the launch line */
  const guint *cuts;            /* frame index where patterns[i + 1] starts */
  guint n_cuts;
} Cutter;

static GstPadProbeReturn
cut_probe (GstPad *pad G_GNUC_UNUSED, GstPadProbeInfo *info G_GNUC_UNUSED, gpointer user_data)
{
  Cutter *c = user_data;
  c->frame++; /* frames produced so far; the next one is `frame` */
  for (guint i = 0; i < c->n_cuts; i++) {
    if (c->cuts[i] == c->frame)
      gst_util_set_object_arg (G_OBJECT (c->src), "pattern", c->patterns[i + 1]);
  }
  return GST_PAD_PROBE_OK;
}

static void
collect_cue (GstElement *sink, GPtrArray *cues)
{
  GstSample *sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  if (!sample)
    return;
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  Cue *cue = g_new0 (Cue, 1);
  cue->text = g_strndup ((const gchar *)map.data, map.size);
  cue->start = GST_BUFFER_PTS (buf);
  cue->end = GST_BUFFER_DURATION_IS_VALID (buf) ? cue->start + GST_BUFFER_DURATION (buf)
                                                : GST_CLOCK_TIME_NONE;
  gst_buffer_unmap (buf, &map);
  g_ptr_array_add (cues, cue);
  gst_sample_unref (sample);
}

static GstFlowReturn
on_new_sample (GstElement *sink, gpointer user_data)
{
  collect_cue (sink, user_data);
  return GST_FLOW_OK;
}

/* Runs to EOS (120 s at most, no error); returns the captions posted on the
 * bus. The appsink named "text", if any, fills `cues`. */
static GPtrArray *
run (GstElement *pipeline, Cutter *cutter, GPtrArray *cues)
{
  GPtrArray *captions = g_ptr_array_new_with_free_func ((GDestroyNotify)caption_free);
  if (cutter) {
    cutter->src = gst_bin_get_by_name (GST_BIN (pipeline), "v");
    GstPad *pad = gst_element_get_static_pad (cutter->src, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, cut_probe, cutter, NULL);
    gst_object_unref (pad);
  }
  GstElement *text = gst_bin_get_by_name (GST_BIN (pipeline), "text");
  if (text) {
    g_object_set (text, "emit-signals", TRUE, "sync", FALSE, NULL);
    g_signal_connect (text, "new-sample", G_CALLBACK (on_new_sample), cues);
  }
  GstBus *bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  gint64 end = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  for (gboolean eos = FALSE; !eos;) {
    gint64 left = end - g_get_monotonic_time ();
    fail_unless (left > 0, "no EOS within 120 s: the pipeline stalled");
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, left * GST_USECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "no EOS within 120 s: the pipeline stalled");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *debug = NULL;
      gst_message_parse_error (msg, &err, &debug);
      fail ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, debug);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      eos = TRUE;
    } else if (gst_message_has_name (msg, "blip2caption")) {
      const GstStructure *s = gst_message_get_structure (msg);
      Caption *c = g_new0 (Caption, 1);
      c->text = g_strdup (gst_structure_get_string (s, "caption"));
      fail_unless (gst_structure_get_uint64 (s, "frame-pts", &c->pts));
      c->trigger = g_strdup (gst_structure_get_string (s, "trigger"));
      fail_unless (c->trigger != NULL, "no trigger in the message");
      fail_unless (gst_structure_get_boolean (s, "repeat", &c->repeat), "no repeat field");
      g_ptr_array_add (captions, c);
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  if (text)
    gst_object_unref (text);
  if (cutter)
    gst_object_unref (cutter->src);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return captions;
}

/* subparse gives Pango markup: undo the escapes a caption may need. */
static gchar *
unescape_markup (const gchar *text)
{
  static const gchar *const entities[][2] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
  GString *out = g_string_new (NULL);
  for (const gchar *c = text; *c;) {
    gboolean replaced = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (entities) && !replaced; i++) {
      if (g_str_has_prefix (c, entities[i][0])) {
        g_string_append (out, entities[i][1]);
        c += strlen (entities[i][0]);
        replaced = TRUE;
      }
    }
    if (!replaced)
      g_string_append_c (out, *c++);
  }
  return g_string_free (out, FALSE);
}

/* Cues a subtitle file holds, as subparse reads them back. */
static GPtrArray *
read_back (const gchar *path)
{
  GPtrArray *cues = g_ptr_array_new_with_free_func ((GDestroyNotify)cue_free);
  GstElement *p =
      parse_pipeline ("filesrc location=\"%s\" ! subparse ! appsink name=out sync=false", path);
  GstElement *out = gst_bin_get_by_name (GST_BIN (p), "out");
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (out), 10 * GST_SECOND))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstMapInfo map;
    gst_buffer_map (buf, &map, GST_MAP_READ);
    Cue *cue = g_new0 (Cue, 1);
    gchar *markup = g_strndup ((const gchar *)map.data, map.size);
    cue->text = unescape_markup (markup);
    g_free (markup);
    cue->start = GST_BUFFER_PTS (buf);
    cue->end = cue->start + GST_BUFFER_DURATION (buf);
    gst_buffer_unmap (buf, &map);
    g_ptr_array_add (cues, cue);
    gst_sample_unref (sample);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (p);
  return cues;
}

/* The cues a caption list must give: a cue per run of equal captions, from
 * the first one's frame to the next run (or `end`). */
static void
check_cues_follow_captions (GPtrArray *cues, GPtrArray *captions, GstClockTime end)
{
  guint c = 0;
  for (guint i = 0; i < captions->len; i++) {
    Caption *cap = g_ptr_array_index (captions, i);
    gchar *key = key_of (cap->text);
    gchar *prev = i ? key_of (((Caption *)g_ptr_array_index (captions, i - 1))->text) : NULL;
    gboolean repeat = prev && strcmp (key, prev) == 0;
    fail_unless_equals_int (cap->repeat, repeat);
    if (!repeat && key[0]) {
      fail_unless (c < cues->len, "no cue for the caption at %" GST_TIME_FORMAT,
                   GST_TIME_ARGS (cap->pts));
      Cue *cue = g_ptr_array_index (cues, c++);
      gchar *cue_key = key_of (cue->text);
      fail_unless_equals_string (cue_key, key);
      fail_unless_equals_uint64 (cue->start, cap->pts);
      /* ends where the next different caption starts */
      GstClockTime next = end;
      for (guint j = i + 1; j < captions->len; j++) {
        gchar *k = key_of (((Caption *)g_ptr_array_index (captions, j))->text);
        gboolean differs = strcmp (k, key) != 0;
        g_free (k);
        if (differs) {
          next = ((Caption *)g_ptr_array_index (captions, j))->pts;
          break;
        }
      }
      fail_unless_equals_uint64 (cue->end, next);
      g_free (cue_key);
    }
    g_free (key);
    g_free (prev);
  }
  fail_unless_equals_int (c, cues->len);
  /* no cue repeats the one before it */
  for (guint i = 1; i < cues->len; i++) {
    gchar *a = key_of (((Cue *)g_ptr_array_index (cues, i - 1))->text);
    gchar *b = key_of (((Cue *)g_ptr_array_index (cues, i))->text);
    fail_unless (strcmp (a, b) != 0, "cue %u repeats the previous one: %s", i, b);
    g_free (a);
    g_free (b);
  }
}

/* The generated clip: 9 s at 10 fps, cuts at 3 s and 6 s. */
static const gchar *const kPatterns[] = {"smpte", "pinwheel", "circular"};
static const guint kCuts[] = {30, 60};
#define CLIP_FRAMES 90
#define CLIP_END (9 * GST_SECOND)
#define CLIP_SOURCE                                     \
  "videotestsrc name=v num-buffers=90 pattern=smpte ! " \
  "video/x-raw,format=I420,width=64,height=48,framerate=10/1 ! "
#define CHANGE_PROPS \
  "sampling=change min-interval=500000000 interval=100000000000 max-new-tokens=6 min-new-tokens=2"

static Cutter
clip_cutter (void)
{
  Cutter c = {NULL, 0, kPatterns, kCuts, G_N_ELEMENTS (kCuts)};
  return c;
}

/* Change mode to a subtitle file: captions at 0 s and at the two cuts only
 * (frames between are tested and found unchanged), and the file, read back
 * by subparse, holds one cue per different caption from its cut to the next
 * one, none repeated. */
static void
check_change_mode_file (const gchar *encoder, const gchar *suffix)
{
  gchar *model = tiny_model ();
  gchar *path = temp_file (suffix);
  GstElement *p =
      parse_pipeline (CLIP_SOURCE "blip2caption name=c model=\"%s\" device=cpu " CHANGE_PROPS
                                  " ! fakesink c.text_src ! queue ! %s ! "
                                  "filesink location=\"%s\"",
                      model, encoder, path);
  Cutter cutter = clip_cutter ();
  GPtrArray *captions = run (p, &cutter, NULL);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  guint64 sampled = 0, unchanged = 0, skipped = 0;
  g_object_get (c, "frames-sampled", &sampled, "frames-unchanged", &unchanged, "frames-skipped",
                &skipped, NULL);
  gst_object_unref (c);
  gst_object_unref (p);

  fail_unless_equals_int (captions->len, 3);
  const GstClockTime expected[] = {0, 3 * GST_SECOND, 6 * GST_SECOND};
  const gchar *triggers[] = {"first", "change", "change"};
  for (guint i = 0; i < 3; i++) {
    Caption *cap = g_ptr_array_index (captions, i);
    fail_unless_equals_uint64 (cap->pts, expected[i]);
    fail_unless_equals_string (cap->trigger, triggers[i]);
  }
  fail_unless_equals_uint64 (sampled, 3);
  /* 90 frames: 3 captioned, 4 too soon after each (not tested), the rest unchanged */
  fail_unless_equals_uint64 (unchanged, CLIP_FRAMES - 3 - 3 * 4);
  fail_unless_equals_uint64 (skipped, 0);

  GPtrArray *cues = read_back (path);
  check_cues_follow_captions (cues, captions, CLIP_END);
  g_ptr_array_unref (cues);
  g_ptr_array_unref (captions);
  g_unlink (path);
  g_free (path);
  g_free (model);
}

GST_START_TEST (test_change_mode_srt)
{
  check_change_mode_file ("srtenc", ".srt");
}

GST_END_TEST;

GST_START_TEST (test_change_mode_webvtt)
{
  check_change_mode_file ("webvttenc", ".vtt");
}

GST_END_TEST;

/* A still picture (pinwheel: smpte has a noisy corner) in clock mode: every caption is the same,
 * the text stream gives one cue over the whole clip, the messages report every caption and flag the
 * repeats; with merge-repeats=false each caption is a cue. */
GST_START_TEST (test_repeats_extend_one_cue)
{
  gchar *model = tiny_model ();
  for (gint merge = 0; merge <= 1; merge++) {
    GPtrArray *cues = g_ptr_array_new_with_free_func ((GDestroyNotify)cue_free);
    GstElement *p = parse_pipeline (
        "videotestsrc num-buffers=30 pattern=pinwheel ! "
        "video/x-raw,format=I420,width=48,height=32,framerate=10/1 ! blip2caption name=c "
        "model=\"%s\" device=cpu interval=500000000 max-new-tokens=5 min-new-tokens=2 "
        "merge-repeats=%s min-cue-duration=0 ! fakesink c.text_src ! queue ! appsink name=text",
        model, merge ? "true" : "false");
    GPtrArray *captions = run (p, NULL, cues);
    gst_object_unref (p);
    fail_unless_equals_int (captions->len, 6);
    for (guint i = 0; i < captions->len; i++) {
      Caption *c = g_ptr_array_index (captions, i);
      fail_unless_equals_uint64 (c->pts, i * 500 * MS);
      fail_unless_equals_string (c->trigger, "clock");
      fail_unless_equals_int (c->repeat, i > 0);
    }
    if (merge) {
      fail_unless_equals_int (cues->len, 1);
      Cue *cue = g_ptr_array_index (cues, 0);
      fail_unless_equals_uint64 (cue->start, 0);
      fail_unless_equals_uint64 (cue->end, 3 * GST_SECOND);
    } else {
      fail_unless_equals_int (cues->len, 6);
      for (guint i = 0; i < cues->len; i++) {
        Cue *cue = g_ptr_array_index (cues, i);
        fail_unless_equals_uint64 (cue->start, i * 500 * MS);
        fail_unless_equals_uint64 (cue->end, (i + 1) * 500 * MS);
      }
    }
    g_ptr_array_unref (captions);
    g_ptr_array_unref (cues);
  }
  g_free (model);
}

GST_END_TEST;

/* Caption-style text on text_src: a capital first letter, a full stop, at
 * most max-lines lines of max-line-length characters per cue, and the same
 * words as the model's caption (which the messages keep raw); raw-text=true
 * gives the caption as is. */
GST_START_TEST (test_caption_style_text)
{
  gchar *model = tiny_model ();
  for (gint raw = 0; raw <= 1; raw++) {
    GPtrArray *cues = g_ptr_array_new_with_free_func ((GDestroyNotify)cue_free);
    GstElement *p = parse_pipeline (
        CLIP_SOURCE "blip2caption name=c model=\"%s\" device=cpu " CHANGE_PROPS
                    " max-new-tokens=24 min-new-tokens=16 max-line-length=16 max-lines=2 "
                    "raw-text=%s merge-repeats=%s min-cue-duration=0 ! fakesink "
                    "c.text_src ! queue ! appsink name=text",
        model, raw ? "true" : "false", raw ? "false" : "true");
    Cutter cutter = clip_cutter ();
    GPtrArray *captions = run (p, &cutter, cues);
    gst_object_unref (p);
    fail_unless (captions->len >= 1);
    GString *all_captions = g_string_new (NULL), *all_cues = g_string_new (NULL);
    for (guint i = 0; i < captions->len; i++) {
      Caption *c = g_ptr_array_index (captions, i);
      if (!c->repeat)
        g_string_append_printf (all_captions, "%s ", c->text);
    }
    for (guint i = 0; i < cues->len; i++) {
      Cue *cue = g_ptr_array_index (cues, i);
      g_string_append_printf (all_cues, "%s ", cue->text);
      if (raw)
        continue;
      gchar **lines = g_strsplit (cue->text, "\n", -1);
      fail_unless (g_strv_length (lines) <= 2, "more than 2 lines: %s", cue->text);
      for (gchar **l = lines; *l; l++)
        fail_unless (g_utf8_strlen (*l, -1) <= 16, "line longer than 16: '%s'", *l);
      g_strfreev (lines);
    }
    if (raw) {
      fail_unless_equals_int (cues->len, captions->len);
      for (guint i = 0; i < cues->len; i++)
        fail_unless_equals_string (((Cue *)g_ptr_array_index (cues, i))->text,
                                   ((Caption *)g_ptr_array_index (captions, i))->text);
    } else {
      /* the cue where a caption starts is capitalised; the one before the
       * next caption (or the last) ends the sentence */
      for (guint i = 0; i < cues->len; i++) {
        Cue *cue = g_ptr_array_index (cues, i);
        Cue *next = i + 1 < cues->len ? g_ptr_array_index (cues, i + 1) : NULL;
        gboolean starts = FALSE, ends = next == NULL;
        for (guint j = 0; j < captions->len; j++) {
          Caption *c = g_ptr_array_index (captions, j);
          starts |= !c->repeat && c->pts == cue->start;
          ends |= next && !c->repeat && c->pts == next->start;
        }
        if (starts)
          fail_unless (!g_ascii_islower (cue->text[0]), "not capitalised: %s", cue->text);
        if (ends)
          fail_unless (g_str_has_suffix (cue->text, ".") || g_str_has_suffix (cue->text, "!") ||
                           g_str_has_suffix (cue->text, "?"),
                       "no full stop: %s", cue->text);
      }
      gchar *a = key_of (all_captions->str), *b = key_of (all_cues->str);
      fail_unless_equals_string (b, a);
      g_free (a);
      g_free (b);
    }
    g_string_free (all_captions, TRUE);
    g_string_free (all_cues, TRUE);
    g_ptr_array_unref (captions);
    g_ptr_array_unref (cues);
  }
  g_free (model);
}

GST_END_TEST;

/* Offline change mode twice on the same clip: the same captions at the same
 * frames and the same cues. */
GST_START_TEST (test_offline_change_mode_is_deterministic)
{
  gchar *model = tiny_model ();
  GPtrArray *runs_captions[2], *runs_cues[2];
  for (gint r = 0; r < 2; r++) {
    runs_cues[r] = g_ptr_array_new_with_free_func ((GDestroyNotify)cue_free);
    GstElement *p = parse_pipeline (CLIP_SOURCE
                                    "blip2caption name=c model=\"%s\" device=cpu "
                                    "mode=offline " CHANGE_PROPS
                                    " ! fakesink c.text_src ! queue ! appsink name=text",
                                    model);
    Cutter cutter = clip_cutter ();
    runs_captions[r] = run (p, &cutter, runs_cues[r]);
    gst_object_unref (p);
  }
  fail_unless_equals_int (runs_captions[0]->len, runs_captions[1]->len);
  for (guint i = 0; i < runs_captions[0]->len; i++) {
    Caption *a = g_ptr_array_index (runs_captions[0], i),
            *b = g_ptr_array_index (runs_captions[1], i);
    fail_unless_equals_string (a->text, b->text);
    fail_unless_equals_uint64 (a->pts, b->pts);
  }
  fail_unless_equals_int (runs_cues[0]->len, runs_cues[1]->len);
  for (guint i = 0; i < runs_cues[0]->len; i++) {
    Cue *a = g_ptr_array_index (runs_cues[0], i), *b = g_ptr_array_index (runs_cues[1], i);
    fail_unless_equals_string (a->text, b->text);
    fail_unless_equals_uint64 (a->start, b->start);
    fail_unless_equals_uint64 (a->end, b->end);
  }
  check_cues_follow_captions (runs_cues[0], runs_captions[0], CLIP_END);
  for (gint r = 0; r < 2; r++) {
    g_ptr_array_unref (runs_captions[r]);
    g_ptr_array_unref (runs_cues[r]);
  }
  g_free (model);
}

GST_END_TEST;

/* Time each video buffer spends inside the element (sink pad to src pad). */
typedef struct
{
  gint64 entered;
  gint64 longest;
  guint frames;
} Stopwatch;

static GstPadProbeReturn
enter_probe (GstPad *pad G_GNUC_UNUSED, GstPadProbeInfo *info G_GNUC_UNUSED, gpointer user_data)
{
  ((Stopwatch *)user_data)->entered = g_get_monotonic_time ();
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
leave_probe (GstPad *pad G_GNUC_UNUSED, GstPadProbeInfo *info G_GNUC_UNUSED, gpointer user_data)
{
  Stopwatch *w = user_data;
  w->longest = MAX (w->longest, g_get_monotonic_time () - w->entered);
  w->frames++;
  return GST_PAD_PROBE_OK;
}

/* Live change mode: the video never waits for a caption. Every frame comes
 * out, and none stays inside the element for more than a fraction of one
 * inference (beam search makes inference slow enough to tell). */
GST_START_TEST (test_live_change_mode_never_blocks_video)
{
  gchar *model = tiny_model ();
  GstElement *p = parse_pipeline (
      "videotestsrc name=v is-live=true num-buffers=60 pattern=smpte ! "
      "video/x-raw,format=I420,width=64,height=48,framerate=20/1 ! blip2caption name=c "
      "model=\"%s\" device=cpu mode=live sampling=change min-interval=200000000 "
      "interval=100000000000 num-beams=4 max-new-tokens=30 min-new-tokens=30 latency=5000 ! "
      "fakesink sync=true c.text_src ! queue ! fakesink sync=true async=false",
      model);
  static const guint cuts[] = {10, 20, 30, 40, 50};
  static const gchar *const patterns[] = {"smpte",    "pinwheel", "circular",
                                          "gradient", "spokes",   "red"};
  Cutter cutter = {NULL, 0, patterns, cuts, G_N_ELEMENTS (cuts)};
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  Stopwatch w = {0, 0, 0};
  GstPad *sink = gst_element_get_static_pad (c, "sink"),
         *src = gst_element_get_static_pad (c, "src");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, enter_probe, &w, NULL);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, leave_probe, &w, NULL);
  GPtrArray *captions = run (p, &cutter, NULL);
  gdouble mean_ms = 0;
  guint64 sampled = 0, skipped = 0;
  g_object_get (c, "mean-inference-time", &mean_ms, "frames-sampled", &sampled, "frames-skipped",
                &skipped, NULL);
  fail_unless_equals_int (w.frames, 60);
  fail_unless (captions->len >= 1);
  fail_unless_equals_uint64 (captions->len + skipped, sampled);
  GST_INFO ("longest time in the element %" G_GINT64_FORMAT " us, mean inference %.1f ms",
            w.longest, mean_ms);
  fail_unless (w.longest < mean_ms * 1000 / 2,
               "a frame stayed %" G_GINT64_FORMAT " us in the element; inference takes %.0f ms",
               w.longest, mean_ms);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (c);
  gst_object_unref (p);
  g_ptr_array_unref (captions);
  g_free (model);
}

GST_END_TEST;

/* Consumers that make the video wait for the text, with the default settings
 * (cues held to extend them): textoverlay without a queue, live and not
 * live, and matroskamux; a still picture makes every caption a repeat. None
 * stalls: every frame comes out. */
GST_START_TEST (test_waiting_consumers_never_stall)
{
  gchar *model = tiny_model ();
  for (gint live = 0; live <= 1; live++) {
    GstElement *p = parse_pipeline (
        "videotestsrc num-buffers=30 is-live=%s pattern=pinwheel ! "
        "video/x-raw,width=64,height=48,framerate=20/1 ! blip2caption name=c model=\"%s\" "
        "device=cpu interval=250000000 max-new-tokens=4 latency=3000 ! videoconvert ! "
        "textoverlay name=o ! fakesink name=sink sync=true c.text_src ! o.text_sink",
        live ? "true" : "false", model);
    GPtrArray *captions = run (p, NULL, NULL);
    fail_unless (captions->len >= 1);
    gst_object_unref (p);
    g_ptr_array_unref (captions);
  }
  gchar *mkv = temp_file (".mkv");
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=30 pattern=pinwheel ! "
      "video/x-raw,format=I420,width=32,height=32,framerate=10/1 ! blip2caption name=c "
      "model=\"%s\" device=cpu interval=500000000 max-new-tokens=4 min-new-tokens=2 ! queue ! "
      "matroskamux name=m ! filesink location=\"%s\" c.text_src ! queue ! m.subtitle_%%u",
      model, mkv);
  GPtrArray *captions = run (p, NULL, NULL);
  fail_unless_equals_int (captions->len, 6);
  gst_object_unref (p);
  g_ptr_array_unref (captions);
  g_unlink (mkv);
  g_free (mkv);
  g_free (model);
}

GST_END_TEST;

static Suite *
subtitles_suite (void)
{
  Suite *s = suite_create ("blip2caption_subtitles");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_change_mode_srt);
  tcase_add_test (tc, test_change_mode_webvtt);
  tcase_add_test (tc, test_repeats_extend_one_cue);
  tcase_add_test (tc, test_caption_style_text);
  tcase_add_test (tc, test_offline_change_mode_is_deterministic);
  tcase_add_test (tc, test_live_change_mode_never_blocks_video);
  tcase_add_test (tc, test_waiting_consumers_never_stall);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  const gchar *needed[] = {"videotestsrc", "srtenc",      "webvttenc",    "subparse",
                           "appsink",      "textoverlay", "videoconvert", "matroskamux"};
  for (guint i = 0; i < G_N_ELEMENTS (needed); i++) {
    GstElementFactory *factory = gst_element_factory_find (needed[i]);
    if (factory == NULL) {
      g_print (
          "SKIP: the element %s is not installed (Debian: gstreamer1.0-plugins-bad, "
          "gstreamer1.0-plugins-good, gstreamer1.0-x)\n",
          needed[i]);
      return 77;
    }
    gst_object_unref (factory);
  }
  return gst_check_run_suite (subtitles_suite (), "blip2caption_subtitles", __FILE__);
}
