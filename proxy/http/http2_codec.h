#pragma once
// HTTP/2 framing on nghttp2 for both sides of the proxy: Server mode for
// downstream connections (clients send requests), Client mode for upstream
// connections. Like the HTTP/1 codec it never touches a socket: the owner
// feeds received bytes to receive(), writes what produce() returns, and gets
// per-stream events through Http2Callbacks.
//
// Backpressure both ways:
// - sending: each stream has a send queue the owner appends to (submitData);
//   nghttp2 pulls from it as flow-control windows allow. streamWritable() and
//   onStreamWritable() let the owner stop reading the other side while a
//   stream's queue is above Http2Limits::stream_send_high_watermark, so a slow
//   reader on one stream neither stalls the others nor grows memory.
// - receiving: automatic WINDOW_UPDATE is off; the owner consume()s bytes once
//   it forwarded them, so a fast sender is held to what the far side absorbs.
//
// Abuse (floods, rapid reset, malformed frames) ends the connection: the codec
// queues GOAWAY, reports onProtocolError() once, and the owner flushes
// produce() and closes. Callbacks fire from inside receive() / produce(); the
// owner may submit, reset and consume from them but must not destroy the codec.

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/time.h"
#include "proxy/http/http2_flood_guard.h"
#include "proxy/http/http2_limits.h"
#include "proxy/http/message.h"

namespace rampart::http {

// What the first bytes of a plaintext connection say about its protocol.
enum class PrefaceMatch {
  Http2,     // the 24-byte HTTP/2 client preface (h2c with prior knowledge)
  NotHttp2,  // anything else: HTTP/1.x
  NeedMore,  // a prefix of the preface so far: read more before deciding
};

// Events of one HTTP/2 connection. Stream ids are HTTP/2 stream identifiers;
// error codes are RFC 9113 codes (NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, ...).
class Http2Callbacks {
 public:
  virtual ~Http2Callbacks() = default;
  // Server: a request head opened `stream`; end_stream when it has no body.
  virtual void onRequestHeaders(int32_t stream, RequestHead& head, bool end_stream) {}
  // Client: the final response head of `stream` (1xx heads are not reported).
  virtual void onResponseHeaders(int32_t stream, ResponseHead& head, bool end_stream) {}
  // Body bytes; the owner calls consume() once it forwarded them. The end of the
  // body comes as a last call with empty data and end_stream = true.
  virtual void onData(int32_t stream, std::string_view data, bool end_stream) = 0;
  // Trailers, which end the peer's side of the stream.
  virtual void onTrailers(int32_t stream, HeaderMap& trailers) = 0;
  // The stream is finished: both sides ended (NO_ERROR) or it was reset (RST_STREAM,
  // refused after GOAWAY: REFUSED_STREAM, which is always safe to retry). Last event.
  virtual void onStreamClosed(int32_t stream, uint32_t error_code) = 0;
  // The peer sent GOAWAY: streams above last_stream_id were not processed.
  virtual void onGoaway(int32_t last_stream_id, uint32_t error_code) {}
  // The connection is ending because of the peer (GOAWAY queued); flush and close.
  // Open streams get no onStreamClosed() after this.
  virtual void onProtocolError(Http2ProtocolError kind) {}
  // A stream's send queue drained below half the high watermark: resume its source.
  virtual void onStreamWritable(int32_t stream) {}
  // Server: the codec answered a request itself (431: header list too large); the
  // owner never saw the stream. For metrics.
  virtual void onRequestRejected(int32_t stream, int status) {}
};

class Http2Codec {
 public:
  enum class Mode {
    Server,  // downstream: the peer opens streams with requests
    Client,  // upstream: we open streams with submitRequest()
  };

  // Queues our SETTINGS (and the connection window update); call produce() next.
  Http2Codec(Mode mode, Http2Callbacks& callbacks, const Http2Limits& limits,
             const policy::TimeSource& clock);
  ~Http2Codec();
  Http2Codec(const Http2Codec&) = delete;
  Http2Codec& operator=(const Http2Codec&) = delete;

  // Classifies the first bytes of a plaintext connection.
  static PrefaceMatch looksLikeH2Preface(std::string_view first_bytes);

  // Processes received bytes; returns how many were used (all of them unless the
  // connection failed), or a negative nghttp2 error when it failed.
  ssize_t receive(std::string_view bytes);
  // Appends frames to send to `out`, stopping once at least `max_bytes` were
  // appended (the rest waits: the owner calls again when its output drained).
  // Returns the number of bytes appended.
  size_t produce(std::string& out, size_t max_bytes = SIZE_MAX);
  // False once the connection is finished for reading (GOAWAY exchanged and no
  // streams left, or failed): the owner closes after flushing.
  bool wantsRead() const;
  // True when produce() has something to append.
  bool wantsWrite() const;

  // Client: opens a stream with `head` (:authority from authority or host; te: trailers
  // added for gRPC); returns its id, or -1 when no stream can be opened (GOAWAY, ids
  // exhausted). With end_stream false, the body follows through submitData().
  int32_t submitRequest(const RequestHead& head, bool end_stream);
  // Server: sends the response head (names lower-case, connection-specific headers
  // dropped, content-length kept). False when the stream is gone.
  bool submitResponse(int32_t stream, const ResponseHead& head, bool end_stream);
  // Server: sends an interim "100 Continue" head.
  bool submitContinue(int32_t stream);
  // Appends body bytes to the stream's send queue and wakes its data source;
  // end_stream marks the end of the body. False when the stream is gone.
  bool submitData(int32_t stream, std::string_view data, bool end_stream);
  // Ends the stream with trailers, sent after every queued body byte.
  bool submitTrailers(int32_t stream, const HeaderMap& trailers);
  // Wakes a stream whose data source was waiting for bytes (submitData does this).
  void resumeData(int32_t stream);
  // Sends RST_STREAM; the queue is dropped and onStreamClosed() follows.
  bool resetStream(int32_t stream, uint32_t error_code);
  // Sends GOAWAY. graceful (server): a first GOAWAY announcing shutdown while new
  // streams are still accepted; call again with graceful = false (about one RTT
  // later) for the final one. Not graceful: the final GOAWAY now.
  void submitGoaway(uint32_t error_code, bool graceful);
  // Acknowledges `bytes` of received body as forwarded (reopens flow-control windows).
  void consume(int32_t stream, size_t bytes);
  // Resets streams whose send queue made no progress for `max_stall` (peer keeps a
  // zero window); returns how many. When no DATA at all left the connection for
  // `max_stall`, fails the connection instead (GOAWAY ENHANCE_YOUR_CALM,
  // ZeroWindowStall). Call from a periodic timer.
  size_t resetStalledStreams(policy::Duration max_stall);

  // True when the stream is open for sending and its queue is below the watermark.
  bool streamWritable(int32_t stream) const;
  // Bytes queued on one stream / on all streams and not yet handed to nghttp2.
  size_t sendQueueBytes(int32_t stream) const;
  size_t totalSendQueueBytes() const;
  // Streams known to the codec and not yet closed.
  size_t openStreams() const { return streams_.size(); }
  // The peer's SETTINGS_MAX_CONCURRENT_STREAMS (ours until its SETTINGS arrive).
  uint32_t peerMaxConcurrentStreams() const;
  bool peerSettingsSeen() const { return peer_settings_seen_; }
  // True once a GOAWAY was sent or received.
  bool draining() const { return goaway_sent_ || goaway_received_; }
  // True after the connection failed (protocol error or abuse).
  bool failed() const { return failed_; }
  // nghttp2's last error message, for logs.
  const std::string& lastError() const { return last_error_; }
  Mode mode() const { return mode_; }

 private:
  struct Stream;
  struct SessionDeleter {
    void operator()(nghttp2_session* session) const;
  };
  using SessionPtr = std::unique_ptr<nghttp2_session, SessionDeleter>;

  static int onBeginHeadersCb(nghttp2_session*, const nghttp2_frame*, void*);
  static int onHeaderCb(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                        const uint8_t*, size_t, uint8_t, void*);
  static int onFrameRecvCb(nghttp2_session*, const nghttp2_frame*, void*);
  static int onDataChunkCb(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int onStreamCloseCb(nghttp2_session*, int32_t, uint32_t, void*);
  static int onFrameSendCb(nghttp2_session*, const nghttp2_frame*, void*);
  static int onFrameNotSendCb(nghttp2_session*, const nghttp2_frame*, int, void*);
  static int onInvalidFrameCb(nghttp2_session*, const nghttp2_frame*, int, void*);
  static int onErrorCb(nghttp2_session*, int, const char*, size_t, void*);
  static ssize_t readDataCb(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                            nghttp2_data_source*, void*);

  int onBeginHeaders(const nghttp2_frame& frame);
  int onHeader(const nghttp2_frame& frame, std::string_view name, std::string_view value);
  int onFrameRecv(const nghttp2_frame& frame);
  int onHeadersFrame(const nghttp2_frame& frame);
  // Client: closes streams above a GOAWAY's last id with REFUSED_STREAM.
  void refuseAbove(int32_t last_stream_id);
  int onDataChunk(int32_t stream_id, std::string_view data);
  int onStreamClose(int32_t stream_id, uint32_t error_code);
  int onFrameSend(const nghttp2_frame& frame);
  int onFrameNotSend(const nghttp2_frame& frame);
  ssize_t readData(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags);

  void createSession();
  void submitSettings();
  Stream* find(int32_t stream_id) const;
  Stream& addStream(int32_t stream_id);
  // Hands a finished request/response head to the owner.
  void deliverHead(Stream& stream, bool end_stream);
  // Builds the 431 reply for a stream whose header list was over the limit.
  void rejectHeaderListTooLarge(Stream& stream);
  // Attaches a data provider so nghttp2 pulls the stream's body from its queue.
  nghttp2_data_provider dataProvider() const;
  // Sends GOAWAY(error) and reports `kind`, once.
  void fail(Http2ProtocolError kind, uint32_t error_code);
  // Turns a fatal nghttp2 error into a GOAWAY written by hand (the session is unusable).
  void failFatal(int lib_error);
  void reportError(Http2ProtocolError kind);
  void reportDeferredError();
  void noteWritable(Stream& stream);

  const Mode mode_;
  Http2Callbacks& callbacks_;
  const Http2Limits limits_;
  const policy::TimeSource& clock_;
  Http2FloodGuard guard_;
  SessionPtr session_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<int32_t> writable_;                     // streams to report after produce()
  std::optional<Http2ProtocolError> deferred_error_;  // raised inside produce()
  policy::TimePoint last_data_progress_{};            // last DATA bytes handed to nghttp2
  std::string fatal_out_;                             // a hand-written GOAWAY after a fatal error
  std::string last_error_;
  int last_invalid_error_ = 0;  // nghttp2 error of the last invalid frame
  size_t queued_total_ = 0;
  bool failed_ = false;
  bool peer_settings_seen_ = false;
  bool goaway_sent_ = false;
  bool goaway_received_ = false;
  int own_goaways_pending_ = 0;  // GOAWAYs we submitted and nghttp2 has not sent yet
  bool in_produce_ = false;
};

}  // namespace rampart::http
