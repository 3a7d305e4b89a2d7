#pragma once
// A small deterministic discrete-event simulation of batching in front of GPU
// endpoints, for the window controller's tests and for benchmarks that want the
// same open-loop load: seeded Poisson arrivals, a simulated GPU whose batch
// latency is fixed + per_item·n (optionally jittered, optionally changing cost at
// a given time), `endpoints` endpoints each running one batch at a time, and a
// batching policy that decides when to send. Open loop on purpose: closed-loop
// load (perf_analyzer's default) hides the low-load cost of waiting.
//
// Pure and single-threaded: no clock, no I/O; the same seed gives the same result
// on every machine (the generator is mt19937_64 and inter-arrival gaps are drawn
// by inversion, not by a library distribution whose algorithm may differ).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>

#include "policy/batch_window.h"
#include "policy/time.h"

namespace rampart::policy::batchsim {

// Arrival times of a Poisson process with a fixed rate, from a seed.
class PoissonArrivals {
 public:
  // `rate_per_s` > 0 arrivals per second, starting after `start`.
  PoissonArrivals(double rate_per_s, std::uint64_t seed, TimePoint start);
  // The next arrival time (strictly increasing in expectation; gaps are >= 0).
  TimePoint next();

 private:
  double rate_per_s_;
  std::mt19937_64 rng_;
  TimePoint now_;
};

// The simulated backend.
struct SimulatedGpu {
  Duration fixed = std::chrono::milliseconds(8);       // per-batch cost
  Duration per_item = std::chrono::microseconds(250);  // per-row cost
  std::size_t endpoints = 2;                           // each runs one batch at a time
  double jitter = 0.0;                                 // latency × U[1 − j, 1 + j]
  std::optional<TimePoint> change_at;                  // from then on, per_item_after
  Duration per_item_after = std::chrono::microseconds(500);
};

// A batching policy under test: the controller, or a static baseline.
class Policy {
 public:
  virtual ~Policy() = default;
  // A row arrived at `now`.
  virtual void onArrival(TimePoint now) = 0;
  // A batch of `rows` rows finished after `latency`.
  virtual void onBatchComplete(std::size_t rows, Duration latency) = 0;
  // What to do with the pending bucket now.
  virtual BatchDecision decide(TimePoint now, const PendingBucket& bucket,
                               const BackendLoad& backend) = 0;
  // Whether to accept a row with `deadline` behind `rows_ahead` waiting rows (when
  // the scenario has admission on). Static batchers accept everything.
  virtual bool admit(TimePoint, TimePoint, const BackendLoad&, std::size_t) { return true; }
};

// The learned controller as a Policy.
class ControllerPolicy final : public Policy {
 public:
  // Drives `controller`, which must outlive this policy.
  explicit ControllerPolicy(BatchWindowController& controller) : controller_(controller) {}
  // See Policy.
  void onArrival(TimePoint now) override { controller_.onArrival(now, 1); }
  // See Policy.
  void onBatchComplete(std::size_t rows, Duration latency) override {
    controller_.onBatchComplete(rows, latency);
  }
  // See Policy.
  BatchDecision decide(TimePoint now, const PendingBucket& bucket,
                       const BackendLoad& backend) override {
    return controller_.decide(now, bucket, backend);
  }
  // See Policy.
  bool admit(TimePoint now, TimePoint deadline, const BackendLoad& backend,
             std::size_t rows_ahead) override {
    return controller_.admissible(now, deadline, backend, rows_ahead);
  }

 private:
  BatchWindowController& controller_;
};

// Triton-style static batching: when a slot is free, send min(rows, max_batch)
// once the bucket is full or its oldest row has waited max_delay.
class StaticPolicy final : public Policy {
 public:
  // max_batch >= 1; max_delay >= 0 (0 = send whatever is there when a slot frees).
  StaticPolicy(std::size_t max_batch, Duration max_delay)
      : max_batch_(max_batch < 1 ? 1 : max_batch), max_delay_(max_delay) {}
  // See Policy.
  void onArrival(TimePoint) override {}
  // See Policy.
  void onBatchComplete(std::size_t, Duration) override {}
  // See Policy.
  BatchDecision decide(TimePoint now, const PendingBucket& bucket,
                       const BackendLoad& backend) override;

 private:
  std::size_t max_batch_;
  Duration max_delay_;
};

// One run's load and backend.
struct Scenario {
  double rate_per_s = 100;                       // Poisson arrival rate
  Duration duration = std::chrono::seconds(10);  // arrivals stop after this
  std::uint64_t seed = 1;
  Duration slo = std::chrono::milliseconds(100);  // for goodput
  bool admission = false;  // ask the policy to admit each row (deadline = arrival + slo)
  SimulatedGpu gpu;
};

// What a run measured. Latency = completion − arrival, per request.
struct ScenarioResult {
  std::size_t arrived = 0;
  std::size_t rejected = 0;  // refused at arrival by admission
  std::size_t completed = 0;
  std::size_t within_slo = 0;
  double goodput_per_s = 0;  // requests finished within the SLO per second of arrivals
  Duration p50{}, p99{}, max{};
  double mean_batch = 0;  // rows per upstream batch
  std::size_t batches = 0;
};

// Runs `scenario` against `policy` until every arrival has been answered.
ScenarioResult run(const Scenario& scenario, Policy& policy);

}  // namespace rampart::policy::batchsim
