#include "proxy/router/active_request.h"

#include "proxy/common/log.h"
#include "proxy/http/header_utils.h"

namespace rampart::router {

namespace {
// Request body held while no upstream connection is ready; beyond it the client is paused.
constexpr size_t kMaxPendingBody = 1024 * 1024;
}  // namespace

ActiveRequest::ActiveRequest(server::WorkerContext& context, DownstreamEncoder& encoder,
                             size_t listener)
    : context_(context),
      encoder_(encoder),
      listener_(listener),
      route_timer_(context.dispatcher, [this] { onRouteTimeout(); }) {}

ActiveRequest::~ActiveRequest() {
  releaseUpstream(true);
}

stats::RouteStats& ActiveRequest::routeStats() {
  return context_.stats.routes[route_ ? *route_ : context_.stats.routes.size() - 1];
}

stats::StatusClassCounters& ActiveRequest::responseCounters() {
  auto& responses = routeStats().responses;
  return responses[route_cluster_ ? *route_cluster_ : responses.size() - 1];
}

void ActiveRequest::decodeHeaders(http::RequestHead&& head, bool end_stream) {
  start_ = context_.dispatcher.now();
  head_ = std::move(head);
  request_complete_ = end_stream;
  if (auto id = head_.headers.get("x-request-id"); id && !id->empty() && id->size() <= 128) {
    request_id_ = std::string(*id);
  } else {
    request_id_ = http::formatUuidV4(context_.rng.next(), context_.rng.next());
    head_.headers.set("x-request-id", request_id_);
  }
  route_ = context_.routes.match(head_);
  if (!route_) {
    sendLocalReply(404, "no_route",
                   "no route matches " + head_.method + " " + std::string(head_.pathOnly()));
    return;
  }
  const config::RouteConfig& route = context_.routes.route(*route_);
  route_cluster_ = context_.routes.pickCluster(*route_, context_.rng.next());
  cluster_ = context_.clusters[route.clusters[*route_cluster_].cluster_index].get();

  const bool expect_continue = head_.expect_continue;
  head_.headers.remove("expect");
  http::stripHopByHop(head_.headers);
  http::appendForwardedFor(head_.headers, encoder_.peer().hostString());
  if (!head_.headers.get("x-forwarded-proto")) head_.headers.add("x-forwarded-proto", head_.scheme);
  if (expect_continue && !end_stream) encoder_.encode100Continue();
  if (end_stream) route_timer_.enable(route.timeout.fixed);
  startUpstream();
}

void ActiveRequest::startUpstream() {
  endpoint_ = cluster_->pickEndpoint(context_.rng);
  if (!endpoint_) {
    onPoolFailure(upstream::UpstreamFailure::NoEndpoint);
    return;
  }
  upstream_start_ = context_.dispatcher.now();
  cluster_->stats().upstream_requests_total.inc();
  pool_ticket_ = cluster_->pool(*endpoint_).newStream(*this, *this);
}

void ActiveRequest::onPoolReady(upstream::UpstreamStream& stream) {
  pool_ticket_ = 0;
  upstream_ = &stream;
  if (request_complete_ && !head_.content_length && !pending_body_.empty()) {
    // The whole body is here: send it with a length instead of chunked.
    head_.content_length = pending_body_.length();
  }
  const bool headers_only = request_complete_ && pending_body_.empty();
  upstream_->encodeHeaders(head_, headers_only);
  if (!headers_only && upstream_ && (!pending_body_.empty() || request_complete_)) {
    upstream_->encodeData(pending_body_, request_complete_);
  }
  if (pending_blocked_) {
    pending_blocked_ = false;
    updateDownstreamRead();
  }
}

void ActiveRequest::decodeData(std::string_view data, bool end_stream) {
  if (response_complete_) return;  // already answered locally; the rest is discarded
  pending_body_.add(data);
  if (end_stream && !request_complete_) {
    request_complete_ = true;
    if (route_) route_timer_.enable(context_.routes.route(*route_).timeout.fixed);
  }
  if (upstream_) {
    upstream_->encodeData(pending_body_, end_stream);
  } else if (pending_body_.length() > kMaxPendingBody && !pending_blocked_) {
    pending_blocked_ = true;
    updateDownstreamRead();
  }
}

void ActiveRequest::updateDownstreamRead() {
  encoder_.readDisable(pending_blocked_ || upstream_write_blocked_);
}

void ActiveRequest::onUpstreamWriteBlocked(bool blocked) {
  upstream_write_blocked_ = blocked;
  updateDownstreamRead();
}

void ActiveRequest::onDownstreamWriteBlocked(bool blocked) {
  if (upstream_) upstream_->readDisable(blocked);
}

void ActiveRequest::onUpstreamHeaders(http::ResponseHead& head, bool end_stream) {
  route_timer_.disable();
  response_started_ = true;
  response_status_ = head.status;
  http::stripHopByHop(head.headers);
  if (!head.headers.get("x-request-id")) head.headers.add("x-request-id", request_id_);
  if (end_stream) {
    upstream_ = nullptr;  // the connection goes back to its pool by itself
    response_complete_ = true;
    finish();
  }
  encoder_.encodeHeaders(head, end_stream);
}

void ActiveRequest::onUpstreamData(event::Buffer& data, bool end_stream) {
  if (end_stream) {
    upstream_ = nullptr;
    response_complete_ = true;
    finish();
  }
  encoder_.encodeData(data, end_stream);
}

void ActiveRequest::onUpstreamTrailers(http::HeaderMap& trailers) {
  upstream_ = nullptr;
  response_complete_ = true;
  finish();
  encoder_.encodeTrailers(trailers);
}

void ActiveRequest::onUpstreamFailure(upstream::UpstreamFailure failure) {
  upstream_ = nullptr;
  failure_reason_ = upstream::failureName(failure);
  if (response_started_) {
    response_complete_ = true;
    finish();
    encoder_.resetStream();
    return;
  }
  const int status = upstream::neverSent(failure) ? 503 : 502;
  sendLocalReply(status, failure_reason_, "upstream failed: " + failure_reason_);
}

void ActiveRequest::onPoolFailure(upstream::UpstreamFailure failure) {
  pool_ticket_ = 0;
  onUpstreamFailure(failure);
}

void ActiveRequest::onRouteTimeout() {
  if (cluster_) cluster_->stats().upstream_timeouts_total.inc();
  releaseUpstream(true);
  sendLocalReply(504, "upstream_timeout", "the upstream did not answer within the route timeout");
}

void ActiveRequest::releaseUpstream(bool reset) {
  if (pool_ticket_ != 0 && cluster_ && endpoint_) {
    cluster_->pool(*endpoint_).cancel(pool_ticket_);
    pool_ticket_ = 0;
  }
  if (upstream_ && reset) upstream_->reset();
  upstream_ = nullptr;
}

void ActiveRequest::onDownstreamReset() {
  route_timer_.disable();
  releaseUpstream(true);
  if (!response_complete_) {
    response_complete_ = true;
    if (failure_reason_.empty()) failure_reason_ = "downstream_reset";
    finish();
  }
}

void ActiveRequest::sendLocalReply(int status, std::string_view code, std::string_view message) {
  route_timer_.disable();
  if (response_started_) {
    releaseUpstream(true);
    if (!response_complete_) {
      response_complete_ = true;
      finish();
    }
    encoder_.resetStream();
    return;
  }
  releaseUpstream(true);
  if (failure_reason_.empty()) failure_reason_ = std::string(code);
  response_started_ = true;
  response_complete_ = true;
  response_status_ = status;
  std::string body = "{\"error\":";
  log::appendJsonString(body, code);
  body += ",\"message\":";
  log::appendJsonString(body, message);
  body += ",\"request_id\":";
  log::appendJsonString(body, request_id_);
  body += "}\n";
  http::ResponseHead head;
  head.status = status;
  head.headers.add("content-type", "application/json");
  if (!request_id_.empty()) head.headers.add("x-request-id", request_id_);
  head.content_length = body.size();
  finish();
  event::Buffer data;
  data.add(body);
  encoder_.encodeHeaders(head, false);
  encoder_.encodeData(data, true);
}

void ActiveRequest::finish() {
  const auto now = context_.dispatcher.now();
  routeStats().request_duration.observe(now - start_);
  responseCounters().record(response_status_);
  if (cluster_ && endpoint_ && response_status_ != 0 && failure_reason_.empty()) {
    cluster_->stats().upstream_request_duration.observe(now - upstream_start_);
  }
  if (context_.config->access_log) {
    const config::RouteConfig* route = route_ ? &context_.routes.route(*route_) : nullptr;
    log::info(
        "access",
        {{"request_id", request_id_},
         {"method", head_.method},
         {"path", head_.path},
         {"status", response_status_},
         {"route", route ? std::string_view(route->name) : std::string_view("")},
         {"cluster", cluster_ ? std::string_view(cluster_->config().name) : std::string_view("")},
         {"endpoint", cluster_ && endpoint_
                          ? std::string_view(cluster_->config().endpoints[*endpoint_].text)
                          : std::string_view("")},
         {"duration_ms", policy::toMillis(now - start_)},
         {"reason", failure_reason_},
         {"worker", context_.worker_index}});
  }
}

}  // namespace rampart::router
