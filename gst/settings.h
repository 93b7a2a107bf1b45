// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The element's settings: its enum types, the property values and their
// GObject properties (one table: spec, getter, setter), and the one mapping
// from settings to the library's GenerationOptions.
#pragma once

#include <gst/gst.h>

#include <bitset>
#include <optional>
#include <string>

#include "batch_scheduler.h"
#include "blip2.h"
#include "change_detector.h"
#include "cue_track.h"

G_BEGIN_DECLS

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
 * GstBlip2CaptionQuantize:
 * @GST_BLIP2_CAPTION_QUANTIZE_NONE: weights in the chosen dtype
 * @GST_BLIP2_CAPTION_QUANTIZE_INT8: the language model's weights as int8 (CPU, bfloat16)
 *
 * Since: 0.1
 */
typedef enum {
  GST_BLIP2_CAPTION_QUANTIZE_NONE,
  GST_BLIP2_CAPTION_QUANTIZE_INT8,
} GstBlip2CaptionQuantize;

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

/**
 * GstBlip2CaptionSampling:
 * @GST_BLIP2_CAPTION_SAMPLING_CLOCK: one frame every interval
 * @GST_BLIP2_CAPTION_SAMPLING_CHANGE: a frame when the picture changes, between min-interval and
 * interval after the last caption
 *
 * Since: 0.1
 */
typedef enum {
  GST_BLIP2_CAPTION_SAMPLING_CLOCK,
  GST_BLIP2_CAPTION_SAMPLING_CHANGE,
} GstBlip2CaptionSampling;

#define GST_TYPE_BLIP2_CAPTION_SAMPLING (gst_blip2_caption_sampling_get_type ())
GType gst_blip2_caption_sampling_get_type (void);
#define GST_TYPE_BLIP2_CAPTION_MODE (gst_blip2_caption_mode_get_type ())
GType gst_blip2_caption_mode_get_type (void);
#define GST_TYPE_BLIP2_CAPTION_DTYPE (gst_blip2_caption_dtype_get_type ())
GType gst_blip2_caption_dtype_get_type (void);
#define GST_TYPE_BLIP2_CAPTION_QUANTIZE (gst_blip2_caption_quantize_get_type ())
GType gst_blip2_caption_quantize_get_type (void);
#define GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING (gst_blip2_caption_early_stopping_get_type ())
GType gst_blip2_caption_early_stopping_get_type (void);

G_END_DECLS

namespace blip2gst {

// Property ids of the settings; the element's read-only properties follow
// PROP_SETTINGS_END.
enum SettingsProperty : guint {
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
  PROP_SAMPLING,
  PROP_MIN_INTERVAL,
  PROP_CHANGE_THRESHOLD,
  PROP_MERGE_REPEATS,
  PROP_RAW_TEXT,
  PROP_MAX_LINE_LENGTH,
  PROP_MAX_LINES,
  PROP_MIN_CUE_DURATION,
  PROP_READING_RATE,
  PROP_REVISION,
  PROP_JSON_LOCATION,
  PROP_MAX_BATCH,
  PROP_BATCH_WAIT,
  PROP_QUANTIZE,
  PROP_SETTINGS_END,
};

inline constexpr const char *kDefaultModel = "Salesforce/blip2-opt-2.7b-coco";

// Property values; written by set_property, copied by the streaming thread.
struct Settings
{
  std::string model = kDefaultModel;
  std::string revision;  // of a repo id in the cache; "" = main
  std::string json_location;  // JSON Lines file of the captions; "" = none
  std::string device = "auto";
  GstBlip2CaptionDtype dtype = GST_BLIP2_CAPTION_DTYPE_AUTO;
  GstBlip2CaptionQuantize quantize = GST_BLIP2_CAPTION_QUANTIZE_NONE;
  GstBlip2CaptionMode mode = GST_BLIP2_CAPTION_MODE_AUTO;
  guint64 interval = GST_SECOND;
  guint latency_ms = 1000;
  std::optional<std::string> prompt;  // unset: the checkpoint's default prompt
  // Everything else generation needs, with the library's defaults; its
  // prompt is ignored (see `prompt`).
  blip2::GenerationOptions generation;
  // Which frames are captioned: clock (every `interval`) or change (when the
  // picture changes; `interval` is then the longest gap).
  GstBlip2CaptionSampling sampling = GST_BLIP2_CAPTION_SAMPLING_CLOCK;
  guint64 min_interval = GST_SECOND;  // change sampling: the shortest gap
  gdouble change_threshold = blip2caption::ChangeSampler::kDefaultThreshold;
  // How captions become cues on text_src (merging, style, display time).
  blip2caption::CueSettings cues = default_cue_settings ();
  // The properties set_property was called for (by id), so that the
  // checkpoint's generation_config.json gives defaults to the others only.
  std::bitset<PROP_SETTINGS_END> user_set;
  // Live mode: captions of elements sharing one model batched together
  // (max_batch 1 = never); applied when the first such element starts.
  guint max_batch = 1;
  guint64 batch_wait = 20 * GST_MSECOND;  // how long a caption waits for company

  static blip2caption::CueSettings
  default_cue_settings ()
  {
    blip2caption::CueSettings c;
    c.min_duration = GST_SECOND;
    return c;
  }
};

// The live batching settings (max_batch 1: no batching).
blip2::BatchScheduler::Settings batch_settings (const Settings &settings);

// The change sampler's settings for these settings.
blip2caption::ChangeSettings change_settings (const Settings &settings);

// The options one caption is generated with: the decoding properties the
// user set, and for the others the checkpoint's defaults `checkpoint`
// (blip2::generation_defaults: its generation_config.json over the library's
// defaults, and its default prompt), as transformers' pipelines apply a
// checkpoint's generation_config.json unless the caller overrides it.
blip2::GenerationOptions generation_options (const Settings &settings,
                                             const blip2::GenerationOptions &checkpoint);

// The checkpoint's decoding defaults that differ from the properties'
// defaults, by property name (e.g. num-beams=3), as a GstStructure named
// "generation-defaults" (empty when it has none). Free with gst_structure_free.
GstStructure *checkpoint_generation_defaults (const blip2::GenerationOptions &checkpoint);

// The dtype name the library takes ("auto", "float32", ...).
const char *dtype_name (GstBlip2CaptionDtype dtype);

// The quantize name the library takes ("none", "int8").
const char *quantize_name (GstBlip2CaptionQuantize quantize);

// Installs the settings properties (ids PROP_MODEL .. PROP_SETTINGS_END - 1) into
// `specs` and on `klass`.
void install_settings_properties (GObjectClass *klass, GParamSpec **specs);

// set_property / get_property of a settings property. A value the element
// cannot use is refused with a warning and the old value kept; a value taken
// marks the property as set by the user (Settings::user_set).
void set_setting (Settings &settings, guint prop_id, const GValue *value);
void get_setting (const Settings &settings, guint prop_id, GValue *value);

// Marks the enum types as plugin API (documented with the element).
void mark_settings_types_as_plugin_api ();

}  // namespace blip2gst
