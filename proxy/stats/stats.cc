#include "proxy/stats/stats.h"

#include <algorithm>

namespace rampart::stats {

void Histogram::observe(policy::Duration d) {
  const double seconds = policy::toSeconds(d);
  const auto it = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  buckets_[static_cast<size_t>(it - kBounds.begin())].inc();
  count_.inc();
  sum_us_.inc(static_cast<uint64_t>(std::max<int64_t>(0, d.count() / 1000)));
}

void SizeHistogram::observe(uint64_t rows) {
  const auto it = std::lower_bound(kBounds.begin(), kBounds.end(), static_cast<double>(rows));
  buckets_[static_cast<size_t>(it - kBounds.begin())].inc();
  count_.inc();
  sum_.inc(rows);
}

WorkerStats::WorkerStats(size_t listener_count, const std::vector<size_t>& endpoints_per_cluster,
                         const std::vector<size_t>& clusters_per_route)
    : listeners(listener_count) {
  for (size_t n : endpoints_per_cluster) clusters.emplace_back(n);
  for (size_t n : clusters_per_route) routes.emplace_back(n);
  routes.emplace_back(0);  // no route matched
}

}  // namespace rampart::stats
