// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "settings.h"

#include <algorithm>
#include <iterator>

namespace {

const blip2::GenerationOptions kLibraryDefaults{};
constexpr guint kMaxNewTokensLimit = 1024;
constexpr guint kMaxLatencyMs = 600000;
constexpr guint kMaxBatchLimit = 256;
constexpr guint64 kMaxBatchWait = 60 * GST_SECOND;
const blip2caption::CueSettings kCueDefaults = blip2gst::Settings::default_cue_settings ();

GType
register_enum (gsize *type, const char *name, const GEnumValue *values)
{
  if (g_once_init_enter (type)) {
    GType t = g_enum_register_static (name, values);
    g_once_init_leave (type, t);
  }
  return *type;
}

}  // namespace

GType
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
  return register_enum (&type, "GstBlip2CaptionMode", values);
}

GType
gst_blip2_caption_sampling_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_BLIP2_CAPTION_SAMPLING_CLOCK, "One frame every interval", "clock"},
      {GST_BLIP2_CAPTION_SAMPLING_CHANGE,
       "A frame when the picture changes, no sooner than min-interval and no later than interval "
       "after the last caption",
       "change"},
      {0, nullptr, nullptr},
  };
  return register_enum (&type, "GstBlip2CaptionSampling", values);
}

GType
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
  return register_enum (&type, "GstBlip2CaptionDtype", values);
}

GType
gst_blip2_caption_quantize_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_BLIP2_CAPTION_QUANTIZE_NONE, "Weights in the chosen dtype", "none"},
      {GST_BLIP2_CAPTION_QUANTIZE_INT8,
       "The language model's weights as int8, one scale per output channel (CPU, bfloat16)",
       "int8"},
      {0, nullptr, nullptr},
  };
  return register_enum (&type, "GstBlip2CaptionQuantize", values);
}

GType
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
  return register_enum (&type, "GstBlip2CaptionEarlyStopping", values);
}

namespace blip2gst {

namespace {

blip2::EarlyStopping
to_library (GstBlip2CaptionEarlyStopping value)
{
  switch (value) {
    case GST_BLIP2_CAPTION_EARLY_STOPPING_TRUE:
      return blip2::EarlyStopping::kTrue;
    case GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER:
      return blip2::EarlyStopping::kNever;
    default:
      return blip2::EarlyStopping::kFalse;
  }
}

GstBlip2CaptionEarlyStopping
from_library (blip2::EarlyStopping value)
{
  switch (value) {
    case blip2::EarlyStopping::kTrue:
      return GST_BLIP2_CAPTION_EARLY_STOPPING_TRUE;
    case blip2::EarlyStopping::kNever:
      return GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER;
    default:
      return GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE;
  }
}

bool
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

bool
accept_device (const Settings &s, const GValue *v)
{
  const gchar *device = g_value_get_string (v);
  if (device_is_valid (device))
    return true;
  g_warning ("blip2caption: invalid device '%s' (expected auto, cpu, cuda or cuda:N); keeping '%s'",
             device ? device : "(null)", s.device.c_str ());
  return false;
}

// transformers refuses top_p = 0 for sampling and the library for any
// caption: refused here, before it can stop the pipeline.
bool
accept_top_p (const Settings &s, const GValue *v)
{
  if (g_value_get_double (v) > 0.0)
    return true;
  g_warning ("blip2caption: top-p must be greater than 0 (1.0 = no filter); keeping %g",
             s.generation.top_p);
  return false;
}

// The end of the blurb of a property that a checkpoint's
// generation_config.json gives a default to.
#define FROM_CHECKPOINT "; unset: the checkpoint's generation_config.json value, if any"

const auto kReadWrite = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
const auto kReady = (GParamFlags)(kReadWrite | GST_PARAM_MUTABLE_READY);
const auto kPlaying = (GParamFlags)(kReadWrite | GST_PARAM_MUTABLE_PLAYING);

// One settings property: its spec, how it is read and how it is written,
// and (optionally) which values it refuses, with a warning.
struct Property
{
  guint id;
  GParamSpec *(*spec) ();
  void (*get) (const Settings &, GValue *);
  void (*set) (Settings &, const GValue *);
  bool (*accept) (const Settings &, const GValue *) = nullptr;
};

const Property kProperties[] = {
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
    {PROP_MODEL,
     [] {
       return g_param_spec_string (
           "model", "Model",
           "Checkpoint folder, or a Hugging Face repo id found in the local Hugging Face cache "
           "(HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub); nothing is downloaded",
           kDefaultModel, kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_string (v, s.model.c_str ()); },
     [] (Settings &s, const GValue *v) {
       const gchar *model = g_value_get_string (v);
       s.model = model ? model : kDefaultModel;
     }},
    /**
     * GstBlip2Caption:device:
     *
     * Where inference runs: auto (CUDA when available), cpu, cuda or cuda:N.
     *
     * Since: 0.1
     */
    {PROP_DEVICE,
     [] {
       return g_param_spec_string (
           "device", "Device",
           "Where inference runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N",
           "auto", kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_string (v, s.device.c_str ()); },
     [] (Settings &s, const GValue *v) { s.device = g_value_get_string (v); }, accept_device},
    /**
     * GstBlip2Caption:dtype:
     *
     * Precision of the weights and activations.
     *
     * Since: 0.1
     */
    {PROP_DTYPE,
     [] {
       return g_param_spec_enum (
           "dtype", "Data type",
           "Precision of the weights and activations (auto: float16 on CUDA, float32 on CPU)",
           GST_TYPE_BLIP2_CAPTION_DTYPE, GST_BLIP2_CAPTION_DTYPE_AUTO, kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_enum (v, s.dtype); },
     [] (Settings &s, const GValue *v) { s.dtype = (GstBlip2CaptionDtype)g_value_get_enum (v); }},
    /**
     * GstBlip2Caption:quantize:
     *
     * Weight-only quantization, done when the model loads (the checkpoint is
     * not changed): int8 stores the language model's linear layers and its
     * head as int8 with one scale per output channel and computes in
     * bfloat16 (dtype auto or bfloat16). CPU only: refused on CUDA. Faster
     * and smaller on the CPU, but not exact (see docs/full-size-cpu.md).
     *
     * Since: 0.1
     */
    {PROP_QUANTIZE,
     [] {
       return g_param_spec_enum (
           "quantize", "Quantize",
           "Weight-only quantization at load: int8 = the language model's weights as int8 with "
           "bfloat16 activations, CPU only (faster, not exact)",
           GST_TYPE_BLIP2_CAPTION_QUANTIZE, GST_BLIP2_CAPTION_QUANTIZE_NONE, kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_enum (v, s.quantize); },
     [] (Settings &s, const GValue *v) {
       s.quantize = (GstBlip2CaptionQuantize)g_value_get_enum (v);
     }},
    /**
     * GstBlip2Caption:mode:
     *
     * Offline (video waits for each caption, meta on the sampled frame) or
     * live (captions on a worker thread, video never waits). Auto picks live
     * when upstream answers the LATENCY query as live.
     *
     * Since: 0.1
     */
    {PROP_MODE,
     [] {
       return g_param_spec_enum (
           "mode", "Timing mode",
           "offline: the video waits for every caption and the meta is on the sampled frame; "
           "live: captions are made on a worker thread, the video never waits, a newer frame "
           "replaces one still waiting and the meta goes on the next video buffer after the "
           "caption is ready; auto: live when upstream is live",
           GST_TYPE_BLIP2_CAPTION_MODE, GST_BLIP2_CAPTION_MODE_AUTO, kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_enum (v, s.mode); },
     [] (Settings &s, const GValue *v) { s.mode = (GstBlip2CaptionMode)g_value_get_enum (v); }},
    /**
     * GstBlip2Caption:interval:
     *
     * Stream time between sampled frames, in nanoseconds; 0 captions every
     * frame. Frames are sampled on a grid anchored at the first frame, and each
     * caption lasts until the next grid point (or the end of the stream).
     *
     * Since: 0.1
     */
    {PROP_INTERVAL,
     [] {
       return g_param_spec_uint64 (
           "interval", "Interval",
           "Stream time between sampled frames in nanoseconds (0 = every frame); a caption lasts "
           "until the next sampling point",
           0, G_MAXUINT64, GST_SECOND, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint64 (v, s.interval); },
     [] (Settings &s, const GValue *v) { s.interval = g_value_get_uint64 (v); }},
    /**
     * GstBlip2Caption:prompt:
     *
     * Text the caption continues. NULL (the default) uses the checkpoint's
     * captioning prompt ("a photo of" for the -coco checkpoints, none for the
     * others); "" means no prompt.
     *
     * Since: 0.1
     */
    {PROP_PROMPT,
     [] {
       return g_param_spec_string (
           "prompt", "Prompt",
           "Text the caption continues; unset = the checkpoint's captioning prompt (\"a photo "
           "of\" for -coco checkpoints), empty = no prompt",
           nullptr, kPlaying);
     },
     [] (const Settings &s, GValue *v) {
       g_value_set_string (v, s.prompt ? s.prompt->c_str () : nullptr);
     },
     [] (Settings &s, const GValue *v) {
       const gchar *prompt = g_value_get_string (v);
       if (prompt)
         s.prompt = prompt;
       else
         s.prompt.reset ();
     }},
    /**
     * GstBlip2Caption:max-new-tokens:
     *
     * Most tokens generated per caption (the end-of-text token included).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_MAX_NEW_TOKENS,
     [] {
       return g_param_spec_uint ("max-new-tokens", "Max new tokens",
                                 "Most tokens generated per caption, end-of-text included"
                                 FROM_CHECKPOINT,
                                 1, kMaxNewTokensLimit, kLibraryDefaults.max_new_tokens, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.generation.max_new_tokens); },
     [] (Settings &s, const GValue *v) {
       s.generation.max_new_tokens = (int32_t)g_value_get_uint (v);
     }},
    /**
     * GstBlip2Caption:min-new-tokens:
     *
     * End-of-text is not allowed before this many new tokens.
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_MIN_NEW_TOKENS,
     [] {
       return g_param_spec_uint ("min-new-tokens", "Min new tokens",
                                 "End-of-text is not allowed before this many new tokens"
                                 FROM_CHECKPOINT,
                                 0, kMaxNewTokensLimit, kLibraryDefaults.min_new_tokens, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.generation.min_new_tokens); },
     [] (Settings &s, const GValue *v) {
       s.generation.min_new_tokens = (int32_t)g_value_get_uint (v);
     }},
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
    {PROP_LATENCY,
     [] {
       return g_param_spec_uint (
           "latency", "Latency",
           "Milliseconds added to the pipeline latency when upstream is live: how long one "
           "caption may take (the element warns when inference takes longer)",
           0, kMaxLatencyMs, 1000, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.latency_ms); },
     [] (Settings &s, const GValue *v) { s.latency_ms = g_value_get_uint (v); }},
    /**
     * GstBlip2Caption:num-beams:
     *
     * Beam search width; 1 is greedy decoding (or sampling with do-sample).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_NUM_BEAMS,
     [] {
       return g_param_spec_uint ("num-beams", "Beams",
                                 "Beam search width (1 = greedy, or sampling when do-sample is set)"
                                 FROM_CHECKPOINT,
                                 1, 64, kLibraryDefaults.num_beams, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.generation.num_beams); },
     [] (Settings &s, const GValue *v) { s.generation.num_beams = (int32_t)g_value_get_uint (v); }},
    /**
     * GstBlip2Caption:length-penalty:
     *
     * Beam search: a finished caption scores sum(log p) / length^length-penalty.
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_LENGTH_PENALTY,
     [] {
       return g_param_spec_double (
           "length-penalty", "Length penalty",
           "Beam search: captions score sum(log p) / length^length-penalty (> 0 favours longer "
           "ones)" FROM_CHECKPOINT,
           -100.0, 100.0, kLibraryDefaults.length_penalty, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_double (v, s.generation.length_penalty); },
     [] (Settings &s, const GValue *v) { s.generation.length_penalty = g_value_get_double (v); }},
    /**
     * GstBlip2Caption:early-stopping:
     *
     * Beam search stopping rule (transformers' early_stopping).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_EARLY_STOPPING,
     [] {
       return g_param_spec_enum ("early-stopping", "Early stopping",
                                 "Beam search stopping rule, as transformers' early_stopping"
                                 FROM_CHECKPOINT,
                                 GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING,
                                 from_library (kLibraryDefaults.early_stopping), kPlaying);
     },
     [] (const Settings &s, GValue *v) {
       g_value_set_enum (v, from_library (s.generation.early_stopping));
     },
     [] (Settings &s, const GValue *v) {
       s.generation.early_stopping = to_library ((GstBlip2CaptionEarlyStopping)g_value_get_enum (v));
     }},
    /**
     * GstBlip2Caption:repetition-penalty:
     *
     * Divides the logits of tokens already in the caption (1.0 = off).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_REPETITION_PENALTY,
     [] {
       return g_param_spec_double ("repetition-penalty", "Repetition penalty",
                                   "Penalty on tokens already generated (1.0 = none)"
                                   FROM_CHECKPOINT,
                                   0.01, 100.0,
                                   kLibraryDefaults.repetition_penalty, kPlaying);
     },
     [] (const Settings &s, GValue *v) {
       g_value_set_double (v, s.generation.repetition_penalty);
     },
     [] (Settings &s, const GValue *v) {
       s.generation.repetition_penalty = g_value_get_double (v);
     }},
    /**
     * GstBlip2Caption:no-repeat-ngram-size:
     *
     * No n-gram of this size appears twice in a caption (0 = off).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_NO_REPEAT_NGRAM_SIZE,
     [] {
       return g_param_spec_uint ("no-repeat-ngram-size", "No-repeat n-gram size",
                                 "No n-gram of this size appears twice in a caption (0 = off)"
                                 FROM_CHECKPOINT,
                                 0, 64, kLibraryDefaults.no_repeat_ngram_size, kPlaying);
     },
     [] (const Settings &s, GValue *v) {
       g_value_set_uint (v, s.generation.no_repeat_ngram_size);
     },
     [] (Settings &s, const GValue *v) {
       s.generation.no_repeat_ngram_size = (int32_t)g_value_get_uint (v);
     }},
    /**
     * GstBlip2Caption:do-sample:
     *
     * Sample tokens (temperature, top-k, top-p, seed) instead of taking the
     * most likely one.
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_DO_SAMPLE,
     [] {
       return g_param_spec_boolean (
           "do-sample", "Sample",
           "Sample tokens (temperature, top-k, top-p, seed) instead of picking the most likely one"
           FROM_CHECKPOINT,
           kLibraryDefaults.do_sample, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_boolean (v, s.generation.do_sample); },
     [] (Settings &s, const GValue *v) { s.generation.do_sample = g_value_get_boolean (v); }},
    /**
     * GstBlip2Caption:temperature:
     *
     * Sampling temperature.
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_TEMPERATURE,
     [] {
       return g_param_spec_double ("temperature", "Temperature",
                                   "Sampling temperature (do-sample)" FROM_CHECKPOINT, 0.01, 100.0,
                                   kLibraryDefaults.temperature, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_double (v, s.generation.temperature); },
     [] (Settings &s, const GValue *v) { s.generation.temperature = g_value_get_double (v); }},
    /**
     * GstBlip2Caption:top-k:
     *
     * Sampling: keep the k most likely tokens (0 = all).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_TOP_K,
     [] {
       return g_param_spec_uint ("top-k", "Top k",
                                 "Sampling: keep only the k most likely tokens (0 = no limit)"
                                 FROM_CHECKPOINT,
                                 0, G_MAXINT, kLibraryDefaults.top_k, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.generation.top_k); },
     [] (Settings &s, const GValue *v) { s.generation.top_k = (int32_t)g_value_get_uint (v); }},
    /**
     * GstBlip2Caption:top-p:
     *
     * Sampling: keep the smallest set of tokens whose probability reaches p.
     * 0 is refused (with a warning, keeping the old value).
     *
     * Unless set, the checkpoint's generation_config.json value when it has
     * one (the property then still reads its own default).
     *
     * Since: 0.1
     */
    {PROP_TOP_P,
     [] {
       return g_param_spec_double (
           "top-p", "Top p",
           "Sampling: keep the most likely tokens whose probabilities add up to p (1.0 = all, "
           "0 is refused)" FROM_CHECKPOINT,
           0.0, 1.0, kLibraryDefaults.top_p, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_double (v, s.generation.top_p); },
     [] (Settings &s, const GValue *v) { s.generation.top_p = g_value_get_double (v); },
     accept_top_p},
    /**
     * GstBlip2Caption:seed:
     *
     * Sampling seed: the same seed on the same device gives the same caption.
     *
     * Since: 0.1
     */
    {PROP_SEED,
     [] {
       return g_param_spec_uint64 ("seed", "Seed",
                                   "Sampling seed: the same seed on the same device gives the same "
                                   "caption",
                                   0, G_MAXUINT64, kLibraryDefaults.seed, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint64 (v, s.generation.seed); },
     [] (Settings &s, const GValue *v) { s.generation.seed = g_value_get_uint64 (v); }},
    /**
     * GstBlip2Caption:sampling:
     *
     * Which frames are captioned. clock: the first frame at or after each
     * point of a grid of #GstBlip2Caption:interval. change: the first frame,
     * then a frame whose picture differs from the last captioned one (a
     * 16x16 luma thumbnail farther than #GstBlip2Caption:change-threshold),
     * no sooner than #GstBlip2Caption:min-interval and no later than
     * #GstBlip2Caption:interval after the last caption; a cue then lasts
     * until the next caption. Frames tested and found unchanged are counted
     * in #GstBlip2Caption:frames-unchanged.
     *
     * Since: 0.1
     */
    {PROP_SAMPLING,
     [] {
       return g_param_spec_enum (
           "sampling", "Sampling",
           "clock: one frame every interval; change: a frame when the picture changes, no "
           "sooner than min-interval and no later than interval after the last caption",
           GST_TYPE_BLIP2_CAPTION_SAMPLING, GST_BLIP2_CAPTION_SAMPLING_CLOCK, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_enum (v, s.sampling); },
     [] (Settings &s, const GValue *v) {
       s.sampling = (GstBlip2CaptionSampling)g_value_get_enum (v);
     }},
    /**
     * GstBlip2Caption:min-interval:
     *
     * Change sampling: the shortest stream time between two captions, in
     * nanoseconds. Frames sooner than this after a caption are not even
     * looked at; a change among them is captioned when it is over.
     *
     * Since: 0.1
     */
    {PROP_MIN_INTERVAL,
     [] {
       return g_param_spec_uint64 (
           "min-interval", "Min interval",
           "Change sampling: the shortest stream time between two captions in nanoseconds "
           "(interval is the longest)",
           0, G_MAXUINT64, GST_SECOND, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint64 (v, s.min_interval); },
     [] (Settings &s, const GValue *v) { s.min_interval = g_value_get_uint64 (v); }},
    /**
     * GstBlip2Caption:change-threshold:
     *
     * Change sampling: how far a frame's 16x16 luma thumbnail must be from
     * the last captioned frame's to count as a change (0 = any frame, 1 =
     * never). The distance is the mean absolute difference of the cells with
     * the brightness levelled, plus half the brightness change, over 255.
     * The default sits above the distances measured within still shots
     * (sensor noise, exposure flicker, a moving ball) and below 94 % of those
     * across cuts between test pictures.
     *
     * Since: 0.1
     */
    {PROP_CHANGE_THRESHOLD,
     [] {
       return g_param_spec_double (
           "change-threshold", "Change threshold",
           "Change sampling: thumbnail distance (0..1) from the last captioned frame that counts "
           "as a change",
           0.0, 1.0, blip2caption::ChangeSampler::kDefaultThreshold, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_double (v, s.change_threshold); },
     [] (Settings &s, const GValue *v) { s.change_threshold = g_value_get_double (v); }},
    /**
     * GstBlip2Caption:merge-repeats:
     *
     * A caption equal to the previous one (ignoring case, spaces and
     * punctuation) extends the previous cue on text_src instead of starting
     * a new one. The meta and the bus message still report it (the message
     * with `repeat` set).
     *
     * Since: 0.1
     */
    {PROP_MERGE_REPEATS,
     [] {
       return g_param_spec_boolean (
           "merge-repeats", "Merge repeats",
           "A caption equal to the previous one (ignoring case, spaces, punctuation) extends "
           "its cue on text_src instead of starting a new one",
           kCueDefaults.merge_repeats, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_boolean (v, s.cues.merge_repeats); },
     [] (Settings &s, const GValue *v) { s.cues.merge_repeats = g_value_get_boolean (v); }},
    /**
     * GstBlip2Caption:raw-text:
     *
     * Sends the model's text on text_src as it is, instead of subtitle text
     * (a capitalised sentence with a full stop, wrapped to
     * #GstBlip2Caption:max-lines lines of #GstBlip2Caption:max-line-length
     * characters). The meta, the messages and last-caption are always raw.
     *
     * Since: 0.1
     */
    {PROP_RAW_TEXT,
     [] {
       return g_param_spec_boolean (
           "raw-text", "Raw text",
           "The model's text on text_src as it is, instead of subtitle text (capitalised, full "
           "stop, wrapped); the meta and messages are always raw",
           kCueDefaults.raw, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_boolean (v, s.cues.raw); },
     [] (Settings &s, const GValue *v) { s.cues.raw = g_value_get_boolean (v); }},
    /**
     * GstBlip2Caption:max-line-length:
     *
     * Subtitle text: the most characters on one line (42 is a common
     * broadcast guideline).
     *
     * Since: 0.1
     */
    {PROP_MAX_LINE_LENGTH,
     [] {
       return g_param_spec_uint ("max-line-length", "Max line length",
                                 "Subtitle text: the most characters (code points) on a line", 8,
                                 1000, kCueDefaults.style.max_line_length, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.cues.style.max_line_length); },
     [] (Settings &s, const GValue *v) {
       s.cues.style.max_line_length = (int)g_value_get_uint (v);
     }},
    /**
     * GstBlip2Caption:max-lines:
     *
     * Subtitle text: the most lines in one cue; a longer caption is shown as
     * several cues one after another (pages), each on screen at least
     * #GstBlip2Caption:min-cue-duration.
     *
     * Since: 0.1
     */
    {PROP_MAX_LINES,
     [] {
       return g_param_spec_uint ("max-lines", "Max lines",
                                 "Subtitle text: the most lines in a cue; a longer caption becomes "
                                 "several cues in a row",
                                 1, 10, kCueDefaults.style.max_lines, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.cues.style.max_lines); },
     [] (Settings &s, const GValue *v) { s.cues.style.max_lines = (int)g_value_get_uint (v); }},
    /**
     * GstBlip2Caption:min-cue-duration:
     *
     * The shortest time a cue stays on text_src, in nanoseconds, each page
     * of a wrapped caption too: a caption that comes sooner starts when it
     * is over, and one whose time is over by then is left out of the text
     * stream (not out of the meta or the messages). Where the time cannot
     * grow (the end of the stream or segment) and is too short for every
     * page, the last pages are joined into one cue until each cue gets its
     * minimum (with less time than one minimum, the whole caption is one
     * cue for the time there is).
     *
     * Since: 0.1
     */
    {PROP_MIN_CUE_DURATION,
     [] {
       return g_param_spec_uint64 ("min-cue-duration", "Min cue duration",
                                   "The shortest time a cue stays on text_src in nanoseconds (a "
                                   "later caption waits for it)",
                                   0, G_MAXUINT64, kCueDefaults.min_duration, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint64 (v, s.cues.min_duration); },
     [] (Settings &s, const GValue *v) { s.cues.min_duration = g_value_get_uint64 (v); }},
    /**
     * GstBlip2Caption:reading-rate:
     *
     * Characters per second a reader needs: a cue stays long enough to read
     * it at this rate (0 = no bound; 15 to 20 are common guidelines).
     *
     * Since: 0.1
     */
    {PROP_READING_RATE,
     [] {
       return g_param_spec_double ("reading-rate", "Reading rate",
                                   "Characters per second: a cue stays long enough to be read at "
                                   "this rate (0 = no bound)",
                                   0.0, 1000.0, kCueDefaults.reading_rate, kPlaying);
     },
     [] (const Settings &s, GValue *v) { g_value_set_double (v, s.cues.reading_rate); },
     [] (Settings &s, const GValue *v) { s.cues.reading_rate = g_value_get_double (v); }},
    /**
     * GstBlip2Caption:revision:
     *
     * The branch, tag or commit of a Hugging Face repo id `model` to take from
     * the local cache (huggingface_hub's revision); unset = main. Not used with
     * a folder (setting both fails the state change).
     *
     * Since: 0.1
     */
    {PROP_REVISION,
     [] {
       return g_param_spec_string ("revision", "Revision",
                                   "Branch, tag or commit of a Hugging Face repo id in the local "
                                   "cache (unset = main)",
                                   nullptr, kReady);
     },
     [] (const Settings &s, GValue *v) {
       g_value_set_string (v, s.revision.empty () ? nullptr : s.revision.c_str ());
     },
     [] (Settings &s, const GValue *v) {
       const gchar *revision = g_value_get_string (v);
       s.revision = revision ? revision : "";
     }},
    /**
     * GstBlip2Caption:json-location:
     *
     * A file that gets one JSON object per caption and line (JSON Lines),
     * written as captions finish: pts, duration, running-time and stream-time
     * (ns), caption, score, prompt, token-count and inference-time (ns).
     * Created (truncated) when going to PAUSED.
     *
     * Since: 0.1
     */
    {PROP_JSON_LOCATION,
     [] {
       return g_param_spec_string ("json-location", "JSON Lines location",
                                   "File that gets one JSON object per caption and line (pts, "
                                   "duration, running-time, stream-time, caption, score, prompt, "
                                   "token-count, inference-time); unset = none",
                                   nullptr, kReady);
     },
     [] (const Settings &s, GValue *v) {
       g_value_set_string (v, s.json_location.empty () ? nullptr : s.json_location.c_str ());
     },
     [] (Settings &s, const GValue *v) {
       const gchar *location = g_value_get_string (v);
       s.json_location = location ? location : "";
     }},
    /**
     * GstBlip2Caption:max-batch:
     *
     * Live mode: the captions of up to this many elements that share one
     * model (same model, device and dtype) run through it as one batch, each
     * token for token what it is alone. 1 = no batching. Offline mode never
     * batches. The batching settings are those of the first element that
     * starts batching on a model (max-batch and batch-wait); later elements
     * join it and keep them (#GstBlip2Caption:batch-stats shows the ones in
     * use).
     *
     * Since: 0.1
     */
    {PROP_MAX_BATCH,
     [] {
       return g_param_spec_uint (
           "max-batch", "Max batch",
           "Live mode: captions of elements sharing one model run together, up to this many per "
           "batch (1 = no batching; offline mode never batches). The first element to batch on a "
           "model sets max-batch and batch-wait for all of them",
           1, kMaxBatchLimit, 1, kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint (v, s.max_batch); },
     [] (Settings &s, const GValue *v) { s.max_batch = g_value_get_uint (v); }},
    /**
     * GstBlip2Caption:batch-wait:
     *
     * Live batching: how long (ns) the first caption of a batch waits for
     * the captions of other elements before the batch runs with what it has.
     * Set by the first element that batches on a model (see
     * #GstBlip2Caption:max-batch).
     *
     * Since: 0.1
     */
    {PROP_BATCH_WAIT,
     [] {
       return g_param_spec_uint64 (
           "batch-wait", "Batch wait",
           "Live batching: ns the first caption of a batch waits for others before it runs (set "
           "by the first element to batch on a model)",
           0, kMaxBatchWait, 20 * GST_MSECOND, kReady);
     },
     [] (const Settings &s, GValue *v) { g_value_set_uint64 (v, s.batch_wait); },
     [] (Settings &s, const GValue *v) { s.batch_wait = g_value_get_uint64 (v); }},
};

const Property *
find_property (guint prop_id)
{
  for (const Property &p : kProperties) {
    if (p.id == prop_id)
      return &p;
  }
  return nullptr;
}

}  // namespace

blip2::GenerationOptions
generation_options (const Settings &settings, const blip2::GenerationOptions &checkpoint)
{
  const blip2::GenerationOptions &user = settings.generation;
  auto set = [&settings] (guint id) { return settings.user_set.test (id); };
  blip2::GenerationOptions options = checkpoint;
  if (set (PROP_MAX_NEW_TOKENS))
    options.max_new_tokens = user.max_new_tokens;
  if (set (PROP_MIN_NEW_TOKENS))
    options.min_new_tokens = user.min_new_tokens;
  if (set (PROP_NUM_BEAMS))
    options.num_beams = user.num_beams;
  if (set (PROP_LENGTH_PENALTY))
    options.length_penalty = user.length_penalty;
  if (set (PROP_EARLY_STOPPING))
    options.early_stopping = user.early_stopping;
  if (set (PROP_REPETITION_PENALTY))
    options.repetition_penalty = user.repetition_penalty;
  if (set (PROP_NO_REPEAT_NGRAM_SIZE))
    options.no_repeat_ngram_size = user.no_repeat_ngram_size;
  if (set (PROP_DO_SAMPLE))
    options.do_sample = user.do_sample;
  if (set (PROP_TEMPERATURE))
    options.temperature = user.temperature;
  if (set (PROP_TOP_K))
    options.top_k = user.top_k;
  if (set (PROP_TOP_P))
    options.top_p = user.top_p;
  options.seed = user.seed;  // not a generation_config.json key
  options.prompt = settings.prompt ? *settings.prompt : checkpoint.prompt;
  options.num_return_sequences = 1;
  options.cancel = nullptr;
  return options;
}

GstStructure *
checkpoint_generation_defaults (const blip2::GenerationOptions &checkpoint)
{
  const blip2::GenerationOptions &d = kLibraryDefaults;
  const blip2::GenerationOptions &c = checkpoint;
  GstStructure *s = gst_structure_new_empty ("generation-defaults");
  if (c.max_new_tokens != d.max_new_tokens)
    gst_structure_set (s, "max-new-tokens", G_TYPE_UINT, (guint)c.max_new_tokens, nullptr);
  if (c.min_new_tokens != d.min_new_tokens)
    gst_structure_set (s, "min-new-tokens", G_TYPE_UINT, (guint)c.min_new_tokens, nullptr);
  if (c.num_beams != d.num_beams)
    gst_structure_set (s, "num-beams", G_TYPE_UINT, (guint)c.num_beams, nullptr);
  if (c.length_penalty != d.length_penalty)
    gst_structure_set (s, "length-penalty", G_TYPE_DOUBLE, c.length_penalty, nullptr);
  if (c.early_stopping != d.early_stopping)
    gst_structure_set (s, "early-stopping", GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING,
                       from_library (c.early_stopping), nullptr);
  if (c.repetition_penalty != d.repetition_penalty)
    gst_structure_set (s, "repetition-penalty", G_TYPE_DOUBLE, c.repetition_penalty, nullptr);
  if (c.no_repeat_ngram_size != d.no_repeat_ngram_size)
    gst_structure_set (s, "no-repeat-ngram-size", G_TYPE_UINT, (guint)c.no_repeat_ngram_size,
                       nullptr);
  if (c.do_sample != d.do_sample)
    gst_structure_set (s, "do-sample", G_TYPE_BOOLEAN, (gboolean)c.do_sample, nullptr);
  if (c.temperature != d.temperature)
    gst_structure_set (s, "temperature", G_TYPE_DOUBLE, c.temperature, nullptr);
  if (c.top_k != d.top_k)
    gst_structure_set (s, "top-k", G_TYPE_UINT, (guint)c.top_k, nullptr);
  if (c.top_p != d.top_p)
    gst_structure_set (s, "top-p", G_TYPE_DOUBLE, c.top_p, nullptr);
  return s;
}

blip2::BatchScheduler::Settings
batch_settings (const Settings &settings)
{
  blip2::BatchScheduler::Settings b;
  b.max_batch = (int32_t)settings.max_batch;
  b.max_wait = std::chrono::microseconds (settings.batch_wait / GST_USECOND);
  return b;
}

blip2caption::ChangeSettings
change_settings (const Settings &settings)
{
  blip2caption::ChangeSettings c;
  c.min_interval = settings.min_interval;
  c.max_interval = settings.interval;
  c.threshold = settings.change_threshold;
  return c;
}

const char *
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

const char *
quantize_name (GstBlip2CaptionQuantize quantize)
{
  return quantize == GST_BLIP2_CAPTION_QUANTIZE_INT8 ? "int8" : "none";
}

void
install_settings_properties (GObjectClass *klass, GParamSpec **specs)
{
  static_assert (std::size (kProperties) == PROP_SETTINGS_END - 1, "one row per property");
  for (const Property &p : kProperties) {
    specs[p.id] = p.spec ();
    g_object_class_install_property (klass, p.id, specs[p.id]);
  }
}

void
set_setting (Settings &settings, guint prop_id, const GValue *value)
{
  const Property *p = find_property (prop_id);
  if (p == nullptr || (p->accept && !p->accept (settings, value)))
    return;
  p->set (settings, value);
  settings.user_set.set (prop_id);
}

void
get_setting (const Settings &settings, guint prop_id, GValue *value)
{
  if (const Property *p = find_property (prop_id))
    p->get (settings, value);
}

void
mark_settings_types_as_plugin_api ()
{
  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_MODE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_SAMPLING, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_DTYPE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_QUANTIZE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING, (GstPluginAPIFlags)0);
}

}  // namespace blip2gst
