#include "proxy/batching/route_batcher.h"

#include <algorithm>

#include "proxy/common/log.h"

namespace rampart::batching_engine {

namespace {
const char* reasonName(policy::DispatchReason reason) {
  switch (reason) {
    case policy::DispatchReason::Full:
      return "full";
    case policy::DispatchReason::WindowExpired:
      return "window_expired";
    case policy::DispatchReason::BackendIdle:
      return "backend_idle";
    case policy::DispatchReason::Deadline:
      return "deadline";
  }
  return "?";
}

// Isolation calls allowed per failed batch, on average, plus a floor.
policy::RetryBudgetConfig isolationBudget() {
  policy::RetryBudgetConfig c;
  c.ratio = 2.0;
  c.min_per_second = 20;
  return c;
}
}  // namespace

RouteBatcher::RouteBatcher(event::Dispatcher& dispatcher, const config::RouteConfig& route,
                           upstream::UpstreamCluster& cluster, stats::RouteStats& stats)
    : dispatcher_(dispatcher),
      route_(route),
      cluster_(cluster),
      stats_(stats),
      codec_(batching::makeCodec(*batching::parseFormat(route.batching.format),
                                 {route.batching.window.max_batch_size})),
      isolation_budget_(isolationBudget()) {}

RouteBatcher::~RouteBatcher() {
  for (auto& call : calls_) call->cancel();
}

void RouteBatcher::submit(filters::BatchRequest request) {
  dispatcher_.post([this, request = std::move(request)]() mutable { enqueue(std::move(request)); });
}

policy::BackendLoad RouteBatcher::load() const {
  // The simulated and most real GPU servers run one batch at a time per endpoint.
  return {in_flight_, std::max<size_t>(1, cluster_.endpointCount())};
}

void RouteBatcher::fail(filters::BatchRequest& request, int status, std::string_view message,
                        std::string detail) {
  request.deliver({status, codec_->errorBody(status, message), std::move(detail)});
}

void RouteBatcher::enqueue(filters::BatchRequest request) {
  const auto now = dispatcher_.now();
  if (request.cancelled->load(std::memory_order_relaxed)) return;
  auto& slot = buckets_[request.item.key];
  if (!slot) {
    slot = std::make_unique<Bucket>(route_.batching.window, route_.batching.learned);
    slot->key = request.item.key;
    Bucket* bucket = slot.get();
    slot->timer = std::make_unique<event::Timer>(dispatcher_, [this, bucket] { decide(*bucket); });
  }
  Bucket& bucket = *slot;
  if (queued_rows_ + request.item.rows > route_.batching.max_queue) {
    stats_.batch_refused_total.inc();
    fail(request, 503, "the batch queue is full", "refused=queue_full");
    return;
  }
  if (!bucket.fixed && !bucket.controller.admissible(now, request.deadline, load(), bucket.rows)) {
    stats_.batch_refused_total.inc();
    fail(request, 504, "the deadline cannot be met behind the current queue",
         "refused=deadline_unmeetable");
    return;
  }
  bucket.controller.onArrival(now, request.item.rows);
  queued_rows_ += request.item.rows;
  bucket.rows += request.item.rows;
  auto pos = std::upper_bound(
      bucket.items.begin(), bucket.items.end(), request.deadline,
      [](policy::TimePoint d, const filters::BatchRequest& r) { return d < r.deadline; });
  bucket.items.insert(pos, std::move(request));
  decide(bucket);
}

void RouteBatcher::decide(Bucket& bucket) {
  const auto now = dispatcher_.now();
  // Drop the gone and the expired before deciding.
  for (auto it = bucket.items.begin(); it != bucket.items.end();) {
    const bool cancelled = it->cancelled->load(std::memory_order_relaxed);
    const bool expired = !cancelled && it->deadline <= now;
    if (!cancelled && !expired) {
      ++it;
      continue;
    }
    if (cancelled) stats_.batch_cancelled_total.inc();
    if (expired) {
      stats_.batch_expired_total.inc();
      fail(*it, 504, "the deadline passed while waiting for a batch", "expired_in_queue");
    }
    bucket.rows -= it->item.rows;
    queued_rows_ -= it->item.rows;
    it = bucket.items.erase(it);
  }
  if (bucket.items.empty()) {
    bucket.timer->disable();
    return;
  }
  std::optional<policy::TimePoint> earliest;
  policy::TimePoint oldest = policy::TimePoint::max();
  for (const auto& item : bucket.items) {
    oldest = std::min(oldest, item.arrival);
    if (item.deadline != policy::TimePoint::max()) {
      earliest = earliest ? std::min(*earliest, item.deadline) : item.deadline;
    }
  }
  const policy::PendingBucket pending{bucket.rows, oldest, earliest};
  const policy::BatchDecision decision = bucket.fixed
                                             ? bucket.fixed->decide(now, pending, load())
                                             : bucket.controller.decide(now, pending, load());
  if (const auto* d = std::get_if<policy::Dispatch>(&decision)) {
    dispatch(bucket, d->rows, d->reason);
    if (!bucket.items.empty()) decide(bucket);
    return;
  }
  const auto at = std::get<policy::WaitUntil>(decision).at;
  if (at == policy::TimePoint::max()) {
    bucket.timer->disable();  // waits for a backend slot; a completion re-decides
  } else {
    bucket.timer->enable(std::max(at - now, policy::Duration::zero()));
  }
}

void RouteBatcher::decideAll() {
  for (auto& [key, bucket] : buckets_) {
    if (!bucket->items.empty()) decide(*bucket);
  }
}

void RouteBatcher::dispatch(Bucket& bucket, size_t rows, policy::DispatchReason reason) {
  switch (reason) {
    case policy::DispatchReason::Full:
      stats_.batch_dispatch_full_total.inc();
      break;
    case policy::DispatchReason::WindowExpired:
      stats_.batch_dispatch_window_total.inc();
      break;
    case policy::DispatchReason::BackendIdle:
      stats_.batch_dispatch_idle_total.inc();
      break;
    case policy::DispatchReason::Deadline:
      stats_.batch_dispatch_deadline_total.inc();
      break;
  }
  std::vector<filters::BatchRequest> members;
  size_t taken = 0;
  const auto now = dispatcher_.now();
  auto it = bucket.items.begin();
  while (it != bucket.items.end() && (members.empty() || taken + it->item.rows <= rows)) {
    taken += it->item.rows;
    stats_.batch_queue_wait.observe(now - it->arrival);
    members.push_back(std::move(*it));
    it = bucket.items.erase(it);
  }
  bucket.rows -= taken;
  queued_rows_ -= taken;
  log::debug("batch dispatched",
             {{"route", route_.name}, {"rows", taken}, {"reason", reasonName(reason)}});
  send(bucket, std::move(members), taken);
}

void RouteBatcher::send(Bucket& bucket, std::vector<filters::BatchRequest> members, size_t rows) {
  policy::TriedSet none;
  const auto pick = cluster_.pickEndpoint(none, rng_);
  if (!pick) {
    for (auto& m : members) fail(m, 503, "no endpoint", "no_endpoint");
    return;
  }
  std::vector<const batching::BatchItem*> items;
  items.reserve(members.size());
  for (const auto& m : members) items.push_back(&m.item);
  std::string body = codec_->merge(items);
  const auto now = dispatcher_.now();
  policy::TimePoint earliest = policy::TimePoint::max();
  for (const auto& m : members) earliest = std::min(earliest, m.deadline);
  const policy::Duration timeout = earliest == policy::TimePoint::max()
                                       ? route_.timeout.max
                                       : std::max(earliest - now, policy::Duration(1));
  const std::string path = members.front().path;
  ++in_flight_;
  stats_.batches_total.inc();
  stats_.batch_size.observe(rows);
  Bucket* bucket_ptr = &bucket;
  calls_.push_back(std::make_unique<BatchCall>(
      dispatcher_, cluster_, pick->index, std::move(members), rows, path, std::move(body),
      [this, bucket_ptr](BatchCall& call, BatchCallResult result) {
        onDone(*bucket_ptr, call, std::move(result));
      }));
  calls_.back()->start(timeout);
}

void RouteBatcher::onDone(Bucket& bucket, BatchCall& call, BatchCallResult result) {
  --in_flight_;
  auto& members = call.members();
  const size_t rows = call.rows();
  const std::string detail = "size=" + std::to_string(rows);
  if (!result.transport_failed && result.status < 400) {
    bucket.controller.onBatchComplete(rows, result.latency);
  }
  bool isolate = false;
  if (result.transport_failed) {
    stats_.batch_failures_total.inc();
    const int status = result.timeout ? 504 : upstream::neverSent(result.failure) ? 503 : 502;
    for (auto& m : members) {
      fail(m, status, result.timeout ? "the batched call timed out" : "the batched call failed",
           detail + " failed");
    }
  } else {
    std::vector<const batching::BatchItem*> items;
    for (const auto& m : members) items.push_back(&m.item);
    batching::SplitOutcome split = codec_->split(result.status, result.body, items);
    if (!split.whole_batch_failed) {
      for (size_t i = 0; i < members.size(); ++i) {
        members[i].deliver({split.items[i].status, std::move(split.items[i].body), detail});
      }
    } else {
      stats_.batch_failures_total.inc();
      isolate = route_.batching.isolate_failures && members.size() > 1 &&
                isolation_budget_.tryWithdraw(dispatcher_.now());
      if (!isolate) {
        // Honest status: the backend's own for one member, a gateway error otherwise.
        const int status = result.status >= 400 ? result.status : 502;
        for (auto& m : members) {
          if (members.size() == 1 && result.status >= 400) {
            m.deliver({status, result.body, detail + " failed"});
          } else {
            fail(m, status, split.error, detail + " failed");
          }
        }
      }
    }
  }
  if (isolate) {
    stats_.batch_isolations_total.inc();
    log::debug("isolating a failed batch", {{"route", route_.name}, {"size", rows}});
    isolation_budget_.onRequest(dispatcher_.now());
    const size_t half = members.size() / 2;
    std::vector<filters::BatchRequest> first(std::make_move_iterator(members.begin()),
                                             std::make_move_iterator(members.begin() + half));
    std::vector<filters::BatchRequest> second(std::make_move_iterator(members.begin() + half),
                                              std::make_move_iterator(members.end()));
    size_t rows_first = 0, rows_second = 0;
    for (const auto& m : first) rows_first += m.item.rows;
    for (const auto& m : second) rows_second += m.item.rows;
    send(bucket, std::move(first), rows_first);
    send(bucket, std::move(second), rows_second);
  }
  for (auto it = calls_.begin(); it != calls_.end(); ++it) {
    if (it->get() == &call) {
      dispatcher_.deferredDelete(std::move(*it));
      calls_.erase(it);
      break;
    }
  }
  decideAll();
}

void RouteBatcher::abandon() {
  for (auto& [key, bucket] : buckets_) {
    for (auto& m : bucket->items) fail(m, 503, "shutting down", "abandoned");
    bucket->items.clear();
    bucket->rows = 0;
    bucket->timer->disable();
  }
  queued_rows_ = 0;
}

nlohmann::json RouteBatcher::explain() const {
  const auto now = dispatcher_.now();
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& [key, bucket] : buckets_) {
    const auto e = bucket->controller.explain(now);
    buckets.push_back({{"key", key.size() > 120 ? key.substr(0, 120) + "…" : key},
                       {"pending_rows", bucket->rows},
                       {"window_ms", policy::toMillis(e.window)},
                       {"target_batch_size", e.target_batch_size},
                       {"max_batch_size", e.max_batch_size},
                       {"arrival_rate_per_s", e.arrival_rate_per_s},
                       {"cost_fixed_ms", policy::toMillis(e.cost.fixed)},
                       {"cost_per_item_ms", policy::toMillis(e.cost.per_item)},
                       {"cost_residual_ms", policy::toMillis(e.cost.residual_stddev)},
                       {"cost_samples", e.cost.samples},
                       {"dispatches",
                        {{"full", e.dispatches[0]},
                         {"window_expired", e.dispatches[1]},
                         {"backend_idle", e.dispatches[2]},
                         {"deadline", e.dispatches[3]}}}});
  }
  return {{"route", route_.name},
          {"format", route_.batching.format},
          {"slo_ms", policy::toMillis(route_.batching.window.slo)},
          {"max_delay", route_.batching.window.max_delay
                            ? nlohmann::json(policy::toMillis(*route_.batching.window.max_delay))
                            : nlohmann::json("learned")},
          {"queued_rows", queued_rows_},
          {"batches_in_flight", in_flight_},
          {"buckets", buckets}};
}

}  // namespace rampart::batching_engine
