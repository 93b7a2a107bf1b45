// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_BLIP2_CAPTION (gst_blip2_caption_get_type ())
G_DECLARE_FINAL_TYPE (GstBlip2Caption, gst_blip2_caption, GST, BLIP2_CAPTION, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (blip2caption);

G_END_DECLS
