#pragma once
// Frame-flood accounting for one HTTP/2 connection, kept apart from the codec
// so the arithmetic is tested on its own.
//
// Two kinds of rule, because abuse comes in two shapes:
// - rate rules (PING, SETTINGS): token buckets refilled from the injected
//   clock; tokens = min(burst, tokens + rate x elapsed_s), one token per frame.
//   A gRPC keepalive every 10 s never comes near; a peer spinning PINGs does.
// - ratio rules, with no clock, that tie a frame kind to useful work (the
//   approach Envoy takes): PRIORITY <= per_stream x (1 + streams opened);
//   WINDOW_UPDATE <= 100 + 2 x streams + per_data x DATA frames sent;
//   premature resets / streams opened < ratio once min_streams were opened;
//   at most N empty DATA frames in a row.
// Not thread-safe: one instance per connection, on its worker.

#include <cstdint>
#include <optional>

#include "policy/time.h"
#include "proxy/http/http2_limits.h"

namespace rampart::http {

class Http2FloodGuard {
 public:
  explicit Http2FloodGuard(const Http2Limits& limits, policy::TimePoint start);

  // A PING (not an ACK) arrived; PingFlood when the bucket is empty.
  std::optional<Http2ProtocolError> onPing(policy::TimePoint now);
  // A SETTINGS frame (not an ACK) arrived; SettingsFlood when the bucket is empty.
  std::optional<Http2ProtocolError> onSettings(policy::TimePoint now);
  // A PRIORITY frame arrived.
  std::optional<Http2ProtocolError> onPriority();
  // A WINDOW_UPDATE arrived.
  std::optional<Http2ProtocolError> onWindowUpdate();
  // A DATA frame arrived with `length` payload bytes.
  std::optional<Http2ProtocolError> onDataFrame(size_t length, bool end_stream);
  // Any other frame arrived (ends a run of empty DATA frames).
  void onOtherFrame() { consecutive_empty_ = 0; }
  // The peer opened a stream.
  void onStreamOpened() { ++streams_opened_; }
  // We sent a DATA frame (earns the peer WINDOW_UPDATE allowance).
  void onDataFrameSent() { ++data_frames_sent_; }
  // A peer stream ended abnormally before we answered it.
  std::optional<Http2ProtocolError> onPrematureReset();

  uint64_t streamsOpened() const { return streams_opened_; }
  uint64_t prematureResets() const { return premature_resets_; }

 private:
  struct Bucket {
    double tokens;
    policy::TimePoint last;
  };
  // Refills then takes one token; false when none was left.
  static bool take(Bucket& bucket, double burst, double rate, policy::TimePoint now);

  const Http2Limits& limits_;
  Bucket ping_;
  Bucket settings_;
  uint64_t streams_opened_ = 0;
  uint64_t premature_resets_ = 0;
  uint64_t priority_frames_ = 0;
  uint64_t window_updates_ = 0;
  uint64_t data_frames_sent_ = 0;
  uint32_t consecutive_empty_ = 0;
};

}  // namespace rampart::http
