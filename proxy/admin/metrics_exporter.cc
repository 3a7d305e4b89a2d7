#include "proxy/admin/metrics_exporter.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <functional>

namespace rampart::admin {

namespace {
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const std::string& name, const std::string& help, MetricType type) {
  MetricFamily f;
  f.name = "rampart_" + name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric labelled(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

// Sums one histogram over workers into a Prometheus histogram.
ClientMetric::Histogram sumHistograms(const std::vector<const stats::Histogram*>& parts) {
  ClientMetric::Histogram h;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= stats::Histogram::kBounds.size(); ++i) {
    for (const auto* part : parts) cumulative += part->bucket(i);
    ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = i < stats::Histogram::kBounds.size()
                             ? stats::Histogram::kBounds[i]
                             : std::numeric_limits<double>::infinity();
    h.bucket.push_back(bucket);
  }
  for (const auto* part : parts) {
    h.sample_count += part->count();
    h.sample_sum += part->sumSeconds();
  }
  return h;
}

const char* kClassLabels[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
}  // namespace

MetricsExporter::MetricsExporter(config::ConfigPtr config,
                                 std::vector<const stats::WorkerStats*> workers)
    : config_(std::move(config)), workers_(std::move(workers)) {}

std::string MetricsExporter::render() const {
  std::vector<MetricFamily> families;

  // Listener counters and gauges, from the one list in stats.h.
#define RAMPART_EXPORT_LISTENER(stat, help, TYPE, read)                                        \
  {                                                                                            \
    MetricFamily f = family(#stat, help, MetricType::TYPE);                                    \
    for (size_t l = 0; l < config_->listeners.size(); ++l) {                                   \
      double sum = 0;                                                                          \
      for (const auto* w : workers_) sum += static_cast<double>(w->listeners[l].stat.value()); \
      ClientMetric m = labelled({{"listener", config_->listeners[l].name}});                   \
      m.read.value = sum;                                                                      \
      f.metric.push_back(std::move(m));                                                        \
    }                                                                                          \
    families.push_back(std::move(f));                                                          \
  }
#define RAMPART_LISTENER_COUNTER(name, help) RAMPART_EXPORT_LISTENER(name, help, Counter, counter)
#define RAMPART_LISTENER_GAUGE(name, help) RAMPART_EXPORT_LISTENER(name, help, Gauge, gauge)
  RAMPART_LISTENER_COUNTERS(RAMPART_LISTENER_COUNTER)
  RAMPART_LISTENER_GAUGES(RAMPART_LISTENER_GAUGE)
#undef RAMPART_LISTENER_COUNTER
#undef RAMPART_LISTENER_GAUGE
#undef RAMPART_EXPORT_LISTENER

#define RAMPART_EXPORT_CLUSTER(stat, help, TYPE, read)                                        \
  {                                                                                           \
    MetricFamily f = family(#stat, help, MetricType::TYPE);                                   \
    for (size_t c = 0; c < config_->clusters.size(); ++c) {                                   \
      double sum = 0;                                                                         \
      for (const auto* w : workers_) sum += static_cast<double>(w->clusters[c].stat.value()); \
      ClientMetric m = labelled({{"cluster", config_->clusters[c].name}});                    \
      m.read.value = sum;                                                                     \
      f.metric.push_back(std::move(m));                                                       \
    }                                                                                         \
    families.push_back(std::move(f));                                                         \
  }
#define RAMPART_CLUSTER_COUNTER(name, help) RAMPART_EXPORT_CLUSTER(name, help, Counter, counter)
#define RAMPART_CLUSTER_GAUGE(name, help) RAMPART_EXPORT_CLUSTER(name, help, Gauge, gauge)
  RAMPART_CLUSTER_COUNTERS(RAMPART_CLUSTER_COUNTER)
  RAMPART_CLUSTER_GAUGES(RAMPART_CLUSTER_GAUGE)
#undef RAMPART_CLUSTER_COUNTER
#undef RAMPART_CLUSTER_GAUGE
#undef RAMPART_EXPORT_CLUSTER

  // Per-endpoint and per-route policy metrics. Levels that are the same on every
  // worker (a timeout, an ejection flag, a latency estimate) take the max over
  // workers; counts and occupancy are summed.
  auto aggregate = [](std::string_view name, const std::vector<double>& values) {
    const bool take_max = name.ends_with("_microseconds") || name == "endpoint_ejected";
    double out = 0;
    for (double v : values) out = take_max ? std::max(out, v) : out + v;
    return out;
  };
#define RAMPART_EXPORT_ENDPOINT(stat, help, TYPE, read)                                    \
  {                                                                                        \
    MetricFamily f = family(#stat, help, MetricType::TYPE);                                \
    for (size_t c = 0; c < config_->clusters.size(); ++c) {                                \
      for (size_t e = 0; e < config_->clusters[c].endpoints.size(); ++e) {                 \
        std::vector<double> values;                                                        \
        for (const auto* w : workers_) {                                                   \
          values.push_back(static_cast<double>(w->clusters[c].endpoints[e].stat.value())); \
        }                                                                                  \
        ClientMetric m = labelled({{"cluster", config_->clusters[c].name},                 \
                                   {"endpoint", config_->clusters[c].endpoints[e].text}}); \
        m.read.value = aggregate(#stat, values);                                           \
        f.metric.push_back(std::move(m));                                                  \
      }                                                                                    \
    }                                                                                      \
    families.push_back(std::move(f));                                                      \
  }
#define RAMPART_ENDPOINT_COUNTER(stat, help) RAMPART_EXPORT_ENDPOINT(stat, help, Counter, counter)
#define RAMPART_ENDPOINT_GAUGE(stat, help) RAMPART_EXPORT_ENDPOINT(stat, help, Gauge, gauge)
  RAMPART_ENDPOINT_COUNTERS(RAMPART_ENDPOINT_COUNTER)
  RAMPART_ENDPOINT_GAUGES(RAMPART_ENDPOINT_GAUGE)
#undef RAMPART_ENDPOINT_COUNTER
#undef RAMPART_ENDPOINT_GAUGE
#undef RAMPART_EXPORT_ENDPOINT

#define RAMPART_EXPORT_ROUTE(stat, help, TYPE, read)                      \
  {                                                                       \
    MetricFamily f = family(#stat, help, MetricType::TYPE);               \
    for (size_t r = 0; r < config_->routes.size(); ++r) {                 \
      std::vector<double> values;                                         \
      for (const auto* w : workers_)                                      \
        values.push_back(static_cast<double>(w->routes[r].stat.value())); \
      ClientMetric m = labelled({{"route", config_->routes[r].name}});    \
      m.read.value = aggregate(#stat, values);                            \
      f.metric.push_back(std::move(m));                                   \
    }                                                                     \
    families.push_back(std::move(f));                                     \
  }
#define RAMPART_ROUTE_COUNTER(stat, help) RAMPART_EXPORT_ROUTE(stat, help, Counter, counter)
#define RAMPART_ROUTE_GAUGE(stat, help) RAMPART_EXPORT_ROUTE(stat, help, Gauge, gauge)
  RAMPART_ROUTE_COUNTERS(RAMPART_ROUTE_COUNTER)
  RAMPART_ROUTE_GAUGES(RAMPART_ROUTE_GAUGE)
#undef RAMPART_ROUTE_COUNTER
#undef RAMPART_ROUTE_GAUGE
#undef RAMPART_EXPORT_ROUTE

  {
    MetricFamily f = family("upstream_request_duration_seconds",
                            "Upstream request latency: request sent to response complete",
                            MetricType::Histogram);
    for (size_t c = 0; c < config_->clusters.size(); ++c) {
      std::vector<const stats::Histogram*> parts;
      for (const auto* w : workers_) parts.push_back(&w->clusters[c].upstream_request_duration);
      ClientMetric m = labelled({{"cluster", config_->clusters[c].name}});
      m.histogram = sumHistograms(parts);
      f.metric.push_back(std::move(m));
    }
    families.push_back(std::move(f));
  }

  // Requests by route, cluster and status class; request latency by route.
  {
    MetricFamily requests =
        family("requests_total", "Downstream requests answered, by route, cluster and status class",
               MetricType::Counter);
    MetricFamily latency = family("request_duration_seconds",
                                  "Downstream request latency: head received to response complete",
                                  MetricType::Histogram);
    const size_t routes = config_->routes.size();
    for (size_t r = 0; r <= routes; ++r) {
      const std::string route_name = r < routes ? config_->routes[r].name : "none";
      const size_t entries = workers_.empty() ? 0 : workers_.front()->routes[r].responses.size();
      for (size_t e = 0; e < entries; ++e) {
        const bool has_cluster = r < routes && e < config_->routes[r].clusters.size();
        const std::string cluster = has_cluster ? config_->routes[r].clusters[e].name : "none";
        for (size_t cls = 0; cls < 6; ++cls) {
          uint64_t sum = 0;
          for (const auto* w : workers_) sum += w->routes[r].responses[e].by_class[cls].value();
          if (sum == 0 && cls != 2)
            continue;  // keep the exposition small: 2xx always, others once seen
          ClientMetric m = labelled(
              {{"route", route_name}, {"cluster", cluster}, {"code_class", kClassLabels[cls]}});
          m.counter.value = static_cast<double>(sum);
          requests.metric.push_back(std::move(m));
        }
      }
      std::vector<const stats::Histogram*> parts;
      for (const auto* w : workers_) parts.push_back(&w->routes[r].request_duration);
      ClientMetric m = labelled({{"route", route_name}});
      m.histogram = sumHistograms(parts);
      latency.metric.push_back(std::move(m));
    }
    families.push_back(std::move(requests));
    families.push_back(std::move(latency));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace rampart::admin
