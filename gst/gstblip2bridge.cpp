// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string>

#include "blip2.h"
#include "gstblip2bridge.h"

GST_DEBUG_CATEGORY_STATIC (blip2_library_debug);

void
gst_blip2_post_error (GstElement *element,
                      std::exception_ptr error,
                      GstBlip2Phase phase,
                      const gchar *subject) noexcept
{
  blip2::ErrorCode code = blip2::ErrorCode::kRuntime;
  std::string what;
  try {
    std::rethrow_exception (error);
  } catch (const blip2::Error &e) {
    code = e.code ();
    what = e.what ();
  } catch (const std::exception &e) {
    what = e.what ();
  } catch (...) {
    what = "unknown error";
  }
  gst_blip2_post_failure (element, code, what.c_str (), phase, subject);
}

void
gst_blip2_post_failure (GstElement *element,
                        blip2::ErrorCode code,
                        const gchar *message,
                        GstBlip2Phase phase,
                        const gchar *subject) noexcept
{
  std::string what = message ? message : "";
  const gchar *name = subject ? subject : "";
  const gchar *code_name = blip2::error_code_name (code);

  if (phase == GstBlip2Phase::kStreaming) {
    GST_ELEMENT_ERROR (element, STREAM, FAILED, ("Captioning failed: %s", what.c_str ()),
                       ("%s (%s)", name, code_name));
    return;
  }
  switch (code) {
    case blip2::ErrorCode::kNotFound:
      GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
                         ("Model not found: %s: %s", name, what.c_str ()), ("%s", code_name));
      break;
    case blip2::ErrorCode::kInvalidFormat:
    case blip2::ErrorCode::kConfigMismatch:
    case blip2::ErrorCode::kInvalidArgument:
      GST_ELEMENT_ERROR (element, LIBRARY, SETTINGS,
                         ("Cannot load the model %s: %s", name, what.c_str ()), ("%s", code_name));
      break;
    case blip2::ErrorCode::kUnsupported:
    case blip2::ErrorCode::kRuntime:
    case blip2::ErrorCode::kCancelled:
      GST_ELEMENT_ERROR (element, LIBRARY, INIT,
                         ("Cannot load the model %s: %s", name, what.c_str ()), ("%s", code_name));
      break;
  }
}

void
gst_blip2_install_log_bridge (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (blip2_library_debug, "blip2", 0, "BLIP-2 inference library");
    blip2::set_log_callback ([] (int level, const std::string &message) {
      GstDebugLevel gst_level = GST_LEVEL_DEBUG;
      switch (level) {
        case 0:
          gst_level = GST_LEVEL_ERROR;
          break;
        case 1:
          gst_level = GST_LEVEL_WARNING;
          break;
        case 2:
          gst_level = GST_LEVEL_INFO;
          break;
        default:
          break;
      }
      GST_CAT_LEVEL_LOG (blip2_library_debug, gst_level, nullptr, "%s", message.c_str ());
    });
    g_once_init_leave (&once, 1);
  }
}

GstDebugCategory *
gst_blip2_debug_category (void)
{
  return blip2_library_debug;
}
