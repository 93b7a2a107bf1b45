// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "textstream.h"

GST_DEBUG_CATEGORY_EXTERN (gst_blip2_caption_debug);
#define GST_CAT_DEFAULT gst_blip2_caption_debug

#define TEXT_CAPS "text/x-raw, format=(string)utf8"

namespace blip2gst {

namespace {

GstStaticPadTemplate text_src_template =
    GST_STATIC_PAD_TEMPLATE ("text_src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (TEXT_CAPS));

}  // namespace

Axis
segment_axis (const GstSegment &segment)
{
  return Axis (segment.rate < 0.0);
}

ClockTime
segment_origin (const GstSegment &segment)
{
  Axis axis = segment_axis (segment);
  if (!axis.reverse ())
    return segment.start;
  return GST_CLOCK_TIME_IS_VALID (segment.stop) ? axis.to_axis (segment.stop) : kNone;
}

GstStaticPadTemplate *
TextStream::pad_template ()
{
  return &text_src_template;
}

TextStream::TextStream (GstElement *element, QueryHandler latency, EventHandler seek)
    : element_ (element), latency_ (std::move (latency)), seek_ (std::move (seek))
{
  gst_segment_init (&segment_, GST_FORMAT_TIME);
  pad_ = gst_pad_new_from_static_template (&text_src_template, "text_src");
  gst_pad_set_element_private (pad_, this);
  gst_pad_set_activatemode_function (pad_, GST_DEBUG_FUNCPTR (activate_mode));
  gst_pad_set_query_function (pad_, GST_DEBUG_FUNCPTR (on_query));
  gst_pad_set_event_function (pad_, GST_DEBUG_FUNCPTR (on_event));
  gst_pad_use_fixed_caps (pad_);
  gst_element_add_pad (element, pad_);
}

TextStream::~TextStream ()
{
  for (GstMiniObject *item : queue_)
    gst_mini_object_unref (item);
}

TextStream *
TextStream::from_pad (GstPad *pad)
{
  return static_cast<TextStream *> (gst_pad_get_element_private (pad));
}

/* ------------------------------------------------------------------------ */
/* Queueing (all with lock_ held)                                           */

void
TextStream::enqueue_locked (GstMiniObject *item)
{
  if (flushing_) {
    gst_mini_object_unref (item);
    return;
  }
  queue_.push_back (item);
  wake_.notify_all ();
}

void
TextStream::start_locked ()
{
  if (flushing_) {
    started_ = false;  // queued after the flush (ensure_ready_locked)
    return;
  }
  gchar *id = g_strdup_printf ("%s/blip2caption-text",
                               stream_id_.empty () ? "blip2caption" : stream_id_.c_str ());
  GstEvent *start = gst_event_new_stream_start (id);
  g_free (id);
  gst_event_set_stream_flags (start, GST_STREAM_FLAG_SPARSE);
  if (have_group_)
    gst_event_set_group_id (start, group_id_);
  enqueue_locked (GST_MINI_OBJECT_CAST (start));
  GstCaps *caps = gst_caps_from_string (TEXT_CAPS);
  enqueue_locked (GST_MINI_OBJECT_CAST (gst_event_new_caps (caps)));
  gst_caps_unref (caps);
  started_ = true;
  eos_ = false;
}

// Makes sure stream-start, caps and segment precede any data.
void
TextStream::ensure_ready_locked ()
{
  if (!started_)
    start_locked ();
  if (!have_segment_) {
    enqueue_locked (GST_MINI_OBJECT_CAST (gst_event_new_segment (&segment_)));
    have_segment_ = true;
  }
}

void
TextStream::gap_locked (Span axis_gap)
{
  ensure_ready_locked ();
  Span gap = axis_.to_real (axis_gap);
  enqueue_locked (GST_MINI_OBJECT_CAST (gst_event_new_gap (gap.start, gap.end - gap.start)));
}

bool
TextStream::holding_locked () const
{
  return hold_wanted_ && !hold_given_up_;
}

// Moves the stream up to the video: a cue no longer held is sent up to the
// video position; gaps never pass a held cue's start.
void
TextStream::advance_locked ()
{
  if (eos_)
    return;
  if (!hold_wanted_) {
    // Nothing to wait for: the cue goes out whole (without a duration when
    // its end is unknown).
    place_all_locked (track_.close (cue_settings_));
    place_all_locked (track_.finish (kNone, cue_settings_));
  } else if (hold_given_up_) {
    // The consumer needs text as the video advances, and no further ahead
    // than the video it holds (a muxer waits for an item on every pad):
    // the cue goes out in pieces up to the video position.
    place_all_locked (track_.commit_until (video_position_, cue_settings_));
  }
  ClockTime bound = video_position_;
  if (track_.has_open () && is_valid (track_.open_start ()) &&
      (!is_valid (bound) || track_.open_start () < bound))
    bound = track_.open_start ();
  if (std::optional<Span> gap = timeline_.advance (bound))
    gap_locked (*gap);
  if (track_.has_open () && !preroll_gap_sent_ && is_valid (track_.open_start ())) {
    // A zero-length gap where the held cue starts: text sinks can preroll.
    ensure_ready_locked ();
    ClockTime at = track_.open_start ();
    if (is_valid (timeline_.position ()) && timeline_.position () > at)
      at = timeline_.position ();
    enqueue_locked (GST_MINI_OBJECT_CAST (gst_event_new_gap (preroll_point (at), 0)));
    preroll_gap_sent_ = true;
  }
}

// The real time of a zero-length gap at `at` (axis), inside the segment: a
// sink drops a point outside it unprerolled. In reverse playback a cue's
// start on the axis is its real end, which a sink counts as outside when it
// is the segment's stop (the first frame of a reverse segment ends there, or
// past it): the point is then just before the stop.
ClockTime
TextStream::preroll_point (ClockTime at) const
{
  ClockTime real = axis_.to_real (at);
  if (!axis_.reverse ()) {
    if (is_valid (segment_.start) && real < segment_.start)
      real = segment_.start;
    return real;
  }
  if (is_valid (segment_.stop) && segment_.stop > segment_.start && real >= segment_.stop)
    real = segment_.stop - 1;
  return real;
}

void
TextStream::place_locked (const blip2caption::Cue &c)
{
  TextTimeline::CuePlacement placed = timeline_.place (Span{c.start, c.end});
  if (placed.late) {
    GST_INFO_OBJECT (element_, "caption for %" GST_TIME_FORMAT " is late, sent at %" GST_TIME_FORMAT,
                     GST_TIME_ARGS (axis_.to_real (c.start)),
                     GST_TIME_ARGS (axis_.to_real (placed.cue.start)));
  }
  if (placed.gap)
    gap_locked (*placed.gap);
  if (c.text.empty () || !is_valid (placed.cue.start))
    return;
  bool has_end = is_valid (placed.cue.end);
  Span real = axis_.to_real (placed.cue);
  GstBuffer *buffer = gst_buffer_new_memdup (c.text.data (), c.text.size ());
  GST_BUFFER_PTS (buffer) = has_end ? real.start : axis_.to_real (placed.cue.start);
  GST_BUFFER_DURATION (buffer) = has_end ? real.end - real.start : GST_CLOCK_TIME_NONE;
  enqueue_locked (GST_MINI_OBJECT_CAST (buffer));
}

void
TextStream::place_all_locked (const std::vector<blip2caption::Cue> &cues)
{
  if (cues.empty ())
    return;
  ensure_ready_locked ();
  for (const blip2caption::Cue &c : cues)
    place_locked (c);
}

std::optional<TextStream::Deadline>
TextStream::hold_deadline_locked () const
{
  if (!holding_locked () || !track_.has_open () || video_busy_ || !is_valid (video_position_) ||
      !is_valid (track_.open_start ()) || video_position_ <= track_.open_start ())
    return std::nullopt;
  return video_idle_since_ + kHoldPatience;
}

void
TextStream::stop_holding_locked ()
{
  GST_INFO_OBJECT (element_, "the video waits for the text: cues are no longer held, a long "
                             "caption may come out in pieces");
  hold_given_up_ = true;
  advance_locked ();
}

// Drops what is queued or expected. Stream-start and caps still queued are
// lost with the queue: they are queued again before the next data.
void
TextStream::reset_locked ()
{
  for (GstMiniObject *item : queue_) {
    if (GST_IS_EVENT (item) && (GST_EVENT_TYPE (item) == GST_EVENT_STREAM_START ||
                                GST_EVENT_TYPE (item) == GST_EVENT_CAPS))
      started_ = false;
    gst_mini_object_unref (item);
  }
  queue_.clear ();
  timeline_.reset (segment_origin (segment_));
  track_.reset ();
  preroll_gap_sent_ = false;
  video_position_ = kNone;
  have_segment_ = false;
  eos_ = false;
  wake_.notify_all ();
}

/* ------------------------------------------------------------------------ */
/* What the element tells the stream                                        */

void
TextStream::stream_start (const gchar *upstream_id, bool have_group, guint group_id)
{
  std::lock_guard<std::mutex> lk (lock_);
  stream_id_ = upstream_id ? upstream_id : "";
  have_group_ = have_group;
  group_id_ = group_id;
  start_locked ();
  have_segment_ = false;
}

void
TextStream::segment (const GstSegment &segment)
{
  std::lock_guard<std::mutex> lk (lock_);
  if (!eos_)
    place_all_locked (track_.finish (video_position_, cue_settings_));  // the old segment's last cue
  track_.reset ();
  preroll_gap_sent_ = false;
  if (segment.format == GST_FORMAT_TIME) {
    gst_segment_copy_into (&segment, &segment_);
  } else {
    GST_WARNING_OBJECT (element_, "video segment not in TIME: text uses a default one");
    gst_segment_init (&segment_, GST_FORMAT_TIME);
  }
  axis_ = segment_axis (segment_);
  timeline_.reset (segment_origin (segment_));
  video_position_ = kNone;
  have_segment_ = false;
  ensure_ready_locked ();
}

void
TextStream::eos ()
{
  std::lock_guard<std::mutex> lk (lock_);
  if (eos_)
    return;
  timeline_.expire_all ();  // failed or dropped: nothing will come
  place_all_locked (track_.finish (video_position_, cue_settings_));
  advance_locked ();
  ensure_ready_locked ();
  enqueue_locked (GST_MINI_OBJECT_CAST (gst_event_new_eos ()));
  eos_ = true;
}

void
TextStream::flush_start (GstEvent *event)
{
  gst_pad_push_event (pad_, gst_event_ref (event));
  {
    std::lock_guard<std::mutex> lk (lock_);
    flushing_ = true;
    reset_locked ();
  }
  gst_pad_pause_task (pad_);
}

void
TextStream::flush_stop (GstEvent *event)
{
  {
    std::lock_guard<std::mutex> lk (lock_);
    reset_locked ();
    flushing_ = false;
  }
  gst_pad_push_event (pad_, gst_event_ref (event));
  if (GST_PAD_IS_ACTIVE (pad_))
    start_task ();
}

void
TextStream::reset ()
{
  std::lock_guard<std::mutex> lk (lock_);
  reset_locked ();
  hold_given_up_ = false;
}

void
TextStream::configure (const blip2caption::CueSettings &settings, bool hold)
{
  std::lock_guard<std::mutex> lk (lock_);
  cue_settings_ = settings;
  hold_wanted_ = hold;
}

void
TextStream::video_busy (bool busy)
{
  std::lock_guard<std::mutex> lk (lock_);
  video_busy_ = busy;
  if (!busy)
    video_idle_since_ = std::chrono::steady_clock::now ();
  wake_.notify_all ();
}

void
TextStream::reach (ClockTime position)
{
  std::lock_guard<std::mutex> lk (lock_);
  if (is_valid (position) && (!is_valid (video_position_) || position > video_position_))
    video_position_ = position;
  advance_locked ();
}

void
TextStream::expect (uint64_t id, ClockTime start, Deadline deadline)
{
  std::lock_guard<std::mutex> lk (lock_);
  timeline_.expect (id, start, deadline);
  wake_.notify_all ();  // the task waits until the earliest deadline
}

void
TextStream::forget (uint64_t id)
{
  std::lock_guard<std::mutex> lk (lock_);
  if (timeline_.forget (id))
    advance_locked ();
}

bool
TextStream::cue (std::optional<uint64_t> id, const std::string &text, Span cue)
{
  std::lock_guard<std::mutex> lk (lock_);
  if (id && !timeline_.forget (*id))
    return false;  // flushed meanwhile
  if (eos_)
    return false;
  place_all_locked (track_.add (text, cue.start, cue.end, cue_settings_));
  advance_locked ();
  return true;
}

/* ------------------------------------------------------------------------ */
/* The pad and its task                                                     */

void
TextStream::start_task ()
{
  gst_pad_start_task (pad_, loop, this, nullptr);
}

// Waits for an item (letting the stream move past a live caption that is
// overdue); nullptr when flushing.
GstMiniObject *
TextStream::wait_for_item ()
{
  std::unique_lock<std::mutex> lk (lock_);
  while (!flushing_ && queue_.empty ()) {
    std::optional<Deadline> deadline = timeline_.next_deadline ();
    std::optional<Deadline> hold = hold_deadline_locked ();
    if (hold && (!deadline || *hold < *deadline))
      deadline = hold;
    if (!deadline) {
      wake_.wait (lk);
    } else if (wake_.wait_until (lk, *deadline) == std::cv_status::timeout) {
      auto now = std::chrono::steady_clock::now ();
      if (timeline_.expire (now)) {
        GST_INFO_OBJECT (element_, "a live caption is overdue: the text stream moves on");
        advance_locked ();
      }
      std::optional<Deadline> still_held = hold_deadline_locked ();
      if (still_held && *still_held <= now)
        stop_holding_locked ();
    }
  }
  if (flushing_)
    return nullptr;
  GstMiniObject *item = queue_.front ();
  queue_.pop_front ();
  return item;
}

void
TextStream::push (GstMiniObject *item)
{
  if (GST_IS_BUFFER (item)) {
    GstFlowReturn ret = gst_pad_push (pad_, GST_BUFFER_CAST (item));
    if (ret != GST_FLOW_OK && ret != GST_FLOW_NOT_LINKED && ret != GST_FLOW_FLUSHING &&
        ret != GST_FLOW_EOS)
      GST_WARNING_OBJECT (element_, "pushing a caption returned %s", gst_flow_get_name (ret));
    return;
  }
  GstEvent *event = GST_EVENT_CAST (item);
  GstEventType type = GST_EVENT_TYPE (event);
  GST_LOG_OBJECT (element_, "text event %" GST_PTR_FORMAT, event);
  if (gst_pad_push_event (pad_, event) ||
      (type != GST_EVENT_STREAM_START && type != GST_EVENT_CAPS))
    return;
  // Refused while flushing: not stored on the pad, so queue it again.
  GstEvent *stored = gst_pad_get_sticky_event (pad_, type, 0);
  if (stored != nullptr) {
    gst_event_unref (stored);
    return;
  }
  std::lock_guard<std::mutex> lk (lock_);
  started_ = false;
}

void
TextStream::run_once ()
{
  GstMiniObject *item = wait_for_item ();
  if (item == nullptr)
    gst_pad_pause_task (pad_);
  else
    push (item);
}

void
TextStream::loop (gpointer user_data)
{
  static_cast<TextStream *> (user_data)->run_once ();
}

bool
TextStream::activate (bool active)
{
  if (active) {
    {
      std::lock_guard<std::mutex> lk (lock_);
      flushing_ = false;
    }
    start_task ();
    return true;
  }
  {
    std::lock_guard<std::mutex> lk (lock_);
    flushing_ = true;
    reset_locked ();
    started_ = false;
  }
  return gst_pad_stop_task (pad_);
}

gboolean
TextStream::activate_mode (GstPad *pad,
                           GstObject *parent G_GNUC_UNUSED,
                           GstPadMode mode,
                           gboolean active)
{
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  return from_pad (pad)->activate (active);
}

gboolean
TextStream::on_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:
      return from_pad (pad)->latency_ (query);
    case GST_QUERY_CAPS: {
      GstCaps *filter;
      gst_query_parse_caps (query, &filter);
      GstCaps *caps = gst_pad_get_pad_template_caps (pad);
      if (filter) {
        GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = tmp;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

gboolean
TextStream::on_event (GstPad *pad, GstObject *parent G_GNUC_UNUSED, GstEvent *event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK)
    return from_pad (pad)->seek_ (event);  // a seek from the subtitle side seeks the video
  // QoS, reconfigure, navigation: meaningless for captions.
  gst_event_unref (event);
  return TRUE;
}

}  // namespace blip2gst
