#include "bench/loadgen/run_stats.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace rampart::loadgen {
namespace {

using Json = nlohmann::ordered_json;

double ms(int64_t nanos) {
  return std::round(static_cast<double>(nanos) / 1e3) / 1e3;
}
double seconds(int64_t nanos) {
  return static_cast<double>(nanos) / 1e9;
}

Json latencyJson(const LatencyHistogram& h) {
  return Json{{"count", h.count()},
              {"p50", ms(h.quantile(0.50))},
              {"p90", ms(h.quantile(0.90))},
              {"p99", ms(h.quantile(0.99))},
              {"p999", ms(h.quantile(0.999))},
              {"max", ms(h.max())},
              {"mean", ms(static_cast<int64_t>(h.mean()))}};
}

Json errorsJson(const GroupStats& g) {
  return Json{{"connect", g.connectErrors},
              {"reset", g.resetErrors},
              {"timeout", g.timeouts},
              {"protocol", g.protocolErrors}};
}

double rate(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

Json groupJson(const GroupStats& g) {
  Json byStatus = Json::object();
  for (const auto& [status, n] : g.byStatus) byStatus[std::to_string(status)] = n;
  return Json{{"sent", g.sent},
              {"ok", g.ok},
              {"success_rate", rate(g.ok, g.sent)},
              {"non2xx", g.non2xx},
              {"by_status", byStatus},
              {"errors", errorsJson(g)},
              {"latency_ms", Json{{"ok", latencyJson(g.okLatency)}, {"all", latencyJson(g.all)}}}};
}

}  // namespace

void GroupStats::add(const Outcome& outcome) {
  const int64_t latency = outcome.finished - outcome.intended;
  all.record(latency);
  switch (outcome.kind) {
    case OutcomeKind::kResponse:
      ++byStatus[outcome.status];
      if (outcome.status >= 200 && outcome.status < 300) {
        ++ok;
        okLatency.record(latency);
      } else {
        ++non2xx;
      }
      break;
    case OutcomeKind::kConnect:
      ++connectErrors;
      break;
    case OutcomeKind::kReset:
      ++resetErrors;
      break;
    case OutcomeKind::kTimeout:
      ++timeouts;
      break;
    case OutcomeKind::kProtocol:
      ++protocolErrors;
      break;
  }
}

RunStats::RunStats(const Options& options)
    : options_(options),
      warmup_(options.warmup.count()),
      interval_(options.timelineInterval.count()),
      priorities_(std::max<size_t>(1, options.priorities.size())) {
  const int64_t total = options.warmup.count() + options.duration.count();
  timeline_.resize(static_cast<size_t>((total + interval_ - 1) / interval_));
}

void RunStats::onSent(int64_t intended, size_t priority) {
  const size_t slot = static_cast<size_t>(intended / interval_);
  if (slot < timeline_.size()) ++timeline_[slot].stats.sent;
  if (!measured(intended)) return;
  ++totals_.sent;
  ++priorities_[priority].sent;
}

void RunStats::onFinished(const Outcome& outcome) {
  const size_t slot = static_cast<size_t>(outcome.intended / interval_);
  if (slot < timeline_.size()) timeline_[slot].stats.add(outcome);
  const size_t doneSlot = static_cast<size_t>(outcome.finished / interval_);
  const bool ok =
      outcome.kind == OutcomeKind::kResponse && outcome.status >= 200 && outcome.status < 300;
  if (ok && doneSlot < timeline_.size()) ++timeline_[doneSlot].finishedOk;
  if (!measured(outcome.intended)) return;
  totals_.add(outcome);
  priorities_[outcome.priority].add(outcome);
}

void RunStats::onDispatched(int64_t intended, int64_t lag) {
  if (measured(intended)) lag_.record(lag);
}

void RunStats::setPool(uint64_t opened, uint64_t peakOpen, uint64_t capHits, uint64_t peakWaiting) {
  opened_ = opened;
  peakOpen_ = peakOpen;
  capHits_ = capHits;
  peakWaiting_ = peakWaiting;
}

std::string RunStats::toJson() const {
  Json config{
      {"target", "http://" + options_.host + ":" + std::to_string(options_.port) + options_.path},
      {"method", options_.method},
      {"rate", options_.rate},
      {"arrival", options_.arrival == Arrival::kUniform ? "uniform" : "exponential"},
      {"duration_s", seconds(options_.duration.count())},
      {"warmup_s", seconds(warmup_)},
      {"timeout_s", seconds(options_.timeout.count())},
      {"timeline_interval_s", seconds(interval_)},
      {"max_connections", options_.maxConnections}};
  Json out{{"config", config}, {"elapsed_s", seconds(elapsed_)}};
  out["totals"] = groupJson(totals_);
  out["achieved_rate"] = static_cast<double>(totals_.sent) / seconds(options_.duration.count());
  out["schedule_lag_ms"] = latencyJson(lag_);
  out["connections"] = Json{{"opened", opened_},
                            {"peak_open", peakOpen_},
                            {"cap_hits", capHits_},
                            {"peak_waiting", peakWaiting_}};
  Json priorities = Json::object();
  for (size_t i = 0; i < options_.priorities.size(); ++i)
    priorities[options_.priorities[i].name] = groupJson(priorities_[i]);
  out["priorities"] = priorities;
  Json timeline = Json::array();
  for (size_t i = 0; i < timeline_.size(); ++i) {
    const GroupStats& g = timeline_[i].stats;
    timeline.push_back(Json{{"t", seconds(static_cast<int64_t>(i) * interval_)},
                            {"sent", g.sent},
                            {"ok", g.ok},
                            {"non2xx", g.non2xx},
                            {"errors", g.errors()},
                            {"timeouts", g.timeouts},
                            {"p50_ms", ms(g.all.quantile(0.5))},
                            {"p99_ms", ms(g.all.quantile(0.99))},
                            {"p99_ok_ms", ms(g.okLatency.quantile(0.99))},
                            {"finished_ok", timeline_[i].finishedOk}});
  }
  out["timeline"] = timeline;
  return out.dump(1);
}

}  // namespace rampart::loadgen
