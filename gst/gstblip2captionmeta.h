// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The caption metadata blip2caption puts on video buffers: a GstCustomMeta
// named "Blip2CaptionMeta" whose GstStructure holds the fields below, so any
// application reads it without our headers:
//
//   GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, "Blip2CaptionMeta");
//   const GstStructure *s = gst_custom_meta_get_structure (meta);
//   const gchar *caption = gst_structure_get_string (s, "caption");
//
// Python (PyGObject): buffer.get_custom_meta ("Blip2CaptionMeta").get_structure ().
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_BLIP2_CAPTION_META_NAME "Blip2CaptionMeta"

// Registers the meta (idempotent, thread-safe) and returns its info.
const GstMetaInfo *gst_blip2_caption_meta_get_info (void);

// One caption: the values written to the meta and to the bus message.
typedef struct
{
  const gchar *caption;         // UTF-8 text, special tokens removed
  GstClockTime frame_pts;       // PTS of the frame that was captioned
  const gchar *prompt;          // the text prompt used ("" for none)
  GstClockTime inference_time;  // wall time of the caption call, ns
  guint token_count;            // generated tokens (EOS included)
  gdouble score;                // mean log-probability of the tokens
  guint batch_size;             // images captioned in the same model call (1: alone)
} GstBlip2CaptionInfo;

// Adds a "Blip2CaptionMeta" to a writable buffer and returns it.
GstCustomMeta *gst_blip2_caption_meta_add (GstBuffer *buffer, const GstBlip2CaptionInfo *info);

// Fills `structure` with the fields above (caption, frame-pts, prompt,
// inference-time, token-count, score, batch-size).
void gst_blip2_caption_info_to_structure (const GstBlip2CaptionInfo *info, GstStructure *structure);

G_END_DECLS
