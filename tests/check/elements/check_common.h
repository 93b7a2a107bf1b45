/* check_common.h — helpers shared by the blip2caption gst-check programs. */
#pragma once

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <unistd.h>

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

/* The tiny random checkpoint built by the oracle (BLIP2_FIXTURES/models/tiny);
 * fails the test when it is missing. Free with g_free. */
static G_GNUC_UNUSED gchar *
tiny_model (void)
{
  const gchar *root = g_getenv ("BLIP2_FIXTURES");
  fail_unless (root != NULL, "BLIP2_FIXTURES is not set");
  gchar *path = g_build_filename (root, "models", "tiny", NULL);
  fail_unless (g_file_test (path, G_FILE_TEST_IS_DIR), "%s is missing", path);
  return path;
}

/* A new empty file in the temporary folder, named blip2-check-XXXXXX<suffix>.
 * Free with g_free (and g_unlink it). */
static G_GNUC_UNUSED gchar *
temp_file (const gchar *suffix)
{
  gchar *name = g_strdup_printf ("blip2-check-XXXXXX%s", suffix);
  GError *err = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp (name, &path, &err);
  fail_unless (fd >= 0, "tmp file: %s", err ? err->message : "");
  close (fd);
  g_free (name);
  return path;
}
