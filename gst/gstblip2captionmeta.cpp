// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstblip2captionmeta.h"

const GstMetaInfo *
gst_blip2_caption_meta_get_info (void)
{
  static const GstMetaInfo *info = nullptr;

  if (g_once_init_enter (&info)) {
    // No tags: the meta describes the whole picture, not its pixels or size,
    // so it survives conversion and scaling (videoconvert, videoscale).
    static const gchar *tags[] = {nullptr};
    const GstMetaInfo *registered =
        gst_meta_register_custom (GST_BLIP2_CAPTION_META_NAME, tags, nullptr, nullptr, nullptr);
    g_once_init_leave (&info, registered);
  }
  return info;
}

void
gst_blip2_caption_info_to_structure (const GstBlip2CaptionInfo *info, GstStructure *structure)
{
  g_return_if_fail (info != nullptr);
  g_return_if_fail (structure != nullptr);

  gst_structure_set (structure, "caption", G_TYPE_STRING, info->caption ? info->caption : "",
                     "frame-pts", G_TYPE_UINT64, (guint64)info->frame_pts, "prompt", G_TYPE_STRING,
                     info->prompt ? info->prompt : "", "inference-time", G_TYPE_UINT64,
                     (guint64)info->inference_time, "token-count", G_TYPE_UINT, info->token_count,
                     "score", G_TYPE_DOUBLE, info->score, "batch-size", G_TYPE_UINT,
                     info->batch_size, nullptr);
}

GstCustomMeta *
gst_blip2_caption_meta_add (GstBuffer *buffer, const GstBlip2CaptionInfo *info)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), nullptr);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), nullptr);
  g_return_val_if_fail (info != nullptr, nullptr);

  gst_blip2_caption_meta_get_info ();
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buffer, GST_BLIP2_CAPTION_META_NAME);
  if (meta == nullptr)
    return nullptr;
  gst_blip2_caption_info_to_structure (info, gst_custom_meta_get_structure (meta));
  return meta;
}
