#include "policy/batch_simulation.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <queue>
#include <tuple>
#include <vector>

namespace rampart::policy::batchsim {
namespace {

// A uniform double in [0, 1) from the top 53 bits, the same on every platform.
double uniform(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// A batch the simulated GPU will finish at `finish`.
struct Completion {
  TimePoint finish;
  std::size_t rows;
  TimePoint dispatched;
  bool operator>(const Completion& o) const {
    return std::tie(finish, rows, dispatched) > std::tie(o.finish, o.rows, o.dispatched);
  }
};

Duration percentile(std::vector<Duration>& values, double q) {
  if (values.empty()) return Duration::zero();
  auto k = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

// The whole simulation state; one event at a time.
class Simulation {
 public:
  Simulation(const Scenario& scenario, Policy& policy)
      : sc_(scenario),
        policy_(policy),
        start_(TimePoint{} + std::chrono::hours(1)),
        arrivals_(scenario.rate_per_s, scenario.seed, start_),
        jitter_rng_(scenario.seed ^ 0x9E3779B97F4A7C15ULL),
        endpoint_free_(std::max<std::size_t>(1, scenario.gpu.endpoints), start_) {}

  ScenarioResult run() {
    const TimePoint arrivals_end = start_ + sc_.duration;
    TimePoint next_arrival = arrivals_.next();
    while (true) {
      const bool arrival_due = next_arrival < arrivals_end;
      TimePoint now = TimePoint::max();
      if (!completions_.empty()) now = completions_.top().finish;
      if (arrival_due) now = std::min(now, next_arrival);
      if (timer_) now = std::min(now, *timer_);
      if (now == TimePoint::max()) break;

      if (!completions_.empty() && completions_.top().finish == now) {
        Completion c = completions_.top();
        completions_.pop();
        policy_.onBatchComplete(c.rows, c.finish - c.dispatched);
      } else if (arrival_due && next_arrival == now) {
        ++result_.arrived;
        BackendLoad backend{completions_.size(), endpoint_free_.size()};
        if (sc_.admission && !policy_.admit(now, now + sc_.slo, backend, pending_.size())) {
          ++result_.rejected;
        } else {
          pending_.push_back(now);
          policy_.onArrival(now);
        }
        next_arrival = arrivals_.next();
      } else {
        timer_.reset();
      }
      decideAll(now);
    }
    return finish();
  }

 private:
  void decideAll(TimePoint now) {
    while (true) {
      PendingBucket bucket;
      bucket.rows = pending_.size();
      if (!pending_.empty()) bucket.oldest_arrival = pending_.front();
      BackendLoad backend{completions_.size(), endpoint_free_.size()};
      BatchDecision d = policy_.decide(now, bucket, backend);
      if (const auto* wait = std::get_if<WaitUntil>(&d)) {
        timer_.reset();
        if (wait->at != TimePoint::max() && wait->at > now) timer_ = wait->at;
        return;
      }
      const std::size_t rows = std::min(std::get<Dispatch>(d).rows, pending_.size());
      if (rows == 0) return;
      dispatch(now, rows);
    }
  }

  void dispatch(TimePoint now, std::size_t rows) {
    auto endpoint = std::min_element(endpoint_free_.begin(), endpoint_free_.end());
    const TimePoint begin = std::max(now, *endpoint);
    const SimulatedGpu& gpu = sc_.gpu;
    const Duration per_item =
        gpu.change_at && begin >= *gpu.change_at ? gpu.per_item_after : gpu.per_item;
    double service = toSeconds(gpu.fixed + per_item * static_cast<std::int64_t>(rows));
    if (gpu.jitter > 0) service *= 1 + gpu.jitter * (2 * uniform(jitter_rng_) - 1);
    const TimePoint finish = begin + fromSeconds(service);
    *endpoint = finish;
    for (std::size_t i = 0; i < rows; ++i) {
      latencies_.push_back(finish - pending_.front());
      pending_.pop_front();
    }
    completions_.push({finish, rows, now});
    ++result_.batches;
    batched_rows_ += rows;
  }

  ScenarioResult finish() {
    result_.completed = latencies_.size();
    for (Duration l : latencies_) result_.within_slo += l <= sc_.slo;
    result_.goodput_per_s = static_cast<double>(result_.within_slo) / toSeconds(sc_.duration);
    result_.mean_batch =
        result_.batches ? static_cast<double>(batched_rows_) / static_cast<double>(result_.batches)
                        : 0;
    if (!latencies_.empty()) result_.max = *std::max_element(latencies_.begin(), latencies_.end());
    result_.p50 = percentile(latencies_, 0.50);
    result_.p99 = percentile(latencies_, 0.99);
    return result_;
  }

  const Scenario& sc_;
  Policy& policy_;
  TimePoint start_;
  PoissonArrivals arrivals_;
  std::mt19937_64 jitter_rng_;
  std::vector<TimePoint> endpoint_free_;  // when each endpoint finishes its queued work
  std::priority_queue<Completion, std::vector<Completion>, std::greater<>> completions_;
  std::deque<TimePoint> pending_;  // arrival times of rows not yet sent
  std::optional<TimePoint> timer_;
  std::vector<Duration> latencies_;
  std::size_t batched_rows_ = 0;
  ScenarioResult result_;
};

}  // namespace

PoissonArrivals::PoissonArrivals(double rate_per_s, std::uint64_t seed, TimePoint start)
    : rate_per_s_(rate_per_s > 0 ? rate_per_s : 1e-9), rng_(seed), now_(start) {}

TimePoint PoissonArrivals::next() {
  // Inversion: −ln(1 − U)/λ is exponential with mean 1/λ.
  now_ += fromSeconds(-std::log1p(-uniform(rng_)) / rate_per_s_);
  return now_;
}

BatchDecision StaticPolicy::decide(TimePoint now, const PendingBucket& bucket,
                                   const BackendLoad& backend) {
  if (bucket.rows == 0 || backend.in_flight >= backend.capacity) return WaitUntil{TimePoint::max()};
  if (bucket.rows >= max_batch_) return Dispatch{max_batch_, DispatchReason::Full};
  if (now - bucket.oldest_arrival >= max_delay_) {
    return Dispatch{bucket.rows, DispatchReason::WindowExpired};
  }
  return WaitUntil{bucket.oldest_arrival + max_delay_};
}

ScenarioResult run(const Scenario& scenario, Policy& policy) {
  return Simulation(scenario, policy).run();
}

}  // namespace rampart::policy::batchsim
