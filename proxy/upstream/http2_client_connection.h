#pragma once
// One multiplexed HTTP/2 connection to an upstream endpoint (h2c, or h2 over
// TLS), carrying many router attempts at once as streams.

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "proxy/config/config.h"
#include "proxy/event/connection.h"
#include "proxy/http/http2_codec.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/upstream_stream.h"

namespace rampart::upstream {

class Http2Pool;
class Http2UpstreamStream;

class Http2ClientConnection final : public event::ConnectionCallbacks,
                                    public http::Http2Callbacks,
                                    public event::Deletable {
 public:
  Http2ClientConnection(Http2Pool& pool, event::Dispatcher& dispatcher,
                        std::unique_ptr<event::BufferedConnection> socket,
                        const config::ClusterConfig& cluster, stats::ClusterStats& stats);
  ~Http2ClientConnection() override;

  // Connected, not draining, and below its stream limit.
  bool hasRoom() const;
  bool ready() const { return connected_ && !closed_ && !codec_.draining(); }
  bool connecting() const { return !connected_ && !closed_; }
  size_t activeStreams() const { return streams_.size(); }
  // A new stream for `handler`; its request is sent by encodeHeaders().
  UpstreamStream& newStream(UpstreamResponseHandler& handler);
  // Closes the connection; open streams fail with ResetBeforeResponse/DuringResponse.
  void close();

  // ConnectionCallbacks
  void onRead() override;
  void onWriteDrained() override;
  void onConnected() override;
  void onClose(event::CloseReason reason) override;

  // Http2Callbacks
  void onResponseHeaders(int32_t stream, http::ResponseHead& head, bool end_stream) override;
  void onData(int32_t stream, std::string_view data, bool end_stream) override;
  void onTrailers(int32_t stream, http::HeaderMap& trailers) override;
  void onStreamClosed(int32_t stream, uint32_t error_code) override;
  void onGoaway(int32_t last_stream_id, uint32_t error_code) override;
  void onProtocolError(http::Http2ProtocolError kind) override;
  void onStreamWritable(int32_t stream) override;

 private:
  friend class Http2UpstreamStream;
  void flush();
  void finishStream(Http2UpstreamStream& stream);

  Http2Pool& pool_;
  event::Dispatcher& dispatcher_;
  std::unique_ptr<event::BufferedConnection> socket_;
  const config::ClusterConfig& cluster_;
  stats::ClusterStats& stats_;
  http::Http2Codec codec_;
  event::Timer connect_timer_;
  std::list<std::unique_ptr<Http2UpstreamStream>> streams_;
  std::unordered_map<int32_t, Http2UpstreamStream*> by_id_;
  std::string scratch_;
  bool connected_ = false;
  bool closed_ = false;
};

}  // namespace rampart::upstream
