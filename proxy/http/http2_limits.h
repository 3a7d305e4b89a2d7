#pragma once
// Limits of one HTTP/2 connection and the kinds of abuse the codec detects.
// A plain struct so config loading (listener / cluster) can fill it and tests
// can shrink it.

#include <cstddef>
#include <cstdint>

namespace rampart::http {

struct Http2Limits {
  // Advertised in SETTINGS and enforced (extra streams are refused with RST_STREAM).
  uint32_t max_concurrent_streams = 100;
  // SETTINGS_MAX_HEADER_LIST_SIZE, advertised and enforced (server: 431; client: stream reset).
  uint32_t max_header_list_bytes = 64 * 1024;
  // SETTINGS_INITIAL_WINDOW_SIZE: how much one stream may send before the owner consume()s.
  uint32_t initial_stream_window = 256 * 1024;
  // Connection-level receive window (all streams together).
  uint32_t connection_window = 1024 * 1024;
  // SETTINGS_MAX_FRAME_SIZE we accept.
  uint32_t max_frame_size = 16 * 1024;
  // streamWritable() turns false when a stream's send queue holds more than this;
  // onStreamWritable() fires once it drains to half.
  size_t stream_send_high_watermark = 256 * 1024;

  // nghttp2's own guards.
  uint32_t max_settings_entries = 32;           // entries per SETTINGS frame
  uint32_t max_continuations = 8;               // CONTINUATION frames per header block
  uint32_t max_outbound_control_frames = 1000;  // PING/SETTINGS ACKs queued unsent
  uint32_t nghttp2_reset_burst = 1000;          // nghttp2's RST_STREAM token bucket (server)
  uint32_t nghttp2_reset_rate_per_second = 33;  //   (backstop behind our premature-reset ratio)

  // Rampart's guards.
  uint32_t premature_reset_min_streams = 100;  // the ratio is judged after this many streams
  double premature_reset_ratio = 0.5;          // streams reset before a response / streams opened
  uint32_t ping_burst = 200;                   // PING token bucket: burst ...
  uint32_t ping_rate_per_second = 50;          //   ... and refill per second
  uint32_t settings_burst = 50;                // SETTINGS token bucket
  uint32_t settings_rate_per_second = 10;
  uint32_t priority_frames_per_stream = 100;    // PRIORITY frames allowed per stream opened
  uint32_t window_updates_per_data_frame = 10;  // WINDOW_UPDATEs allowed per DATA frame sent
  uint32_t max_consecutive_empty_frames = 1;    // empty DATA frames without END_STREAM in a row
};

// Why the codec ended a connection (sent GOAWAY and reported onProtocolError).
enum class Http2ProtocolError {
  Malformed,          // bytes that are not valid HTTP/2 (preface, framing, HPACK, stream rules)
  FlowControl,        // the peer sent more DATA than its window allowed
  RapidReset,         // most streams were reset before a response (CVE-2023-44487 shape)
  SettingsFlood,      // SETTINGS faster than the token bucket allows, or too many entries
  PingFlood,          // PING faster than the token bucket allows
  PriorityFlood,      // more PRIORITY frames than priority_frames_per_stream x streams
  WindowUpdateFlood,  // more WINDOW_UPDATEs than window_updates_per_data_frame x DATA sent
  EmptyFrameFlood,    // a run of empty DATA frames (CPU burn without progress)
  ContinuationFlood,  // a header block split into too many CONTINUATION frames
  OutboundFlood,      // the peer does not read: too many ACK frames queued for it
  ZeroWindowStall,    // the peer kept every window shut: no DATA could leave for max_stall
  Internal,           // nghttp2 failed (out of memory); not the peer's fault
};

// A short stable name ("rapid_reset") for logs and metric labels.
const char* protocolErrorName(Http2ProtocolError kind);

}  // namespace rampart::http
