#include "policy/balancer.h"

#include <algorithm>

namespace rampart::policy {
namespace {

// Candidate tiers, best first (see the header).
enum class Tier {
  kFresh,       // available and not tried
  kTried,       // available, tried already
  kPanicFresh,  // nothing available: not tried
  kPanicAll,    // nothing available, everything tried: anything
};

struct TierChoice {
  Tier tier;
  size_t count;  // candidates in that tier
};

bool inTier(const EndpointLoad& e, size_t i, const TriedSet& tried, Tier tier) {
  switch (tier) {
    case Tier::kFresh:
      return e.available && !tried.contains(i);
    case Tier::kTried:
      return e.available;
    case Tier::kPanicFresh:
      return !tried.contains(i);
    case Tier::kPanicAll:
      return true;
  }
  return false;
}

std::optional<TierChoice> chooseTier(std::span<const EndpointLoad> endpoints,
                                     const TriedSet& tried) {
  size_t fresh = 0, available = 0, untried = 0;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const bool was_tried = tried.contains(i);
    available += endpoints[i].available;
    fresh += endpoints[i].available && !was_tried;
    untried += !was_tried;
  }
  if (fresh) return TierChoice{Tier::kFresh, fresh};
  if (available) return TierChoice{Tier::kTried, available};
  if (untried) return TierChoice{Tier::kPanicFresh, untried};
  if (!endpoints.empty()) return TierChoice{Tier::kPanicAll, endpoints.size()};
  return std::nullopt;
}

Pick makePick(size_t index, Tier tier, const TriedSet& tried) {
  return Pick{index, tier == Tier::kPanicFresh || tier == Tier::kPanicAll, tried.contains(index)};
}

double weightOf(const EndpointLoad& e) {
  return e.weight ? static_cast<double>(e.weight) : 1.0;
}

// Power of two choices: two distinct candidates of the tier drawn uniformly
// (ranks r1 != r2 found in one pass), the lower score wins, ties to the first.
template <typename ScoreFn>
std::optional<Pick> pickTwo(std::span<const EndpointLoad> endpoints, const TriedSet& tried,
                            Rng& rng, ScoreFn score) {
  const auto choice = chooseTier(endpoints, tried);
  if (!choice) return std::nullopt;
  const size_t r1 = rng.below(choice->count);
  size_t r2 = r1;
  if (choice->count > 1) {
    r2 = rng.below(choice->count - 1);
    if (r2 >= r1) ++r2;
  }
  size_t a = 0, b = 0, rank = 0;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (!inTier(endpoints[i], i, tried, choice->tier)) continue;
    if (rank == r1) a = i;
    if (rank == r2) b = i;
    ++rank;
  }
  const size_t winner = score(endpoints[b]) < score(endpoints[a]) ? b : a;
  return makePick(winner, choice->tier, tried);
}

}  // namespace

void TriedSet::insert(size_t index) {
  if (contains(index)) return;
  if (size_ < kCapacity) {
    items_[size_++] = index;
    return;
  }
  items_[next_] = index;
  next_ = (next_ + 1) % kCapacity;
}

bool TriedSet::contains(size_t index) const {
  for (size_t i = 0; i < size_; ++i) {
    if (items_[i] == index) return true;
  }
  return false;
}

std::optional<Pick> RoundRobinBalancer::pick(std::span<const EndpointLoad> endpoints,
                                             const TriedSet& tried, Rng& /*rng*/) {
  const auto choice = chooseTier(endpoints, tried);
  if (!choice) return std::nullopt;
  // A changed endpoint list invalidates the credits; restart the rotation.
  if (credit_.size() != endpoints.size()) credit_.assign(endpoints.size(), 0);
  int64_t total = 0;
  size_t best = endpoints.size();
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (!inTier(endpoints[i], i, tried, choice->tier)) continue;
    const int64_t w = endpoints[i].weight ? endpoints[i].weight : 1;
    credit_[i] += w;
    total += w;
    if (best == endpoints.size() || credit_[i] > credit_[best]) best = i;
  }
  credit_[best] -= total;
  return makePick(best, choice->tier, tried);
}

std::optional<Pick> LeastRequestBalancer::pick(std::span<const EndpointLoad> endpoints,
                                               const TriedSet& tried, Rng& rng) {
  return pickTwo(endpoints, tried, rng, [](const EndpointLoad& e) {
    return (static_cast<double>(e.outstanding) + 1.0) / weightOf(e);
  });
}

std::optional<Pick> P2cEwmaBalancer::pick(std::span<const EndpointLoad> endpoints,
                                          const TriedSet& tried, Rng& rng) {
  return pickTwo(endpoints, tried, rng, [](const EndpointLoad& e) {
    // A floor of 1 us keeps outstanding counts meaningful when an estimate has decayed to 0.
    const double cost = std::max(e.cost_ms, 1e-3);
    return cost * (static_cast<double>(e.outstanding) + 1.0) / weightOf(e);
  });
}

std::unique_ptr<Balancer> makeBalancer(std::string_view name) {
  if (name == "round_robin") return std::make_unique<RoundRobinBalancer>();
  if (name == "least_request") return std::make_unique<LeastRequestBalancer>();
  if (name == "p2c_ewma") return std::make_unique<P2cEwmaBalancer>();
  return nullptr;
}

}  // namespace rampart::policy
