#pragma once
// How a request answers its client, whatever the downstream protocol. The HTTP/1
// connection and (later) each HTTP/2 stream implement it.

#include "proxy/event/address.h"
#include "proxy/event/buffer.h"
#include "proxy/http/message.h"

namespace rampart::router {

class DownstreamEncoder {
 public:
  virtual ~DownstreamEncoder() = default;
  // Sends the response head; end_stream when there is no body.
  virtual void encodeHeaders(http::ResponseHead& head, bool end_stream) = 0;
  // Sends (moves) body bytes; end_stream on the last piece.
  virtual void encodeData(event::Buffer& data, bool end_stream) = 0;
  // Sends trailers, which end the response.
  virtual void encodeTrailers(http::HeaderMap& trailers) = 0;
  // Tells a client that sent "Expect: 100-continue" to go ahead.
  virtual void encode100Continue() = 0;
  // Stops / resumes reading this request's body from the client (backpressure).
  virtual void readDisable(bool disable) = 0;
  // Aborts the response mid-way (HTTP/1: close the connection; HTTP/2: RST_STREAM).
  virtual void resetStream() = 0;
  // The client's address.
  virtual const event::SocketAddress& peer() const = 0;
  // The client's IP as text (for x-forwarded-for), formatted once per connection.
  virtual std::string_view peerHost() const = 0;
  // The verified mTLS client identity (URI SAN or subject); empty without one.
  virtual std::string_view peerIdentity() const = 0;
  // The listener-configured header that carries the identity upstream (empty: none).
  virtual std::string_view identityHeader() const = 0;
  // "http/1.1" or "h2", for logs.
  virtual std::string_view protocol() const = 0;
};

}  // namespace rampart::router
