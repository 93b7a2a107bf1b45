// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors

/**
 * SECTION:plugin-blip2
 * @short_description: Video captioning with BLIP-2 OPT in libtorch
 *
 * The blip2caption element and its caption metadata ("Blip2CaptionMeta").
 *
 * Since: 0.1
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstblip2caption.h"
#include "gstblip2captionmeta.h"

static gboolean
plugin_init (GstPlugin* plugin)
{
  gst_blip2_caption_meta_get_info ();
  return GST_ELEMENT_REGISTER (blip2caption, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR,
                   GST_VERSION_MINOR,
                   blip2,
                   "Captions video with a BLIP-2 OPT model run by libtorch, as subtitles, buffer metas "
                   "and bus messages",
                   plugin_init,
                   VERSION,
                   GST_LICENSE,
                   GST_PACKAGE_NAME,
                   GST_PACKAGE_ORIGIN)
