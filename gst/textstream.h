// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The sparse text stream on the element's `text_src` pad: one buffer per
// caption, GAP events in between, EOS at the end. The video thread and the
// live worker queue items here; the pad's own task pushes them, so neither
// ever blocks on the text consumer. The timing arithmetic is TextTimeline's.
//
// Captions become cues through a CueTrack (cue_track.h): caption-style
// text, minimum display time, and, when `hold` is configured (merging
// repeats, or change sampling where a cue lasts until the next caption), the
// newest cue is held until its end is known so that an equal caption can
// extend it. Holding would stall consumers that wait for text before taking
// the next video frame (textoverlay, muxers without enough queueing), so:
// a zero-length GAP at the held cue's start lets text sinks preroll, and
// when the video has been waiting outside the element for kHoldPatience
// with a cue held, the stream stops holding for good (until stop): the cue
// is sent up to the video position and continues in pieces as the video
// advances.
#pragma once

#include <gst/gst.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "cue_track.h"
#include "text_timeline.h"

namespace blip2gst {

// The playback direction of a segment, and where it starts on that axis
// (kNone: where the video starts).
Axis segment_axis (const GstSegment &segment);
ClockTime segment_origin (const GstSegment &segment);

class TextStream
{
 public:
  using Deadline = TextTimeline::Deadline;
  // Answers a query (LATENCY) or takes an event (SEEK) for the element.
  using QueryHandler = std::function<gboolean (GstQuery *)>;
  using EventHandler = std::function<gboolean (GstEvent *)>;

  static GstStaticPadTemplate *pad_template ();

  // Adds the always `text_src` pad to `element`. Upstream LATENCY queries
  // go to `latency`, upstream SEEK events to `seek`.
  TextStream (GstElement *element, QueryHandler latency, EventHandler seek);
  ~TextStream ();
  TextStream (const TextStream &) = delete;
  TextStream &operator= (const TextStream &) = delete;

  GstPad *
  pad () const
  {
    return pad_;
  }

  // Serialized video events, in order.
  void stream_start (const gchar *upstream_id, bool have_group, guint group_id);
  void segment (const GstSegment &segment);
  void eos ();
  // Flushing (FLUSH_START / FLUSH_STOP on the video): forwards the event.
  void flush_start (GstEvent *event);
  void flush_stop (GstEvent *event);
  // Drops everything queued or expected (stop, PAUSED -> READY).
  void reset ();

  // The video reached `position` (on the axis): gaps up to there, except
  // past a caption still expected.
  void reach (ClockTime position);
  // A caption `id` (live mode) may come for the frame starting at `start`.
  void expect (uint64_t id, ClockTime start, Deadline deadline);
  // Caption `id` will not come (failed, replaced): the stream moves on.
  void forget (uint64_t id);
  // Queues a caption lasting `cue` (on the axis; cue.end kNone: until the
  // next caption). An empty text is a gap. `id`: the expected caption it
  // fulfils; false (nothing queued) when that was flushed meanwhile.
  bool cue (std::optional<uint64_t> id, const std::string &text, Span cue);

  // How captions become cues; `hold`: keep the newest cue until its end is
  // known (see above). Applies to the next caption.
  void configure (const blip2caption::CueSettings &settings, bool hold);
  // The element's streaming thread is working on a video buffer (true), or
  // has handed it downstream (false): how the stream tells that the video
  // waits for the text.
  void video_busy (bool busy);

  // How long the video may wait downstream with a cue held before the
  // stream stops holding cues.
  static constexpr std::chrono::milliseconds kHoldPatience{500};

 private:
  static gboolean activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active);
  static gboolean on_query (GstPad *pad, GstObject *parent, GstQuery *query);
  static gboolean on_event (GstPad *pad, GstObject *parent, GstEvent *event);
  static void loop (gpointer user_data);
  static TextStream *from_pad (GstPad *pad);

  bool activate (bool active);
  void start_task ();
  void run_once ();
  GstMiniObject *wait_for_item ();
  void push (GstMiniObject *item);

  // *_locked: with lock_ held
  void enqueue_locked (GstMiniObject *item);
  void start_locked ();
  void ensure_ready_locked ();
  void gap_locked (Span axis_gap);
  void advance_locked ();
  void reset_locked ();
  void place_locked (const blip2caption::Cue &cue);
  ClockTime preroll_point (ClockTime at) const;
  void place_all_locked (const std::vector<blip2caption::Cue> &cues);
  bool holding_locked () const;
  std::optional<Deadline> hold_deadline_locked () const;
  void stop_holding_locked ();

  GstElement *element_;
  GstPad *pad_;
  QueryHandler latency_;
  EventHandler seek_;

  // Guards everything below. The last lock taken: never held while calling
  // out (pushing, posting) or taking another lock.
  std::mutex lock_;
  std::condition_variable wake_;
  std::deque<GstMiniObject *> queue_;
  bool flushing_ = true;
  bool started_ = false;  // stream-start and caps queued (or pushed)
  std::string stream_id_;  // upstream's stream id, for ours
  bool have_group_ = false;
  guint group_id_ = 0;
  bool have_segment_ = false;  // segment queued
  bool eos_ = false;
  GstSegment segment_;  // the video's segment (TIME)
  Axis axis_;
  ClockTime video_position_ = kNone;  // axis
  TextTimeline timeline_;
  blip2caption::CueTrack track_;
  blip2caption::CueSettings cue_settings_;
  bool hold_wanted_ = false;
  bool hold_given_up_ = false;      // the video waited for held text (until reset)
  bool preroll_gap_sent_ = false;   // in this segment
  bool video_busy_ = false;
  Deadline video_idle_since_{};
};

}  // namespace blip2gst
