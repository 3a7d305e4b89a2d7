#pragma once
// BatchCostModel: the backend's cost curve, latency(n) ≈ a + b·n, learned online.
//
// Algorithm: exponentially weighted least squares. Each batch outcome (n, t)
// decays the sufficient statistics S = Σ wᵢ·{1, n, n², t, n·t} by β = 0.5^(1/h)
// (h = half-life in samples) and adds the new sample; the fit solves
//   [S1 Sn; Sn Snn]·[a; b] = [St; Snt]
// with two pseudo-samples from the previous fit (at n̄ ± max(1, n̄/2), n̄ = the EW
// mean batch size, each of weight prior_weight) added to the sums. Before any
// data those pseudo-samples are the configured prior; afterwards they anchor the
// fit only where the data cannot identify it (every batch the same size: the
// slope stays, the level moves), and at a fixed point they pull nowhere, so they
// add no bias. a and b are constrained to ≥ 0 (an active
// constraint is re-solved with that coefficient at 0, not merely clipped).
// Robustness: after warm-up a sample is winsorized to predict(n) ± k·σ before it
// enters the sums (σ = EW std of residuals, floored at 2% of the prediction), so
// a GC pause or a one-off 10x straggler moves the fit by a bounded amount; the σ
// update itself uses residuals clipped at 2k·σ, so a real level shift widens σ
// geometrically and is followed within ~10 samples instead of being rejected.
// Tail: predictTail(n) = predict(n) + z·σ (Clipper's mean + zσ p99 proxy).
//
// Threads: none shared. One instance per (model, endpoint or route) per worker;
// the main thread may merge by copying or by feeding samples, never concurrently.

#include <cstddef>

#include "policy/time.h"

namespace rampart::policy {

// Knobs of BatchCostModel.
struct BatchCostModelConfig {
  Duration prior_fixed = std::chrono::milliseconds(5);     // a before any data
  Duration prior_per_item = std::chrono::milliseconds(1);  // b before any data
  double half_life_samples = 20.0;  // samples after which an observation weighs half
  double prior_weight = 1.0;        // weight of each of the two anchoring pseudo-samples
  double outlier_sigmas = 3.0;      // winsorize samples beyond predict ± k·σ
  std::size_t warmup_samples = 5;   // no winsorizing before this many samples
};

// The learned curve, for /policies and tests.
struct BatchCostExplain {
  Duration fixed;            // a: cost of a batch regardless of size
  Duration per_item;         // b: added cost per row
  Duration residual_stddev;  // σ of observations around the curve
  std::size_t samples;       // batches observed in total
};

// latency(batch_size) ≈ a + b·n with exponential forgetting; see the file comment.
class BatchCostModel {
 public:
  // Starts at the configured prior.
  explicit BatchCostModel(BatchCostModelConfig config = {});

  // Adds one finished batch: `batch_size` rows took `latency` (ignored if size is 0).
  void observe(std::size_t batch_size, Duration latency);
  // Mean predicted latency of a batch of n rows (n = 0 is treated as 1).
  Duration predict(std::size_t n) const;
  // predict(n) + z·σ: a tail (p99 for z = 2.33) latency of a batch of n rows.
  Duration predictTail(std::size_t n, double z) const;
  // Batches observed so far.
  std::size_t samples() const { return samples_; }
  // The current a, b, σ and sample count.
  BatchCostExplain explain() const;

 private:
  void refit();

  BatchCostModelConfig config_;
  double decay_;                                         // β per sample
  double s1_ = 0, sn_ = 0, snn_ = 0, st_ = 0, snt_ = 0;  // EW sums; t in seconds
  double a_, b_;                                         // seconds, seconds per row
  double variance_ = 0;                                  // EW residual variance, seconds²
  std::size_t samples_ = 0;
};

}  // namespace rampart::policy
