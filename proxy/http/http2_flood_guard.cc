#include "proxy/http/http2_flood_guard.h"

#include <algorithm>

namespace rampart::http {

const char* protocolErrorName(Http2ProtocolError kind) {
  switch (kind) {
    case Http2ProtocolError::Malformed:
      return "malformed";
    case Http2ProtocolError::FlowControl:
      return "flow_control";
    case Http2ProtocolError::RapidReset:
      return "rapid_reset";
    case Http2ProtocolError::SettingsFlood:
      return "settings_flood";
    case Http2ProtocolError::PingFlood:
      return "ping_flood";
    case Http2ProtocolError::PriorityFlood:
      return "priority_flood";
    case Http2ProtocolError::WindowUpdateFlood:
      return "window_update_flood";
    case Http2ProtocolError::EmptyFrameFlood:
      return "empty_frame_flood";
    case Http2ProtocolError::ContinuationFlood:
      return "continuation_flood";
    case Http2ProtocolError::OutboundFlood:
      return "outbound_flood";
    case Http2ProtocolError::ZeroWindowStall:
      return "zero_window_stall";
    case Http2ProtocolError::Internal:
      return "internal";
  }
  return "unknown";
}

Http2FloodGuard::Http2FloodGuard(const Http2Limits& limits, policy::TimePoint start)
    : limits_(limits),
      ping_{static_cast<double>(limits.ping_burst), start},
      settings_{static_cast<double>(limits.settings_burst), start} {}

bool Http2FloodGuard::take(Bucket& bucket, double burst, double rate, policy::TimePoint now) {
  if (now > bucket.last) {
    bucket.tokens = std::min(burst, bucket.tokens + rate * policy::toSeconds(now - bucket.last));
    bucket.last = now;
  }
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

std::optional<Http2ProtocolError> Http2FloodGuard::onPing(policy::TimePoint now) {
  consecutive_empty_ = 0;
  if (take(ping_, limits_.ping_burst, limits_.ping_rate_per_second, now)) return std::nullopt;
  return Http2ProtocolError::PingFlood;
}

std::optional<Http2ProtocolError> Http2FloodGuard::onSettings(policy::TimePoint now) {
  consecutive_empty_ = 0;
  if (take(settings_, limits_.settings_burst, limits_.settings_rate_per_second, now)) {
    return std::nullopt;
  }
  return Http2ProtocolError::SettingsFlood;
}

std::optional<Http2ProtocolError> Http2FloodGuard::onPriority() {
  consecutive_empty_ = 0;
  ++priority_frames_;
  const uint64_t allowed = uint64_t{limits_.priority_frames_per_stream} * (1 + streams_opened_);
  if (priority_frames_ > allowed) return Http2ProtocolError::PriorityFlood;
  return std::nullopt;
}

std::optional<Http2ProtocolError> Http2FloodGuard::onWindowUpdate() {
  consecutive_empty_ = 0;
  ++window_updates_;
  // The base covers the connection-level updates a peer sends before any DATA flows.
  const uint64_t allowed = 100 + 2 * streams_opened_ +
                           uint64_t{limits_.window_updates_per_data_frame} * data_frames_sent_;
  if (window_updates_ > allowed) return Http2ProtocolError::WindowUpdateFlood;
  return std::nullopt;
}

std::optional<Http2ProtocolError> Http2FloodGuard::onDataFrame(size_t length, bool end_stream) {
  if (length > 0 || end_stream) {
    consecutive_empty_ = 0;
    return std::nullopt;
  }
  if (++consecutive_empty_ > limits_.max_consecutive_empty_frames) {
    return Http2ProtocolError::EmptyFrameFlood;
  }
  return std::nullopt;
}

std::optional<Http2ProtocolError> Http2FloodGuard::onPrematureReset() {
  ++premature_resets_;
  if (streams_opened_ < limits_.premature_reset_min_streams) return std::nullopt;
  const double ratio =
      static_cast<double>(premature_resets_) / static_cast<double>(streams_opened_);
  if (ratio >= limits_.premature_reset_ratio) return Http2ProtocolError::RapidReset;
  return std::nullopt;
}

}  // namespace rampart::http
