// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The boundary between GStreamer and the inference library: the one place
// where library errors become GStreamer errors, and library log lines become
// GStreamer debug output (category "blip2").
#pragma once

#include <gst/gst.h>

#include <exception>

#include "error.h"

// What the element was doing when the error happened; picks the error domain.
enum class GstBlip2Phase {
  kLoading,    // start(): loading the model (fails the state change)
  kStreaming,  // captioning a frame
};

// Posts one GST_ELEMENT_ERROR for `error` (a blip2::Error or any exception).
// `subject` names what failed (the model as the user gave it, or the frame).
// Never throws.
void gst_blip2_post_error (GstElement* element,
                           std::exception_ptr error,
                           GstBlip2Phase phase,
                           const gchar* subject) noexcept;

// The same for an error known as a value (code and message).
void gst_blip2_post_failure (GstElement* element,
                             blip2::ErrorCode code,
                             const gchar* message,
                             GstBlip2Phase phase,
                             const gchar* subject) noexcept;

// Sends the library's log messages to the "blip2" debug category (once per process).
void gst_blip2_install_log_bridge (void);

// The "blip2" debug category: the library's messages, the element's model
// loads (INFO) and each caption (DEBUG). Valid after gst_blip2_install_log_bridge.
GstDebugCategory *gst_blip2_debug_category (void);
