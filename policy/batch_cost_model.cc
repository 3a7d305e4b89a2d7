#include "policy/batch_cost_model.h"

#include <algorithm>
#include <cmath>

namespace rampart::policy {
namespace {

// Residual floor as a fraction of the prediction: a perfectly steady backend
// (σ → 0) must still let ordinary jitter in rather than winsorize everything.
constexpr double kSigmaFloorFraction = 0.02;
constexpr double kSigmaFloorSeconds = 10e-6;

}  // namespace

BatchCostModel::BatchCostModel(BatchCostModelConfig config)
    : config_(config),
      decay_(std::pow(0.5, 1.0 / std::max(1.0, config.half_life_samples))),
      a_(std::max(0.0, toSeconds(config.prior_fixed))),
      b_(std::max(0.0, toSeconds(config.prior_per_item))) {}

void BatchCostModel::observe(std::size_t batch_size, Duration latency) {
  if (batch_size == 0) return;
  const double n = static_cast<double>(batch_size);
  double t = std::max(0.0, toSeconds(latency));
  const double predicted = a_ + b_ * n;
  const double residual = t - predicted;
  const double sigma =
      std::max(std::sqrt(variance_), kSigmaFloorFraction * predicted + kSigmaFloorSeconds);
  const double k = config_.outlier_sigmas;
  const bool warm = samples_ >= config_.warmup_samples;
  if (warm) t = std::clamp(t, predicted - k * sigma, predicted + k * sigma);
  // σ learns from residuals clipped at 2k·σ: one straggler widens σ a little, a
  // sustained shift widens it ~1.5x per sample until the shift is no longer clipped.
  const double r = warm ? std::clamp(residual, -2 * k * sigma, 2 * k * sigma) : residual;
  const double alpha = 1.0 - decay_;
  variance_ = samples_ == 0 ? 0.0 : (1 - alpha) * variance_ + alpha * r * r;

  s1_ = decay_ * s1_ + 1.0;
  sn_ = decay_ * sn_ + n;
  snn_ = decay_ * snn_ + n * n;
  st_ = decay_ * st_ + t;
  snt_ = decay_ * snt_ + n * t;
  ++samples_;
  refit();
}

void BatchCostModel::refit() {
  // Two pseudo-samples on the previous curve, symmetric about the mean batch size
  // seen: where every batch had one size they leave the slope exactly where it
  // was and let the level move (what was not seen is not changed), and their
  // spread gives them leverage comparable to the data's.
  const double w = config_.prior_weight;
  const double mean = s1_ > 0 ? sn_ / s1_ : 1.0;
  const double spread = std::max(1.0, mean / 2);
  const double lo = mean - spread, hi = mean + spread;
  const double tlo = a_ + b_ * lo, thi = a_ + b_ * hi;
  const double s1 = s1_ + 2 * w;
  const double sn = sn_ + w * (lo + hi);
  const double snn = snn_ + w * (lo * lo + hi * hi);
  const double st = st_ + w * (tlo + thi);
  const double snt = snt_ + w * (lo * tlo + hi * thi);

  const double det = s1 * snn - sn * sn;  // > 0: the pseudo-samples sit at two sizes
  double b = (s1 * snt - sn * st) / det;
  double a = (st - b * sn) / s1;
  if (b < 0) {  // best fit with no per-row cost
    b = 0;
    a = st / s1;
  }
  if (a < 0) {  // best fit through the origin
    a = 0;
    b = std::max(0.0, snt / snn);
  }
  a_ = a;
  b_ = b;
}

Duration BatchCostModel::predict(std::size_t n) const {
  return fromSeconds(a_ + b_ * static_cast<double>(std::max<std::size_t>(n, 1)));
}

Duration BatchCostModel::predictTail(std::size_t n, double z) const {
  return predict(n) + fromSeconds(z * std::sqrt(variance_));
}

BatchCostExplain BatchCostModel::explain() const {
  return {fromSeconds(a_), fromSeconds(b_), fromSeconds(std::sqrt(variance_)), samples_};
}

}  // namespace rampart::policy
