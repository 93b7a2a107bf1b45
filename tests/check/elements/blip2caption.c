/* SPDX-License-Identifier: LGPL-2.1-or-later
 * Copyright (C) 2026 The blip2caption authors
 *
 * gst-check tests of the blip2caption element, through its public GObject
 * API only, with the tiny random checkpoints made by model/oracle/make_models.py
 * ($BLIP2_FIXTURES/models/tiny: 56 px, no default prompt; tiny-coco: 364 px,
 * default prompt "a photo of").
 */
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "check_common.h"
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>
#include <unistd.h>

#define META_NAME "Blip2CaptionMeta"
#define MS GST_MSECOND

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static gchar *
fixture_path (const gchar *relative)
{
  const gchar *root = g_getenv ("BLIP2_FIXTURES");
  fail_unless (root != NULL, "BLIP2_FIXTURES is not set");
  gchar *path = g_build_filename (root, relative, NULL);
  fail_unless (g_file_test (path, G_FILE_TEST_EXISTS), "fixture %s is missing", path);
  return path;
}

/* A harness around a blip2caption with the given tiny model and a recording
 * of its text stream. `live`: whether the harness's upstream answers the
 * LATENCY query as live. */
typedef struct
{
  GstHarness *h;
  GstHarness *text;
  GstBus *bus;
  GMutex lock;
  GCond cond;
  GPtrArray *items; /* GstMiniObject*, in the order they left text_src */
  gboolean text_eos;
} Fixture;

static GstPadProbeReturn
record_text (GstPad *pad G_GNUC_UNUSED, GstPadProbeInfo *info, gpointer user_data)
{
  Fixture *f = user_data;
  GstMiniObject *item = GST_PAD_PROBE_INFO_DATA (info);

  g_mutex_lock (&f->lock);
  g_ptr_array_add (f->items, gst_mini_object_ref (item));
  if (GST_IS_EVENT (item) && GST_EVENT_TYPE (item) == GST_EVENT_EOS)
    f->text_eos = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  return GST_PAD_PROBE_OK;
}

static Fixture *
fixture_new (const gchar *model, gboolean live, const gchar *first_property, ...)
{
  Fixture *f = g_new0 (Fixture, 1);
  gchar *path = fixture_path (model);
  va_list args;

  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->items = g_ptr_array_new_with_free_func ((GDestroyNotify)gst_mini_object_unref);
  /* the harness starts an element with a sink pad at once: configure first */
  GstElement *element = gst_element_factory_make ("blip2caption", NULL);
  fail_unless (element != NULL);
  g_object_set (element, "model", path, "device", "cpu", NULL);
  /* the text stream checked cue by cue against the raw captions: one cue per
   * caption, the model's text, no minimum display time (the subtitle text
   * defaults have tests of their own) */
  g_object_set (element, "raw-text", TRUE, "merge-repeats", FALSE, "min-cue-duration",
                (guint64)0, NULL);
  g_free (path);
  if (first_property) {
    va_start (args, first_property);
    g_object_set_valist (G_OBJECT (element), first_property, args);
    va_end (args);
  }
  f->bus = gst_bus_new ();
  gst_element_set_bus (element, f->bus);

  GstPad *text_src = gst_element_get_static_pad (element, "text_src");
  gst_pad_add_probe (text_src,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
                         GST_PAD_PROBE_TYPE_EVENT_FLUSH,
                     record_text, f, NULL);
  gst_object_unref (text_src);
  f->h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  f->text = gst_harness_new_with_element (f->h->element, NULL, "text_src");
  gst_harness_set_live (f->h, live);
  return f;
}

static void
fixture_free (Fixture *f)
{
  gst_harness_teardown (f->text);
  gst_harness_teardown (f->h);
  gst_bus_set_flushing (f->bus, TRUE);
  gst_object_unref (f->bus);
  g_ptr_array_unref (f->items);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
  g_free (f);
}

/* Waits (at most 60 s) until the text stream has seen EOS. */
static void
fixture_wait_text_eos (Fixture *f)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&f->lock);
  while (!f->text_eos)
    if (!g_cond_wait_until (&f->cond, &f->lock, end))
      break;
  gboolean eos = f->text_eos;
  g_mutex_unlock (&f->lock);
  fail_unless (eos, "no EOS on text_src within 60 s");
}

static guint64
get_u64 (GstElement *e, const gchar *name)
{
  guint64 v = 0;
  g_object_get (e, name, &v, NULL);
  return v;
}

static void
fill_pattern (guint8 *data, gsize size, guint seed)
{
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8)((i * 7 + (i / 61) * 13 + seed * 29) & 0xff);
}

/* A frame for the harness caps (set before), PTS `pts`, duration `duration`. */
static GstBuffer *
make_frame (const gchar *caps_str, GstClockTime pts, GstClockTime duration, guint seed)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstVideoInfo info;
  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  fill_pattern (map.data, map.size, seed);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

static const GstStructure *
caption_meta (GstBuffer *buf)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, META_NAME);
  return meta ? gst_custom_meta_get_structure (meta) : NULL;
}

static guint
count_caption_metas (GstBuffer *buf)
{
  gpointer state = NULL;
  GstMeta *meta;
  guint n = 0;
  while ((meta = gst_buffer_iterate_meta (buf, &state))) {
    if (gst_meta_info_is_custom (meta->info) &&
        gst_custom_meta_has_name ((GstCustomMeta *)meta, META_NAME))
      n++;
  }
  return n;
}

static GstClockTime
get_clock (const GstStructure *s, const gchar *field)
{
  guint64 v = G_MAXUINT64;
  fail_unless (gst_structure_get_uint64 (s, field, &v), "field %s missing", field);
  return v;
}

/* Element messages named blip2caption, in posting order (caller frees). */
static GList *
pop_caption_messages (GstBus *bus)
{
  GList *list = NULL;
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (msg, "blip2caption"))
      list = g_list_append (list, msg);
    else
      gst_message_unref (msg);
  }
  return list;
}

/* Pushes `n` frames at `fps` and returns how many sampled metas came out; the
 * PTS of each meta'd frame goes into `sampled` (offline mode). */
static guint
push_frames_offline (
    Fixture *f, const gchar *caps, gint fps_n, gint fps_d, guint n, GArray *sampled)
{
  guint metas = 0;
  for (guint i = 0; i < n; i++) {
    GstClockTime pts = gst_util_uint64_scale (i, GST_SECOND * fps_d, fps_n);
    GstClockTime next = gst_util_uint64_scale (i + 1, GST_SECOND * fps_d, fps_n);
    fail_unless_equals_int (gst_harness_push (f->h, make_frame (caps, pts, next - pts, i)),
                            GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull (f->h);
    fail_unless (out != NULL);
    const GstStructure *s = caption_meta (out);
    if (s) {
      metas++;
      fail_unless_equals_uint64 (get_clock (s, "frame-pts"), pts);
      if (sampled)
        g_array_append_val (sampled, pts);
    }
    gst_buffer_unref (out);
  }
  return metas;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

/* Property defaults are the documented ones and the read-only state is empty. */
GST_START_TEST (test_property_defaults)
{
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  gchar *model, *device, *prompt, *last;
  GstStructure *info;
  gint dtype, quantize, mode;
  guint64 interval;
  guint max_new, min_new, latency;
  gdouble mean;

  fail_unless (e != NULL);
  g_object_get (e, "model", &model, "device", &device, "prompt", &prompt, "last-caption", &last,
                "model-info", &info, "dtype", &dtype, "quantize", &quantize, "mode", &mode,
                "interval", &interval,
                "max-new-tokens", &max_new, "min-new-tokens", &min_new, "latency", &latency,
                "mean-inference-time", &mean, NULL);
  fail_unless_equals_string (model, "Salesforce/blip2-opt-2.7b-coco");
  fail_unless_equals_string (device, "auto");
  fail_unless (prompt == NULL);
  fail_unless (last == NULL);
  fail_unless (info == NULL);
  fail_unless_equals_int (dtype, 0);
  fail_unless_equals_int (quantize, 0);
  fail_unless_equals_int (mode, 0);
  fail_unless_equals_uint64 (interval, GST_SECOND);
  fail_unless_equals_int (max_new, 30);
  fail_unless_equals_int (min_new, 0);
  fail_unless_equals_int (latency, 1000);
  fail_unless (mean == 0.0);
  fail_unless_equals_uint64 (get_u64 (e, "frames-sampled"), 0);
  fail_unless_equals_uint64 (get_u64 (e, "captions"), 0);
  fail_unless_equals_uint64 (get_u64 (e, "frames-skipped"), 0);
  g_free (model);
  g_free (device);

  /* the plugin under test is the one of this build, not an installed one */
  GstPlugin *plugin =
      gst_plugin_feature_get_plugin (GST_PLUGIN_FEATURE (gst_element_get_factory (e)));
  const gchar *build = g_getenv ("BLIP2_BUILD_ROOT");
  fail_unless (build != NULL);
  fail_unless (g_str_has_prefix (gst_plugin_get_filename (plugin), build), "plugin loaded from %s",
               gst_plugin_get_filename (plugin));
  gst_object_unref (plugin);
  gst_object_unref (e);
}

GST_END_TEST;

/* Bad values are refused with a warning and the old value is kept. */
GST_START_TEST (test_bad_property_values)
{
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  gchar *device;
  guint max_new;

  ASSERT_WARNING (g_object_set (e, "device", "gpu7", NULL));
  ASSERT_WARNING (g_object_set (e, "device", "cuda:x", NULL));
  g_object_get (e, "device", &device, NULL);
  fail_unless_equals_string (device, "auto");
  g_free (device);
  g_object_set (e, "device", "cuda:1", NULL);
  g_object_get (e, "device", &device, NULL);
  fail_unless_equals_string (device, "cuda:1");
  g_free (device);

  ASSERT_WARNING (g_object_set (e, "max-new-tokens", 0, NULL));
  g_object_get (e, "max-new-tokens", &max_new, NULL);
  fail_unless_equals_int (max_new, 30);
  gint dtype = -1;
  ASSERT_WARNING (g_object_set (e, "dtype", 42, NULL));
  g_object_get (e, "dtype", &dtype, NULL);
  fail_unless_equals_int (dtype, 0);
  gst_object_unref (e);
}

GST_END_TEST;

/* Model properties cannot change while PLAYING; generation ones can. */
GST_START_TEST (test_mutability)
{
  Fixture *f = fixture_new ("models/tiny", FALSE, NULL);
  gchar *model, *prompt;

  ASSERT_WARNING (g_object_set (f->h->element, "model", "/elsewhere", NULL));
  g_object_get (f->h->element, "model", &model, NULL);
  fail_if (g_str_equal (model, "/elsewhere"));
  g_free (model);

  g_object_set (f->h->element, "prompt", "a photo of", "interval", (guint64)0, NULL);
  g_object_get (f->h->element, "prompt", &prompt, NULL);
  fail_unless_equals_string (prompt, "a photo of");
  g_free (prompt);
  fixture_free (f);
}

GST_END_TEST;

/* Every advertised raw video format is accepted, others are not. */
GST_START_TEST (test_caps_accepted)
{
  const gchar *formats[] = {"RGB",  "BGR",  "RGBA", "BGRA",  "RGBx", "BGRx", "xRGB",
                            "xBGR", "ARGB", "ABGR", "GRAY8", "I420", "NV12"};
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  GstPad *sink = gst_element_get_static_pad (e, "sink");

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    gchar *str = g_strdup_printf (
        "video/x-raw, format=%s, width=33, height=17, "
        "framerate=30/1",
        formats[i]);
    GstCaps *caps = gst_caps_from_string (str);
    fail_unless (gst_pad_query_accept_caps (sink, caps), "%s refused", str);
    gst_caps_unref (caps);
    g_free (str);
  }
  const gchar *refused[] = {
      "video/x-raw, format=YUY2, width=32, height=16",
      "video/x-raw(memory:GLMemory), format=RGBA, width=32, height=16",
      "audio/x-raw, format=S16LE, rate=16000, channels=1",
  };
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    GstCaps *caps = gst_caps_from_string (refused[i]);
    fail_if (gst_pad_query_accept_caps (sink, caps), "%s accepted", refused[i]);
    gst_caps_unref (caps);
  }
  GstPad *text = gst_element_get_static_pad (e, "text_src");
  GstCaps *text_caps = gst_pad_query_caps (text, NULL);
  GstCaps *expected = gst_caps_from_string ("text/x-raw, format=utf8");
  fail_unless (gst_caps_is_equal (text_caps, expected));
  gst_caps_unref (text_caps);
  gst_caps_unref (expected);
  gst_object_unref (text);
  gst_object_unref (sink);
  gst_object_unref (e);
}

GST_END_TEST;

/* Same picture in every packed RGB layout gives the same caption; YUV and
 * gray frames of odd sizes are captioned too, and padded strides are read
 * correctly. */
GST_START_TEST (test_all_formats_captioned)
{
  const gchar *rgb_formats[] = {"RGB",  "BGR",  "RGBA", "BGRA", "RGBx",
                                "BGRx", "xRGB", "xBGR", "ARGB", "ABGR"};
  const gint w = 33, h = 17;
  guint8 rgb[33 * 17 * 3];
  gchar *reference = NULL;

  fill_pattern (rgb, sizeof (rgb), 5);
  Fixture *f =
      fixture_new ("models/tiny", FALSE, "interval", (guint64)0, "max-new-tokens", 6, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (rgb_formats) + 3; i++) {
    const gchar *fmt =
        i < G_N_ELEMENTS (rgb_formats)
            ? rgb_formats[i]
            : (const gchar *[]){"GRAY8", "I420", "NV12"}[i - G_N_ELEMENTS (rgb_formats)];
    gchar *caps_str = g_strdup_printf (
        "video/x-raw, format=%s, width=%d, height=%d, "
        "framerate=10/1",
        fmt, w, h);
    GstVideoInfo info;
    GstCaps *caps = gst_caps_from_string (caps_str);
    gst_video_info_from_caps (&info, caps);
    gst_caps_unref (caps);
    gst_harness_set_src_caps_str (f->h, caps_str);

    GstBuffer *buf = make_frame (caps_str, i * GST_SECOND, GST_SECOND, i);
    if (i < G_N_ELEMENTS (rgb_formats)) {
      /* write the same RGB picture in this layout */
      GstVideoFrame frame;
      fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
      guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
      gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
      gint pixel = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, 0);
      for (gint y = 0; y < h; y++) {
        for (gint x = 0; x < w; x++) {
          for (gint c = 0; c < 3; c++) {
            gint offset = GST_VIDEO_FRAME_COMP_OFFSET (&frame, c);
            data[y * stride + x * pixel + offset] = rgb[(y * w + x) * 3 + c];
          }
        }
      }
      gst_video_frame_unmap (&frame);
    }
    gst_harness_push (f->h, buf);
    GstBuffer *out = gst_harness_pull (f->h);
    const GstStructure *s = caption_meta (out);
    fail_unless (s != NULL, "no caption for %s", fmt);
    guint tokens = 0;
    fail_unless (gst_structure_get_uint (s, "token-count", &tokens));
    fail_unless (tokens >= 1 && tokens <= 6);
    if (i < G_N_ELEMENTS (rgb_formats)) {
      const gchar *caption = gst_structure_get_string (s, "caption");
      if (reference == NULL)
        reference = g_strdup (caption);
      else
        fail_unless_equals_string (caption, reference);
    }
    gst_buffer_unref (out);
    g_free (caps_str);
  }

  /* RGB with rows padded to 128 bytes (a GstVideoMeta) reads the same pixels */
  gst_harness_set_src_caps_str (f->h,
                                "video/x-raw, format=RGB, width=33, height=17, "
                                "framerate=10/1");
  gint stride = 128;
  GstBuffer *padded = gst_buffer_new_allocate (NULL, stride * h, NULL);
  GstMapInfo map;
  gst_buffer_map (padded, &map, GST_MAP_WRITE);
  memset (map.data, 0xee, map.size);
  for (gint y = 0; y < h; y++)
    memcpy (map.data + y * stride, rgb + y * w * 3, w * 3);
  gst_buffer_unmap (padded, &map);
  gsize offsets[GST_VIDEO_MAX_PLANES] = {0};
  gint strides[GST_VIDEO_MAX_PLANES] = {stride};
  gst_buffer_add_video_meta_full (padded, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_RGB, w, h, 1,
                                  offsets, strides);
  GST_BUFFER_PTS (padded) = 20 * GST_SECOND;
  gst_harness_push (f->h, padded);
  GstBuffer *out = gst_harness_pull (f->h);
  fail_unless (caption_meta (out) != NULL);
  fail_unless_equals_string (gst_structure_get_string (caption_meta (out), "caption"), reference);
  gst_buffer_unref (out);
  g_free (reference);
  fixture_free (f);
}

GST_END_TEST;

/* Video leaves unchanged: the same buffer object, pixels, PTS, DTS,
 * duration, offsets and flags, whether the frame is sampled or not. */
GST_START_TEST (test_passthrough_identity)
{
  const gchar *caps = "video/x-raw, format=RGB, width=16, height=8, framerate=5/1";
  Fixture *f = fixture_new ("models/tiny", FALSE, "interval", 400 * MS, "max-new-tokens", 4, NULL);
  gst_harness_set_src_caps_str (f->h, caps);

  for (guint i = 0; i < 6; i++) {
    GstBuffer *in = make_frame (caps, i * 200 * MS, 200 * MS, i);
    GST_BUFFER_DTS (in) = i * 200 * MS + 1;
    GST_BUFFER_OFFSET (in) = 100 + i;
    GST_BUFFER_OFFSET_END (in) = 101 + i;
    GstBufferFlags flags =
        (i == 0 ? GST_BUFFER_FLAG_DISCONT : GST_BUFFER_FLAG_DELTA_UNIT) | GST_BUFFER_FLAG_MARKER;
    GST_BUFFER_FLAG_SET (in, flags);
    GstMemory *mem = gst_buffer_peek_memory (in, 0);
    GstBuffer *copy = gst_buffer_copy_deep (in);
    GstBuffer *in_ptr = in;

    gst_harness_push (f->h, in); /* the only reference: writable */
    GstBuffer *out = gst_harness_pull (f->h);
    fail_unless (out == in_ptr, "frame %u: a different buffer came out", i);
    fail_unless (gst_buffer_peek_memory (out, 0) == mem);
    GstMapInfo a, b;
    gst_buffer_map (out, &a, GST_MAP_READ);
    gst_buffer_map (copy, &b, GST_MAP_READ);
    fail_unless (a.size == b.size && memcmp (a.data, b.data, a.size) == 0, "pixels changed");
    gst_buffer_unmap (out, &a);
    gst_buffer_unmap (copy, &b);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * 200 * MS);
    fail_unless_equals_uint64 (GST_BUFFER_DTS (out), i * 200 * MS + 1);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), 200 * MS);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), 100 + i);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (out), 101 + i);
    fail_unless_equals_int (GST_BUFFER_FLAGS (out) & ~GST_BUFFER_FLAG_TAG_MEMORY, flags);
    /* frames 0, 2, 4 are sampled (400 ms grid) and carry exactly one meta */
    fail_unless_equals_int (count_caption_metas (out), i % 2 == 0 ? 1 : 0);
    gst_buffer_unref (copy);
    gst_buffer_unref (out);
  }

  /* a buffer that is not writable still goes out as the same object when no
   * meta is due; a sampled one gets a copy sharing the same memory */
  GstBuffer *in = make_frame (caps, 1100 * MS, 100 * MS, 7); /* before the 1200 ms point */
  GstBuffer *extra_ref = gst_buffer_ref (in);
  gst_harness_push (f->h, in);
  GstBuffer *out = gst_harness_pull (f->h);
  fail_unless (out == extra_ref);
  gst_buffer_unref (out);
  in = make_frame (caps, 1200 * MS, 200 * MS, 8); /* sampled */
  extra_ref = gst_buffer_ref (in);
  gst_harness_push (f->h, in);
  out = gst_harness_pull (f->h);
  fail_unless (caption_meta (out) != NULL);
  fail_unless (caption_meta (extra_ref) == NULL, "the caller's buffer was modified");
  fail_unless (gst_buffer_peek_memory (out, 0) == gst_buffer_peek_memory (extra_ref, 0));
  gst_buffer_unref (out);
  gst_buffer_unref (extra_ref);
  fixture_free (f);
}

GST_END_TEST;

/* Sampling: the first frame at or after each interval grid point, at several
 * frame rates and intervals; counters and messages agree. */
GST_START_TEST (test_sampling)
{
  struct
  {
    gint fps_n, fps_d;
    guint frames;
    GstClockTime interval;
    guint expected;
    GstClockTime pts[8];
  } cases[] = {
      {30, 1, 61, GST_SECOND, 3, {0, GST_SECOND, 2 * GST_SECOND}},
      {25, 1, 50, 500 * MS, 4, {0, 520 * MS, 1000 * MS, 1520 * MS}},
      {15, 2, 7, 200 * MS, 5, {0, 266666666, 400 * MS, 666666666, 800 * MS}},
      {10, 1, 5, 0, 5, {0, 100 * MS, 200 * MS, 300 * MS, 400 * MS}},
      {30000, 1001, 20, 10 * GST_SECOND, 1, {0}},
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    gchar *caps = g_strdup_printf ("video/x-raw, format=RGB, width=8, height=8, framerate=%d/%d",
                                   cases[c].fps_n, cases[c].fps_d);
    Fixture *f = fixture_new ("models/tiny", FALSE, "interval", cases[c].interval, "max-new-tokens",
                              2, NULL);
    GArray *sampled = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
    gst_harness_set_src_caps_str (f->h, caps);
    guint metas =
        push_frames_offline (f, caps, cases[c].fps_n, cases[c].fps_d, cases[c].frames, sampled);
    fail_unless_equals_int (metas, cases[c].expected);
    for (guint i = 0; i < sampled->len; i++)
      fail_unless_equals_uint64 (g_array_index (sampled, GstClockTime, i), cases[c].pts[i]);
    fail_unless_equals_uint64 (get_u64 (f->h->element, "frames-sampled"), cases[c].expected);
    fail_unless_equals_uint64 (get_u64 (f->h->element, "captions"), cases[c].expected);
    fail_unless_equals_uint64 (get_u64 (f->h->element, "frames-skipped"), 0);
    GList *msgs = pop_caption_messages (f->bus);
    fail_unless_equals_int (g_list_length (msgs), cases[c].expected);
    g_list_free_full (msgs, (GDestroyNotify)gst_message_unref);
    g_array_unref (sampled);
    g_free (caps);
    fixture_free (f);
  }
}

GST_END_TEST;

/* Changing the interval while playing re-anchors the grid at the next frame. */
GST_START_TEST (test_interval_change_while_playing)
{
  const gchar *caps = "video/x-raw, format=GRAY8, width=8, height=8, framerate=10/1";
  Fixture *f =
      fixture_new ("models/tiny", FALSE, "interval", GST_SECOND, "max-new-tokens", 2, NULL);
  GArray *sampled = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  gst_harness_set_src_caps_str (f->h, caps);
  push_frames_offline (f, caps, 10, 1, 5, sampled); /* 0 .. 400 ms: 1 sample */
  g_object_set (f->h->element, "interval", 200 * MS, NULL);
  for (guint i = 5; i < 10; i++) {
    gst_harness_push (f->h, make_frame (caps, i * 100 * MS, 100 * MS, i));
    GstBuffer *out = gst_harness_pull (f->h);
    if (caption_meta (out)) {
      GstClockTime pts = GST_BUFFER_PTS (out);
      g_array_append_val (sampled, pts);
    }
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (sampled->len, 4);
  fail_unless_equals_uint64 (g_array_index (sampled, GstClockTime, 1), 500 * MS);
  fail_unless_equals_uint64 (g_array_index (sampled, GstClockTime, 2), 700 * MS);
  fail_unless_equals_uint64 (g_array_index (sampled, GstClockTime, 3), 900 * MS);
  g_array_unref (sampled);
  fixture_free (f);
}

GST_END_TEST;

/* Meta, message, last-caption and the text buffer all carry the same
 * caption; the message adds running and stream time from the segment. */
GST_START_TEST (test_meta_and_message)
{
  const gchar *caps = "video/x-raw, format=RGBx, width=24, height=20, framerate=4/1";
  Fixture *f =
      fixture_new ("models/tiny-coco", FALSE, "interval", 500 * MS, "max-new-tokens", 5, NULL);
  gst_harness_set_src_caps_str (f->h, caps);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = 2 * GST_SECOND;
  segment.time = 7 * GST_SECOND;
  segment.base = 3 * GST_SECOND;
  segment.position = segment.start;
  gst_harness_push_event (f->h, gst_event_new_segment (&segment));

  gst_harness_push (f->h, make_frame (caps, 2250 * MS, 250 * MS, 1));
  GstBuffer *out = gst_harness_pull (f->h);
  const GstStructure *s = caption_meta (out);
  fail_unless (s != NULL);
  fail_unless_equals_uint64 (get_clock (s, "frame-pts"), 2250 * MS);
  /* tiny-coco's checkpoint prompt is used when the property is unset */
  fail_unless_equals_string (gst_structure_get_string (s, "prompt"), "a photo of");
  fail_unless (get_clock (s, "inference-time") > 0);
  guint tokens = 0;
  gdouble score = 1.0;
  fail_unless (gst_structure_get_uint (s, "token-count", &tokens));
  fail_unless (tokens >= 1 && tokens <= 5);
  fail_unless (gst_structure_get_double (s, "score", &score));
  fail_unless (score <= 0.0);
  const gchar *caption = gst_structure_get_string (s, "caption");
  fail_unless (caption != NULL);

  GList *msgs = pop_caption_messages (f->bus);
  fail_unless_equals_int (g_list_length (msgs), 1);
  const GstStructure *m = gst_message_get_structure (msgs->data);
  fail_unless (GST_MESSAGE_SRC (msgs->data) == GST_OBJECT (f->h->element));
  fail_unless_equals_string (gst_structure_get_string (m, "caption"), caption);
  fail_unless_equals_string (gst_structure_get_string (m, "prompt"), "a photo of");
  fail_unless_equals_uint64 (get_clock (m, "frame-pts"), 2250 * MS);
  fail_unless_equals_uint64 (get_clock (m, "inference-time"), get_clock (s, "inference-time"));
  fail_unless_equals_uint64 (get_clock (m, "running-time"), 3250 * MS);
  fail_unless_equals_uint64 (get_clock (m, "stream-time"), 7250 * MS);
  guint msg_tokens = 0;
  fail_unless (gst_structure_get_uint (m, "token-count", &msg_tokens));
  fail_unless_equals_int (msg_tokens, tokens);
  g_list_free_full (msgs, (GDestroyNotify)gst_message_unref);

  gchar *last;
  g_object_get (f->h->element, "last-caption", &last, NULL);
  fail_unless_equals_string (last, caption);
  g_free (last);
  gdouble mean = 0;
  g_object_get (f->h->element, "mean-inference-time", &mean, NULL);
  fail_unless (mean > 0.0);

  /* the text buffer (when the caption is not empty) carries the same text */
  if (caption[0] != '\0') {
    GstBuffer *text = gst_harness_pull (f->text);
    GstMapInfo map;
    gst_buffer_map (text, &map, GST_MAP_READ);
    fail_unless_equals_int (map.size, strlen (caption));
    fail_unless (memcmp (map.data, caption, map.size) == 0);
    gst_buffer_unmap (text, &map);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (text), 2250 * MS);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (text), 500 * MS);
    gst_buffer_unref (text);
  }
  gst_buffer_unref (out);

  /* an explicit prompt replaces the checkpoint's, also while playing */
  g_object_set (f->h->element, "prompt", "", NULL);
  gst_harness_push (f->h, make_frame (caps, 2750 * MS, 250 * MS, 2));
  out = gst_harness_pull (f->h);
  fail_unless_equals_string (gst_structure_get_string (caption_meta (out), "prompt"), "");
  gst_buffer_unref (out);
  fixture_free (f);
}

GST_END_TEST;

/* Walks the recorded text stream: stream-start (sparse), caps, segment, then
 * buffers and gaps that tile the timeline without holes or overlaps up to
 * `end`, then EOS. Returns the caption buffers' PTS in `pts`. */
static void
check_text_stream (
    Fixture *f, const GstSegment *video_segment, GstClockTime end, GArray *pts, GPtrArray *texts)
{
  guint i = 0;
  GstClockTime position = GST_CLOCK_TIME_NONE;
  gboolean seen_start = FALSE, seen_caps = FALSE, seen_segment = FALSE, seen_eos = FALSE;

  g_mutex_lock (&f->lock);
  for (i = 0; i < f->items->len; i++) {
    GstMiniObject *item = g_ptr_array_index (f->items, i);
    fail_if (seen_eos, "data after EOS");
    if (GST_IS_BUFFER (item)) {
      GstBuffer *b = GST_BUFFER (item);
      fail_unless (seen_start && seen_caps && seen_segment, "buffer before sticky events");
      fail_unless (GST_BUFFER_PTS_IS_VALID (b) && GST_BUFFER_DURATION_IS_VALID (b));
      if (GST_CLOCK_TIME_IS_VALID (position))
        fail_unless_equals_uint64 (GST_BUFFER_PTS (b), position);
      position = GST_BUFFER_PTS (b) + GST_BUFFER_DURATION (b);
      GstClockTime p = GST_BUFFER_PTS (b);
      g_array_append_val (pts, p);
      if (texts) {
        GstMapInfo map;
        gst_buffer_map (b, &map, GST_MAP_READ);
        fail_unless (g_utf8_validate ((const gchar *)map.data, map.size, NULL));
        g_ptr_array_add (texts, g_strndup ((const gchar *)map.data, map.size));
        gst_buffer_unmap (b, &map);
      }
      continue;
    }
    GstEvent *e = GST_EVENT (item);
    switch (GST_EVENT_TYPE (e)) {
      case GST_EVENT_STREAM_START: {
        GstStreamFlags flags = 0;
        gst_event_parse_stream_flags (e, &flags);
        fail_unless (flags & GST_STREAM_FLAG_SPARSE, "text stream is not sparse");
        seen_start = TRUE;
        break;
      }
      case GST_EVENT_CAPS: {
        GstCaps *caps;
        gst_event_parse_caps (e, &caps);
        GstCaps *expected = gst_caps_from_string ("text/x-raw, format=utf8");
        fail_unless (gst_caps_is_equal (caps, expected));
        gst_caps_unref (expected);
        fail_unless (seen_start);
        seen_caps = TRUE;
        break;
      }
      case GST_EVENT_SEGMENT: {
        const GstSegment *s;
        gst_event_parse_segment (e, &s);
        fail_unless (s->format == GST_FORMAT_TIME);
        fail_unless_equals_uint64 (s->start, video_segment->start);
        fail_unless_equals_uint64 (s->base, video_segment->base);
        fail_unless_equals_uint64 (s->time, video_segment->time);
        seen_segment = TRUE;
        break;
      }
      case GST_EVENT_GAP: {
        GstClockTime ts, dur;
        gst_event_parse_gap (e, &ts, &dur);
        fail_unless (seen_segment);
        fail_unless (GST_CLOCK_TIME_IS_VALID (ts) && GST_CLOCK_TIME_IS_VALID (dur));
        if (GST_CLOCK_TIME_IS_VALID (position))
          fail_unless_equals_uint64 (ts, position);
        position = ts + dur;
        break;
      }
      case GST_EVENT_EOS:
        seen_eos = TRUE;
        break;
      default:
        break;
    }
  }
  g_mutex_unlock (&f->lock);
  fail_unless (seen_eos, "no EOS on the text stream");
  if (GST_CLOCK_TIME_IS_VALID (end))
    fail_unless (position >= end,
                 "text stream ends at %" GST_TIME_FORMAT " before %" GST_TIME_FORMAT,
                 GST_TIME_ARGS (position), GST_TIME_ARGS (end));
}

/* Offline text stream: sparse stream-start, caps, the video's segment,
 * captions at the sampled PTS lasting until the next sampling point, gaps in
 * between, EOS after the last caption. */
GST_START_TEST (test_text_stream_offline)
{
  const gchar *caps = "video/x-raw, format=I420, width=18, height=10, framerate=25/1";
  Fixture *f = fixture_new ("models/tiny", FALSE, "interval", 500 * MS, "max-new-tokens", 4,
                            "min-new-tokens", 2, NULL);
  GArray *sampled = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  GArray *text_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  GPtrArray *texts = g_ptr_array_new_with_free_func (g_free);
  GstSegment segment;

  gst_harness_set_src_caps_str (f->h, caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  push_frames_offline (f, caps, 25, 1, 50, sampled);
  fail_unless_equals_int (sampled->len, 4);
  gst_harness_push_event (f->h, gst_event_new_eos ());
  fixture_wait_text_eos (f);
  check_text_stream (f, &segment, 2 * GST_SECOND, text_pts, texts);

  /* captions are the message captions, in order, at the sampled PTS */
  GList *msgs = pop_caption_messages (f->bus);
  fail_unless_equals_int (g_list_length (msgs), 4);
  guint t = 0;
  for (GList *l = msgs; l; l = l->next) {
    const GstStructure *m = gst_message_get_structure (l->data);
    const gchar *caption = gst_structure_get_string (m, "caption");
    if (caption[0] == '\0')
      continue; /* an empty caption is a gap */
    fail_unless (t < texts->len);
    fail_unless_equals_string (g_ptr_array_index (texts, t), caption);
    fail_unless_equals_uint64 (g_array_index (text_pts, GstClockTime, t),
                               get_clock (m, "frame-pts"));
    t++;
  }
  fail_unless_equals_int (t, texts->len);
  g_list_free_full (msgs, (GDestroyNotify)gst_message_unref);
  g_array_unref (sampled);
  g_array_unref (text_pts);
  g_ptr_array_unref (texts);
  fixture_free (f);
}

GST_END_TEST;

/* Auto mode follows upstream: offline for a non-live upstream (meta on the
 * sampled frame itself), live for a live one (never on the sampled frame). */
GST_START_TEST (test_auto_mode)
{
  const gchar *caps = "video/x-raw, format=RGB, width=8, height=8, framerate=10/1";
  for (gint live = 0; live <= 1; live++) {
    Fixture *f = fixture_new ("models/tiny", live, "max-new-tokens", 3, NULL);
    gst_harness_set_src_caps_str (f->h, caps);
    gst_harness_push (f->h, make_frame (caps, 0, 100 * MS, 0));
    GstBuffer *out = gst_harness_pull (f->h);
    fail_unless_equals_int (count_caption_metas (out), live ? 0 : 1);
    gst_buffer_unref (out);
    gst_harness_push_event (f->h, gst_event_new_eos ());
    fixture_wait_text_eos (f);
    fail_unless_equals_uint64 (get_u64 (f->h->element, "captions"), 1);
    fixture_free (f);
  }
}

GST_END_TEST;

/* Live mode: the video never waits, results arrive as meta on a later
 * buffer with the sampled frame's PTS, and the text stream keeps the
 * sampled PTS. */
GST_START_TEST (test_live_meta_on_later_buffer)
{
  const gchar *caps = "video/x-raw, format=BGRx, width=8, height=8, framerate=10/1";
  Fixture *f = fixture_new ("models/tiny", TRUE, "mode", 2 /* live */, "max-new-tokens", 3,
                            "min-new-tokens", 1, "latency", 30000, NULL);
  gst_harness_set_src_caps_str (f->h, caps);
  gst_harness_push (f->h, make_frame (caps, 0, 100 * MS, 0));
  GstBuffer *out = gst_harness_pull (f->h);
  fail_unless (caption_meta (out) == NULL);
  gst_buffer_unref (out);

  /* wait for the worker */
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (get_u64 (f->h->element, "captions") < 1 && g_get_monotonic_time () < end)
    g_usleep (2000);
  fail_unless_equals_uint64 (get_u64 (f->h->element, "captions"), 1);

  gst_harness_push (f->h, make_frame (caps, 100 * MS, 100 * MS, 1));
  out = gst_harness_pull (f->h);
  const GstStructure *s = caption_meta (out);
  fail_unless (s != NULL, "the finished caption's meta is not on the next buffer");
  fail_unless_equals_uint64 (get_clock (s, "frame-pts"), 0);
  gst_buffer_unref (out);

  gst_harness_push_event (f->h, gst_event_new_eos ());
  fixture_wait_text_eos (f);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  check_text_stream (f, &segment, 200 * MS, pts, NULL);
  GList *msgs = pop_caption_messages (f->bus);
  fail_unless_equals_int (g_list_length (msgs), 1);
  const gchar *caption =
      gst_structure_get_string (gst_message_get_structure (msgs->data), "caption");
  fail_unless_equals_int (pts->len, caption[0] ? 1 : 0);
  if (pts->len)
    fail_unless_equals_uint64 (g_array_index (pts, GstClockTime, 0), 0);
  g_list_free_full (msgs, (GDestroyNotify)gst_message_unref);
  g_array_unref (pts);
  fixture_free (f);
}

GST_END_TEST;

/* Live mode under load: newer samples replace waiting ones (skipped), every
 * sample is either captioned or skipped, and EOS drains what is pending
 * before the text EOS. */
GST_START_TEST (test_live_skip_and_drain)
{
  const gchar *caps = "video/x-raw, format=RGB, width=32, height=32, framerate=30/1";
  Fixture *f = fixture_new ("models/tiny", TRUE, "mode", 2, "interval", (guint64)0,
                            "max-new-tokens", 6, "latency", 30000, NULL);
  gst_harness_set_src_caps_str (f->h, caps);
  for (guint i = 0; i < 40; i++) {
    GstClockTime pts = gst_util_uint64_scale (i, GST_SECOND, 30);
    gst_harness_push (f->h, make_frame (caps, pts, 33 * MS, i));
    gst_buffer_unref (gst_harness_pull (f->h));
  }
  gst_harness_push_event (f->h, gst_event_new_eos ());
  /* EOS returned: the drain is over, so the counters are final */
  guint64 sampled = get_u64 (f->h->element, "frames-sampled");
  guint64 captions = get_u64 (f->h->element, "captions");
  guint64 skipped = get_u64 (f->h->element, "frames-skipped");
  fail_unless_equals_uint64 (sampled, 40);
  fail_unless_equals_uint64 (captions + skipped, 40);
  fail_unless (skipped >= 1, "no frame was skipped while the model was busy");
  fail_unless (captions >= 1);

  fixture_wait_text_eos (f);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  check_text_stream (f, &segment, gst_util_uint64_scale (40, GST_SECOND, 30) - 10 * MS, pts, NULL);
  GList *msgs = pop_caption_messages (f->bus);
  fail_unless_equals_int (g_list_length (msgs), captions);
  /* the last sampled frame is never skipped: EOS waited for it */
  const GstStructure *last = gst_message_get_structure (g_list_last (msgs)->data);
  fail_unless_equals_uint64 (get_clock (last, "frame-pts"),
                             gst_util_uint64_scale (39, GST_SECOND, 30));
  g_list_free_full (msgs, (GDestroyNotify)gst_message_unref);
  g_array_unref (pts);
  fixture_free (f);
}

GST_END_TEST;

/* Live mode with a latency shorter than inference: one WARNING on the bus,
 * the text stream stops waiting for late captions (gaps) and still tiles the
 * timeline, late captions moved to the text position. */
GST_START_TEST (test_live_latency_exceeded)
{
  const gchar *caps = "video/x-raw, format=RGB, width=16, height=16, framerate=30/1";
  Fixture *f = fixture_new ("models/tiny", TRUE, "mode", 2, "interval", 100 * MS, "max-new-tokens",
                            8, "latency", 0, NULL);
  gst_harness_set_src_caps_str (f->h, caps);
  for (guint i = 0; i < 30; i++) {
    GstClockTime pts = gst_util_uint64_scale (i, GST_SECOND, 30);
    gst_harness_push (f->h, make_frame (caps, pts, 33 * MS, i));
    gst_buffer_unref (gst_harness_pull (f->h));
    g_usleep (2000);
  }
  gst_harness_push_event (f->h, gst_event_new_eos ());
  fixture_wait_text_eos (f);

  guint warnings = 0;
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (f->bus, GST_MESSAGE_WARNING))) {
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, "latency") != NULL, "warning: %s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    warnings++;
  }
  fail_unless_equals_int (warnings, 1);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  check_text_stream (f, &segment, gst_util_uint64_scale (29, GST_SECOND, 30), pts, NULL);
  fail_unless (get_u64 (f->h->element, "captions") >= 1);
  g_array_unref (pts);
  fixture_free (f);
}

GST_END_TEST;

/* The LATENCY query adds the latency property when upstream is live, on both
 * source pads, and nothing otherwise. */
GST_START_TEST (test_latency_query)
{
  for (gint live = 0; live <= 1; live++) {
    Fixture *f = fixture_new ("models/tiny", live, "latency", 1500, NULL);
    gst_harness_set_src_caps_str (f->h,
                                  "video/x-raw, format=RGB, width=8, height=8, framerate=10/1");
    fail_unless_equals_uint64 (gst_harness_query_latency (f->h), live ? 1500 * MS : 0);
    GstQuery *q = gst_query_new_latency ();
    fail_unless (gst_pad_peer_query (f->text->sinkpad, q));
    gboolean is_live;
    GstClockTime min, max;
    gst_query_parse_latency (q, &is_live, &min, &max);
    fail_unless_equals_int (is_live, live);
    fail_unless_equals_uint64 (min, live ? 1500 * MS : 0);
    gst_query_unref (q);
    fixture_free (f);
  }
}

GST_END_TEST;

/* A flush forwards FLUSH_START/STOP on text_src, drops what was pending (no
 * caption of a frame from before the flush comes after it) and the stream
 * goes on with the new segment. */
GST_START_TEST (test_flush)
{
  const gchar *caps = "video/x-raw, format=NV12, width=16, height=16, framerate=10/1";
  for (gint mode = 1; mode <= 2; mode++) {
    Fixture *f = fixture_new ("models/tiny", mode == 2, "mode", mode, "interval", (guint64)0,
                              "max-new-tokens", 8, "latency", 30000, NULL);
    gst_harness_set_src_caps_str (f->h, caps);
    for (guint i = 0; i < 5; i++) {
      gst_harness_push (f->h, make_frame (caps, i * 100 * MS, 100 * MS, i));
      gst_buffer_unref (gst_harness_pull (f->h));
    }
    fail_unless (gst_harness_push_event (f->h, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (f->h, gst_event_new_flush_stop (TRUE)));
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    segment.start = 10 * GST_SECOND;
    segment.time = 10 * GST_SECOND;
    fail_unless (gst_harness_push_event (f->h, gst_event_new_segment (&segment)));
    for (guint i = 0; i < 3; i++) {
      gst_harness_push (f->h, make_frame (caps, 10 * GST_SECOND + i * 100 * MS, 100 * MS, i));
      gst_buffer_unref (gst_harness_pull (f->h));
    }
    gst_harness_push_event (f->h, gst_event_new_eos ());
    fixture_wait_text_eos (f);

    gboolean after_stop = FALSE, saw_start = FALSE, segment_after = FALSE;
    guint items_after = 0;
    g_mutex_lock (&f->lock);
    for (guint i = 0; i < f->items->len; i++) {
      GstMiniObject *item = g_ptr_array_index (f->items, i);
      if (GST_IS_EVENT (item)) {
        GstEventType type = GST_EVENT_TYPE (item);
        if (type == GST_EVENT_FLUSH_START)
          saw_start = TRUE;
        if (type == GST_EVENT_FLUSH_STOP) {
          fail_unless (saw_start);
          after_stop = TRUE;
        }
        if (after_stop && type == GST_EVENT_SEGMENT)
          segment_after = TRUE;
        if (after_stop && type == GST_EVENT_GAP) {
          GstClockTime ts;
          gst_event_parse_gap (GST_EVENT (item), &ts, NULL);
          fail_unless (ts >= 10 * GST_SECOND, "gap from before the flush");
          items_after++;
        }
      } else if (after_stop) {
        fail_unless (GST_BUFFER_PTS (item) >= 10 * GST_SECOND, "caption from before the flush");
        items_after++;
      }
    }
    g_mutex_unlock (&f->lock);
    fail_unless (saw_start && after_stop && segment_after);
    fail_unless (items_after >= 1, "nothing on the text stream after the flush");
    fixture_free (f);
  }
}

GST_END_TEST;

/* Caps may change mid-stream (size and format); captions keep coming. */
GST_START_TEST (test_renegotiation)
{
  const gchar *caps[] = {
      "video/x-raw, format=RGB, width=32, height=24, framerate=10/1",
      "video/x-raw, format=I420, width=47, height=35, framerate=10/1",
      "video/x-raw, format=GRAY8, width=5, height=90, framerate=10/1",
      "video/x-raw, format=ARGB, width=64, height=64, framerate=10/1",
  };
  Fixture *f =
      fixture_new ("models/tiny", FALSE, "interval", (guint64)0, "max-new-tokens", 3, NULL);
  guint n = 0;
  for (guint c = 0; c < G_N_ELEMENTS (caps); c++) {
    gst_harness_set_src_caps_str (f->h, caps[c]);
    for (guint i = 0; i < 2; i++, n++) {
      gst_harness_push (f->h, make_frame (caps[c], n * 100 * MS, 100 * MS, n));
      GstBuffer *out = gst_harness_pull (f->h);
      fail_unless (caption_meta (out) != NULL, "no caption after caps %s", caps[c]);
      gst_buffer_unref (out);
    }
  }
  fail_unless_equals_uint64 (get_u64 (f->h->element, "captions"), n);
  fixture_free (f);
}

GST_END_TEST;

static GstMessage *
run_to_eos (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstMessage *msg =
      gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  fail_unless (msg != NULL, "no EOS within 60 s");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *debug = NULL;
    gst_message_parse_error (msg, &err, &debug);
    fail ("error: %s (%s)", err->message, debug);
  }
  return msg;
}

static void
count_handoff (GstElement *sink G_GNUC_UNUSED,
               GstBuffer *buf G_GNUC_UNUSED,
               GstPad *pad G_GNUC_UNUSED,
               gpointer user_data)
{
  g_atomic_int_inc ((gint *)user_data);
}

/* With text_src unlinked the video still flows to the end. */
GST_START_TEST (test_unlinked_text_pad)
{
  gchar *model = fixture_path ("models/tiny");
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=30 ! video/x-raw,width=32,height=24,"
      "framerate=30/1 ! blip2caption name=c model=\"%s\" device=cpu interval=250000000 "
      "max-new-tokens=3 ! fakesink name=sink signal-handoffs=true sync=false",
      model);
  gint frames = 0;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (count_handoff), &frames);
  gst_message_unref (run_to_eos (p));
  fail_unless_equals_int (g_atomic_int_get (&frames), 30);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  fail_unless_equals_uint64 (get_u64 (c, "captions"), 4);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (c);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (model);
}

GST_END_TEST;

/* NULL -> PLAYING -> EOS -> NULL several times, with a linked text branch
 * that must preroll on the sparse stream; counters restart each time. */
GST_START_TEST (test_state_changes_loop)
{
  gchar *model = fixture_path ("models/tiny");
  GstElement *p = parse_pipeline (
      "videotestsrc num-buffers=4 ! video/x-raw,width=16,height=16 "
      "! blip2caption name=c model=\"%s\" device=cpu interval=0 max-new-tokens=2 ! fakesink "
      "c.text_src ! queue ! fakesink name=text",
      model);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  for (guint i = 0; i < 4; i++) {
    fail_unless (gst_element_set_state (p, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
    fail_unless (gst_element_set_state (p, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
    gst_message_unref (run_to_eos (p));
    fail_unless_equals_uint64 (get_u64 (c, "captions"), 4);
    fail_unless (gst_element_set_state (p, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  }
  /* and going down from PLAYING while frames flow */
  for (guint i = 0; i < 3; i++) {
    fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    g_usleep (20000);
    fail_unless (gst_element_set_state (p, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  }
  gst_object_unref (c);
  gst_object_unref (p);
  g_free (model);
}

GST_END_TEST;

/* Expects READY->PAUSED to fail with an ERROR in `domain`/`code` whose
 * message names `needle`; NULL<->READY still works. */
static void
expect_load_failure (const gchar *model, GQuark domain, gint code, const gchar *needle)
{
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", model, "device", "cpu", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message for %s", model);
  GError *err = NULL;
  gchar *debug = NULL;
  gst_message_parse_error (msg, &err, &debug);
  GST_INFO ("error for %s: %s (%s)", model, err->message, debug);
  fail_unless (err->domain == domain, "domain %s", g_quark_to_string (err->domain));
  if (code >= 0)
    fail_unless_equals_int (err->code, code);
  fail_unless (strstr (err->message, needle) != NULL, "'%s' does not name '%s'", err->message,
               needle);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  fail_unless (gst_element_set_state (e, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (e);
}

/* A missing folder, an unknown repo id and a broken checkpoint fail the
 * state change with an error naming the model. */
GST_START_TEST (test_bad_model)
{
  gchar *cache = g_dir_make_tmp ("blip2-hf-XXXXXX", NULL);
  g_setenv ("HF_HUB_CACHE", cache, TRUE);
  expect_load_failure ("/nonexistent/blip2-missing", GST_RESOURCE_ERROR,
                       GST_RESOURCE_ERROR_NOT_FOUND, "/nonexistent/blip2-missing");
  expect_load_failure ("Salesforce/blip2-opt-2.7b-coco", GST_RESOURCE_ERROR,
                       GST_RESOURCE_ERROR_NOT_FOUND, "Salesforce/blip2-opt-2.7b-coco");

  /* the tiny checkpoint with a corrupt config.json */
  gchar *tiny = fixture_path ("models/tiny");
  gchar *broken = g_dir_make_tmp ("blip2-broken-XXXXXX", NULL);
  gchar *config = g_build_filename (broken, "config.json", NULL);
  GDir *dir = g_dir_open (tiny, 0, NULL);
  const gchar *name;
  GPtrArray *links = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir))) {
    if (g_str_equal (name, "config.json"))
      continue;
    gchar *target = g_build_filename (tiny, name, NULL);
    gchar *link = g_build_filename (broken, name, NULL);
    fail_unless (symlink (target, link) == 0);
    g_ptr_array_add (links, link);
    g_free (target);
  }
  g_dir_close (dir);
  fail_unless (g_file_set_contents (config, "{ \"model_type\": ", -1, NULL));
  expect_load_failure (broken, GST_LIBRARY_ERROR, -1, broken);
  g_unlink (config);
  for (guint i = 0; i < links->len; i++)
    g_unlink (g_ptr_array_index (links, i));
  g_ptr_array_unref (links);
  g_free (tiny);
  /* an empty folder */
  expect_load_failure (broken, GST_RESOURCE_ERROR, -1, broken);
  g_rmdir (broken);
  g_rmdir (cache);
  g_unsetenv ("HF_HUB_CACHE");
  g_free (config);
  g_free (broken);
  g_free (cache);
}

GST_END_TEST;

/* A repo id is found in the Hugging Face cache (refs/main -> snapshot). */
GST_START_TEST (test_repo_id_from_cache)
{
  gchar *cache = g_dir_make_tmp ("blip2-hf-XXXXXX", NULL);
  gchar *snapshots = g_build_filename (cache, "models--blip2-test--tiny", "snapshots", NULL);
  gchar *refs = g_build_filename (cache, "models--blip2-test--tiny", "refs", NULL);
  gchar *snapshot = g_build_filename (snapshots, "0123abcd", NULL);
  gchar *main_ref = g_build_filename (refs, "main", NULL);
  gchar *tiny = fixture_path ("models/tiny");
  g_mkdir_with_parents (snapshots, 0755);
  g_mkdir_with_parents (refs, 0755);
  fail_unless (symlink (tiny, snapshot) == 0);
  fail_unless (g_file_set_contents (main_ref, "0123abcd", -1, NULL));
  g_setenv ("HF_HUB_CACHE", cache, TRUE);

  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  g_object_set (e, "model", "blip2-test/tiny", "device", "cpu", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  GstStructure *info = NULL;
  g_object_get (e, "model-info", &info, NULL);
  fail_unless (info != NULL);
  fail_unless (gst_structure_has_name (info, "blip2-model"));
  fail_unless_equals_string (gst_structure_get_string (info, "path"), snapshot);
  fail_unless_equals_string (gst_structure_get_string (info, "model"), "blip2-test/tiny");
  gint size = 0;
  fail_unless (gst_structure_get_int (info, "image-size", &size));
  fail_unless_equals_int (size, 56);
  gst_structure_free (info);
  gst_element_set_state (e, GST_STATE_NULL);

  /* without refs/main the only snapshot is used; HF_HOME/hub is the cache
   * when HF_HUB_CACHE is unset */
  g_unlink (main_ref);
  g_unsetenv ("HF_HUB_CACHE");
  gchar *home = g_dir_make_tmp ("blip2-hfhome-XXXXXX", NULL);
  gchar *hub = g_build_filename (home, "hub", NULL);
  fail_unless (symlink (cache, hub) == 0);
  g_setenv ("HF_HOME", home, TRUE);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  g_object_get (e, "model-info", &info, NULL);
  gchar *expected =
      g_build_filename (hub, "models--blip2-test--tiny", "snapshots", "0123abcd", NULL);
  fail_unless_equals_string (gst_structure_get_string (info, "path"), expected);
  gst_structure_free (info);
  g_free (expected);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  g_unsetenv ("HF_HOME");
  g_unlink (hub);
  g_rmdir (home);
  g_free (hub);
  g_free (home);

  g_unlink (snapshot);
  g_unlink (main_ref);
  g_rmdir (snapshots);
  g_rmdir (refs);
  gchar *repo = g_path_get_dirname (snapshots);
  g_rmdir (repo);
  g_rmdir (cache);
  g_free (repo);
  g_free (cache);
  g_free (snapshots);
  g_free (refs);
  g_free (snapshot);
  g_free (main_ref);
  g_free (tiny);
}

GST_END_TEST;

/* `revision` picks a snapshot of a repo id through refs/<revision>; a
 * revision that is not cached fails the state change with the hf download
 * command that would fetch it. */
static gchar *
model_info_path (GstElement *e, gint *image_size)
{
  GstStructure *info = NULL;
  g_object_get (e, "model-info", &info, NULL);
  fail_unless (info != NULL);
  gchar *path = g_strdup (gst_structure_get_string (info, "path"));
  fail_unless (gst_structure_get_int (info, "image-size", image_size));
  gst_structure_free (info);
  return path;
}

GST_START_TEST (test_revision_from_cache)
{
  gchar *cache = g_dir_make_tmp ("blip2-hf-XXXXXX", NULL);
  gchar *snapshots = g_build_filename (cache, "models--blip2-test--tiny", "snapshots", NULL);
  gchar *refs = g_build_filename (cache, "models--blip2-test--tiny", "refs", NULL);
  gchar *main_snapshot = g_build_filename (snapshots, "aaaa", NULL);
  gchar *v1_snapshot = g_build_filename (snapshots, "bbbb", NULL);
  gchar *main_ref = g_build_filename (refs, "main", NULL);
  gchar *v1_ref = g_build_filename (refs, "v1", NULL);
  gchar *tiny = fixture_path ("models/tiny");
  gchar *coco = fixture_path ("models/tiny-coco");
  g_mkdir_with_parents (snapshots, 0755);
  g_mkdir_with_parents (refs, 0755);
  fail_unless (symlink (tiny, main_snapshot) == 0);
  fail_unless (symlink (coco, v1_snapshot) == 0);
  fail_unless (g_file_set_contents (main_ref, "aaaa", -1, NULL));
  fail_unless (g_file_set_contents (v1_ref, "bbbb", -1, NULL));
  g_setenv ("HF_HUB_CACHE", cache, TRUE);

  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", "blip2-test/tiny", "revision", "v1", "device", "cpu", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  gint size = 0;
  gchar *path = model_info_path (e, &size);
  fail_unless_equals_string (path, v1_snapshot);
  fail_unless_equals_int (size, 364);
  g_free (path);
  gst_element_set_state (e, GST_STATE_NULL);

  g_object_set (e, "revision", "v9", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gchar *debug = NULL;
  gst_message_parse_error (msg, &err, &debug);
  gchar *both = g_strconcat (err->message, " ", debug ? debug : "", NULL);
  fail_unless (strstr (both, "hf download blip2-test/tiny --revision v9") != NULL,
               "'%s' gives no download command", both);
  g_free (both);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (e);

  g_unsetenv ("HF_HUB_CACHE");
  g_unlink (main_snapshot);
  g_unlink (v1_snapshot);
  g_unlink (main_ref);
  g_unlink (v1_ref);
  g_rmdir (snapshots);
  g_rmdir (refs);
  gchar *repo = g_path_get_dirname (snapshots);
  g_rmdir (repo);
  g_rmdir (cache);
  g_free (repo);
  g_free (tiny);
  g_free (coco);
  g_free (main_ref);
  g_free (v1_ref);
  g_free (main_snapshot);
  g_free (v1_snapshot);
  g_free (snapshots);
  g_free (refs);
  g_free (cache);
}

GST_END_TEST;

/* Going to PAUSED posts GST_MESSAGE_PROGRESS "load": START, then CONTINUE
 * while the weights load, then COMPLETE (or ERROR when the model cannot be
 * loaded). Checks the next progress message; returns its percent (its
 * "percent" field, which a CONTINUE also gives in its text). */
static gint
expect_progress (GstBus *bus, GstProgressType want)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_PROGRESS);
  fail_unless (msg != NULL, "no progress message of type %d", want);
  GstProgressType type;
  gchar *code = NULL;
  gchar *text = NULL;
  gst_message_parse_progress (msg, &type, &code, &text);
  fail_unless_equals_int (type, want);
  fail_unless_equals_string (code, "load");
  fail_unless (text != NULL && *text != '\0');
  gint percent = -1;
  fail_unless (gst_structure_get_int (gst_message_get_structure (msg), "percent", &percent));
  if (type == GST_PROGRESS_TYPE_CONTINUE) {
    gchar *said = g_strdup_printf ("loading model: %d%% (", percent);
    fail_unless (g_str_has_prefix (text, said), "'%s' does not start with '%s'", text, said);
    g_free (said);
  }
  g_free (code);
  g_free (text);
  gst_message_unref (msg);
  return percent;
}

/* START, at least one CONTINUE with a growing percent ending at 100, then
 * COMPLETE, and no other progress message. */
static void
expect_load_progress_complete (GstBus *bus)
{
  GstBus *progress = gst_bus_new ();
  GstMessage *msg;
  guint continues = 0;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_PROGRESS)) != NULL) {
    GstProgressType type;
    gst_message_parse_progress (msg, &type, NULL, NULL);
    if (type == GST_PROGRESS_TYPE_CONTINUE)
      continues++;
    gst_bus_post (progress, msg);
  }
  fail_unless (continues >= 1, "no CONTINUE");
  expect_progress (progress, GST_PROGRESS_TYPE_START);
  gint last = -1;
  for (guint i = 0; i < continues; i++) {
    gint percent = expect_progress (progress, GST_PROGRESS_TYPE_CONTINUE);
    fail_unless (percent > last && percent <= 100, "percent %d after %d", percent, last);
    last = percent;
  }
  fail_unless_equals_int (last, 100);
  fail_unless_equals_int (expect_progress (progress, GST_PROGRESS_TYPE_COMPLETE), 100);
  fail_unless (gst_bus_pop (progress) == NULL, "a progress message after COMPLETE");
  gst_bus_set_flushing (progress, TRUE);
  gst_object_unref (progress);
}

GST_START_TEST (test_load_progress)
{
  gchar *tiny = fixture_path ("models/tiny");
  GstElement *e = gst_element_factory_make ("blip2caption", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", tiny, "device", "cpu", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  expect_load_progress_complete (bus);
  /* a second element sharing the loaded model reports it loaded at once */
  GstElement *second = gst_element_factory_make ("blip2caption", NULL);
  GstBus *second_bus = gst_bus_new ();
  gst_element_set_bus (second, second_bus);
  g_object_set (second, "model", tiny, "device", "cpu", NULL);
  fail_unless (gst_element_set_state (second, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  expect_load_progress_complete (second_bus);
  gst_element_set_state (second, GST_STATE_NULL);
  gst_bus_set_flushing (second_bus, TRUE);
  gst_object_unref (second_bus);
  gst_object_unref (second);
  gst_element_set_state (e, GST_STATE_NULL);

  g_object_set (e, "model", "/nonexistent/blip2-missing", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  expect_progress (bus, GST_PROGRESS_TYPE_START);
  expect_progress (bus, GST_PROGRESS_TYPE_ERROR);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (e);
  g_free (tiny);
}

GST_END_TEST;

/* json-location: in a real pipeline, one JSON object per caption and line,
 * with the frame's times and the caption's values. */
GST_START_TEST (test_json_lines)
{
  gchar *tiny = fixture_path ("models/tiny");
  gchar *dir = g_dir_make_tmp ("blip2-jsonl-XXXXXX", NULL);
  gchar *file = g_build_filename (dir, "captions.jsonl", NULL);
  GstElement *pipeline = parse_pipeline (
      "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=64,height=48,framerate=1/1 ! "
      "blip2caption model=%s device=cpu mode=offline interval=0 max-new-tokens=4 "
      "json-location=%s ! fakesink",
      tiny, file);
  GstMessage *eos = run_to_eos (pipeline);
  gst_message_unref (eos);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  gchar *contents = NULL;
  fail_unless (g_file_get_contents (file, &contents, NULL, NULL));
  gchar **lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 4);  /* 3 lines + the empty rest */
  fail_unless_equals_string (lines[3], "");
  for (guint i = 0; i < 3; i++) {
    gchar *pts = g_strdup_printf ("\"pts\":%" G_GUINT64_FORMAT ",", (guint64)i * GST_SECOND);
    gchar *duration = g_strdup_printf ("\"duration\":%" G_GUINT64_FORMAT ",", GST_SECOND);
    fail_unless (g_str_has_prefix (lines[i], "{") && g_str_has_suffix (lines[i], "}"), "%s",
                 lines[i]);
    fail_unless (strstr (lines[i], pts) != NULL, "%s has no %s", lines[i], pts);
    fail_unless (strstr (lines[i], duration) != NULL, "%s has no %s", lines[i], duration);
    for (const gchar *const *key = (const gchar *const[]){"\"running-time\":", "\"stream-time\":",
                                                          "\"caption\":\"", "\"score\":-",
                                                          "\"prompt\":\"\"", "\"token-count\":",
                                                          "\"inference-time\":", NULL};
         *key; key++)
      fail_unless (strstr (lines[i], *key) != NULL, "%s has no %s", lines[i], *key);
    g_free (pts);
    g_free (duration);
  }
  g_strfreev (lines);
  g_free (contents);
  g_unlink (file);
  g_rmdir (dir);
  g_free (file);
  g_free (dir);
  g_free (tiny);
}

GST_END_TEST;

/* caption-now: with an interval longer than the clip only the first frame is
 * sampled; the signal, emitted just before the frame at 2 s reaches the
 * element, has that frame captioned too. */
static GstPadProbeReturn
request_at_two_seconds (GstPad *pad G_GNUC_UNUSED, GstPadProbeInfo *info, gpointer element)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (GST_BUFFER_PTS (buf) == 2 * GST_SECOND)
    g_signal_emit_by_name (element, "caption-now");
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_caption_now)
{
  gchar *tiny = fixture_path ("models/tiny");
  gchar *dir = g_dir_make_tmp ("blip2-now-XXXXXX", NULL);
  gchar *file = g_build_filename (dir, "captions.jsonl", NULL);
  GstElement *pipeline = parse_pipeline (
      "videotestsrc num-buffers=5 ! video/x-raw,format=RGB,width=64,height=48,framerate=1/1 ! "
      "blip2caption name=c model=%s device=cpu mode=offline interval=100000000000 "
      "max-new-tokens=3 json-location=%s ! fakesink",
      tiny, file);
  GstElement *c = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstPad *sink = gst_element_get_static_pad (c, "sink");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, request_at_two_seconds, c, NULL);
  GstMessage *eos = run_to_eos (pipeline);
  gst_message_unref (eos);
  guint64 captions = 0;
  g_object_get (c, "captions", &captions, NULL);
  fail_unless_equals_int ((gint)captions, 2);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  gchar *contents = NULL;
  fail_unless (g_file_get_contents (file, &contents, NULL, NULL));
  gchar **lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 3);  /* 2 lines + the empty rest */
  fail_unless (g_str_has_prefix (lines[0], "{\"pts\":0,"), "%s", lines[0]);
  gchar *two = g_strdup_printf ("{\"pts\":%" G_GUINT64_FORMAT ",", 2 * GST_SECOND);
  fail_unless (g_str_has_prefix (lines[1], two), "%s", lines[1]);
  g_free (two);
  g_strfreev (lines);
  g_free (contents);
  g_unlink (file);
  g_rmdir (dir);
  g_free (file);
  g_free (dir);
  gst_object_unref (sink);
  gst_object_unref (c);
  gst_object_unref (pipeline);
  g_free (tiny);
}

GST_END_TEST;

static guint64
model_instance (GstElement *e, gchar **path)
{
  GstStructure *s = NULL;
  guint64 instance = 0;
  g_object_get (e, "model-info", &s, NULL);
  fail_unless (s != NULL);
  fail_unless (gst_structure_get_uint64 (s, "instance", &instance));
  if (path)
    *path = g_strdup (gst_structure_get_string (s, "path"));
  gst_structure_free (s);
  return instance;
}

/* Two elements with the same (model, device, dtype) share one loaded model;
 * another checkpoint is another model. */
GST_START_TEST (test_shared_model)
{
  gchar *tiny = fixture_path ("models/tiny");
  gchar *coco = fixture_path ("models/tiny-coco");
  GstElement *a = gst_element_factory_make ("blip2caption", NULL);
  GstElement *b = gst_element_factory_make ("blip2caption", NULL);
  GstElement *c = gst_element_factory_make ("blip2caption", NULL);
  g_object_set (a, "model", tiny, "device", "cpu", "dtype", 1, NULL);
  g_object_set (b, "model", tiny, "device", "cpu", "dtype", 1, NULL);
  g_object_set (c, "model", coco, "device", "cpu", "dtype", 1, NULL);
  for (GstElement **e = (GstElement *[]){a, b, c, NULL}; *e; e++)
    fail_unless (gst_element_set_state (*e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  gchar *path_a, *path_c;
  guint64 ia = model_instance (a, &path_a), ib = model_instance (b, NULL),
          ic = model_instance (c, &path_c);
  fail_unless (ia != 0);
  fail_unless_equals_uint64 (ia, ib);
  fail_if (ia == ic);
  fail_unless_equals_string (path_a, tiny);
  fail_unless_equals_string (path_c, coco);
  for (GstElement **e = (GstElement *[]){a, b, c, NULL}; *e; e++) {
    gst_element_set_state (*e, GST_STATE_NULL);
    gst_object_unref (*e);
  }
  g_free (path_a);
  g_free (path_c);
  g_free (tiny);
  g_free (coco);
}

GST_END_TEST;

/* quantize=int8: the model loads in bfloat16 with int8 weights (model-info
 * says so) and captions; it is not shared with the same checkpoint unquantized;
 * quantize can only change in NULL or READY. */
GST_START_TEST (test_quantize_int8)
{
  Fixture *f = fixture_new ("models/tiny", FALSE, "quantize", 1, "device", "cpu", "interval",
                            (guint64)0, "max-new-tokens", 4, NULL);
  const gchar *caps = "video/x-raw, format=RGB, width=16, height=16, framerate=10/1";
  gst_harness_set_src_caps_str (f->h, caps);
  gst_buffer_unref (gst_harness_push_and_pull (f->h, make_frame (caps, 0, 100 * MS, 1)));
  fail_unless_equals_uint64 (get_u64 (f->h->element, "captions"), 1);

  GstStructure *info = NULL;
  g_object_get (f->h->element, "model-info", &info, NULL);
  fail_unless (info != NULL);
  fail_unless_equals_string (gst_structure_get_string (info, "dtype"), "bfloat16");
  fail_unless_equals_string (gst_structure_get_string (info, "quantize"), "int8");
  guint64 quantized = 0;
  fail_unless (gst_structure_get_uint64 (info, "instance", &quantized));
  gst_structure_free (info);

  gchar *tiny = fixture_path ("models/tiny");
  GstElement *plain = gst_element_factory_make ("blip2caption", NULL);
  g_object_set (plain, "model", tiny, "device", "cpu", "dtype", 3, NULL);
  fail_unless (gst_element_set_state (plain, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  g_object_get (plain, "model-info", &info, NULL);
  fail_unless_equals_string (gst_structure_get_string (info, "quantize"), "none");
  fail_if (model_instance (plain, NULL) == quantized);
  gst_structure_free (info);
  gst_element_set_state (plain, GST_STATE_NULL);
  gst_object_unref (plain);
  g_free (tiny);

  gint quantize = 0;
  ASSERT_WARNING (g_object_set (f->h->element, "quantize", 0, NULL));
  g_object_get (f->h->element, "quantize", &quantize, NULL);
  fail_unless_equals_int (quantize, 1);
  fixture_free (f);
}

GST_END_TEST;

static Suite *
blip2caption_suite (void)
{
  Suite *s = suite_create ("blip2caption");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_property_defaults);
  tcase_add_test (tc, test_bad_property_values);
  tcase_add_test (tc, test_mutability);
  tcase_add_test (tc, test_caps_accepted);
  tcase_add_test (tc, test_all_formats_captioned);
  tcase_add_test (tc, test_passthrough_identity);
  tcase_add_test (tc, test_sampling);
  tcase_add_test (tc, test_interval_change_while_playing);
  tcase_add_test (tc, test_meta_and_message);
  tcase_add_test (tc, test_text_stream_offline);
  tcase_add_test (tc, test_auto_mode);
  tcase_add_test (tc, test_live_meta_on_later_buffer);
  tcase_add_test (tc, test_live_skip_and_drain);
  tcase_add_test (tc, test_live_latency_exceeded);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_flush);
  tcase_add_test (tc, test_renegotiation);
  tcase_add_test (tc, test_unlinked_text_pad);
  tcase_add_test (tc, test_state_changes_loop);
  tcase_add_test (tc, test_bad_model);
  tcase_add_test (tc, test_repo_id_from_cache);
  tcase_add_test (tc, test_revision_from_cache);
  tcase_add_test (tc, test_load_progress);
  tcase_add_test (tc, test_json_lines);
  tcase_add_test (tc, test_caption_now);
  tcase_add_test (tc, test_shared_model);
  tcase_add_test (tc, test_quantize_int8);
  return s;
}

GST_CHECK_MAIN (blip2caption);
