#pragma once
// Turns the workers' stats into Prometheus families (prometheus-cpp's data
// model and text serializer). Runs on the admin thread at scrape time: the
// sum over workers is the only cross-thread read, of relaxed atomics.

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/stats/stats.h"

namespace rampart::admin {

class MetricsExporter {
 public:
  MetricsExporter(config::ConfigPtr config, std::vector<const stats::WorkerStats*> workers);
  // The Prometheus text exposition of every metric.
  std::string render() const;

 private:
  config::ConfigPtr config_;
  std::vector<const stats::WorkerStats*> workers_;
};

}  // namespace rampart::admin
