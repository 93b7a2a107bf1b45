// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors

/**
 * SECTION:element-blip2caption
 * @title: blip2caption
 * @short_description: Captions sampled video frames with BLIP-2 OPT
 *
 * blip2caption passes raw video through unchanged (the same buffers, with
 * their timestamps and flags) and captions one frame every #GstBlip2Caption:interval
 * of stream time with a BLIP-2 OPT checkpoint (Hugging Face layout, e.g.
 * `Salesforce/blip2-opt-2.7b-coco`). Each caption comes out three ways:
 *
 * * on the `text_src` pad, as a sparse `text/x-raw, format=utf8` stream: one
 *   buffer per caption with the captioned frame's PTS and a duration up to the
 *   next sampling point, GAP events while there is no caption, EOS after the
 *   last one. It feeds `textoverlay`, `srtenc`, `webvttenc` and `matroskamux`;
 *   it may stay unlinked.
 * * as a `GstCustomMeta` named "Blip2CaptionMeta" on a video buffer; its
 *   structure has the fields `caption` (string), `frame-pts` (guint64, ns),
 *   `prompt` (string), `inference-time` (guint64, ns), `token-count` (guint)
 *   and `score` (gdouble, mean log-probability). Read it with
 *   gst_buffer_get_custom_meta (buffer, "Blip2CaptionMeta") and
 *   gst_custom_meta_get_structure (); from Python,
 *   `buffer.get_custom_meta ("Blip2CaptionMeta").get_structure ()`.
 * * as an element message named `blip2caption` on the bus, with the same
 *   fields plus `running-time` and `stream-time` of the captioned frame.
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
 * them at once. The model is loaded when the element goes from READY to
 * PAUSED (a missing or broken model fails that state change with an error
 * naming it) and is shared by all elements of the process that use the same
 * (model, device, dtype).
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

#include <gst/video/video.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "async_captioner.h"
#include "blip2.h"
#include "gstblip2bridge.h"
#include "gstblip2caption.h"
#include "gstblip2captionmeta.h"
#include "hub_cache.h"

GST_DEBUG_CATEGORY_STATIC (gst_blip2_caption_debug);
#define GST_CAT_DEFAULT gst_blip2_caption_debug

/**
 * GstBlip2CaptionMode:
 * @GST_BLIP2_CAPTION_MODE_AUTO: live when upstream is live, else offline
 * @GST_BLIP2_CAPTION_MODE_OFFLINE: caption in the streaming thread; video waits
 * @GST_BLIP2_CAPTION_MODE_LIVE: caption on a worker thread; video never waits
 *
 * Since: 0.1
 */
typedef enum {
  GST_BLIP2_CAPTION_MODE_AUTO,
  GST_BLIP2_CAPTION_MODE_OFFLINE,
  GST_BLIP2_CAPTION_MODE_LIVE,
} GstBlip2CaptionMode;

/**
 * GstBlip2CaptionDtype:
 * @GST_BLIP2_CAPTION_DTYPE_AUTO: float16 on CUDA, float32 on the CPU
 * @GST_BLIP2_CAPTION_DTYPE_FLOAT32: 32-bit floats
 * @GST_BLIP2_CAPTION_DTYPE_FLOAT16: 16-bit floats
 * @GST_BLIP2_CAPTION_DTYPE_BFLOAT16: bfloat16
 *
 * Since: 0.1
 */
typedef enum {
  GST_BLIP2_CAPTION_DTYPE_AUTO,
  GST_BLIP2_CAPTION_DTYPE_FLOAT32,
  GST_BLIP2_CAPTION_DTYPE_FLOAT16,
  GST_BLIP2_CAPTION_DTYPE_BFLOAT16,
} GstBlip2CaptionDtype;

/**
 * GstBlip2CaptionEarlyStopping:
 * @GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE: stop when no beam can improve (heuristic)
 * @GST_BLIP2_CAPTION_EARLY_STOPPING_TRUE: stop when num-beams captions are finished
 * @GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER: stop only when no beam can improve (exact)
 *
 * Beam search stopping rule, as transformers' `early_stopping`.
 *
 * Since: 0.1
 */
typedef enum {
  GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE,
  GST_BLIP2_CAPTION_EARLY_STOPPING_TRUE,
  GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER,
} GstBlip2CaptionEarlyStopping;

#define GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING (gst_blip2_caption_early_stopping_get_type ())
static GType
gst_blip2_caption_early_stopping_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE,
       "Stop when the best finished captions cannot be beaten (heuristic)", "false"},
      {GST_BLIP2_CAPTION_EARLY_STOPPING_TRUE, "Stop as soon as num-beams captions are finished",
       "true"},
      {GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER,
       "Stop only when no beam can beat the finished captions", "never"},
      {0, nullptr, nullptr},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstBlip2CaptionEarlyStopping", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_BLIP2_CAPTION_MODE (gst_blip2_caption_mode_get_type ())
static GType
gst_blip2_caption_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_BLIP2_CAPTION_MODE_AUTO, "Live when upstream is live, else offline", "auto"},
      {GST_BLIP2_CAPTION_MODE_OFFLINE, "Caption every sampled frame; the video waits", "offline"},
      {GST_BLIP2_CAPTION_MODE_LIVE,
       "Caption on a worker thread; the video never waits, newer frames replace waiting ones",
       "live"},
      {0, nullptr, nullptr},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstBlip2CaptionMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_BLIP2_CAPTION_DTYPE (gst_blip2_caption_dtype_get_type ())
static GType
gst_blip2_caption_dtype_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_BLIP2_CAPTION_DTYPE_AUTO, "float16 on CUDA, float32 on the CPU", "auto"},
      {GST_BLIP2_CAPTION_DTYPE_FLOAT32, "32-bit floating point", "float32"},
      {GST_BLIP2_CAPTION_DTYPE_FLOAT16, "16-bit floating point", "float16"},
      {GST_BLIP2_CAPTION_DTYPE_BFLOAT16, "bfloat16", "bfloat16"},
      {0, nullptr, nullptr},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstBlip2CaptionDtype", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define DEFAULT_MODEL "Salesforce/blip2-opt-2.7b-coco"
#define DEFAULT_DEVICE "auto"
#define DEFAULT_DTYPE GST_BLIP2_CAPTION_DTYPE_AUTO
#define DEFAULT_MODE GST_BLIP2_CAPTION_MODE_AUTO
#define DEFAULT_INTERVAL GST_SECOND
#define DEFAULT_MAX_NEW_TOKENS 30
#define DEFAULT_MIN_NEW_TOKENS 0
#define DEFAULT_LATENCY_MS 1000
#define DEFAULT_NUM_BEAMS 1
#define DEFAULT_LENGTH_PENALTY 1.0
#define DEFAULT_EARLY_STOPPING GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE
#define DEFAULT_REPETITION_PENALTY 1.0
#define DEFAULT_NO_REPEAT_NGRAM_SIZE 0
#define DEFAULT_DO_SAMPLE FALSE
#define DEFAULT_TEMPERATURE 1.0
#define DEFAULT_TOP_K 50
#define DEFAULT_TOP_P 1.0
#define DEFAULT_SEED 0
#define MAX_NEW_TOKENS_LIMIT 1024
#define MAX_LATENCY_MS 600000

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_DTYPE,
  PROP_MODE,
  PROP_INTERVAL,
  PROP_PROMPT,
  PROP_MAX_NEW_TOKENS,
  PROP_MIN_NEW_TOKENS,
  PROP_LATENCY,
  PROP_NUM_BEAMS,
  PROP_LENGTH_PENALTY,
  PROP_EARLY_STOPPING,
  PROP_REPETITION_PENALTY,
  PROP_NO_REPEAT_NGRAM_SIZE,
  PROP_DO_SAMPLE,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_SEED,
  PROP_LAST_CAPTION,
  PROP_FRAMES_SAMPLED,
  PROP_CAPTIONS,
  PROP_FRAMES_SKIPPED,
  PROP_MEAN_INFERENCE_TIME,
  PROP_MODEL_INFO,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

#define VIDEO_FORMATS \
  "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, xRGB, xBGR, ARGB, ABGR, GRAY8, I420, NV12 }"
#define TEXT_CAPS "text/x-raw, format=(string)utf8"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate text_src_template =
    GST_STATIC_PAD_TEMPLATE ("text_src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (TEXT_CAPS));

namespace {

using SteadyClock = std::chrono::steady_clock;

// Property values; written by set_property, copied by the streaming thread.
struct Settings
{
  std::string model = DEFAULT_MODEL;
  std::string device = DEFAULT_DEVICE;
  GstBlip2CaptionDtype dtype = DEFAULT_DTYPE;
  GstBlip2CaptionMode mode = DEFAULT_MODE;
  guint64 interval = DEFAULT_INTERVAL;
  std::optional<std::string> prompt;  // unset: the checkpoint's default prompt
  guint max_new_tokens = DEFAULT_MAX_NEW_TOKENS;
  guint min_new_tokens = DEFAULT_MIN_NEW_TOKENS;
  guint latency_ms = DEFAULT_LATENCY_MS;
  guint num_beams = DEFAULT_NUM_BEAMS;
  gdouble length_penalty = DEFAULT_LENGTH_PENALTY;
  GstBlip2CaptionEarlyStopping early_stopping = DEFAULT_EARLY_STOPPING;
  gdouble repetition_penalty = DEFAULT_REPETITION_PENALTY;
  guint no_repeat_ngram_size = DEFAULT_NO_REPEAT_NGRAM_SIZE;
  gboolean do_sample = DEFAULT_DO_SAMPLE;
  gdouble temperature = DEFAULT_TEMPERATURE;
  guint top_k = DEFAULT_TOP_K;
  gdouble top_p = DEFAULT_TOP_P;
  guint64 seed = DEFAULT_SEED;
};

// Picks frames on a grid of `interval` stream time anchored at the first
// frame, so sampling does not drift when frames fall between grid points.
struct Sampler
{
  GstClockTime origin = GST_CLOCK_TIME_NONE;
  GstClockTime interval = GST_CLOCK_TIME_NONE;
  GstClockTime next = GST_CLOCK_TIME_NONE;  // next sampling point
  GstClockTime last = GST_CLOCK_TIME_NONE;  // last sampled PTS

  void
  reset ()
  {
    *this = Sampler ();
  }

  // Whether the frame at `pts` is sampled; `end` gets the next sampling point
  // (NONE when interval is 0).
  bool
  decide (GstClockTime pts, guint64 new_interval, GstClockTime *end)
  {
    *end = GST_CLOCK_TIME_NONE;
    if (!GST_CLOCK_TIME_IS_VALID (pts))
      return new_interval == 0;
    if (new_interval == 0) {
      interval = 0;
      last = pts;
      return true;
    }
    bool restart = !GST_CLOCK_TIME_IS_VALID (next) || interval != new_interval ||
                   (GST_CLOCK_TIME_IS_VALID (last) && pts < last);
    if (restart) {
      origin = pts;
      interval = new_interval;
    } else if (pts < next) {
      return false;
    }
    guint64 steps = (pts - origin) / interval + 1;
    next = origin + steps * interval;
    last = pts;
    *end = next;
    return true;
  }
};

// A sampled frame handed to the worker (live mode), until its caption is out.
struct Pending
{
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime end = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  SteadyClock::time_point deadline;
  bool overdue = false;  // past `latency`: the text stream no longer waits for it
};

// A finished caption, everything the outputs need.
struct Finished
{
  std::string text;
  std::string prompt;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime end = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime inference_time = 0;
  guint token_count = 0;
  gdouble score = 0.0;

  GstBlip2CaptionInfo
  info () const
  {
    GstBlip2CaptionInfo i;
    i.caption = text.c_str ();
    i.frame_pts = pts;
    i.prompt = prompt.c_str ();
    i.inference_time = inference_time;
    i.token_count = token_count;
    i.score = score;
    return i;
  }
};

// The outgoing text stream: items queued in order by the streaming and
// worker threads, pushed by the text_src task so that neither ever blocks on
// the text consumer.
struct TextStream
{
  std::deque<GstMiniObject *> queue;
  bool flushing = true;
  bool started = false;   // stream-start and caps queued (or pushed)
  std::string stream_id;  // upstream's stream id, for the text stream's
  bool have_group = false;
  guint group_id = 0;
  bool have_segment = false;  // segment queued
  bool eos = false;
  GstSegment segment;                                 // last video segment (TIME)
  GstClockTime position = GST_CLOCK_TIME_NONE;        // end of what is queued
  GstClockTime video_position = GST_CLOCK_TIME_NONE;  // end of the video seen
  std::map<uint64_t, Pending> pending;                // live mode, by request id
  std::vector<Finished> ready;                        // live mode: meta for the next video buffer

  void
  clear_queue ()
  {
    for (GstMiniObject *item : queue)
      gst_mini_object_unref (item);
    queue.clear ();
  }
};

struct Counters
{
  guint64 sampled = 0;
  guint64 captions = 0;
  guint64 skipped = 0;
  gdouble inference_ms_total = 0.0;
};

// What prepare_output_buffer decided for the buffer transform_ip gets next.
struct FramePlan
{
  bool sample = false;
  GstClockTime end = GST_CLOCK_TIME_NONE;  // caption end (next sampling point)
  std::vector<Finished> ready;             // captions whose meta goes on this buffer
};

// Created in start(), dropped in stop().
struct State
{
  std::shared_ptr<const blip2::Model> model;
  std::string model_info;  // serialized GstStructure for the model-info property
  std::unique_ptr<blip2::Captioner> captioner;    // offline mode
  std::unique_ptr<blip2::AsyncCaptioner> worker;  // live mode, made on the first buffer
  GstVideoInfo vinfo;
  bool have_vinfo = false;
  bool mode_known = false;
  bool live = false;
  bool upstream_live = false;
  bool warned_slow = false;
  uint64_t next_request_id = 1;
  Sampler sampler;
  FramePlan plan;
};

}  // namespace

struct GstBlip2CaptionPrivate
{
  GstBlip2CaptionPrivate ()
  {
    gst_segment_init (&text.segment, GST_FORMAT_TIME);
  }
  ~GstBlip2CaptionPrivate ()
  {
    text.clear_queue ();
  }

  std::mutex settings_lock;
  Settings settings;

  // Guards `text`, `counters`, `last_caption` and the `state` pointer itself
  // (not what State holds: that belongs to the streaming thread). Taken after
  // settings_lock, never held while captioning or pushing.
  std::mutex lock;
  std::condition_variable text_cond;
  TextStream text;
  Counters counters;
  std::string last_caption;
  std::unique_ptr<State> state;

  GstPad *text_src = nullptr;
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

static const char *
dtype_name (GstBlip2CaptionDtype dtype)
{
  switch (dtype) {
    case GST_BLIP2_CAPTION_DTYPE_FLOAT32:
      return "float32";
    case GST_BLIP2_CAPTION_DTYPE_FLOAT16:
      return "float16";
    case GST_BLIP2_CAPTION_DTYPE_BFLOAT16:
      return "bfloat16";
    default:
      return "auto";
  }
}

static bool
device_is_valid (const gchar *device)
{
  if (device == nullptr)
    return false;
  std::string d (device);
  if (d == "auto" || d == "cpu" || d == "cuda")
    return true;
  if (d.rfind ("cuda:", 0) != 0 || d.size () == 5 || d.size () > 8)
    return false;
  return std::all_of (d.begin () + 5, d.end (), [] (char c) { return c >= '0' && c <= '9'; });
}

static bool
pixel_format (GstVideoFormat format, blip2::PixelFormat *out)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      *out = blip2::PixelFormat::kRGB;
      return true;
    case GST_VIDEO_FORMAT_BGR:
      *out = blip2::PixelFormat::kBGR;
      return true;
    case GST_VIDEO_FORMAT_RGBA:
      *out = blip2::PixelFormat::kRGBA;
      return true;
    case GST_VIDEO_FORMAT_BGRA:
      *out = blip2::PixelFormat::kBGRA;
      return true;
    case GST_VIDEO_FORMAT_RGBx:
      *out = blip2::PixelFormat::kRGBx;
      return true;
    case GST_VIDEO_FORMAT_BGRx:
      *out = blip2::PixelFormat::kBGRx;
      return true;
    case GST_VIDEO_FORMAT_xRGB:
      *out = blip2::PixelFormat::kxRGB;
      return true;
    case GST_VIDEO_FORMAT_xBGR:
      *out = blip2::PixelFormat::kxBGR;
      return true;
    case GST_VIDEO_FORMAT_ARGB:
      *out = blip2::PixelFormat::kARGB;
      return true;
    case GST_VIDEO_FORMAT_ABGR:
      *out = blip2::PixelFormat::kABGR;
      return true;
    case GST_VIDEO_FORMAT_GRAY8:
      *out = blip2::PixelFormat::kGRAY8;
      return true;
    case GST_VIDEO_FORMAT_I420:
      *out = blip2::PixelFormat::kI420;
      return true;
    case GST_VIDEO_FORMAT_NV12:
      *out = blip2::PixelFormat::kNV12;
      return true;
    default:
      return false;
  }
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

static blip2::GenerationOptions
generation_options (const Settings &settings, const blip2::ModelInfo &info)
{
  blip2::GenerationOptions options;
  options.prompt = settings.prompt ? *settings.prompt : info.default_prompt;
  options.max_new_tokens = (int32_t)settings.max_new_tokens;
  options.min_new_tokens = (int32_t)settings.min_new_tokens;
  options.num_beams = (int32_t)settings.num_beams;
  options.length_penalty = settings.length_penalty;
  switch (settings.early_stopping) {
    case GST_BLIP2_CAPTION_EARLY_STOPPING_TRUE:
      options.early_stopping = blip2::EarlyStopping::kTrue;
      break;
    case GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER:
      options.early_stopping = blip2::EarlyStopping::kNever;
      break;
    default:
      options.early_stopping = blip2::EarlyStopping::kFalse;
      break;
  }
  options.num_return_sequences = 1;
  options.repetition_penalty = settings.repetition_penalty;
  options.no_repeat_ngram_size = (int32_t)settings.no_repeat_ngram_size;
  options.do_sample = settings.do_sample;
  options.temperature = settings.temperature;
  options.top_k = (int32_t)settings.top_k;
  options.top_p = settings.top_p;
  options.seed = settings.seed;
  return options;
}

static Settings
copy_settings (GstBlip2Caption *self)
{
  std::lock_guard<std::mutex> lk (self->priv->settings_lock);
  return self->priv->settings;
}

/* ------------------------------------------------------------------------ */
/* The text stream (all *_locked functions run with priv->lock held)        */

static void
text_queue_locked (GstBlip2Caption *self, GstMiniObject *item)
{
  auto priv = self->priv;
  if (priv->text.flushing) {
    gst_mini_object_unref (item);
    return;
  }
  priv->text.queue.push_back (item);
  priv->text_cond.notify_all ();
}

static void
text_start_locked (GstBlip2Caption *self,
                   const gchar *upstream_id,
                   gboolean have_group,
                   guint group_id)
{
  auto priv = self->priv;
  if (upstream_id != priv->text.stream_id.c_str ())
    priv->text.stream_id = upstream_id ? upstream_id : "";
  priv->text.have_group = have_group;
  priv->text.group_id = group_id;
  if (priv->text.flushing) {
    priv->text.started = false;  // queued after the flush (text_ensure_ready_locked)
    return;
  }
  gchar *id = g_strdup_printf ("%s/blip2caption-text", priv->text.stream_id.empty ()
                                                           ? "blip2caption"
                                                           : priv->text.stream_id.c_str ());
  GstEvent *start = gst_event_new_stream_start (id);
  g_free (id);
  gst_event_set_stream_flags (start, GST_STREAM_FLAG_SPARSE);
  if (have_group)
    gst_event_set_group_id (start, group_id);
  text_queue_locked (self, GST_MINI_OBJECT_CAST (start));
  GstCaps *caps = gst_caps_from_string (TEXT_CAPS);
  text_queue_locked (self, GST_MINI_OBJECT_CAST (gst_event_new_caps (caps)));
  gst_caps_unref (caps);
  priv->text.started = true;
  priv->text.eos = false;
}

// Makes sure stream-start, caps and segment precede any data.
static void
text_ensure_ready_locked (GstBlip2Caption *self)
{
  auto &text = self->priv->text;
  if (!text.started)
    text_start_locked (self, text.stream_id.c_str (), text.have_group, text.group_id);
  if (!text.have_segment) {
    text_queue_locked (self, GST_MINI_OBJECT_CAST (gst_event_new_segment (&text.segment)));
    text.have_segment = true;
  }
}

static void
text_gap_locked (GstBlip2Caption *self, GstClockTime from, GstClockTime to)
{
  text_ensure_ready_locked (self);
  text_queue_locked (self, GST_MINI_OBJECT_CAST (gst_event_new_gap (from, to - from)));
}

// Moves the text position up to what is known to hold no caption: the end of
// the video seen so far, but not past a sampled frame whose caption may still
// come (unless it is overdue).
static void
text_advance_locked (GstBlip2Caption *self)
{
  auto &text = self->priv->text;
  if (text.eos || !GST_CLOCK_TIME_IS_VALID (text.video_position))
    return;
  GstClockTime bound = text.video_position;
  for (const auto &[id, pending] : text.pending) {
    if (!pending.overdue && GST_CLOCK_TIME_IS_VALID (pending.pts))
      bound = std::min (bound, pending.pts);
  }
  if (!GST_CLOCK_TIME_IS_VALID (text.position)) {
    GstClockTime start = text.segment.start;
    text.position = std::min (start, bound);
  }
  if (bound > text.position) {
    text_gap_locked (self, text.position, bound);
    text.position = bound;
  }
}

// Queues the caption buffer (or a gap for an empty caption). A caption that
// is older than the text position (late, live mode) is moved to it.
static void
text_caption_locked (GstBlip2Caption *self, const Finished &caption)
{
  auto &text = self->priv->text;
  if (text.eos)
    return;
  text_ensure_ready_locked (self);

  GstClockTime pts = caption.pts;
  GstClockTime duration = GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (caption.end) && GST_CLOCK_TIME_IS_VALID (pts) && caption.end > pts)
    duration = caption.end - pts;
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (text.position) &&
      pts < text.position) {
    GST_INFO_OBJECT (self, "caption for %" GST_TIME_FORMAT " is late, sent at %" GST_TIME_FORMAT,
                     GST_TIME_ARGS (pts), GST_TIME_ARGS (text.position));
    pts = text.position;
  }
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (text.position) &&
      pts > text.position)
    text_gap_locked (self, text.position, pts);

  if (caption.text.empty () && GST_CLOCK_TIME_IS_VALID (pts) &&
      GST_CLOCK_TIME_IS_VALID (duration)) {
    text_gap_locked (self, pts, pts + duration);
  } else if (!caption.text.empty ()) {
    GstBuffer *buffer = gst_buffer_new_memdup (caption.text.data (), caption.text.size ());
    GST_BUFFER_PTS (buffer) = pts;
    GST_BUFFER_DURATION (buffer) = duration;
    text_queue_locked (self, GST_MINI_OBJECT_CAST (buffer));
  }
  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    GstClockTime end = GST_CLOCK_TIME_IS_VALID (duration) ? pts + duration : pts;
    if (!GST_CLOCK_TIME_IS_VALID (text.position) || end > text.position)
      text.position = end;
  }
}

static void
text_eos_locked (GstBlip2Caption *self)
{
  auto &text = self->priv->text;
  if (text.eos)
    return;
  text_ensure_ready_locked (self);
  text_queue_locked (self, GST_MINI_OBJECT_CAST (gst_event_new_eos ()));
  text.eos = true;
}

// Drops everything queued or pending (flush, stop).
static void
text_reset_locked (GstBlip2Caption *self)
{
  auto &text = self->priv->text;
  // Stream-start and caps still queued are lost with the queue: queue them
  // again before the next data.
  for (GstMiniObject *item : text.queue) {
    if (GST_IS_EVENT (item) && (GST_EVENT_TYPE (item) == GST_EVENT_STREAM_START ||
                                GST_EVENT_TYPE (item) == GST_EVENT_CAPS))
      text.started = false;
  }
  text.clear_queue ();
  text.pending.clear ();
  text.ready.clear ();
  text.position = GST_CLOCK_TIME_NONE;
  text.video_position = GST_CLOCK_TIME_NONE;
  text.have_segment = false;
  text.eos = false;
  self->priv->text_cond.notify_all ();
}

// The text_src task: pushes what the other threads queued, and lets the text
// stream move past a live caption that is overdue.
static void
text_loop (GstPad *pad)
{
  auto self = GST_BLIP2_CAPTION (gst_pad_get_parent_element (pad));
  if (self == nullptr)
    return;
  auto priv = self->priv;
  GstMiniObject *item = nullptr;
  {
    std::unique_lock<std::mutex> lk (priv->lock);
    while (!priv->text.flushing && priv->text.queue.empty ()) {
      std::optional<SteadyClock::time_point> deadline;
      for (const auto &[id, pending] : priv->text.pending) {
        if (!pending.overdue && (!deadline || pending.deadline < *deadline))
          deadline = pending.deadline;
      }
      if (!deadline) {
        priv->text_cond.wait (lk);
      } else if (priv->text_cond.wait_until (lk, *deadline) == std::cv_status::timeout) {
        auto now = SteadyClock::now ();
        for (auto &[id, pending] : priv->text.pending) {
          if (!pending.overdue && pending.deadline <= now) {
            GST_INFO_OBJECT (self, "caption for %" GST_TIME_FORMAT " is overdue",
                             GST_TIME_ARGS (pending.pts));
            pending.overdue = true;
          }
        }
        text_advance_locked (self);
      }
    }
    if (!priv->text.flushing) {
      item = priv->text.queue.front ();
      priv->text.queue.pop_front ();
    }
  }

  if (item == nullptr) {
    gst_pad_pause_task (pad);
  } else if (GST_IS_BUFFER (item)) {
    GstFlowReturn ret = gst_pad_push (pad, GST_BUFFER_CAST (item));
    if (ret != GST_FLOW_OK && ret != GST_FLOW_NOT_LINKED && ret != GST_FLOW_FLUSHING &&
        ret != GST_FLOW_EOS)
      GST_WARNING_OBJECT (self, "pushing a caption returned %s", gst_flow_get_name (ret));
  } else {
    GstEvent *event = GST_EVENT_CAST (item);
    GstEventType type = GST_EVENT_TYPE (event);
    GST_LOG_OBJECT (self, "text event %" GST_PTR_FORMAT, event);
    if (!gst_pad_push_event (pad, event) &&
        (type == GST_EVENT_STREAM_START || type == GST_EVENT_CAPS)) {
      // Refused while flushing: not stored on the pad, so queue it again.
      GstEvent *stored = gst_pad_get_sticky_event (pad, type, 0);
      if (stored == nullptr) {
        std::lock_guard<std::mutex> lk (priv->lock);
        priv->text.started = false;
      } else {
        gst_event_unref (stored);
      }
    }
  }
  gst_object_unref (self);
}

static gboolean
text_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  auto self = GST_BLIP2_CAPTION (parent);
  auto priv = self->priv;
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      priv->text.flushing = false;
    }
    return gst_pad_start_task (pad, (GstTaskFunction)text_loop, pad, nullptr);
  }
  {
    std::lock_guard<std::mutex> lk (priv->lock);
    priv->text.flushing = true;
    text_reset_locked (self);
    priv->text.started = false;
  }
  return gst_pad_stop_task (pad);
}

/* ------------------------------------------------------------------------ */
/* Publishing a caption                                                     */

static void
record_caption_locked (GstBlip2Caption *self, const Finished &caption)
{
  auto priv = self->priv;
  priv->counters.captions++;
  priv->counters.inference_ms_total += caption.inference_time / 1e6;
  priv->last_caption = caption.text;
}

// Bus message and property notification: called with no lock held.
static void
announce_caption (GstBlip2Caption *self, const Finished &caption)
{
  GstStructure *s = gst_structure_new_empty ("blip2caption");
  GstBlip2CaptionInfo info = caption.info ();
  gst_blip2_caption_info_to_structure (&info, s);
  gst_structure_set (s, "running-time", G_TYPE_UINT64, (guint64)caption.running_time, "stream-time",
                     G_TYPE_UINT64, (guint64)caption.stream_time, nullptr);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_CAPTION]);
}

static Finished
finished_from (const blip2::Caption &caption,
               const std::string &prompt,
               GstClockTime pts,
               GstClockTime end,
               const GstSegment &segment)
{
  Finished f;
  f.text = caption.text;
  f.prompt = prompt;
  f.pts = pts;
  f.end = end;
  if (GST_CLOCK_TIME_IS_VALID (pts) && segment.format == GST_FORMAT_TIME) {
    f.running_time = gst_segment_to_running_time (&segment, GST_FORMAT_TIME, pts);
    f.stream_time = gst_segment_to_stream_time (&segment, GST_FORMAT_TIME, pts);
  }
  f.inference_time = (GstClockTime)(caption.inference_ms * GST_MSECOND);
  f.token_count = (guint)caption.token_ids.size ();
  f.score = caption.score;
  return f;
}

// Live mode: a result from the worker thread.
static void
on_worker_result (GstBlip2Caption *self, blip2::CaptionResult &&result)
{
  auto priv = self->priv;
  Finished caption;
  guint latency_ms = copy_settings (self).latency_ms;
  bool warn_slow = false;
  {
    std::lock_guard<std::mutex> lk (priv->lock);
    auto it = priv->text.pending.find (result.id);
    if (it == priv->text.pending.end ())
      return;  // flushed meanwhile
    Pending pending = it->second;
    priv->text.pending.erase (it);
    if (!result.ok) {
      text_advance_locked (self);
    } else {
      caption = finished_from (result.caption, result.options.prompt, pending.pts, pending.end,
                               priv->text.segment);
      caption.running_time = pending.running_time;
      caption.stream_time = pending.stream_time;
      record_caption_locked (self, caption);
      text_caption_locked (self, caption);
      text_advance_locked (self);
      priv->text.ready.push_back (caption);
      if (priv->state && result.caption.inference_ms > latency_ms && !priv->state->warned_slow) {
        priv->state->warned_slow = true;
        warn_slow = true;
      }
    }
  }
  if (!result.ok) {
    try {
      throw blip2::Error (result.error_code, result.error);
    } catch (...) {
      gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (),
                            GstBlip2Phase::kStreaming, "live caption");
    }
    return;
  }
  if (result.caption.inference_ms > latency_ms) {
    GST_WARNING_OBJECT (self, "inference took %.0f ms, more than the latency of %u ms",
                        result.caption.inference_ms, latency_ms);
  }
  if (warn_slow) {
    GST_ELEMENT_WARNING (
        self, STREAM, FAILED, ("Captioning takes longer than the configured latency"),
        ("inference took %.0f ms, latency is %u ms: raise the latency property or use a "
         "faster device",
         result.caption.inference_ms, latency_ms));
  }
  announce_caption (self, caption);
}

/* ------------------------------------------------------------------------ */
/* GstBaseTransform vfuncs                                                  */

static gboolean
gst_blip2_caption_start (GstBaseTransform *trans)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  Settings settings = copy_settings (self);
  auto state = std::make_unique<State> ();

  try {
    blip2::ModelOptions options;
    options.path = blip2::resolve_model_path (settings.model);
    options.device = settings.device;
    options.dtype = dtype_name (settings.dtype);
    GST_INFO_OBJECT (self, "loading %s (%s) on %s, %s", settings.model.c_str (),
                     options.path.c_str (), options.device.c_str (), options.dtype.c_str ());
    state->model = blip2::Model::load_shared (options);
    state->captioner = std::make_unique<blip2::Captioner> (state->model);
  } catch (...) {
    gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (), GstBlip2Phase::kLoading,
                          settings.model.c_str ());
    return FALSE;
  }

  const blip2::ModelInfo &info = state->model->info ();
  GstStructure *s = gst_structure_new (
      "blip2-model", "model", G_TYPE_STRING, settings.model.c_str (), "path", G_TYPE_STRING,
      info.path.c_str (), "device", G_TYPE_STRING, info.device.c_str (), "dtype", G_TYPE_STRING,
      info.dtype.c_str (), "image-size", G_TYPE_INT, (gint)info.image_size, "default-prompt",
      G_TYPE_STRING, info.default_prompt.c_str (), "instance", G_TYPE_UINT64,
      model_serial (state->model), nullptr);
  gchar *str = gst_structure_to_string (s);
  state->model_info = str;
  g_free (str);
  gst_structure_free (s);
  GST_INFO_OBJECT (self, "model ready: %s", state->model_info.c_str ());

  {
    std::lock_guard<std::mutex> lk (priv->lock);
    priv->counters = Counters ();
    priv->last_caption.clear ();
    priv->state = std::move (state);
  }
  return TRUE;
}

static gboolean
gst_blip2_caption_stop (GstBaseTransform *trans)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  std::unique_ptr<State> state;
  {
    std::lock_guard<std::mutex> lk (priv->lock);
    state = std::move (priv->state);
    text_reset_locked (self);
  }
  if (state && state->worker)
    state->worker->stop ();  // joins: no callback after this
  return TRUE;
}

static gboolean
gst_blip2_caption_set_caps (GstBaseTransform *trans,
                            GstCaps *incaps,
                            GstCaps *outcaps G_GNUC_UNUSED)
{
  auto self = GST_BLIP2_CAPTION (trans);
  State *state = self->priv->state.get ();
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
  if (state) {
    state->vinfo = info;
    state->have_vinfo = true;
  }
  return TRUE;
}

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
resolve_mode (GstBlip2Caption *self, State *state, const Settings &settings)
{
  if (state->mode_known)
    return;
  state->upstream_live = upstream_is_live (self);
  switch (settings.mode) {
    case GST_BLIP2_CAPTION_MODE_OFFLINE:
      state->live = false;
      break;
    case GST_BLIP2_CAPTION_MODE_LIVE:
      state->live = true;
      break;
    default:
      state->live = state->upstream_live;
      break;
  }
  state->mode_known = true;
  GST_INFO_OBJECT (self, "%s mode (upstream is %slive)", state->live ? "live" : "offline",
                   state->upstream_live ? "" : "not ");
  if (state->live && !state->worker) {
    auto worker = std::make_unique<blip2::AsyncCaptioner> (
        state->model,
        [self] (blip2::CaptionResult &&result) { on_worker_result (self, std::move (result)); });
    std::lock_guard<std::mutex> lk (self->priv->lock);
    state->worker = std::move (worker);
  }
}

static GstClockTime
frame_duration (State *state, GstBuffer *buffer)
{
  if (GST_BUFFER_DURATION_IS_VALID (buffer))
    return GST_BUFFER_DURATION (buffer);
  if (state->have_vinfo && GST_VIDEO_INFO_FPS_N (&state->vinfo) > 0)
    return gst_util_uint64_scale (GST_SECOND, GST_VIDEO_INFO_FPS_D (&state->vinfo),
                                  GST_VIDEO_INFO_FPS_N (&state->vinfo));
  return GST_CLOCK_TIME_NONE;
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
  State *state = priv->state.get ();
  if (state == nullptr)
    return GST_FLOW_FLUSHING;

  Settings settings = copy_settings (self);
  resolve_mode (self, state, settings);

  FramePlan plan;
  plan.sample = state->sampler.decide (GST_BUFFER_PTS (inbuf), settings.interval, &plan.end);
  if (plan.sample && settings.interval == 0) {
    GstClockTime duration = frame_duration (state, inbuf);
    if (GST_BUFFER_PTS_IS_VALID (inbuf) && GST_CLOCK_TIME_IS_VALID (duration))
      plan.end = GST_BUFFER_PTS (inbuf) + duration;
  }
  if (state->live) {
    std::lock_guard<std::mutex> lk (priv->lock);
    plan.ready.swap (priv->text.ready);
  }
  bool needs_meta = (plan.sample && !state->live) || !plan.ready.empty ();
  state->plan = std::move (plan);

  if (!needs_meta) {
    *outbuf = inbuf;
    return GST_FLOW_OK;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->prepare_output_buffer (trans, inbuf, outbuf);
}

static bool
image_view_of (const GstVideoFrame *frame, blip2::ImageView *view)
{
  blip2::PixelFormat format;
  if (!pixel_format (GST_VIDEO_FRAME_FORMAT (frame), &format))
    return false;
  view->format = format;
  view->width = GST_VIDEO_FRAME_WIDTH (frame);
  view->height = GST_VIDEO_FRAME_HEIGHT (frame);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame) && p < 3; p++) {
    view->planes[p] = static_cast<const uint8_t *> (GST_VIDEO_FRAME_PLANE_DATA (frame, p));
    view->strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
  }
  return true;
}

static GstFlowReturn
gst_blip2_caption_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;
  State *state = priv->state.get ();
  if (state == nullptr)
    return GST_FLOW_FLUSHING;
  if (!state->have_vinfo)
    return GST_FLOW_NOT_NEGOTIATED;

  FramePlan plan = std::move (state->plan);
  state->plan = FramePlan ();
  const GstClockTime pts = GST_BUFFER_PTS (buffer);
  std::vector<Finished> announce;

  for (const Finished &ready : plan.ready) {
    GstBlip2CaptionInfo info = ready.info ();
    gst_blip2_caption_meta_add (buffer, &info);
  }

  if (plan.sample) {
    Settings settings = copy_settings (self);
    blip2::GenerationOptions options = generation_options (settings, state->model->info ());
    GstSegment segment;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      priv->counters.sampled++;
      segment = priv->text.segment;
    }

    GstVideoFrame frame;
    if (!gst_video_frame_map (&frame, &state->vinfo, buffer, GST_MAP_READ)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a video frame"),
                         ("buffer %" GST_PTR_FORMAT " does not match the caps", buffer));
      return GST_FLOW_ERROR;
    }
    blip2::ImageView view;
    image_view_of (&frame, &view);

    if (!state->live) {
      blip2::Caption caption;
      try {
        caption = state->captioner->caption (view, options);
      } catch (...) {
        gst_video_frame_unmap (&frame);
        gchar *what = g_strdup_printf ("frame %" GST_TIME_FORMAT, GST_TIME_ARGS (pts));
        gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (),
                              GstBlip2Phase::kStreaming, what);
        g_free (what);
        return GST_FLOW_ERROR;
      }
      gst_video_frame_unmap (&frame);
      Finished finished = finished_from (caption, options.prompt, pts, plan.end, segment);
      GstBlip2CaptionInfo info = finished.info ();
      gst_blip2_caption_meta_add (buffer, &info);
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        record_caption_locked (self, finished);
        text_caption_locked (self, finished);
      }
      announce.push_back (std::move (finished));
    } else {
      blip2::CaptionRequest request;
      try {
        request.image = blip2::ImageBuffer::copy_of (view);
      } catch (...) {
        gst_video_frame_unmap (&frame);
        gst_blip2_post_error (GST_ELEMENT (self), std::current_exception (),
                              GstBlip2Phase::kStreaming, "frame copy");
        return GST_FLOW_ERROR;
      }
      gst_video_frame_unmap (&frame);
      request.options = options;
      request.id = state->next_request_id++;

      Pending pending;
      pending.pts = pts;
      pending.end = plan.end;
      if (GST_CLOCK_TIME_IS_VALID (pts) && segment.format == GST_FORMAT_TIME) {
        pending.running_time = gst_segment_to_running_time (&segment, GST_FORMAT_TIME, pts);
        pending.stream_time = gst_segment_to_stream_time (&segment, GST_FORMAT_TIME, pts);
      }
      pending.deadline = SteadyClock::now () + std::chrono::milliseconds (settings.latency_ms);
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        priv->text.pending[request.id] = pending;
      }
      std::optional<uint64_t> replaced = state->worker->submit (std::move (request));
      if (replaced) {
        std::lock_guard<std::mutex> lk (priv->lock);
        priv->text.pending.erase (*replaced);
        priv->counters.skipped++;
        GST_DEBUG_OBJECT (self, "model busy: a newer frame replaced a waiting one");
      }
    }
  }

  {
    std::lock_guard<std::mutex> lk (priv->lock);
    if (GST_CLOCK_TIME_IS_VALID (pts)) {
      GstClockTime duration = frame_duration (state, buffer);
      GstClockTime end = GST_CLOCK_TIME_IS_VALID (duration) ? pts + duration : pts;
      auto &video_position = priv->text.video_position;
      if (!GST_CLOCK_TIME_IS_VALID (video_position) || end > video_position)
        video_position = end;
    }
    text_advance_locked (self);
  }
  for (const Finished &finished : announce)
    announce_caption (self, finished);
  return GST_FLOW_OK;
}

static gboolean
gst_blip2_caption_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  auto self = GST_BLIP2_CAPTION (trans);
  auto priv = self->priv;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START: {
      const gchar *id = nullptr;
      guint group_id = 0;
      gst_event_parse_stream_start (event, &id);
      gboolean have_group = gst_event_parse_group_id (event, &group_id);
      std::lock_guard<std::mutex> lk (priv->lock);
      text_start_locked (self, id, have_group, group_id);
      priv->text.have_segment = false;
      break;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      std::lock_guard<std::mutex> lk (priv->lock);
      if (segment->format == GST_FORMAT_TIME) {
        gst_segment_copy_into (segment, &priv->text.segment);
      } else {
        GST_WARNING_OBJECT (self, "video segment not in TIME: text uses a default one");
        gst_segment_init (&priv->text.segment, GST_FORMAT_TIME);
      }
      priv->text.have_segment = false;
      priv->text.position = GST_CLOCK_TIME_NONE;
      priv->text.video_position = GST_CLOCK_TIME_NONE;
      text_ensure_ready_locked (self);
      if (priv->state)
        priv->state->sampler.reset ();
      break;
    }
    case GST_EVENT_GAP: {
      GstClockTime ts, duration;
      gst_event_parse_gap (event, &ts, &duration);
      if (GST_CLOCK_TIME_IS_VALID (ts)) {
        GstClockTime end = GST_CLOCK_TIME_IS_VALID (duration) ? ts + duration : ts;
        std::lock_guard<std::mutex> lk (priv->lock);
        auto &video_position = priv->text.video_position;
        if (!GST_CLOCK_TIME_IS_VALID (video_position) || end > video_position)
          video_position = end;
        text_advance_locked (self);
      }
      break;
    }
    case GST_EVENT_FLUSH_START: {
      gst_pad_push_event (priv->text_src, gst_event_ref (event));
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        priv->text.flushing = true;
        text_reset_locked (self);
      }
      blip2::AsyncCaptioner *worker = nullptr;
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        if (priv->state)
          worker = priv->state->worker.get ();
      }
      if (worker)
        worker->flush ();
      gst_pad_pause_task (priv->text_src);
      break;
    }
    case GST_EVENT_FLUSH_STOP: {
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        text_reset_locked (self);
        priv->text.flushing = false;
        if (priv->state)
          priv->state->sampler.reset ();
      }
      gst_pad_push_event (priv->text_src, gst_event_ref (event));
      if (GST_PAD_IS_ACTIVE (priv->text_src))
        gst_pad_start_task (priv->text_src, (GstTaskFunction)text_loop, priv->text_src, nullptr);
      break;
    }
    case GST_EVENT_EOS: {
      blip2::AsyncCaptioner *worker = nullptr;
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        if (priv->state)
          worker = priv->state->worker.get ();
      }
      if (worker) {
        GST_DEBUG_OBJECT (self, "EOS: waiting for pending captions");
        worker->drain ();
      }
      std::lock_guard<std::mutex> lk (priv->lock);
      for (auto &[id, pending] : priv->text.pending)
        pending.overdue = true;  // failed or dropped: nothing will come
      text_advance_locked (self);
      text_eos_locked (self);
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
add_latency (GstBlip2Caption *self, GstQuery *query)
{
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
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (trans), query))
      return FALSE;
    return add_latency (self, query);
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static gboolean
text_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  auto self = GST_BLIP2_CAPTION (parent);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:
      if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), query))
        return FALSE;
      return add_latency (self, query);
    case GST_QUERY_CAPS: {
      GstCaps *filter;
      gst_query_parse_caps (query, &filter);
      GstCaps *caps = gst_pad_get_pad_template_caps (pad);
      if (filter) {
        GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = tmp;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
text_src_event (GstPad *pad G_GNUC_UNUSED, GstObject *parent, GstEvent *event)
{
  auto self = GST_BLIP2_CAPTION (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_SEEK:
      // A seek from the subtitle side seeks the video.
      return gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (self), event);
    default:
      // QoS, reconfigure, navigation: meaningless for captions.
      gst_event_unref (event);
      return TRUE;
  }
}

static GstStateChangeReturn
gst_blip2_caption_change_state (GstElement *element, GstStateChange transition)
{
  auto self = GST_BLIP2_CAPTION (element);
  auto priv = self->priv;
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    // Let an EOS drain waiting for the worker return before pads deactivate.
    // The worker lives until stop(), which runs later in this thread.
    blip2::AsyncCaptioner *worker = nullptr;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      if (priv->state)
        worker = priv->state->worker.get ();
      priv->text.pending.clear ();
    }
    if (worker)
      worker->flush ();
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
  if (refuse_while_running (self, pspec))
    return;
  bool latency_changed = false;
  {
    std::lock_guard<std::mutex> lk (self->priv->settings_lock);
    Settings &s = self->priv->settings;
    switch (prop_id) {
      case PROP_MODEL: {
        const gchar *model = g_value_get_string (value);
        s.model = model ? model : DEFAULT_MODEL;
        break;
      }
      case PROP_DEVICE: {
        const gchar *device = g_value_get_string (value);
        if (!device_is_valid (device)) {
          g_warning (
              "blip2caption: invalid device '%s' (expected auto, cpu, cuda or cuda:N); "
              "keeping '%s'",
              device ? device : "(null)", s.device.c_str ());
        } else {
          s.device = device;
        }
        break;
      }
      case PROP_DTYPE:
        s.dtype = (GstBlip2CaptionDtype)g_value_get_enum (value);
        break;
      case PROP_MODE:
        s.mode = (GstBlip2CaptionMode)g_value_get_enum (value);
        break;
      case PROP_INTERVAL:
        s.interval = g_value_get_uint64 (value);
        break;
      case PROP_PROMPT: {
        const gchar *prompt = g_value_get_string (value);
        if (prompt)
          s.prompt = prompt;
        else
          s.prompt.reset ();
        break;
      }
      case PROP_MAX_NEW_TOKENS:
        s.max_new_tokens = g_value_get_uint (value);
        break;
      case PROP_MIN_NEW_TOKENS:
        s.min_new_tokens = g_value_get_uint (value);
        break;
      case PROP_LATENCY:
        latency_changed = s.latency_ms != g_value_get_uint (value);
        s.latency_ms = g_value_get_uint (value);
        break;
      case PROP_NUM_BEAMS:
        s.num_beams = g_value_get_uint (value);
        break;
      case PROP_LENGTH_PENALTY:
        s.length_penalty = g_value_get_double (value);
        break;
      case PROP_EARLY_STOPPING:
        s.early_stopping = (GstBlip2CaptionEarlyStopping)g_value_get_enum (value);
        break;
      case PROP_REPETITION_PENALTY:
        s.repetition_penalty = g_value_get_double (value);
        break;
      case PROP_NO_REPEAT_NGRAM_SIZE:
        s.no_repeat_ngram_size = g_value_get_uint (value);
        break;
      case PROP_DO_SAMPLE:
        s.do_sample = g_value_get_boolean (value);
        break;
      case PROP_TEMPERATURE:
        s.temperature = g_value_get_double (value);
        break;
      case PROP_TOP_K:
        s.top_k = g_value_get_uint (value);
        break;
      case PROP_TOP_P:
        s.top_p = g_value_get_double (value);
        break;
      case PROP_SEED:
        s.seed = g_value_get_uint64 (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
        break;
    }
  }
  if (latency_changed)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

static void
gst_blip2_caption_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto self = GST_BLIP2_CAPTION (object);
  auto priv = self->priv;

  if (prop_id >= PROP_LAST_CAPTION) {
    std::lock_guard<std::mutex> lk (priv->lock);
    const Counters &c = priv->counters;
    switch (prop_id) {
      case PROP_LAST_CAPTION:
        g_value_set_string (value, c.captions ? priv->last_caption.c_str () : nullptr);
        break;
      case PROP_FRAMES_SAMPLED:
        g_value_set_uint64 (value, c.sampled);
        break;
      case PROP_CAPTIONS:
        g_value_set_uint64 (value, c.captions);
        break;
      case PROP_FRAMES_SKIPPED:
        g_value_set_uint64 (value, c.skipped);
        break;
      case PROP_MEAN_INFERENCE_TIME:
        g_value_set_double (value, c.captions ? c.inference_ms_total / c.captions : 0.0);
        break;
      case PROP_MODEL_INFO:
        g_value_set_string (value, priv->state ? priv->state->model_info.c_str () : nullptr);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
        break;
    }
    return;
  }

  std::lock_guard<std::mutex> lk (priv->settings_lock);
  const Settings &s = priv->settings;
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, s.model.c_str ());
      break;
    case PROP_DEVICE:
      g_value_set_string (value, s.device.c_str ());
      break;
    case PROP_DTYPE:
      g_value_set_enum (value, s.dtype);
      break;
    case PROP_MODE:
      g_value_set_enum (value, s.mode);
      break;
    case PROP_INTERVAL:
      g_value_set_uint64 (value, s.interval);
      break;
    case PROP_PROMPT:
      g_value_set_string (value, s.prompt ? s.prompt->c_str () : nullptr);
      break;
    case PROP_MAX_NEW_TOKENS:
      g_value_set_uint (value, s.max_new_tokens);
      break;
    case PROP_MIN_NEW_TOKENS:
      g_value_set_uint (value, s.min_new_tokens);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, s.latency_ms);
      break;
    case PROP_NUM_BEAMS:
      g_value_set_uint (value, s.num_beams);
      break;
    case PROP_LENGTH_PENALTY:
      g_value_set_double (value, s.length_penalty);
      break;
    case PROP_EARLY_STOPPING:
      g_value_set_enum (value, s.early_stopping);
      break;
    case PROP_REPETITION_PENALTY:
      g_value_set_double (value, s.repetition_penalty);
      break;
    case PROP_NO_REPEAT_NGRAM_SIZE:
      g_value_set_uint (value, s.no_repeat_ngram_size);
      break;
    case PROP_DO_SAMPLE:
      g_value_set_boolean (value, s.do_sample);
      break;
    case PROP_TEMPERATURE:
      g_value_set_double (value, s.temperature);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, s.top_k);
      break;
    case PROP_TOP_P:
      g_value_set_double (value, s.top_p);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, s.seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
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

  GstPad *pad = gst_pad_new_from_static_template (&text_src_template, "text_src");
  gst_pad_set_activatemode_function (pad, GST_DEBUG_FUNCPTR (text_src_activate_mode));
  gst_pad_set_query_function (pad, GST_DEBUG_FUNCPTR (text_src_query));
  gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (text_src_event));
  gst_pad_use_fixed_caps (pad);
  gst_element_add_pad (GST_ELEMENT (self), pad);
  self->priv->text_src = pad;
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
  gobject_class->finalize = gst_blip2_caption_finalize;

  const auto rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);
  const auto playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);
  const auto ro = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * GstBlip2Caption:model:
   *
   * A checkpoint folder in the Hugging Face layout (config.json,
   * model*.safetensors, vocab.json, merges.txt), or a Hugging Face repo id
   * looked up in the local cache the way transformers does offline
   * ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). Nothing is
   * downloaded. Loaded when going to PAUSED; shared by every element of the
   * process with the same model, device and dtype.
   *
   * Since: 0.1
   */
  properties[PROP_MODEL] = g_param_spec_string (
      "model", "Model",
      "Checkpoint folder, or a Hugging Face repo id found in the local Hugging Face cache "
      "(HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub); nothing is downloaded",
      DEFAULT_MODEL, ready);
  /**
   * GstBlip2Caption:device:
   *
   * Where inference runs: auto (CUDA when available), cpu, cuda or cuda:N.
   *
   * Since: 0.1
   */
  properties[PROP_DEVICE] = g_param_spec_string (
      "device", "Device",
      "Where inference runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N",
      DEFAULT_DEVICE, ready);
  /**
   * GstBlip2Caption:dtype:
   *
   * Precision of the weights and activations.
   *
   * Since: 0.1
   */
  properties[PROP_DTYPE] = g_param_spec_enum (
      "dtype", "Data type",
      "Precision of the weights and activations (auto: float16 on CUDA, float32 on CPU)",
      GST_TYPE_BLIP2_CAPTION_DTYPE, DEFAULT_DTYPE, ready);
  /**
   * GstBlip2Caption:mode:
   *
   * Offline (video waits for each caption, meta on the sampled frame) or
   * live (captions on a worker thread, video never waits). Auto picks live
   * when upstream answers the LATENCY query as live.
   *
   * Since: 0.1
   */
  properties[PROP_MODE] = g_param_spec_enum (
      "mode", "Timing mode",
      "offline: the video waits for every caption and the meta is on the sampled frame; "
      "live: captions are made on a worker thread, the video never waits, a newer frame "
      "replaces one still waiting and the meta goes on the next video buffer after the caption "
      "is ready; auto: live when upstream is live",
      GST_TYPE_BLIP2_CAPTION_MODE, DEFAULT_MODE, ready);
  /**
   * GstBlip2Caption:interval:
   *
   * Stream time between sampled frames, in nanoseconds; 0 captions every
   * frame. Frames are sampled on a grid anchored at the first frame, and each
   * caption lasts until the next grid point.
   *
   * Since: 0.1
   */
  properties[PROP_INTERVAL] = g_param_spec_uint64 (
      "interval", "Interval",
      "Stream time between sampled frames in nanoseconds (0 = every frame); a caption lasts "
      "until the next sampling point",
      0, G_MAXUINT64, DEFAULT_INTERVAL, playing);
  /**
   * GstBlip2Caption:prompt:
   *
   * Text the caption continues. NULL (the default) uses the checkpoint's
   * captioning prompt ("a photo of" for the -coco checkpoints, none for the
   * others); "" means no prompt.
   *
   * Since: 0.1
   */
  properties[PROP_PROMPT] = g_param_spec_string (
      "prompt", "Prompt",
      "Text the caption continues; unset = the checkpoint's captioning prompt (\"a photo of\" "
      "for -coco checkpoints), empty = no prompt",
      nullptr, playing);
  /**
   * GstBlip2Caption:max-new-tokens:
   *
   * Most tokens generated per caption (the end-of-text token included).
   *
   * Since: 0.1
   */
  properties[PROP_MAX_NEW_TOKENS] = g_param_spec_uint (
      "max-new-tokens", "Max new tokens", "Most tokens generated per caption, end-of-text included",
      1, MAX_NEW_TOKENS_LIMIT, DEFAULT_MAX_NEW_TOKENS, playing);
  /**
   * GstBlip2Caption:min-new-tokens:
   *
   * End-of-text is not allowed before this many new tokens.
   *
   * Since: 0.1
   */
  properties[PROP_MIN_NEW_TOKENS] = g_param_spec_uint (
      "min-new-tokens", "Min new tokens", "End-of-text is not allowed before this many new tokens",
      0, MAX_NEW_TOKENS_LIMIT, DEFAULT_MIN_NEW_TOKENS, playing);
  /**
   * GstBlip2Caption:latency:
   *
   * Milliseconds added to the LATENCY query when upstream is live: the time
   * one caption may take so that the text stream still arrives in time. The
   * element warns when an inference takes longer; the text stream stops
   * waiting for a caption after this long.
   *
   * Since: 0.1
   */
  properties[PROP_LATENCY] = g_param_spec_uint (
      "latency", "Latency",
      "Milliseconds added to the pipeline latency when upstream is live: how long one caption "
      "may take (the element warns when inference takes longer)",
      0, MAX_LATENCY_MS, DEFAULT_LATENCY_MS, playing);
  /**
   * GstBlip2Caption:num-beams:
   *
   * Beam search width; 1 is greedy decoding (or sampling with do-sample).
   *
   * Since: 0.1
   */
  properties[PROP_NUM_BEAMS] = g_param_spec_uint (
      "num-beams", "Beams", "Beam search width (1 = greedy, or sampling when do-sample is set)", 1,
      64, DEFAULT_NUM_BEAMS, playing);
  /**
   * GstBlip2Caption:length-penalty:
   *
   * Beam search: a finished caption scores sum(log p) / length^length-penalty.
   *
   * Since: 0.1
   */
  properties[PROP_LENGTH_PENALTY] = g_param_spec_double (
      "length-penalty", "Length penalty",
      "Beam search: captions score sum(log p) / length^length-penalty (> 0 favours longer ones)",
      -100.0, 100.0, DEFAULT_LENGTH_PENALTY, playing);
  /**
   * GstBlip2Caption:early-stopping:
   *
   * Beam search stopping rule (transformers' early_stopping).
   *
   * Since: 0.1
   */
  properties[PROP_EARLY_STOPPING] =
      g_param_spec_enum ("early-stopping", "Early stopping",
                         "Beam search stopping rule, as transformers' early_stopping",
                         GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING, DEFAULT_EARLY_STOPPING, playing);
  /**
   * GstBlip2Caption:repetition-penalty:
   *
   * Divides the logits of tokens already in the caption (1.0 = off).
   *
   * Since: 0.1
   */
  properties[PROP_REPETITION_PENALTY] =
      g_param_spec_double ("repetition-penalty", "Repetition penalty",
                           "Penalty on tokens already generated (1.0 = none)", 0.01, 100.0,
                           DEFAULT_REPETITION_PENALTY, playing);
  /**
   * GstBlip2Caption:no-repeat-ngram-size:
   *
   * No n-gram of this size appears twice in a caption (0 = off).
   *
   * Since: 0.1
   */
  properties[PROP_NO_REPEAT_NGRAM_SIZE] =
      g_param_spec_uint ("no-repeat-ngram-size", "No-repeat n-gram size",
                         "No n-gram of this size appears twice in a caption (0 = off)", 0, 64,
                         DEFAULT_NO_REPEAT_NGRAM_SIZE, playing);
  /**
   * GstBlip2Caption:do-sample:
   *
   * Sample tokens (temperature, top-k, top-p, seed) instead of taking the
   * most likely one.
   *
   * Since: 0.1
   */
  properties[PROP_DO_SAMPLE] = g_param_spec_boolean (
      "do-sample", "Sample",
      "Sample tokens (temperature, top-k, top-p, seed) instead of picking the most likely one",
      DEFAULT_DO_SAMPLE, playing);
  /**
   * GstBlip2Caption:temperature:
   *
   * Sampling temperature.
   *
   * Since: 0.1
   */
  properties[PROP_TEMPERATURE] =
      g_param_spec_double ("temperature", "Temperature", "Sampling temperature (do-sample)", 0.01,
                           100.0, DEFAULT_TEMPERATURE, playing);
  /**
   * GstBlip2Caption:top-k:
   *
   * Sampling: keep the k most likely tokens (0 = all).
   *
   * Since: 0.1
   */
  properties[PROP_TOP_K] = g_param_spec_uint (
      "top-k", "Top k", "Sampling: keep only the k most likely tokens (0 = no limit)", 0, G_MAXINT,
      DEFAULT_TOP_K, playing);
  /**
   * GstBlip2Caption:top-p:
   *
   * Sampling: keep the smallest set of tokens whose probability reaches p.
   *
   * Since: 0.1
   */
  properties[PROP_TOP_P] = g_param_spec_double (
      "top-p", "Top p",
      "Sampling: keep the most likely tokens whose probabilities add up to p (1.0 = all)", 0.0, 1.0,
      DEFAULT_TOP_P, playing);
  /**
   * GstBlip2Caption:seed:
   *
   * Sampling seed: the same seed on the same device gives the same caption.
   *
   * Since: 0.1
   */
  properties[PROP_SEED] = g_param_spec_uint64 (
      "seed", "Seed", "Sampling seed: the same seed on the same device gives the same caption", 0,
      G_MAXUINT64, DEFAULT_SEED, playing);
  /**
   * GstBlip2Caption:last-caption:
   *
   * The most recent caption (NULL before the first).
   *
   * Since: 0.1
   */
  properties[PROP_LAST_CAPTION] =
      g_param_spec_string ("last-caption", "Last caption",
                           "The most recent caption (NULL before the first)", nullptr, ro);
  /**
   * GstBlip2Caption:frames-sampled:
   *
   * Frames chosen by the interval since the element started.
   *
   * Since: 0.1
   */
  properties[PROP_FRAMES_SAMPLED] = g_param_spec_uint64 (
      "frames-sampled", "Frames sampled", "Frames chosen by the interval since the element started",
      0, G_MAXUINT64, 0, ro);
  /**
   * GstBlip2Caption:captions:
   *
   * Captions produced since the element started.
   *
   * Since: 0.1
   */
  properties[PROP_CAPTIONS] = g_param_spec_uint64 (
      "captions", "Captions", "Captions produced since the element started", 0, G_MAXUINT64, 0, ro);
  /**
   * GstBlip2Caption:frames-skipped:
   *
   * Live mode: sampled frames replaced by a newer one while the model was busy.
   *
   * Since: 0.1
   */
  properties[PROP_FRAMES_SKIPPED] = g_param_spec_uint64 (
      "frames-skipped", "Frames skipped",
      "Live mode: sampled frames replaced by a newer one while the model was busy", 0, G_MAXUINT64,
      0, ro);
  /**
   * GstBlip2Caption:mean-inference-time:
   *
   * Mean wall time of one caption, in milliseconds.
   *
   * Since: 0.1
   */
  properties[PROP_MEAN_INFERENCE_TIME] = g_param_spec_double (
      "mean-inference-time", "Mean inference time", "Mean wall time of one caption in milliseconds",
      0.0, G_MAXDOUBLE, 0.0, ro);
  /**
   * GstBlip2Caption:model-info:
   *
   * The loaded model as a serialized GstStructure "blip2-model" with the
   * fields model, path (resolved folder), device, dtype, image-size,
   * default-prompt and instance (equal for elements sharing one model).
   * NULL until the element is PAUSED.
   *
   * Since: 0.1
   */
  properties[PROP_MODEL_INFO] = g_param_spec_string (
      "model-info", "Model info",
      "The loaded model (NULL before PAUSED): a serialized GstStructure with model, path, "
      "device, dtype, image-size, default-prompt and instance (equal for elements sharing one "
      "loaded model)",
      nullptr, ro);
  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  gst_element_class_set_static_metadata (
      element_class, "BLIP-2 video captioner", "Filter/Analyzer/Video/Text",
      "Passes video through and captions sampled frames with a BLIP-2 OPT model: a sparse "
      "text/x-raw subtitle stream on text_src, a GstCustomMeta \"Blip2CaptionMeta\" on the "
      "video buffer (fields caption, frame-pts, prompt, inference-time, token-count, score; in "
      "live mode on the first buffer after the caption is ready) and an element message "
      "\"blip2caption\" (same fields plus running-time and stream-time)",
      "The blip2caption authors");
  gst_element_class_add_static_metadata (
      element_class, "meta",
      "GstCustomMeta \"Blip2CaptionMeta\": caption (string), frame-pts (guint64 ns), prompt "
      "(string), inference-time (guint64 ns), token-count (guint), score (gdouble); read with "
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
      "                           (file to Matroska) ... ! blip2caption name=c ! queue ! "
      "x264enc ! h264parse ! matroskamux name=m ! filesink location=out.mkv "
      "c.text_src ! queue ! m.subtitle_0");

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &text_src_template);

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

  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_MODE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_DTYPE, (GstPluginAPIFlags)0);
}
