#include "proxy/router/active_request.h"

#include <algorithm>
#include <charconv>

#include "proxy/common/log.h"
#include "proxy/http/header_utils.h"
#include "proxy/http/http2_grpc.h"

namespace rampart::router {

namespace {
std::string_view endpointText(upstream::UpstreamCluster* cluster, size_t endpoint) {
  return cluster->config().endpoints[endpoint].text;
}
}  // namespace

ActiveRequest::ActiveRequest(server::WorkerContext& context, DownstreamEncoder& encoder,
                             size_t listener)
    : context_(context),
      encoder_(encoder),
      listener_(listener),
      deadline_timer_(context.dispatcher, [this] { onDeadline(); }),
      hedge_timer_(context.dispatcher, [this] { onHedgeTimer(); }),
      retry_timer_(context.dispatcher, [this] { startAttempt(false); }),
      continue_timer_(context.dispatcher, [this] { runFilters(); }) {}

ActiveRequest::~ActiveRequest() {
  cancelAttempts(nullptr);
  if (!response_complete_) {
    response_complete_ = true;
    finish();
  }
}

stats::RouteStats& ActiveRequest::routeStats() {
  return context_.stats.routes[route_ ? *route_ : context_.stats.routes.size() - 1];
}

stats::StatusClassCounters& ActiveRequest::responseCounters() {
  auto& responses = routeStats().responses;
  return responses[route_cluster_ ? *route_cluster_ : responses.size() - 1];
}

// --- Request side ----------------------------------------------------------

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
  // Only the proxy speaks for the client's identity: drop any copy the client sent.
  if (const std::string_view header = encoder_.identityHeader(); !header.empty()) {
    head_.headers.remove(header);
    head_.client_identity = std::string(encoder_.peerIdentity());
    if (!head_.client_identity.empty()) head_.headers.add(header, head_.client_identity);
  }
  route_ = context_.routes.match(head_);
  if (!route_) {
    sendLocalReply(404, "no_route",
                   "no route matches " + head_.method + " " + std::string(head_.pathOnly()));
    return;
  }
  runtime_ = context_.route_runtimes[*route_].get();
  const config::RouteConfig& route = runtime_->config();
  route_cluster_ = context_.routes.pickCluster(*route_, context_.rng.next());
  cluster_ = context_.clusters[route.clusters[*route_cluster_].cluster_index].get();
  computeDeadline();

  expect_continue_ = head_.expect_continue && !end_stream;
  head_.headers.remove("expect");
  http::stripHopByHop(head_.headers);
  http::appendForwardedFor(head_.headers, encoder_.peerHost());
  if (!head_.headers.get("x-forwarded-proto")) head_.headers.add("x-forwarded-proto", head_.scheme);
  retaining_ = route.retry.enabled || route.hedge.enabled;

  filters_ = runtime_->createFilters();
  for (auto& filter : filters_) filter->setCallbacks(*this);
  runFilters();
}

void ActiveRequest::computeDeadline() {
  policy::Duration budget = runtime_->requestBudget();
  std::optional<policy::Duration> incoming;
  if (auto grpc = head_.headers.get("grpc-timeout")) incoming = http::parseGrpcTimeout(*grpc);
  const std::string& header = context_.config->deadline_header;
  if (!header.empty()) {
    if (auto value = head_.headers.get(header)) {
      int64_t ms = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), ms);
      if (ec == std::errc() && end == value->data() + value->size() && ms >= 0) {
        const auto d = std::chrono::milliseconds(ms);
        incoming = incoming ? std::min(*incoming, policy::Duration(d)) : policy::Duration(d);
      }
    }
  }
  if (incoming && *incoming < budget) {
    budget = *incoming;
    annotate("deadline", "caller");
  }
  deadline_ = start_ + budget;
}

void ActiveRequest::runFilters() {
  while (next_filter_ < filters_.size()) {
    filters::StreamFilter& filter = *filters_[next_filter_++];
    stopped_filter_ = &filter;
    if (filter.decodeHeaders(head_, request_complete_) == filters::FilterStatus::StopIteration) {
      return;
    }
    stopped_filter_ = nullptr;
    if (response_started_) return;
  }
  stopped_filter_ = nullptr;
  if (!response_started_ && !routing_started_) startRouting();
}

void ActiveRequest::continueDecoding() {
  // Resume from the loop: the caller may be deep inside another request's callbacks.
  if (!response_started_) continue_timer_.enable(event::Duration::zero());
}

void ActiveRequest::annotate(std::string_view key, std::string value) {
  annotations_.emplace_back(std::string(key), std::move(value));
}

void ActiveRequest::startRouting() {
  routing_started_ = true;
  if (expect_continue_) encoder_.encode100Continue();
  const auto now = context_.dispatcher.now();
  if (auto* budget = runtime_->retryBudget()) budget->onRequest(now);
  if (auto* hedge = runtime_->hedge()) hedge->onRequest(now);
  if (!startAttempt(false)) return;
  if (request_complete_) onRequestComplete();
}

void ActiveRequest::decodeData(std::string_view data, bool end_stream) {
  if (response_complete_) return;  // already answered; the rest is discarded
  if (retaining_) {
    if (retained_.length() + data.size() <= runtime_->config().retry.buffer_limit) {
      retained_.add(data);
    } else {
      // Too large to replay: this request will not be retried or hedged.
      retaining_ = false;
      retained_.drain(retained_.length());
    }
  }
  if (!routing_started_) {
    held_body_.add(data);
    if (held_body_.length() > held_limit_ && !held_blocked_) {
      held_blocked_ = true;
      updateDownstreamRead();
    }
    if (stopped_filter_) {
      if (end_stream) request_complete_ = true;
      // The filter holding the chain sees the body; it resumes the chain itself when done.
      stopped_filter_->decodeData(data, end_stream);
      return;
    }
  } else if (!attempts_.empty()) {
    // Before the request is complete there is at most one attempt.
    attempts_.front()->sendData(data, end_stream);
  }
  if (end_stream && !request_complete_) {
    request_complete_ = true;
    if (routing_started_) onRequestComplete();
  }
}

void ActiveRequest::onRequestComplete() {
  const auto now = context_.dispatcher.now();
  if (!head_.content_length && retaining_) head_.content_length = retained_.length();
  deadline_timer_.enable(std::max(deadline_ - now, event::Duration::zero()));
  for (auto& attempt : attempts_) {
    attempt->armTimeout(std::min(runtime_->attemptTimeout(), deadline_ - now));
  }
  if (runtime_->hedge() && !committed_) hedge_timer_.enable(runtime_->hedgeDelay());
}

void ActiveRequest::updateDownstreamRead() {
  encoder_.readDisable(held_blocked_ || attempt_write_blocked_);
}

void ActiveRequest::onAttemptWriteBlocked(UpstreamAttempt&, bool blocked) {
  attempt_write_blocked_ = blocked;
  updateDownstreamRead();
}

void ActiveRequest::onDownstreamWriteBlocked(bool blocked) {
  if (committed_) committed_->readDisable(blocked);
}

// --- Attempts ----------------------------------------------------------------

bool ActiveRequest::startAttempt(bool hedge) {
  const auto pick = cluster_->pickEndpoint(tried_, context_.rng);
  if (!pick) {
    failWith(FailureCause{0, -1, false, true, false}, upstream::UpstreamFailure::NoEndpoint);
    return false;
  }
  if (pick->panic) annotate("lb", "panic");
  tried_.insert(pick->index);
  ++attempts_started_;
  setUpstreamDeadline();
  auto attempt =
      std::make_unique<UpstreamAttempt>(*this, context_.dispatcher, *cluster_, pick->index, hedge);
  UpstreamAttempt& ref = *attempt;
  attempts_.push_back(std::move(attempt));
  // Queue the body first, so a connection that is ready at once knows whether one follows.
  feedAttempt(ref, attempts_started_ == 1);
  ref.start(head_);
  // start() may fail synchronously (pool overflow); the failure path already ran.
  if (std::find_if(attempts_.begin(), attempts_.end(),
                   [&](const auto& a) { return a.get() == &ref; }) == attempts_.end()) {
    return false;
  }
  if (request_complete_) {
    const auto now = context_.dispatcher.now();
    ref.armTimeout(std::min(runtime_->attemptTimeout(), deadline_ - now));
  }
  return true;
}

void ActiveRequest::feedAttempt(UpstreamAttempt& attempt, bool first) {
  if (first && !held_body_.empty()) {
    // The first attempt gets what arrived while the filters held the request.
    held_body_.forEachChunk([&](std::string_view chunk) {
      attempt.sendData(chunk, false);
      return true;
    });
    held_body_.drain(held_body_.length());
    if (held_blocked_) {
      held_blocked_ = false;
      updateDownstreamRead();
    }
    if (request_complete_) attempt.sendData({}, true);
    return;
  }
  if (!first) {
    retained_.forEachChunk([&](std::string_view chunk) {
      attempt.sendData(chunk, false);
      return true;
    });
  }
  if (request_complete_) attempt.sendData({}, true);
}

void ActiveRequest::setUpstreamDeadline() {
  const auto remaining = std::max(deadline_ - context_.dispatcher.now(), event::Duration::zero());
  const std::string& header = context_.config->deadline_header;
  if (!header.empty()) {
    head_.headers.set(
        header,
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count()));
  }
  if (head_.is_grpc) head_.headers.set("grpc-timeout", http::formatGrpcTimeout(remaining));
}

size_t ActiveRequest::activeAttempts() const {
  return attempts_.size();
}

void ActiveRequest::dropAttempt(UpstreamAttempt& attempt) {
  attempt.cancel();
  auto it = std::find_if(attempts_.begin(), attempts_.end(),
                         [&](const auto& a) { return a.get() == &attempt; });
  if (it == attempts_.end()) return;
  // The attempt may be on the stack (this runs from its callbacks): delete it later.
  context_.dispatcher.deferredDelete(std::move(*it));
  attempts_.erase(it);
}

void ActiveRequest::cancelAttempts(UpstreamAttempt* keep) {
  std::vector<UpstreamAttempt*> doomed;
  for (auto& a : attempts_) {
    if (a.get() != keep) doomed.push_back(a.get());
  }
  for (UpstreamAttempt* a : doomed) dropAttempt(*a);
}

bool ActiveRequest::retryableMethod() const {
  const auto& methods = runtime_->config().retry.methods;
  if (!methods.empty()) {
    return std::find(methods.begin(), methods.end(), head_.method) != methods.end();
  }
  return http::isIdempotentMethod(head_.method);
}

bool ActiveRequest::matchesRetryOn(const FailureCause& cause) const {
  const config::RetryOn& on = runtime_->config().retry.on;
  if (cause.timeout) return on.timeout;
  if (cause.connect_failure) return on.connect_failure;
  if (cause.reset) return on.reset;
  if (cause.grpc_status > 0 && std::find(on.grpc_codes.begin(), on.grpc_codes.end(),
                                         cause.grpc_status) != on.grpc_codes.end()) {
    return true;
  }
  if (cause.status >= 500 && on.server_error) return true;
  if ((cause.status == 502 || cause.status == 503 || cause.status == 504) && on.gateway_error) {
    return true;
  }
  return cause.status != 0 &&
         std::find(on.statuses.begin(), on.statuses.end(), cause.status) != on.statuses.end();
}

bool ActiveRequest::mayRetry(const FailureCause& cause) {
  const config::RetryConfig& retry = runtime_->config().retry;
  if (!retry.enabled || !matchesRetryOn(cause)) return false;
  auto& stats = routeStats();
  if (attempts_started_ >= retry.attempts) {
    stats.retries_attempts_exhausted_total.inc();
    annotate("retry", "attempts_exhausted");
    return false;
  }
  if (!retryableMethod() || !request_complete_ || !retaining_) {
    annotate("retry", "not_replayable");
    return false;
  }
  const auto now = context_.dispatcher.now();
  if (deadline_ - now <= retry.backoff.max) {
    stats.retries_deadline_exceeded_total.inc();
    annotate("retry", "deadline");
    return false;
  }
  if (!runtime_->retryBudget()->tryWithdraw(now)) {
    stats.retries_budget_exhausted_total.inc();
    annotate("retry", "budget_exhausted");
    return false;
  }
  stats.retries_total.inc();
  return true;
}

void ActiveRequest::scheduleRetry() {
  const auto delay = runtime_->backoff().next(static_cast<int>(retries_), context_.rng);
  ++retries_;
  retry_timer_.enable(delay);
}

void ActiveRequest::onAttemptHeaders(UpstreamAttempt& attempt, http::ResponseHead& head,
                                     bool end_stream) {
  const auto now = context_.dispatcher.now();
  if (head.status < 500) runtime_->recordLatency(now, now - attempt.startTime());
  if (!committed_) {
    FailureCause cause;
    cause.status = head.status;
    if (auto grpc = head.headers.get("grpc-status")) {
      std::from_chars(grpc->data(), grpc->data() + grpc->size(), cause.grpc_status);
    }
    const bool failed = head.status >= 500 || cause.grpc_status > 0;
    if (failed && matchesRetryOn(cause)) {
      if (activeAttempts() > 1) {
        dropAttempt(attempt);  // another attempt may still succeed
        return;
      }
      if (mayRetry(cause)) {
        dropAttempt(attempt);
        scheduleRetry();
        return;
      }
    }
    commit(attempt);
  }
  response_started_ = true;
  response_status_ = head.status;
  http::stripHopByHop(head.headers);
  if (!head.headers.get("x-request-id")) head.headers.add("x-request-id", request_id_);
  if (end_stream) {
    response_complete_ = true;
    finish();
  }
  encoder_.encodeHeaders(head, end_stream);
}

void ActiveRequest::commit(UpstreamAttempt& attempt) {
  committed_ = &attempt;
  hedge_timer_.disable();
  retry_timer_.disable();
  deadline_timer_.disable();
  winner_endpoint_ = std::string(endpointText(cluster_, attempt.endpoint()));
  if (attempt.hedge()) {
    hedge_won_ = true;
    routeStats().hedges_won_total.inc();
  }
  cancelAttempts(&attempt);
}

void ActiveRequest::onAttemptData(UpstreamAttempt&, event::Buffer& data, bool end_stream) {
  if (end_stream) {
    response_complete_ = true;
    finish();
  }
  encoder_.encodeData(data, end_stream);
}

void ActiveRequest::onAttemptTrailers(UpstreamAttempt&, http::HeaderMap& trailers) {
  response_complete_ = true;
  finish();
  encoder_.encodeTrailers(trailers);
}

bool ActiveRequest::onAttemptTimeout(UpstreamAttempt& attempt) {
  routeStats().attempt_timeouts_total.inc();
  cluster_->stats().upstream_timeouts_total.inc();
  runtime_->recordLatency(context_.dispatcher.now(), runtime_->attemptTimeout());
  if (committed_ || attempts_.size() > 1) return false;  // a hedge is racing it: let both run
  FailureCause cause;
  cause.timeout = true;
  if (mayRetry(cause)) {
    retry_granted_ = true;
    return true;
  }
  // No retry would replace it: waiting for the slow answer beats giving none.
  annotate("attempt_timeout", "waited");
  return false;
}

void ActiveRequest::onAttemptFailure(UpstreamAttempt& attempt, AttemptFailure failure) {
  const bool was_committed = committed_ == &attempt;
  const size_t endpoint = attempt.endpoint();
  dropAttempt(attempt);
  if (failure.timeout) upstream_timed_out_ = true;
  if (was_committed) {
    // The response was already on its way: all we can do is cut it.
    committed_ = nullptr;
    failure_reason_ = upstream::failureName(failure.failure);
    response_complete_ = true;
    finish();
    encoder_.resetStream();
    return;
  }
  if (!attempts_.empty()) return;  // a hedge is still running
  FailureCause cause;
  cause.timeout = failure.timeout;
  cause.connect_failure = !failure.timeout && upstream::neverSent(failure.failure);
  cause.reset = !failure.timeout && !cause.connect_failure;
  const std::string reason =
      failure.timeout ? "attempt_timeout" : upstream::failureName(failure.failure);
  annotate("failed_endpoint", std::string(endpointText(cluster_, endpoint)));
  const bool retry = retry_granted_ || mayRetry(cause);
  retry_granted_ = false;
  if (retry) {
    annotate("retried", reason);
    scheduleRetry();
    return;
  }
  failure_reason_ = reason;
  failWith(cause, failure.failure);
}

void ActiveRequest::failWith(const FailureCause& cause, upstream::UpstreamFailure failure) {
  if (cause.timeout) {
    sendLocalReply(504, "upstream_timeout", "the upstream did not answer within the timeout");
    return;
  }
  const std::string name = upstream::failureName(failure);
  if (failure_reason_.empty()) failure_reason_ = name;
  sendLocalReply(upstream::neverSent(failure) ? 503 : 502, name, "upstream failed: " + name);
}

void ActiveRequest::onHedgeTimer() {
  if (committed_ || response_started_ || attempts_.empty()) return;
  auto* hedge = runtime_->hedge();
  auto& stats = routeStats();
  if (static_cast<int>(attempts_.size()) > hedge->maxExtra() || !retaining_ || !request_complete_ ||
      !retryableMethod()) {
    return;
  }
  const auto now = context_.dispatcher.now();
  if (!hedge->tryHedge(now)) {
    stats.hedges_budget_exhausted_total.inc();
    return;
  }
  if (runtime_->config().hedge.shadow) {
    stats.hedges_shadow_total.inc();
    annotate("hedge", "shadow");
    return;
  }
  stats.hedges_total.inc();
  ++hedges_;
  startAttempt(true);
  if (static_cast<int>(attempts_.size()) <= hedge->maxExtra())
    hedge_timer_.enable(runtime_->hedgeDelay());
}

void ActiveRequest::onDeadline() {
  if (response_started_) return;
  cancelAttempts(nullptr);
  retry_timer_.disable();
  hedge_timer_.disable();
  upstream_timed_out_ = true;
  cluster_->stats().upstream_timeouts_total.inc();
  routeStats().deadline_exceeded_total.inc();
  sendLocalReply(504, "upstream_timeout", "no answer before the request's deadline");
}

// --- Downstream side -----------------------------------------------------------

void ActiveRequest::onDownstreamReset() {
  cancelAttempts(nullptr);
  deadline_timer_.disable();
  hedge_timer_.disable();
  retry_timer_.disable();
  continue_timer_.disable();
  if (!response_complete_) {
    response_complete_ = true;
    if (failure_reason_.empty()) failure_reason_ = "downstream_reset";
    response_status_ = response_started_ ? response_status_ : 0;
    finish();
  }
}

void ActiveRequest::sendLocalReply(int status, std::string_view code, std::string_view message,
                                   std::vector<std::pair<std::string, std::string>> headers) {
  deadline_timer_.disable();
  hedge_timer_.disable();
  retry_timer_.disable();
  continue_timer_.disable();
  cancelAttempts(nullptr);
  if (response_started_) {
    if (!response_complete_) {
      response_complete_ = true;
      finish();
    }
    encoder_.resetStream();
    return;
  }
  local_reply_ = true;
  if (failure_reason_.empty()) failure_reason_ = std::string(code);
  response_started_ = true;
  response_complete_ = true;
  response_status_ = status;
  if (head_.is_grpc) {
    // gRPC callers read errors from grpc-status, not the HTTP status: trailers-only.
    http::ResponseHead grpc = http::makeGrpcErrorResponse(
        http::grpcStatusForHttp(status), std::string(code) + ": " + std::string(message));
    if (!request_id_.empty()) grpc.headers.add("x-request-id", request_id_);
    for (const auto& [name, value] : headers) grpc.headers.add(name, value);
    finish();
    encoder_.encodeHeaders(grpc, true);
    return;
  }
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
  for (const auto& [name, value] : headers) head.headers.add(name, value);
  head.content_length = body.size();
  finish();
  event::Buffer data;
  data.add(body);
  encoder_.encodeHeaders(head, false);
  encoder_.encodeData(data, true);
}

std::string_view ActiveRequest::routeName() const {
  return runtime_ ? std::string_view(runtime_->config().name) : std::string_view();
}

void ActiveRequest::sendResponse(int status,
                                 std::vector<std::pair<std::string, std::string>> headers,
                                 std::string body) {
  deadline_timer_.disable();
  hedge_timer_.disable();
  retry_timer_.disable();
  continue_timer_.disable();
  cancelAttempts(nullptr);
  if (response_started_) return;
  response_started_ = true;
  response_complete_ = true;
  response_status_ = status;
  http::ResponseHead head;
  head.status = status;
  for (auto& [name, value] : headers) head.headers.add(name, value);
  if (!head.headers.get("x-request-id")) head.headers.add("x-request-id", request_id_);
  head.content_length = body.size();
  finish();
  event::Buffer data;
  data.add(body);
  encoder_.encodeHeaders(head, false);
  encoder_.encodeData(data, true);
}

void ActiveRequest::finish() {
  const auto now = context_.dispatcher.now();
  const auto duration = now - start_;
  routeStats().request_duration.observe(duration);
  responseCounters().record(response_status_);
  if (committed_ && cluster_) {
    cluster_->stats().upstream_request_duration.observe(now - committed_->startTime());
  }
  // Timed out means the caller got no answer in time (a 504), not that one attempt was slow.
  const bool timed_out = upstream_timed_out_ && response_status_ == 504 && local_reply_;
  const policy::Duration upstream_rtt =
      committed_ ? now - committed_->startTime() : policy::Duration::zero();
  filters::RequestOutcome outcome{response_status_, local_reply_, timed_out, duration, upstream_rtt};
  for (auto& filter : filters_) filter->onComplete(outcome);
  filters_.clear();
  if (!context_.config->access_log) return;
  const config::RouteConfig* route = runtime_ ? &runtime_->config() : nullptr;
  std::string extra;
  for (const auto& [key, value] : annotations_) {
    extra += extra.empty() ? "" : ",";
    extra += key + "=" + value;
  }
  log::info(
      "access",
      {{"request_id", request_id_},
       {"method", head_.method},
       {"path", head_.path},
       {"status", response_status_},
       {"route", route ? std::string_view(route->name) : std::string_view("")},
       {"cluster", cluster_ ? std::string_view(cluster_->config().name) : std::string_view("")},
       {"endpoint", winner_endpoint_},
       {"attempts", attempts_started_},
       {"retries", retries_},
       {"hedges", hedges_},
       {"hedge_won", hedge_won_},
       {"timeout_ms", runtime_ ? policy::toMillis(runtime_->attemptTimeout()) : 0.0},
       {"duration_ms", policy::toMillis(duration)},
       {"reason", failure_reason_},
       {"policy", extra},
       {"listener", std::string_view(context_.config->listeners[listener_].name)},
       {"protocol", encoder_.protocol()},
       {"worker", context_.worker_index}});
}

}  // namespace rampart::router
