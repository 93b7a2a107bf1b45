// The element's timing arithmetic (gst/timeline.h, gst/sampler.h,
// gst/text_timeline.h, gst/load_progress.h), without GStreamer: the sampling
// grid, where frames sit, how long captions last, the sparse text stream's
// gaps, and which load progress calls become messages.
#include <gtest/gtest.h>

#include <vector>

#include "load_progress.h"
#include "sampler.h"
#include "text_timeline.h"
#include "timeline.h"

using namespace blip2gst;

namespace {

constexpr ClockTime kMs = 1000000;
constexpr ClockTime kSecond = 1000 * kMs;

ClockTime
frame_pts (uint64_t i, uint64_t fps_n, uint64_t fps_d)
{
  return (ClockTime)((unsigned __int128)i * kSecond * fps_d / fps_n);
}

// Runs `frames` frames at fps_n/fps_d from `start` through a timeline and an
// IntervalSampler; returns the PTS of the sampled ones.
std::vector<ClockTime>
sample (uint64_t frames,
        uint64_t fps_n,
        uint64_t fps_d,
        ClockTime interval,
        ClockTime start = 0,
        std::vector<ClockTime> *until = nullptr)
{
  VideoTimeline timeline;
  timeline.reset (Axis (false), start);
  IntervalSampler sampler;
  std::vector<ClockTime> sampled;
  for (uint64_t i = 0; i < frames; i++) {
    FrameIn in;
    in.pts = start + frame_pts (i, fps_n, fps_d);
    in.duration = start + frame_pts (i + 1, fps_n, fps_d) - in.pts;
    SampleDecision d = sampler.decide (timeline.place (in).span, interval);
    if (d.sample) {
      sampled.push_back (in.pts);
      if (until)
        until->push_back (d.until);
    }
  }
  return sampled;
}

}  // namespace

TEST (IntervalSampler, GridAtSeveralRatesAndIntervals)
{
  EXPECT_EQ (sample (61, 30, 1, kSecond), (std::vector<ClockTime>{0, kSecond, 2 * kSecond}));
  EXPECT_EQ (sample (50, 25, 1, 500 * kMs),
             (std::vector<ClockTime>{0, 520 * kMs, 1000 * kMs, 1520 * kMs}));
  EXPECT_EQ (sample (7, 15, 2, 200 * kMs),
             (std::vector<ClockTime>{0, 266666666, 400 * kMs, 666666666, 800 * kMs}));
  EXPECT_EQ (sample (20, 30000, 1001, 10 * kSecond), (std::vector<ClockTime>{0}));
  // 29.97 fps for 10 minutes at 1 s: one frame per second, never drifting
  std::vector<ClockTime> ntsc = sample (17982, 30000, 1001, kSecond);
  ASSERT_EQ (ntsc.size (), 600u);
  for (size_t k = 0; k < ntsc.size (); k++) {
    EXPECT_GE (ntsc[k], k * kSecond);
    EXPECT_LT (ntsc[k], k * kSecond + 34 * kMs);
  }
}

TEST (IntervalSampler, CaptionLastsUntilTheNextGridPoint)
{
  std::vector<ClockTime> until;
  sample (50, 25, 1, 500 * kMs, 0, &until);
  EXPECT_EQ (until, (std::vector<ClockTime>{500 * kMs, 1000 * kMs, 1500 * kMs, 2000 * kMs}));
}

TEST (IntervalSampler, ZeroIntervalSamplesEveryFrameForItsDuration)
{
  std::vector<ClockTime> until;
  EXPECT_EQ (sample (5, 10, 1, 0, 0, &until),
             (std::vector<ClockTime>{0, 100 * kMs, 200 * kMs, 300 * kMs, 400 * kMs}));
  EXPECT_EQ (until, (std::vector<ClockTime>{100 * kMs, 200 * kMs, 300 * kMs, 400 * kMs, 500 * kMs}));
  IntervalSampler sampler;
  SampleDecision point = sampler.decide (Span{kSecond, kSecond}, 0);
  EXPECT_TRUE (point.sample);
  EXPECT_EQ (point.until, kNone);  // a frame of unknown duration
}

TEST (IntervalSampler, SegmentStartOffsetAnchorsTheGridAtTheFirstFrame)
{
  EXPECT_EQ (sample (30, 10, 1, kSecond, 5250 * kMs),
             (std::vector<ClockTime>{5250 * kMs, 6250 * kMs, 7250 * kMs}));
}

TEST (IntervalSampler, ForwardJumpStaysOnTheGrid)
{
  IntervalSampler s;
  EXPECT_TRUE (s.decide (Span{0, 100 * kMs}, kSecond).sample);
  EXPECT_FALSE (s.decide (Span{100 * kMs, 200 * kMs}, kSecond).sample);
  SampleDecision jump = s.decide (Span{10300 * kMs, 10400 * kMs}, kSecond);
  EXPECT_TRUE (jump.sample);
  EXPECT_EQ (jump.until, 11 * kSecond);
  EXPECT_FALSE (s.decide (Span{10900 * kMs, 11000 * kMs}, kSecond).sample);
  EXPECT_TRUE (s.decide (Span{11 * kSecond, 11100 * kMs}, kSecond).sample);
}

TEST (IntervalSampler, GoingBackRestartsTheGrid)
{
  IntervalSampler s;
  EXPECT_TRUE (s.decide (Span{0, 100 * kMs}, kSecond).sample);
  EXPECT_FALSE (s.decide (Span{900 * kMs, kSecond}, kSecond).sample);
  SampleDecision back = s.decide (Span{300 * kMs, 400 * kMs}, kSecond);
  EXPECT_TRUE (back.sample);
  EXPECT_EQ (back.until, 1300 * kMs);
}

TEST (IntervalSampler, IntervalChangeAndResetRestartTheGrid)
{
  IntervalSampler s;
  EXPECT_TRUE (s.decide (Span{0, 100 * kMs}, kSecond).sample);
  EXPECT_FALSE (s.decide (Span{400 * kMs, 500 * kMs}, kSecond).sample);
  SampleDecision changed = s.decide (Span{500 * kMs, 600 * kMs}, 200 * kMs);
  EXPECT_TRUE (changed.sample);
  EXPECT_EQ (changed.until, 700 * kMs);
  EXPECT_FALSE (s.decide (Span{600 * kMs, 700 * kMs}, 200 * kMs).sample);
  s.reset ();
  EXPECT_TRUE (s.decide (Span{600 * kMs, 700 * kMs}, 200 * kMs).sample);
}

TEST (IntervalSampler, IntervalNearTheMaximumDoesNotOverflow)
{
  for (ClockTime interval : {kNone, kMaxTime, kMaxTime - 5 * kSecond}) {
    std::vector<ClockTime> until;
    std::vector<ClockTime> sampled = sample (90, 30, 1, interval, 10 * kSecond, &until);
    ASSERT_EQ (sampled.size (), 1u) << interval;
    EXPECT_EQ (sampled[0], 10 * kSecond);
    EXPECT_EQ (until[0], kNone) << "no grid point fits after the first frame";
  }
  // half the range: the next point fits, later frames wait for it
  std::vector<ClockTime> half;
  EXPECT_EQ (sample (90, 30, 1, UINT64_MAX / 2 + 1, 10 * kSecond, &half).size (), 1u);
  EXPECT_EQ (half[0], 10 * kSecond + UINT64_MAX / 2 + 1);
  // the largest interval whose next point still fits
  std::vector<ClockTime> until;
  EXPECT_EQ (sample (3, 1, 1, kMaxTime - 10 * kSecond, 10 * kSecond, &until).size (), 1u);
  EXPECT_EQ (until[0], kMaxTime);
}

TEST (IntervalSampler, ReversePlaybackSamplesOncePerInterval)
{
  // rate -1: frames from 5 s down to 0 at 30 fps
  VideoTimeline timeline;
  Axis axis (true);
  timeline.reset (axis, axis.to_axis (5 * kSecond));
  IntervalSampler sampler;
  std::vector<ClockTime> sampled, lower;
  for (int i = 149; i >= 0; i--) {
    FrameIn in;
    in.pts = frame_pts (i, 30, 1);
    in.duration = frame_pts (i + 1, 30, 1) - in.pts;
    PlacedFrame placed = timeline.place (in);
    SampleDecision d = sampler.decide (placed.span, kSecond);
    if (d.sample) {
      sampled.push_back (in.pts);
      Span real = axis.to_real (caption_span (placed.span, d.until, axis.to_axis (0)));
      lower.push_back (real.start);
      EXPECT_EQ (real.end, in.pts + in.duration);
    }
  }
  ASSERT_EQ (sampled.size (), 5u);
  EXPECT_EQ (sampled[0], frame_pts (149, 30, 1));
  EXPECT_EQ (sampled[1], frame_pts (119, 30, 1));
  EXPECT_EQ (sampled[4], frame_pts (29, 30, 1));
  EXPECT_EQ (lower, (std::vector<ClockTime>{4 * kSecond, 3 * kSecond, 2 * kSecond, kSecond, 0}));
}

TEST (IntervalSampler, FasterForwardRateKeepsStreamTimeInterval)
{
  // rate 2 (or any rate > 0) does not change buffer timestamps: the grid is
  // in stream time, so a 4 s clip at 1 s still gives 4 captions
  EXPECT_EQ (sample (120, 30, 1, kSecond).size (), 4u);
}

TEST (CaptionSpan, EndsAtTheNextPointOrTheStreamEnd)
{
  Span frame{3 * kSecond, 3 * kSecond + 40 * kMs};
  EXPECT_EQ (caption_span (frame, 6 * kSecond, kNone).end, 6 * kSecond);
  // EOS in mid-interval: a 5 s clip at 3 s ends its last caption at 5 s
  EXPECT_EQ (caption_span (frame, 6 * kSecond, 5 * kSecond).end, 5 * kSecond);
  EXPECT_EQ (caption_span (frame, kNone, 5 * kSecond).end, 5 * kSecond);
  EXPECT_EQ (caption_span (frame, kNone, kNone).end, kNone);
  // the stream ends inside the frame: the caption covers the frame
  EXPECT_EQ (caption_span (frame, 6 * kSecond, 3 * kSecond).end, frame.end);
  EXPECT_EQ (caption_span (frame, 6 * kSecond, 3 * kSecond).start, frame.start);
}

TEST (Axis, MirrorsReverseTimeAndIsItsOwnInverse)
{
  Axis forward (false), reverse (true);
  EXPECT_EQ (forward.to_axis (7), 7u);
  EXPECT_EQ (reverse.to_axis (reverse.to_axis (7)), 7u);
  EXPECT_EQ (reverse.to_axis (kNone), kNone);
  Span s = reverse.to_axis (Span{2 * kSecond, 3 * kSecond});
  EXPECT_LT (s.start, s.end);
  EXPECT_EQ (s.end - s.start, kSecond);
  Span back = reverse.to_real (s);
  EXPECT_EQ (back.start, 2 * kSecond);
  EXPECT_EQ (back.end, 3 * kSecond);
  EXPECT_EQ (saturating_add (kMaxTime - 1, 5), kMaxTime);
  EXPECT_EQ (saturating_add (kNone, 5), kNone);
}

TEST (VideoTimeline, PositionIsTheEndOfTheVideoSeen)
{
  VideoTimeline t;
  t.reset (Axis (false), 0);
  FrameIn in;
  in.pts = 100 * kMs;
  in.duration = 40 * kMs;
  EXPECT_EQ (t.place (in).span.end, 140 * kMs);
  EXPECT_EQ (t.position (), 140 * kMs);
  in.pts = 50 * kMs;  // an earlier frame does not move it back
  t.place (in);
  EXPECT_EQ (t.position (), 140 * kMs);
  in.pts = 200 * kMs;
  in.duration = kNone;
  in.nominal_duration = 33 * kMs;  // the caps framerate fills in
  EXPECT_EQ (t.place (in).span.end, 233 * kMs);
  t.reach (Span{kSecond, kSecond + 500 * kMs});  // a GAP event
  EXPECT_EQ (t.position (), 1500 * kMs);
}

TEST (VideoTimeline, UntimestampedFramesFollowEachOther)
{
  VideoTimeline t;
  t.reset (Axis (false), 2 * kSecond);
  FrameIn in;
  in.nominal_duration = 100 * kMs;
  for (int i = 0; i < 3; i++) {
    PlacedFrame f = t.place (in);
    EXPECT_TRUE (f.synthetic);
    EXPECT_EQ (f.span.start, 2 * kSecond + i * 100 * kMs);
    EXPECT_EQ (f.span.end, 2 * kSecond + (i + 1) * 100 * kMs);
  }
  // with a 1 s interval, 25 untimestamped frames at 10 fps are sampled 3 times
  IntervalSampler sampler;
  t.reset (Axis (false), 0);
  int sampled = 0;
  for (int i = 0; i < 25; i++)
    sampled += sampler.decide (t.place (in).span, kSecond).sample;
  EXPECT_EQ (sampled, 3);
}

TEST (VideoTimeline, UntimestampedFramesWithoutDurationUseArrivalTime)
{
  VideoTimeline t;
  t.reset (Axis (false), 0);
  FrameIn in;
  in.arrival = 1000 * kSecond;
  EXPECT_EQ (t.place (in).span.start, 0u);
  in.arrival += 250 * kMs;
  PlacedFrame f = t.place (in);
  EXPECT_TRUE (f.synthetic);
  EXPECT_EQ (f.span.start, 250 * kMs);
  EXPECT_EQ (t.position (), 250 * kMs);
}

TEST (VideoTimeline, ReversePositionGrowsAsTimestampsFall)
{
  VideoTimeline t;
  Axis axis (true);
  t.reset (axis, axis.to_axis (5 * kSecond));
  FrameIn in;
  in.duration = 100 * kMs;
  in.pts = 4900 * kMs;
  t.place (in);
  ClockTime first = t.position ();
  in.pts = 4800 * kMs;
  t.place (in);
  EXPECT_GT (t.position (), first);
  EXPECT_EQ (axis.to_real (t.position ()), 4800 * kMs);
}

TEST (TextTimeline, GapsFromTheSegmentStartUpToTheVideo)
{
  TextTimeline t;
  t.reset (2 * kSecond);  // a segment starting at 2 s
  auto gap = t.advance (2500 * kMs);
  ASSERT_TRUE (gap);
  EXPECT_EQ (gap->start, 2 * kSecond);
  EXPECT_EQ (gap->end, 2500 * kMs);
  EXPECT_FALSE (t.advance (2500 * kMs));
  EXPECT_FALSE (t.advance (kNone));
  EXPECT_EQ (t.position (), 2500 * kMs);
}

TEST (TextTimeline, CueAfterAHoleGetsAGapFirst)
{
  TextTimeline t;
  t.reset (0);
  t.advance (100 * kMs);
  auto placed = t.place (Span{300 * kMs, 800 * kMs});
  ASSERT_TRUE (placed.gap);
  EXPECT_EQ (placed.gap->start, 100 * kMs);
  EXPECT_EQ (placed.gap->end, 300 * kMs);
  EXPECT_FALSE (placed.late);
  EXPECT_EQ (t.position (), 800 * kMs);
  EXPECT_FALSE (t.advance (500 * kMs));  // the caption already covers it
}

TEST (TextTimeline, LateCueMovesToThePositionKeepingItsDuration)
{
  TextTimeline t;
  t.reset (0);
  t.advance (kSecond);
  auto placed = t.place (Span{200 * kMs, 700 * kMs});
  EXPECT_TRUE (placed.late);
  EXPECT_FALSE (placed.gap);
  EXPECT_EQ (placed.cue.start, kSecond);
  EXPECT_EQ (placed.cue.end, 1500 * kMs);
}

TEST (TextTimeline, CueWithoutEndMovesThePositionToItsStart)
{
  TextTimeline t;
  t.reset (0);
  auto placed = t.place (Span{400 * kMs, kNone});
  EXPECT_EQ (placed.cue.end, kNone);
  EXPECT_EQ (t.position (), 400 * kMs);
  placed = t.place (Span{500 * kMs, 500 * kMs});  // empty span: no duration
  EXPECT_EQ (placed.cue.end, kNone);
}

TEST (TextTimeline, ExpectedCaptionHoldsTheStreamUntilItComesOrExpires)
{
  using namespace std::chrono;
  TextTimeline t;
  t.reset (0);
  auto now = steady_clock::now ();
  t.expect (7, 300 * kMs, now + seconds (1));
  auto gap = t.advance (kSecond);
  ASSERT_TRUE (gap);
  EXPECT_EQ (gap->end, 300 * kMs);  // held before the expected caption
  EXPECT_EQ (t.next_deadline (), now + seconds (1));
  EXPECT_FALSE (t.expire (now));
  EXPECT_TRUE (t.expire (now + seconds (1)));
  EXPECT_FALSE (t.next_deadline ());
  gap = t.advance (kSecond);  // overdue: the stream moves on
  ASSERT_TRUE (gap);
  EXPECT_EQ (gap->end, kSecond);
  EXPECT_TRUE (t.forget (7));
  EXPECT_FALSE (t.forget (7));
}

TEST (TextTimeline, ForgottenOrFinishedExpectationReleasesTheStream)
{
  TextTimeline t;
  t.reset (0);
  auto far = std::chrono::steady_clock::now () + std::chrono::hours (1);
  t.expect (1, 100 * kMs, far);
  t.expect (2, 400 * kMs, far);
  EXPECT_EQ (t.advance (kSecond)->end, 100 * kMs);
  EXPECT_TRUE (t.forget (1));
  EXPECT_EQ (t.advance (kSecond)->end, 400 * kMs);
  EXPECT_TRUE (t.expecting (2));
  t.expire_all ();  // end of stream
  EXPECT_EQ (t.advance (kSecond)->end, kSecond);
}

TEST (TextTimeline, EosInMidIntervalEndsAtTheVideo)
{
  // 1 s of video at interval 20 s: the caption was clipped to the stream's
  // end, so EOS finds the stream complete with no gap to add
  TextTimeline t;
  t.reset (0);
  Span frame{0, 33 * kMs};
  auto placed = t.place (caption_span (frame, 20 * kSecond, kSecond));
  EXPECT_EQ (placed.cue.end, kSecond);
  t.expire_all ();
  EXPECT_FALSE (t.advance (kSecond));
  EXPECT_EQ (t.position (), kSecond);
}

TEST (TextTimeline, FlushForgetsEverything)
{
  TextTimeline t;
  t.reset (0);
  t.expect (1, 0, std::chrono::steady_clock::now () + std::chrono::hours (1));
  t.place (Span{0, kSecond});
  t.reset (10 * kSecond);
  EXPECT_FALSE (t.expecting (1));
  EXPECT_EQ (t.position (), kNone);
  auto gap = t.advance (10200 * kMs);
  ASSERT_TRUE (gap);
  EXPECT_EQ (gap->start, 10 * kSecond);
}

// Load progress: at most one report per 250 ms, only when the percent grew,
// and the last call (done == total) always, once.
TEST (LoadProgress, ThrottledAndTheLastAlwaysReported)
{
  using std::chrono::milliseconds;
  const auto t0 = LoadProgressThrottle::Clock::time_point ();
  LoadProgressThrottle throttle (t0);
  const uint64_t total = 1000;
  EXPECT_FALSE (throttle.should_report (0, total, t0));  // 0 %: START said it
  EXPECT_FALSE (throttle.should_report (100, total, t0 + milliseconds (100)));  // too soon
  EXPECT_TRUE (throttle.should_report (300, total, t0 + milliseconds (250)));
  EXPECT_FALSE (throttle.should_report (400, total, t0 + milliseconds (400)));  // too soon
  EXPECT_FALSE (throttle.should_report (300, total, t0 + milliseconds (900)));  // no growth
  EXPECT_TRUE (throttle.should_report (600, total, t0 + milliseconds (900)));
  EXPECT_TRUE (throttle.should_report (total, total, t0 + milliseconds (901)));  // the last
  EXPECT_FALSE (throttle.should_report (total, total, t0 + milliseconds (2000)));
}

TEST (LoadProgress, AFastLoadReportsOnlyItsEnd)
{
  const auto t0 = LoadProgressThrottle::Clock::time_point ();
  LoadProgressThrottle throttle (t0);
  int reports = 0;
  for (uint64_t done = 0; done <= 50; ++done)
    reports += throttle.should_report (done, 50, t0) ? 1 : 0;
  EXPECT_EQ (reports, 1);
}

TEST (LoadProgress, PercentAndText)
{
  EXPECT_EQ (load_percent (0, 10), 0);
  EXPECT_EQ (load_percent (9, 10), 90);
  EXPECT_EQ (load_percent (10, 10), 100);
  EXPECT_EQ (load_percent (0, 0), 100);
  EXPECT_EQ (load_percent (UINT64_MAX - 1, UINT64_MAX), 99);
  EXPECT_EQ (load_progress_text (1200000000, 2900000000), "loading model: 41% (1.2 of 2.9 GB)");
  EXPECT_EQ (load_progress_text (500000, 2000000), "loading model: 25% (0.5 of 2.0 MB)");
  EXPECT_EQ (load_progress_text (300, 300), "loading model: 100% (0.3 of 0.3 kB)");
}
