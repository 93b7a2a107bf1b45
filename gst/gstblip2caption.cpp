// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors

/**
 * SECTION:element-blip2caption
 * @title: blip2caption
 * @short_description: Captions sampled video frames with BLIP-2 OPT
 *
 * blip2caption passes raw video through unchanged (the same buffers, with
 * their timestamps and flags) and captions one frame every #GstBlip2Caption:interval
 * of stream time, or whenever the picture changes, with a BLIP-2 OPT
 * checkpoint (Hugging Face layout, e.g. `Salesforce/blip2-opt-2.7b-coco`).
 * Each caption comes out three ways:
 *
 * * on the `text_src` pad, as a sparse `text/x-raw, format=utf8` subtitle
 *   stream: cues with the captioned frame's PTS lasting up to the next
 *   caption, GAP events while there is no caption, EOS after the last one.
 *   It feeds `textoverlay`, `srtenc`, `webvttenc` and `matroskamux`; it may
 *   stay unlinked.
 * * as a `GstCustomMeta` named "Blip2CaptionMeta" on a video buffer; its
 *   structure has the fields `caption` (string), `frame-pts` (guint64, ns),
 *   `prompt` (string), `inference-time` (guint64, ns), `token-count` (guint),
 *   `score` (gdouble, mean log-probability) and `batch-size` (guint, the
 *   images captioned in the same model call; see Batching). Read it with
 *   gst_buffer_get_custom_meta (buffer, "Blip2CaptionMeta") and
 *   gst_custom_meta_get_structure (); from Python,
 *   `buffer.get_custom_meta ("Blip2CaptionMeta").get_structure ()`.
 * * as an element message named `blip2caption` on the bus, with the same
 *   fields plus `running-time` and `stream-time` of the captioned frame.
 *
 * ## Sampling
 *
 * With #GstBlip2Caption:sampling=clock (the default) the first frame at or
 * after each point of a grid of #GstBlip2Caption:interval is captioned.
 * With sampling=change a frame is captioned when the picture changes: the
 * first frame, then a frame whose 16x16 luma thumbnail differs from the last
 * captioned frame's by at least #GstBlip2Caption:change-threshold, never
 * sooner than #GstBlip2Caption:min-interval and never later than
 * #GstBlip2Caption:interval after the last caption. The test reads at most
 * 65536 pixels of a frame, and none of a frame sooner than min-interval.
 * Frames tested and found unchanged are counted in
 * #GstBlip2Caption:frames-unchanged, apart from the frames skipped while the
 * model was busy. The bus message's `trigger` field says why a frame was
 * captioned: "clock", "first", "change" or "max-gap".
 *
 * ## Subtitle text
 *
 * The meta, the message and #GstBlip2Caption:last-caption carry the model's
 * text. On `text_src` a caption equal to the previous one (ignoring case,
 * spaces and punctuation) extends the previous cue instead of starting a new
 * one (#GstBlip2Caption:merge-repeats; the message then has `repeat` set),
 * and the text is written as subtitles are: a capitalised sentence with a
 * full stop, wrapped to #GstBlip2Caption:max-lines lines of
 * #GstBlip2Caption:max-line-length characters (a longer caption becomes
 * several cues in a row, its pages), each cue, each page too, on screen at
 * least #GstBlip2Caption:min-cue-duration and long enough to read at
 * #GstBlip2Caption:reading-rate. Where the time cannot grow (the end of the
 * stream) and is too short for every page, the last pages are joined into
 * one cue until each cue gets its minimum. #GstBlip2Caption:raw-text sends the model's
 * text as it is. To extend a cue, the stream holds the newest one until its
 * end is known; if the video then waits downstream for the text (textoverlay,
 * a muxer without enough queueing) for half a second, the stream stops
 * holding cues for good and sends them in pieces as the video advances.
 *
 * ## Timing modes
 *
 * In offline mode (the default for non-live upstreams such as files) every
 * sampled frame is captioned before it leaves the element: the video waits,
 * the meta is on the sampled frame itself, and the output is deterministic.
 *
 * In live mode (the default when upstream is live, e.g. a camera) captions
 * are computed on a worker thread and the video never waits. While the model
 * is busy, a newer sampled frame replaces the one waiting (counted in
 * #GstBlip2Caption:frames-skipped). The meta then goes on the first video
 * buffer that leaves the element after the caption is ready (its `frame-pts`
 * names the frame it describes); the text stream keeps the captioned frame's
 * PTS. The element adds #GstBlip2Caption:latency to the LATENCY query so the
 * text reaches the sinks in time, and warns when an inference takes longer.
 * A caption later than that is sent with the current text position as PTS.
 *
 * EOS waits for the captions still pending and sends them; a flush drops
 * them at once. A flushing seek or a change to READY cancels the caption in
 * progress in either mode (it stops at its next decoding step), so neither
 * waits for it; the frame is dropped with the flush, with no error. A
 * caption never lasts past the end of the stream when that is known (the
 * segment stop, or upstream's duration), so the last one ends with the
 * video.
 *
 * Frames without a timestamp are placed after the previous frame by their
 * duration (or the caps framerate, else their arrival time) and sampled on
 * that time, with one warning; the text stream uses the same time. In
 * reverse playback (a negative rate) the interval runs backwards from the
 * first frame and each caption covers the stream down to the next sampling
 * point. The model is loaded when the element goes from READY to
 * PAUSED (a missing or broken model fails that state change with an error
 * naming it) and is shared by all elements of the process that use the same
 * (model, device, dtype). The load posts GST_MESSAGE_PROGRESS with code
 * "load": START, CONTINUE while the weights load (at most one every 250 ms,
 * always a last one at 100 %, the percent in the text and in the message's
 * `percent` field), then COMPLETE or ERROR.
 *
 * ## Decoding defaults
 *
 * As transformers' pipelines do, the checkpoint's generation_config.json
 * gives the decoding properties (max-new-tokens, min-new-tokens, num-beams,
 * length-penalty, early-stopping, repetition-penalty, no-repeat-ngram-size,
 * do-sample, temperature, top-k, top-p) their defaults: a property never set
 * takes the file's value when it has one, and a property set on the element
 * wins, even when set to its own default. Reading a property never set gives
 * its own default; #GstBlip2Caption:model-info lists the checkpoint's values
 * (`generation-defaults`), and the element logs them at INFO level when the
 * model loads.
 *
 * ## Batching
 *
 * In live mode, elements that share one model can caption together: with
 * #GstBlip2Caption:max-batch above 1, a caption waits up to
 * #GstBlip2Caption:batch-wait for the captions of the other elements and
 * runs with them as one batch (at most max-batch images, with equal
 * generation settings; sampling captions always run alone). Each caption is
 * token for token what it is alone. The first element that batches on a
 * model sets max-batch and batch-wait for all of them.
 * #GstBlip2Caption:batch-stats reads the batches formed, and the meta and
 * the bus message have `batch-size`. Offline mode never batches: a lone
 * element would wait for company on every frame. A flush or a state change
 * takes a waiting caption out of its batch at once; when its batch already
 * runs, the batch goes on for the other elements (it stops when every
 * element in it was flushed), and stopping waits for it.
 *
 * ## Example launch lines
 *
 * A file to SubRip subtitles:
 * |[
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! \
 *     blip2caption model=Salesforce/blip2-opt-2.7b-coco name=c ! fakesink \
 *     c.text_src ! queue ! srtenc ! filesink location=out.srt
 * ]|
 * A camera with the captions drawn on the picture:
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! blip2caption name=c ! videoconvert ! \
 *     textoverlay name=o ! autovideosink  c.text_src ! o.text_sink
 * ]|
 * Accessibility subtitles: a caption when the picture changes (at most one a
 * second, at least one every 10 s), as WebVTT:
 * |[
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! \
 *     blip2caption name=c sampling=change min-interval=1000000000 \
 *     interval=10000000000 reading-rate=15 ! fakesink \
 *     c.text_src ! queue ! webvttenc ! filesink location=out.vtt
 * ]|
 * Captions printed from the bus:
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=90 ! blip2caption interval=1000000000 ! fakesink
 * ]|
 *
 * Since: 0.1
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib/gstdio.h>
#include <gst/video/video.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blip2.h"
#include "generation_options.h"
#include "gstblip2bridge.h"
#include "gstblip2caption.h"
#include "gstblip2captionmeta.h"
#include "hub_cache.h"
#include "jsonlines.h"
#include "load_progress.h"
#include "scheduler.h"
#include "caption_style.h"
#include "change_detector.h"
#include "settings.h"
#include "textstream.h"

GST_DEBUG_CATEGORY (gst_blip2_caption_debug);
#define GST_CAT_DEFAULT gst_blip2_caption_debug

using blip2gst::CaptionScheduler;
using blip2gst::Finished;
using blip2gst::Outcome;
using blip2gst::Settings;
using blip2gst::TextStream;

// The read-only properties follow the settings.
enum {
  PROP_LAST_CAPTION = blip2gst::PROP_SETTINGS_END,
  PROP_FRAMES_SAMPLED,
  PROP_CAPTIONS,
  PROP_FRAMES_SKIPPED,
  PROP_FRAMES_UNCHANGED,
  PROP_MEAN_INFERENCE_TIME,
  PROP_MODEL_INFO,
  PROP_BATCH_STATS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

#define VIDEO_FORMATS \
  "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, xRGB, xBGR, ARGB, ABGR, GRAY8, I420, NV12 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

namespace {

// Counters behind the read-only properties, and one-time warnings.
struct Stats
{
  guint64 sampled = 0;
  guint64 captions = 0;
  guint64 skipped = 0;
  guint64 unchanged = 0;  // change sampling: tested, and not captioned for want of change
  gdouble inference_ms_total = 0.0;
  std::string last_caption;
  bool warned_slow = false;
  bool warned_untimestamped = false;
};

}  // namespace

// Lock order: settings_lock, then lock, then the scheduler's lock, then the
// text stream's lock. None is held while captioning, pushing or posting.
struct GstBlip2CaptionPrivate
{
  std::mutex settings_lock;
  Settings settings;

  // Guards `scheduler` (the pointer), `checkpoint_generation`, `model_info`
  // and `stats`.
  std::mutex lock;
  std::shared_ptr<CaptionScheduler> scheduler;  // from start() to stop()
  // The loaded checkpoint's decoding defaults (its generation_config.json
  // and default prompt), for the properties the user did not set.
  blip2::GenerationOptions checkpoint_generation;
  std::string model_info;  // serialized GstStructure for the model-info property
  Stats stats;

  // The streaming thread's own (set_caps, prepare_output_buffer, transform_ip).
  GstVideoInfo vinfo;
  bool have_vinfo = false;
  blip2gst::FramePlan plan;  // from prepare_output_buffer to transform_ip

  std::unique_ptr<TextStream> text;
  blip2gst::JsonLinesWriter json_lines;  // the json-location file, from start() to stop()
};

struct _GstBlip2Caption
{
  GstBaseTransform parent;
  GstBlip2CaptionPrivate *priv;
};

#define gst_blip2_caption_parent_class parent_class
G_DEFINE_TYPE (GstBlip2Caption, gst_blip2_caption, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (blip2caption, "blip2caption", GST_RANK_NONE, GST_TYPE_BLIP2_CAPTION);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static bool
pixel_format (GstVideoFormat format, blip2::PixelFormat *out)
{
  static const std::map<GstVideoFormat, blip2::PixelFormat> formats = {
      {GST_VIDEO_FORMAT_RGB, blip2::PixelFormat::kRGB},
      {GST_VIDEO_FORMAT_BGR, blip2::PixelFormat::kBGR},
      {GST_VIDEO_FORMAT_RGBA, blip2::PixelFormat::kRGBA},
      {GST_VIDEO_FORMAT_BGRA, blip2::PixelFormat::kBGRA},
      {GST_VIDEO_FORMAT_RGBx, blip2::PixelFormat::kRGBx},
      {GST_VIDEO_FORMAT_BGRx, blip2::PixelFormat::kBGRx},
      {GST_VIDEO_FORMAT_xRGB, blip2::PixelFormat::kxRGB},
      {GST_VIDEO_FORMAT_xBGR, blip2::PixelFormat::kxBGR},
      {GST_VIDEO_FORMAT_ARGB, blip2::PixelFormat::kARGB},
      {GST_VIDEO_FORMAT_ABGR, blip2::PixelFormat::kABGR},
      {GST_VIDEO_FORMAT_GRAY8, blip2::PixelFormat::kGRAY8},
      {GST_VIDEO_FORMAT_I420, blip2::PixelFormat::kI420},
      {GST_VIDEO_FORMAT_NV12, blip2::PixelFormat::kNV12},
  };
  auto it = formats.find (format);
  if (it == formats.end ())
    return false;
  *out = it->second;
  return true;
}

// A process-wide serial per Model object, so model-info tells whether two
// elements share one model without exposing pointers.
static guint64
model_serial (const std::shared_ptr<const blip2::Model> &model)
{
  static std::mutex lock;
  static std::map<const blip2::Model *, std::pair<std::weak_ptr<const blip2::Model>, guint64>>
      serials;
  static guint64 next = 1;

  std::lock_guard<std::mutex> lk (lock);
  for (auto it = serials.begin (); it != serials.end ();) {
    if (it->second.first.expired ())
      it = serials.erase (it);
    else
      ++it;
  }
  auto it = serials.find (model.get ());
  if (it != serials.end ())
    return it->second.second;
  serials.emplace (model.get (), std::make_pair (std::weak_ptr<const blip2::Model> (model), next));
  return next++;
}

// The model-info property: a serialized "blip2-model" structure.
static std::string
describe_model (const Settings &settings,
                const std::shared_ptr<const blip2::Model> &model,
                const blip2::GenerationOptions &checkpoint)
{
  const blip2::ModelInfo &info = model->info ();
  GstStructure *defaults = blip2gst::checkpoint_generation_defaults (checkpoint);
  GstStructure *s = gst_structure_new (
      "blip2-model", "model", G_TYPE_STRING, settings.model.c_str (), "path", G_TYPE_STRING,
      info.path.c_str (), "device", G_TYPE_STRING, info.device.c_str (), "dtype", G_TYPE_STRING,
      info.dtype.c_str (), "quantize", G_TYPE_STRING, info.quantize.c_str (), "image-size",
      G_TYPE_INT, (gint)info.image_size, "default-prompt", G_TYPE_STRING,
      info.default_prompt.c_str (), "instance", G_TYPE_UINT64, model_serial (model),
      "generation-defaults", GST_TYPE_STRUCTURE, defaults, nullptr);
  gst_structure_free (defaults);
  gchar *str = gst_structure_to_string (s);
  std::string described = str;
  g_free (str);
  gst_structure_free (s);
  return described;
}

static Settings
copy_settings (GstBlip2Caption *self)
{
  std::lock_guard<std::mutex> lk (self->priv->settings_lock);
  return self->priv->settings;
}

static std::shared_ptr<CaptionScheduler>
scheduler_of (GstBlip2Caption *self)
{
  std::lock_guard<std::mutex> lk (self->priv->lock);
  return self->priv->scheduler;
}

static blip2::GenerationOptions
checkpoint_generation_of (GstBlip2Caption *self)
{
  std::lock_guard<std::mutex> lk (self->priv->lock);
  return self->priv->checkpoint_generation;
}

// The caption-now action signal: the next frame is captioned whatever the interval.
static void
gst_blip2_caption_caption_now (GstBlip2Caption *self)
{
  if (std::shared_ptr<CaptionScheduler> scheduler = scheduler_of (self)) {
    GST_DEBUG_OBJECT (self, "caption requested for the next frame");
    scheduler->request_caption ();
  } else {
    GST_WARNING_OBJECT (self, "caption-now ignored: the element is not PAUSED or PLAYING");
  }
}

/* ------------------------------------------------------------------------ */
/* Publishing a caption                                                     */

// Counts the caption; returns whether this is the first one slower than
// the latency (live mode warns once). `repeat`: whether it equals the
// previous caption (ignoring case, spaces and punctuation).
static bool
record_caption (GstBlip2Caption *self, const Finished &caption, guint latency_ms, bool *repeat)
{
  std::lock_guard<std::mutex> lk (self->priv->lock);
  Stats &stats = self->priv->stats;
  *repeat = stats.captions > 0 && blip2caption::same_caption (stats.last_caption, caption.text);
  stats.captions++;
  stats.inference_ms_total += caption.inference_time / 1e6;
  stats.last_caption = caption.text;
  bool slow = caption.inference_time > latency_ms * GST_MSECOND;
  if (!slow || stats.warned_slow)
    return false;
  stats.warned_slow = true;
  return true;
}

// Bus message and property notification: called with no lock held.
static void
announce_caption (GstBlip2Caption *self, const Finished &caption, bool repeat)
{
  GstStructure *s = gst_structure_new_empty ("blip2caption");
  GstBlip2CaptionInfo info = caption.info ();
  gst_blip2_caption_info_to_structure (&info, s);
  gst_structure_set (s, "running-time", G_TYPE_UINT64, (guint64)caption.frame.running_time,
                     "stream-time", G_TYPE_UINT64, (guint64)caption.frame.stream_time, "trigger",
                     G_TYPE_STRING, caption.frame.trigger, "repeat", G_TYPE_BOOLEAN,
                     (gboolean)repeat, nullptr);
  GST_CAT_DEBUG_OBJECT (gst_blip2_debug_category (), self,
                        "caption for %" GST_TIME_FORMAT " in %.0f ms: %s",
                        GST_TIME_ARGS (info.frame_pts), info.inference_time / 1e6, info.caption);
  self->priv->json_lines.write (caption);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_CAPTION]);
}

static void
warn_slow (GstBlip2Caption *self, const Finished &caption, guint latency_ms, bool first)
{
  gdouble ms = caption.inference_time / 1e6;
  GST_WARNING_OBJECT (self, "inference took %.0f ms, more than the latency of %u ms", ms,
                      latency_ms);
  if (first) {
    GST_ELEMENT_WARNING (
        self, STREAM, FAILED, ("Captioning takes longer than the configured latency"),
        ("inference took %.0f ms, latency is %u ms: raise the latency property or use a "
         "faster device; on the CPU, quantize=int8 dtype=bfloat16 captions several times faster "
         "(not exact)",
         ms, latency_ms));
  }
}

// Live mode: a caption from the worker thread (already on the text stream).
static void
on_live_outcome (GstBlip2Caption *self, Outcome &&outcome)
{
  if (auto failure = std::get_if<blip2gst::Failure> (&outcome)) {
    gst_blip2_post_failure (GST_ELEMENT (self), failure->code, failure->message.c_str (),
                            GstBlip2Phase::kStreaming, "live caption");
    return;
  }
  const Finished &caption = std::get<Finished> (outcome);
  guint latency_ms = copy_settings (self).latency_ms;
  bool repeat = false;
  bool first_slow = record_caption (self, caption, latency_ms, &repeat);
  if (caption.inference_time > latency_ms * GST_MSECOND)
    warn_slow (self, caption, latency_ms, first_slow);
  announce_caption (self, caption, repeat);
}

/* ------------------------------------------------------------------------ */
/* Start, stop, caps                                                        */

// Bytes of the checkpoint's safetensors files (what loading reads).
static guint64
weight_file_bytes (const std::string &folder)
{
  guint64 total = 0;
  GDir *dir = g_dir_open (folder.c_str (), 0, nullptr);
  if (dir == nullptr)
    return 0;
  while (const gchar *name = g_dir_read_name (dir)) {
    if (!g_str_has_suffix (name, ".safetensors"))
      continue;
    gchar *path = g_build_filename (folder.c_str (), name, nullptr);
    GStatBuf st;
    if (g_stat (path, &st) == 0)
      total += (guint64)st.st_size;
    g_free (path);
  }
  g_dir_close (dir);
  return total;
}

// GST_MESSAGE_PROGRESS "load" around the model load: start, continue while
// the weights load, then complete or error. `percent` goes into the message's
// "percent" field.
static void
post_load_progress (GstBlip2Caption *self,
                    GstProgressType type,
                    const std::string &text,
                    gint percent)
{
  GstMessage *msg = gst_message_new_progress (GST_OBJECT (self), type, "load", text.c_str ());
  gst_structure_set (gst_message_writable_structure (msg), "percent", G_TYPE_INT, percent,
                     nullptr);
  gst_element_post_message (GST_ELEMENT (self), msg);
}

// The library's load progress as CONTINUE messages, posted from the loading
// thread (the READY->PAUSED state change): at most one every 250 ms, and
// always the last (100 %).
static blip2::LoadProgressCallback
load_progress_reporter (GstBlip2Caption *self)
{
  auto throttle = std::make_shared<blip2gst::LoadProgressThrottle> (
      blip2gst::LoadProgressThrottle::Clock::now ());
  return [self, throttle] (uint64_t done, uint64_t total) {
    if (!throttle->should_report (done, total, blip2gst::LoadProgressThrottle::Clock::now ()))
      return;
    post_load_progress (self, GST_PROGRESS_TYPE_CONTINUE,
                        blip2gst::load_progress_text (done, total),
                        blip2gst::load_percent (done, total));
  };
}

static std::shared_ptr<const blip2::Model>
load_model (GstBlip2Caption *self, const Settings &settings)
{
  post_load_progress (self, GST_PROGRESS_TYPE_START, "Loading model " + settings.model, 0);
  try {
    blip2::ModelOptions options;
    options.path = blip2::resolve_model_path (settings.model, settings.revision);
    options.device = settings.device;
    options.dtype = blip2gst::dtype_name (settings.dtype);
    options.quantize = blip2gst::quantize_name (settings.quantize);
    options.on_progress = load_progress_reporter (self);
    GST_INFO_OBJECT (self, "loading %s (%s) on %s, %s, quantize %s", settings.model.c_str (),
                     options.path.c_str (), options.device.c_str (), options.dtype.c_str (),
                     options.quantize.c_str ());
    gint64 start = g_get_monotonic_time ();
    std::shared_ptr<const blip2::Model> model = blip2::Model::load_shared (options);
    gdouble seconds = (g_get_monotonic_time () - start) / 1e6;
    const blip2::ModelInfo &info = model->info ();
    GST_CAT_INFO_OBJECT (gst_blip2_debug_category (), self,
                         "loaded %s in %.2f s: %.1f MB of weights, device %s, dtype %s, "
                         "quantize %s",
                         settings.model.c_str (), seconds,
                         weight_file_bytes (options.path) / 1e6, info.device.c_str (),
                         info.dtype.c_str (), info.quantize.c_str ());
    post_load_progress (self, GST_PROGRESS_TYPE_COMPLETE,
                        "Model loaded on " + info.device + " in " + info.dtype, 100);
    return model;
  } catch (...) {
    post_load_progress (self, GST_PROGRESS_TYPE_ERROR, "Cannot load model " + settings.model, 0);
    gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (), GstBlip2Phase::kLoading,
                          settings.model.c_str ());
    return nullptr;
  }
}

// The checkpoint's decoding defaults (generation_config.json, default
// prompt), logged; false after posting an error when the file is malformed.
static bool
read_checkpoint_generation (GstBlip2Caption *self,
                            const Settings &settings,
                            const blip2::ModelInfo &info,
                            blip2::GenerationOptions *checkpoint)
{
  try {
    *checkpoint = blip2::generation_defaults (info.path);
  } catch (...) {
    gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (), GstBlip2Phase::kLoading,
                          settings.model.c_str ());
    return false;
  }
  GstStructure *defaults = blip2gst::checkpoint_generation_defaults (*checkpoint);
  if (gst_structure_n_fields (defaults) == 0) {
    GST_INFO_OBJECT (self, "no decoding defaults from the checkpoint's generation_config.json");
  } else {
    gchar *text = gst_structure_to_string (defaults);
    GST_INFO_OBJECT (self,
                     "decoding defaults from the checkpoint's generation_config.json (properties "
                     "set on the element win): %s",
                     text);
    g_free (text);
  }
  gst_structure_free (defaults);
  return true;
}

static gboolean
gst_blip2_caption_start (GstBaseTransform *trans)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  Settings settings = copy_settings (self);
  std::shared_ptr<const blip2::Model> model = load_model (self, settings);
  if (!model)
    return FALSE;
  blip2::GenerationOptions checkpoint;
  if (!read_checkpoint_generation (self, settings, model->info (), &checkpoint))
    return FALSE;
  if (!settings.json_location.empty () && !priv->json_lines.open (settings.json_location)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
                       ("Cannot create the JSON Lines file %s", settings.json_location.c_str ()),
                       ("%s", g_strerror (errno)));
    return FALSE;
  }
  std::string info = describe_model (settings, model, checkpoint);
  GST_INFO_OBJECT (self, "model ready: %s", info.c_str ());
  std::shared_ptr<CaptionScheduler> scheduler;
  try {
    scheduler = std::make_shared<CaptionScheduler> (
        model, *priv->text, [self] (Outcome &&o) { on_live_outcome (self, std::move (o)); });
  } catch (...) {
    priv->json_lines.close ();
    gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (), GstBlip2Phase::kLoading,
                          settings.model.c_str ());
    return FALSE;
  }
  priv->have_vinfo = false;
  std::lock_guard<std::mutex> lk (priv->lock);
  priv->stats = Stats ();
  priv->checkpoint_generation = checkpoint;
  priv->model_info = info;
  priv->scheduler = std::move (scheduler);
  return TRUE;
}

static gboolean
gst_blip2_caption_stop (GstBaseTransform *trans)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  std::shared_ptr<CaptionScheduler> scheduler;
  {
    std::lock_guard<std::mutex> lk (priv->lock);
    scheduler = std::move (priv->scheduler);
    priv->model_info.clear ();
  }
  priv->text->reset ();
  if (scheduler)
    scheduler->stop ();  // joins the worker: no callback after this
  priv->json_lines.close ();
  return TRUE;
}

static gboolean
gst_blip2_caption_set_caps (GstBaseTransform *trans,
                            GstCaps *incaps,
                            GstCaps *outcaps G_GNUC_UNUSED)
{
  auto self = GST_BLIP2_CAPTION (trans);
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  blip2::PixelFormat format;
  if (!pixel_format (GST_VIDEO_INFO_FORMAT (&info), &format)) {
    GST_ERROR_OBJECT (self, "unsupported format in %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, incaps);
  self->priv->vinfo = info;
  self->priv->have_vinfo = true;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Deciding and captioning                                                  */

static bool
upstream_is_live (GstBlip2Caption *self)
{
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;
  if (gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), query))
    gst_query_parse_latency (query, &live, nullptr, nullptr);
  gst_query_unref (query);
  return live;
}

static void
resolve_mode (GstBlip2Caption *self, CaptionScheduler &scheduler, const Settings &settings)
{
  GstBlip2CaptionMode mode = settings.mode;
  bool upstream_live = upstream_is_live (self);
  bool live = mode == GST_BLIP2_CAPTION_MODE_AUTO ? upstream_live
                                                   : mode == GST_BLIP2_CAPTION_MODE_LIVE;
  GST_INFO_OBJECT (self, "%s mode (upstream is %slive)", live ? "live" : "offline",
                   upstream_live ? "" : "not ");
  scheduler.resolve_mode (live, blip2gst::batch_settings (settings));
}

static blip2gst::FrameIn
frame_in (GstBlip2Caption *self, GstBuffer *buffer)
{
  auto priv = self->priv;
  blip2gst::FrameIn in;
  in.pts = GST_BUFFER_PTS (buffer);
  in.duration = GST_BUFFER_DURATION (buffer);
  if (priv->have_vinfo && GST_VIDEO_INFO_FPS_N (&priv->vinfo) > 0)
    in.nominal_duration = gst_util_uint64_scale (GST_SECOND, GST_VIDEO_INFO_FPS_D (&priv->vinfo),
                                                 GST_VIDEO_INFO_FPS_N (&priv->vinfo));
  in.arrival = (blip2gst::ClockTime)g_get_monotonic_time () * GST_USECOND;
  return in;
}

static blip2gst::ClockTime
upstream_duration (GstBlip2Caption *self)
{
  gint64 duration = -1;
  if (!gst_pad_peer_query_duration (GST_BASE_TRANSFORM_SINK_PAD (self), GST_FORMAT_TIME,
                                    &duration) ||
      duration < 0)
    return blip2gst::kNone;
  return (blip2gst::ClockTime)duration;
}

static void
warn_untimestamped_once (GstBlip2Caption *self)
{
  {
    std::lock_guard<std::mutex> lk (self->priv->lock);
    if (self->priv->stats.warned_untimestamped)
      return;
    self->priv->stats.warned_untimestamped = true;
  }
  GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("Video frames without timestamps"),
                       ("frames without a PTS are sampled by their duration (or the framerate), "
                        "else by arrival time; captions and the text stream use that time"));
}

static void image_view_of (const GstVideoFrame *frame, blip2::ImageView *view);

// The change test's thumbnail of `buffer` (all zero if it cannot be mapped).
static blip2caption::LumaThumbnail
thumbnail_of (GstBlip2Caption *self, GstBuffer *buffer)
{
  GstVideoFrame frame;
  if (!self->priv->have_vinfo ||
      !gst_video_frame_map (&frame, &self->priv->vinfo, buffer, GST_MAP_READ))
    return blip2caption::LumaThumbnail ();
  blip2::ImageView view;
  image_view_of (&frame, &view);
  blip2caption::LumaThumbnail thumbnail = blip2caption::LumaThumbnail::of (view);
  gst_video_frame_unmap (&frame);
  return thumbnail;
}

static blip2gst::Sampling
sampling_of (GstBlip2Caption *self, const Settings &settings, GstBuffer *buffer)
{
  blip2gst::Sampling sampling;
  sampling.interval = settings.interval;
  sampling.change = settings.sampling == GST_BLIP2_CAPTION_SAMPLING_CHANGE;
  sampling.change_settings = blip2gst::change_settings (settings);
  sampling.thumbnail = [self, buffer] { return thumbnail_of (self, buffer); };
  return sampling;
}

// Decides what happens to `inbuf` and reuses it as the output unless a meta
// must be added (then the base class makes it writable, copying if needed).
static GstFlowReturn
gst_blip2_caption_prepare_output_buffer (GstBaseTransform *trans,
                                         GstBuffer *inbuf,
                                         GstBuffer **outbuf)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  std::shared_ptr<CaptionScheduler> scheduler = scheduler_of (self);
  if (!scheduler)
    return GST_FLOW_FLUSHING;
  Settings settings = copy_settings (self);
  if (!scheduler->mode_resolved ())
    resolve_mode (self, *scheduler, settings);
  priv->text->video_busy (true);
  // A cue is held when an equal caption may extend it, or when its end is
  // the next caption (change sampling).
  priv->text->configure (settings.cues, settings.cues.merge_repeats ||
                                            settings.sampling == GST_BLIP2_CAPTION_SAMPLING_CHANGE);

  priv->plan = scheduler->plan (frame_in (self, inbuf), sampling_of (self, settings, inbuf),
                                [self] { return upstream_duration (self); });
  if (priv->plan.unchanged) {
    std::lock_guard<std::mutex> lk (priv->lock);
    priv->stats.unchanged++;
  }
  if (priv->plan.frame.synthetic)
    warn_untimestamped_once (self);
  bool needs_meta = (priv->plan.sample && !scheduler->live ()) || !priv->plan.ready.empty ();
  if (!needs_meta) {
    *outbuf = inbuf;
    return GST_FLOW_OK;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->prepare_output_buffer (trans, inbuf, outbuf);
}

static void
image_view_of (const GstVideoFrame *frame, blip2::ImageView *view)
{
  pixel_format (GST_VIDEO_FRAME_FORMAT (frame), &view->format);
  view->width = GST_VIDEO_FRAME_WIDTH (frame);
  view->height = GST_VIDEO_FRAME_HEIGHT (frame);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame) && p < 3; p++) {
    view->planes[p] = static_cast<const uint8_t *> (GST_VIDEO_FRAME_PLANE_DATA (frame, p));
    view->strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
  }
}

static void
post_streaming_failure (GstBlip2Caption *self,
                        const blip2gst::Failure &failure,
                        const blip2gst::SampledFrame &frame)
{
  gchar *what = g_strdup_printf ("frame %" GST_TIME_FORMAT, GST_TIME_ARGS (frame.pts));
  gst_blip2_post_failure (GST_ELEMENT (self), failure.code, failure.message.c_str (),
                          GstBlip2Phase::kStreaming, what);
  g_free (what);
}

// Offline: the caption of the frame just made; the meta goes on it.
static GstFlowReturn
publish_offline (GstBlip2Caption *self, GstBuffer *buffer, const Outcome &outcome)
{
  const blip2gst::SampledFrame &frame = self->priv->plan.sampled;
  if (auto failure = std::get_if<blip2gst::Failure> (&outcome)) {
    if (failure->code == blip2::ErrorCode::kCancelled) {
      // A flush or PAUSED->READY stopped it: the frame is dropped with the flush.
      GST_DEBUG_OBJECT (self, "caption of %" GST_TIME_FORMAT " cancelled: flushing",
                        GST_TIME_ARGS (frame.pts));
      return GST_FLOW_FLUSHING;
    }
    post_streaming_failure (self, *failure, frame);
    return GST_FLOW_ERROR;
  }
  const Finished &caption = std::get<Finished> (outcome);
  GstBlip2CaptionInfo info = caption.info ();
  gst_blip2_caption_meta_add (buffer, &info);
  bool repeat = false;
  record_caption (self, caption, G_MAXUINT, &repeat);
  self->priv->text->cue (std::nullopt, caption.text, frame.cue);
  announce_caption (self, caption, repeat);
  return GST_FLOW_OK;
}

// Live: hands the frame to the worker; the caption comes back later.
static GstFlowReturn
caption_live (GstBlip2Caption *self,
              CaptionScheduler &scheduler,
              const blip2::ImageView &view,
              const blip2::GenerationOptions &options,
              guint latency_ms)
{
  const blip2gst::SampledFrame &frame = self->priv->plan.sampled;
  auto deadline = std::chrono::steady_clock::now () + std::chrono::milliseconds (latency_ms);
  bool skipped = false;
  if (auto failure = scheduler.submit (view, options, frame, deadline, &skipped)) {
    post_streaming_failure (self, *failure, frame);
    return GST_FLOW_ERROR;
  }
  if (skipped) {
    std::lock_guard<std::mutex> lk (self->priv->lock);
    self->priv->stats.skipped++;
    GST_DEBUG_OBJECT (self, "model busy: a newer frame replaced a waiting one");
  }
  return GST_FLOW_OK;
}

// Test hook: a test that sets the object data "blip2caption-hold-step" to a
// gboolean (*) (GstElement *element, gint64 step) holds every caption before
// each decoding step while that function returns TRUE, until the caption is
// cancelled: a caption in progress by construction, whatever the machine's
// speed. Nothing else sets it.
typedef gboolean (*HoldStepFunc) (GstElement *element, gint64 step);

static void
install_hold_step (GstBlip2Caption *self, blip2::GenerationOptions *options)
{
  auto hold = reinterpret_cast<HoldStepFunc> (
      g_object_get_data (G_OBJECT (self), "blip2caption-hold-step"));
  if (hold == nullptr)
    return;
  auto cancel = std::make_shared<std::atomic<bool>> (false);
  options->cancel = cancel;
  options->on_step = [self, hold, cancel] (int64_t step) {
    while (!cancel->load () && hold (GST_ELEMENT (self), step))
      g_usleep (1000);
  };
}

static GstFlowReturn
caption_sampled (GstBlip2Caption *self, CaptionScheduler &scheduler, GstBuffer *buffer)
{
  Settings settings = copy_settings (self);
  blip2::GenerationOptions options =
      blip2gst::generation_options (settings, checkpoint_generation_of (self));
  install_hold_step (self, &options);
  {
    std::lock_guard<std::mutex> lk (self->priv->lock);
    self->priv->stats.sampled++;
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &self->priv->vinfo, buffer, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a video frame"),
                       ("buffer %" GST_PTR_FORMAT " does not match the caps", buffer));
    return GST_FLOW_ERROR;
  }
  blip2::ImageView view;
  image_view_of (&frame, &view);
  if (scheduler.live ()) {
    GstFlowReturn ret = caption_live (self, scheduler, view, options, settings.latency_ms);
    gst_video_frame_unmap (&frame);
    return ret;
  }
  Outcome outcome = scheduler.caption_now (view, options, self->priv->plan.sampled);
  gst_video_frame_unmap (&frame);  // the buffer is writable again
  return publish_offline (self, buffer, outcome);
}

static GstFlowReturn
gst_blip2_caption_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  std::shared_ptr<CaptionScheduler> scheduler = scheduler_of (self);
  if (!scheduler || !priv->have_vinfo) {
    priv->text->video_busy (false);
    return scheduler ? GST_FLOW_NOT_NEGOTIATED : GST_FLOW_FLUSHING;
  }

  for (const Finished &ready : priv->plan.ready) {
    GstBlip2CaptionInfo info = ready.info ();
    gst_blip2_caption_meta_add (buffer, &info);
  }
  GstFlowReturn ret = GST_FLOW_OK;
  if (priv->plan.sample)
    ret = caption_sampled (self, *scheduler, buffer);
  priv->plan = blip2gst::FramePlan ();
  priv->text->reach (scheduler->video_position ());
  priv->text->video_busy (false);  // the buffer goes downstream now
  return ret;
}

/* ------------------------------------------------------------------------ */
/* Events and queries                                                       */

static void
on_segment (GstBlip2Caption *self, GstEvent *event)
{
  const GstSegment *segment;
  gst_event_parse_segment (event, &segment);
  self->priv->text->segment (*segment);
  if (auto scheduler = scheduler_of (self))
    scheduler->segment (*segment);
}

static void
on_gap (GstBlip2Caption *self, GstEvent *event)
{
  GstClockTime ts, duration;
  gst_event_parse_gap (event, &ts, &duration);
  auto scheduler = scheduler_of (self);
  if (!scheduler || !GST_CLOCK_TIME_IS_VALID (ts))
    return;
  GstClockTime end = GST_CLOCK_TIME_IS_VALID (duration) ? ts + duration : ts;
  scheduler->reach (blip2gst::Span{ts, end});
  self->priv->text->reach (scheduler->video_position ());
}

static void
on_eos (GstBlip2Caption *self)
{
  if (auto scheduler = scheduler_of (self)) {
    GST_DEBUG_OBJECT (self, "EOS: waiting for pending captions");
    scheduler->drain ();
  }
  self->priv->text->eos ();
}

static void
on_stream_start (GstBlip2Caption *self, GstEvent *event)
{
  const gchar *id = nullptr;
  guint group_id = 0;
  gst_event_parse_stream_start (event, &id);
  gboolean have_group = gst_event_parse_group_id (event, &group_id);
  self->priv->text->stream_start (id, have_group, group_id);
}

static gboolean
gst_blip2_caption_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      on_stream_start (self, event);
      break;
    case GST_EVENT_SEGMENT:
      on_segment (self, event);
      break;
    case GST_EVENT_GAP:
      on_gap (self, event);
      break;
    case GST_EVENT_FLUSH_START:
      priv->text->flush_start (event);
      if (auto scheduler = scheduler_of (self))
        scheduler->flush ();
      break;
    case GST_EVENT_FLUSH_STOP:
      if (auto scheduler = scheduler_of (self))
        scheduler->restart ();
      priv->text->flush_stop (event);
      break;
    case GST_EVENT_EOS:
      on_eos (self);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

// A LATENCY query answered upstream, plus our latency when it is live.
static gboolean
query_latency (GstBlip2Caption *self, GstQuery *query)
{
  if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), query))
    return FALSE;
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency (query, &live, &min, &max);
  if (live) {
    GstClockTime ours = copy_settings (self).latency_ms * GST_MSECOND;
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    GST_DEBUG_OBJECT (self, "latency: min %" GST_TIME_FORMAT " max %" GST_TIME_FORMAT,
                      GST_TIME_ARGS (min), GST_TIME_ARGS (max));
    gst_query_set_latency (query, live, min, max);
  }
  return TRUE;
}

static gboolean
gst_blip2_caption_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  auto self = GST_BLIP2_CAPTION (trans);
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY)
    return query_latency (self, query);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static GstStateChangeReturn
gst_blip2_caption_change_state (GstElement *element, GstStateChange transition)
{
  auto self = GST_BLIP2_CAPTION (element);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    // Let an EOS drain waiting for the worker, or an offline caption in the
    // streaming thread, return (cancelled) before pads deactivate. The worker
    // lives until stop(), which runs later in this thread.
    if (auto scheduler = scheduler_of (self))
      scheduler->flush ();
  }
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static bool
refuse_while_running (GstBlip2Caption *self, GParamSpec *pspec)
{
  if (!(pspec->flags & GST_PARAM_MUTABLE_READY))
    return false;
  GstState state;
  GST_OBJECT_LOCK (self);
  state = GST_STATE (self);
  GST_OBJECT_UNLOCK (self);
  if (state <= GST_STATE_READY)
    return false;
  g_warning ("blip2caption: property '%s' can only change in the NULL or READY state; ignored",
             pspec->name);
  return true;
}

static void
gst_blip2_caption_set_property (GObject *object,
                                guint prop_id,
                                const GValue *value,
                                GParamSpec *pspec)
{
  auto self = GST_BLIP2_CAPTION (object);
  if (prop_id >= blip2gst::PROP_SETTINGS_END) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    return;
  }
  if (refuse_while_running (self, pspec))
    return;
  bool latency_changed;
  {
    std::lock_guard<std::mutex> lk (self->priv->settings_lock);
    guint latency = self->priv->settings.latency_ms;
    blip2gst::set_setting (self->priv->settings, prop_id, value);
    latency_changed = latency != self->priv->settings.latency_ms;
  }
  if (latency_changed)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

// The batch-stats property: the shared batch scheduler's counters and
// settings, or NULL when this element does not batch.
static GstStructure *
describe_batching (const std::shared_ptr<CaptionScheduler> &scheduler)
{
  std::shared_ptr<blip2::BatchScheduler> batch =
      scheduler ? scheduler->batch_scheduler () : nullptr;
  if (!batch)
    return nullptr;
  const blip2::BatchScheduler::Counters c = batch->counters ();
  const blip2::BatchScheduler::Settings &settings = batch->settings ();
  return gst_structure_new (
      "blip2-batch-stats", "batches", G_TYPE_UINT64, (guint64)c.batches, "captions", G_TYPE_UINT64,
      (guint64)c.captions, "largest", G_TYPE_UINT, (guint)c.largest, "mean-batch-size",
      G_TYPE_DOUBLE, c.mean_batch_size (), "max-batch", G_TYPE_UINT, (guint)settings.max_batch,
      "batch-wait", G_TYPE_UINT64,
      (guint64)std::chrono::duration_cast<std::chrono::nanoseconds> (settings.max_wait).count (),
      nullptr);
}

static void
get_stat (GstBlip2CaptionPrivate *priv, guint prop_id, GValue *value)
{
  if (prop_id == PROP_BATCH_STATS) {
    std::shared_ptr<CaptionScheduler> scheduler;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      scheduler = priv->scheduler;
    }
    g_value_take_boxed (value, describe_batching (scheduler));
    return;
  }
  std::lock_guard<std::mutex> lk (priv->lock);
  const Stats &s = priv->stats;
  switch (prop_id) {
    case PROP_LAST_CAPTION:
      g_value_set_string (value, s.captions ? s.last_caption.c_str () : nullptr);
      break;
    case PROP_FRAMES_SAMPLED:
      g_value_set_uint64 (value, s.sampled);
      break;
    case PROP_CAPTIONS:
      g_value_set_uint64 (value, s.captions);
      break;
    case PROP_FRAMES_SKIPPED:
      g_value_set_uint64 (value, s.skipped);
      break;
    case PROP_FRAMES_UNCHANGED:
      g_value_set_uint64 (value, s.unchanged);
      break;
    case PROP_MEAN_INFERENCE_TIME:
      g_value_set_double (value, s.captions ? s.inference_ms_total / s.captions : 0.0);
      break;
    case PROP_MODEL_INFO:
      g_value_take_boxed (value, priv->model_info.empty ()
                                     ? nullptr
                                     : gst_structure_from_string (priv->model_info.c_str (), nullptr));
      break;
    default:
      break;
  }
}

static void
gst_blip2_caption_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto self = GST_BLIP2_CAPTION (object);
  if (prop_id >= N_PROPERTIES) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  } else if (prop_id >= PROP_LAST_CAPTION) {
    get_stat (self->priv, prop_id, value);
  } else {
    std::lock_guard<std::mutex> lk (self->priv->settings_lock);
    blip2gst::get_setting (self->priv->settings, prop_id, value);
  }
}

static void
gst_blip2_caption_finalize (GObject *object)
{
  auto self = GST_BLIP2_CAPTION (object);
  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_blip2_caption_init (GstBlip2Caption *self)
{
  self->priv = new GstBlip2CaptionPrivate ();
  auto trans = GST_BASE_TRANSFORM (self);
  gst_base_transform_set_in_place (trans, TRUE);
  gst_base_transform_set_passthrough (trans, FALSE);
  gst_base_transform_set_gap_aware (trans, TRUE);
  self->priv->text = std::make_unique<TextStream> (
      GST_ELEMENT (self), [self] (GstQuery *query) { return query_latency (self, query); },
      [self] (GstEvent *event) {
        return gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (self), event);
      });
}

// The read-only properties: what the element did and which model it has.
static const struct
{
  guint id;
  GParamSpec *(*spec) (GParamFlags flags);
} stats_properties[] = {
    /**
     * GstBlip2Caption:last-caption:
     *
     * The most recent caption (NULL before the first).
     *
     * Since: 0.1
     */
    {PROP_LAST_CAPTION,
     [] (GParamFlags flags) {
       return g_param_spec_string ("last-caption", "Last caption",
                                   "The most recent caption (NULL before the first)", nullptr,
                                   flags);
     }},
    /**
     * GstBlip2Caption:frames-sampled:
     *
     * Frames chosen for a caption (by the interval, or by a picture change)
     * since the element started.
     *
     * Since: 0.1
     */
    {PROP_FRAMES_SAMPLED,
     [] (GParamFlags flags) {
       return g_param_spec_uint64 ("frames-sampled", "Frames sampled",
                                   "Frames chosen for a caption since the element started", 0,
                                   G_MAXUINT64, 0, flags);
     }},
    /**
     * GstBlip2Caption:captions:
     *
     * Captions produced since the element started.
     *
     * Since: 0.1
     */
    {PROP_CAPTIONS,
     [] (GParamFlags flags) {
       return g_param_spec_uint64 ("captions", "Captions",
                                   "Captions produced since the element started", 0, G_MAXUINT64,
                                   0, flags);
     }},
    /**
     * GstBlip2Caption:frames-skipped:
     *
     * Live mode: sampled frames replaced by a newer one while the model was busy.
     *
     * Since: 0.1
     */
    {PROP_FRAMES_SKIPPED,
     [] (GParamFlags flags) {
       return g_param_spec_uint64 (
           "frames-skipped", "Frames skipped",
           "Live mode: sampled frames replaced by a newer one while the model was busy", 0,
           G_MAXUINT64, 0, flags);
     }},
    /**
     * GstBlip2Caption:frames-unchanged:
     *
     * Change sampling: frames tested (at least min-interval after the last
     * caption) and not captioned because the picture had not changed; apart
     * from frames-skipped.
     *
     * Since: 0.1
     */
    {PROP_FRAMES_UNCHANGED,
     [] (GParamFlags flags) {
       return g_param_spec_uint64 (
           "frames-unchanged", "Frames unchanged",
           "Change sampling: frames tested and not captioned because the picture had not "
           "changed (apart from frames-skipped)",
           0, G_MAXUINT64, 0, flags);
     }},
    /**
     * GstBlip2Caption:mean-inference-time:
     *
     * Mean wall time of one caption, in milliseconds.
     *
     * Since: 0.1
     */
    {PROP_MEAN_INFERENCE_TIME,
     [] (GParamFlags flags) {
       return g_param_spec_double ("mean-inference-time", "Mean inference time",
                                   "Mean wall time of one caption in milliseconds", 0.0,
                                   G_MAXDOUBLE, 0.0, flags);
     }},
    /**
     * GstBlip2Caption:model-info:
     *
     * The loaded model as a GstStructure "blip2-model" with the fields
     * model, path (resolved folder), device, dtype, quantize, image-size,
     * default-prompt, instance (equal for elements sharing one model) and
     * generation-defaults: a GstStructure of the decoding defaults the
     * checkpoint's generation_config.json gives the properties not set, by
     * property name (those that differ from the properties' defaults, e.g.
     * num-beams=3). NULL until the element is PAUSED.
     *
     * Since: 0.1
     */
    {PROP_MODEL_INFO,
     [] (GParamFlags flags) {
       return g_param_spec_boxed (
           "model-info", "Model info",
           "The loaded model (NULL before PAUSED): a GstStructure with model, path, device, dtype, "
           "quantize, image-size, default-prompt, instance (equal for elements sharing one loaded "
           "model) "
           "and generation-defaults (the decoding defaults of the checkpoint's "
           "generation_config.json that differ from the properties' defaults, by property name)",
           GST_TYPE_STRUCTURE, flags);
     }},
    /**
     * GstBlip2Caption:batch-stats:
     *
     * Live batching (#GstBlip2Caption:max-batch above 1): a GstStructure
     * "blip2-batch-stats" with the counters of the batch scheduler this
     * element shares with the other elements of its model: batches (guint64,
     * model calls), captions (guint64, captions answered through them, of
     * every element), largest (guint), mean-batch-size (gdouble), and the
     * settings in use, max-batch (guint) and batch-wait (guint64 ns), which
     * are those of the first element that batched on the model. NULL when
     * the element does not batch (offline, max-batch 1, or before its first
     * frame).
     *
     * Since: 0.1
     */
    {PROP_BATCH_STATS,
     [] (GParamFlags flags) {
       return g_param_spec_boxed (
           "batch-stats", "Batch statistics",
           "Live batching: the shared batch scheduler's batches, captions, largest, "
           "mean-batch-size and its max-batch and batch-wait (the first batching element's); NULL "
           "when the element does not batch",
           GST_TYPE_STRUCTURE, flags);
     }},
};

static void
install_stats_properties (GObjectClass *gobject_class)
{
  const auto ro = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  for (const auto &p : stats_properties) {
    properties[p.id] = p.spec (ro);
    g_object_class_install_property (gobject_class, p.id, properties[p.id]);
  }
}

static void
set_element_metadata (GstElementClass *element_class)
{
  gst_element_class_set_static_metadata (
      element_class, "BLIP-2 video captioner", "Filter/Analyzer/Video/Text",
      "Passes video through and captions sampled frames with a BLIP-2 OPT model: a sparse "
      "text/x-raw subtitle stream on text_src, a GstCustomMeta \"Blip2CaptionMeta\" on the "
      "video buffer (fields caption, frame-pts, prompt, inference-time, token-count, score, "
      "batch-size; in "
      "live mode on the first buffer after the caption is ready) and an element message "
      "\"blip2caption\" (same fields plus running-time, stream-time, trigger and repeat)",
      "The blip2caption authors");
  gst_element_class_add_static_metadata (
      element_class, "meta",
      "GstCustomMeta \"Blip2CaptionMeta\": caption (string), frame-pts (guint64 ns), prompt "
      "(string), inference-time (guint64 ns), token-count (guint), score (gdouble), batch-size "
      "(guint); read with "
      "gst_buffer_get_custom_meta() / Python buf.get_custom_meta(\"Blip2CaptionMeta\")");
  gst_element_class_add_static_metadata (
      element_class, "examples",
      // gst-inspect prints metadata values as they are: the line breaks are
      // indented to its value column.
      "(file to SubRip) gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! "
      "blip2caption name=c ! fakesink c.text_src ! queue ! srtenc ! filesink location=out.srt\n"
      "                           (camera with overlay) gst-launch-1.0 v4l2src ! videoconvert ! "
      "blip2caption name=c ! videoconvert ! textoverlay name=o ! autovideosink "
      "c.text_src ! o.text_sink\n"
      "                           (captions on the bus) gst-launch-1.0 -m videotestsrc "
      "num-buffers=60 ! blip2caption model=/path/to/checkpoint ! fakesink\n"
      "                           (accessibility subtitles) ... ! blip2caption name=c "
      "sampling=change min-interval=1000000000 interval=10000000000 ! fakesink c.text_src ! queue "
      "! webvttenc ! filesink location=out.vtt\n"
      "                           (file to Matroska) ... ! blip2caption name=c ! queue ! "
      "x264enc ! h264parse ! matroskamux name=m ! filesink location=out.mkv "
      "c.text_src ! queue ! m.subtitle_0");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, TextStream::pad_template ());
}

static void
gst_blip2_caption_class_init (GstBlip2CaptionClass *klass)
{
  auto gobject_class = G_OBJECT_CLASS (klass);
  auto element_class = GST_ELEMENT_CLASS (klass);
  auto trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_blip2_caption_debug, "blip2caption", 0,
                           "BLIP-2 video captioning element");
  gst_blip2_install_log_bridge ();
  gst_blip2_caption_meta_get_info ();

  gobject_class->set_property = gst_blip2_caption_set_property;
  gobject_class->get_property = gst_blip2_caption_get_property;

  /**
   * GstBlip2Caption::caption-now:
   *
   * Action signal: the next video frame is captioned whatever `interval`
   * (or the change test) says, and sampling starts over from that frame. Its
   * trigger in the bus message is "request". Ignored unless PAUSED or PLAYING.
   *
   * Since: 0.1
   */
  g_signal_new_class_handler ("caption-now", G_TYPE_FROM_CLASS (klass),
                              (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
                              G_CALLBACK (gst_blip2_caption_caption_now), nullptr, nullptr,
                              nullptr, G_TYPE_NONE, 0);
  gobject_class->finalize = gst_blip2_caption_finalize;
  blip2gst::install_settings_properties (gobject_class, properties);
  install_stats_properties (gobject_class);
  set_element_metadata (element_class);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_blip2_caption_change_state);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = TRUE;
  trans_class->start = GST_DEBUG_FUNCPTR (gst_blip2_caption_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_blip2_caption_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_blip2_caption_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_blip2_caption_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_blip2_caption_query);
  trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR (gst_blip2_caption_prepare_output_buffer);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_blip2_caption_transform_ip);
  blip2gst::mark_settings_types_as_plugin_api ();
}
