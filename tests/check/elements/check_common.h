/* check_common.h — helpers shared by the blip2caption gst-check programs. */
#pragma once

#include <gst/check/gstcheck.h>
#include <stdarg.h>

/* gst_parse_launch of a printf-style description; fails the test on error. */
static GstElement *
parse_pipeline (const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  gchar *desc = g_strdup_vprintf (format, args);
  va_end (args);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "cannot parse %s: %s", desc,
               err ? err->message : "");
  g_free (desc);
  return pipeline;
}
