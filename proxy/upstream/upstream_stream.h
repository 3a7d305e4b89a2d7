#pragma once
// The seam between the router and upstream codecs: an UpstreamStream carries one
// request to an endpoint; its response comes back through an
// UpstreamResponseHandler. HTTP/1 connections and HTTP/2 streams both implement it.

#include <string_view>

#include "proxy/event/buffer.h"
#include "proxy/http/message.h"

namespace rampart::upstream {

// Why an upstream attempt failed. Each value says whether the request may have
// reached the application (which decides if a retry is safe).
enum class UpstreamFailure {
  ConnectFailed,        // TCP connect refused/unreachable: never sent
  ConnectTimeout,       // connect did not finish in time: never sent
  PoolOverflow,         // too many waiting for a connection: never sent
  NoEndpoint,           // the cluster has no usable endpoint: never sent
  ResetBeforeResponse,  // connection closed after sending, before a response head: maybe processed
  ResetDuringResponse,  // connection closed mid-response: processed, response truncated
  ProtocolError,        // the upstream sent a malformed response: maybe processed
  Refused,              // HTTP/2 REFUSED_STREAM or past a GOAWAY: never processed
};

// True when the request certainly did not reach the upstream application.
inline bool neverSent(UpstreamFailure f) {
  return f == UpstreamFailure::ConnectFailed || f == UpstreamFailure::ConnectTimeout ||
         f == UpstreamFailure::PoolOverflow || f == UpstreamFailure::NoEndpoint ||
         f == UpstreamFailure::Refused;
}
const char* failureName(UpstreamFailure f);

class UpstreamResponseHandler {
 public:
  virtual ~UpstreamResponseHandler() = default;
  // The final response head (interim 1xx heads are not reported).
  virtual void onUpstreamHeaders(http::ResponseHead& head, bool end_stream) = 0;
  // A piece of the response body; end_stream marks the last call.
  virtual void onUpstreamData(event::Buffer& data, bool end_stream) = 0;
  // Trailers end the response.
  virtual void onUpstreamTrailers(http::HeaderMap& trailers) = 0;
  // The attempt failed; no further calls follow.
  virtual void onUpstreamFailure(UpstreamFailure failure) = 0;
  // The request body is queued faster than the upstream reads it / has drained.
  virtual void onUpstreamWriteBlocked(bool blocked) = 0;
};

class UpstreamStream {
 public:
  virtual ~UpstreamStream() = default;
  // Sends the request head. Framing headers are set by the codec.
  virtual void encodeHeaders(const http::RequestHead& head, bool end_stream) = 0;
  // Sends (moves) request body bytes.
  virtual void encodeData(event::Buffer& data, bool end_stream) = 0;
  // Abandons the attempt: the connection (HTTP/1) or stream (HTTP/2) is torn down. No callbacks
  // follow.
  virtual void reset() = 0;
  // Pauses / resumes reading the response (downstream backpressure).
  virtual void readDisable(bool disable) = 0;
};

// Gets an UpstreamStream from a pool, possibly later.
class PoolCallbacks {
 public:
  virtual ~PoolCallbacks() = default;
  // A stream is ready and attached to `handler` given to newStream().
  virtual void onPoolReady(UpstreamStream& stream) = 0;
  // No stream could be had.
  virtual void onPoolFailure(UpstreamFailure failure) = 0;
};

}  // namespace rampart::upstream
