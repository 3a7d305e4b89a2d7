#pragma once
// Endpoint selection: round robin, least request (P2C) and P2C on peak EWMA.
//
// Every balancer picks in tiers, so a retry lands elsewhere and a sick
// cluster keeps serving:
//   1. available endpoints this request has not tried yet;
//   2. if every available endpoint was tried: available ones again
//      (Pick::reused_tried), since another attempt there beats failing;
//   3. if no endpoint is available at all (all ejected or unhealthy):
//      "panic" (Pick::panic): choose among all endpoints, untried first,
//      as Envoy does, rather than failing every request.
// Within a tier:
//   - RoundRobinBalancer: smooth weighted round robin (each pick adds every
//     candidate's weight to its credit, takes the largest credit and charges
//     it the total weight), i.e. plain rotation when weights are equal.
//   - LeastRequestBalancer: power of two choices; two distinct candidates
//     drawn uniformly, the one with the lower (outstanding + 1) / weight wins.
//   - P2cEwmaBalancer: the same draw, scored by
//     cost_ms × (outstanding + 1) / weight, with cost_ms the endpoint's
//     PeakEwma estimate (failures included as penalties).
// Ties go to the first drawn, which is itself random.
//
// Thread sharing: none. One balancer per cluster per worker; the Rng is the
// worker's. Picks never allocate except RoundRobinBalancer's credit vector
// when the endpoint count changes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "policy/random.h"

namespace rampart::policy {

// What the balancer knows about one endpoint at pick time.
struct EndpointLoad {
  bool available = true;     // false when ejected by outlier detection or failing health checks
  uint32_t outstanding = 0;  // requests in flight to it from this worker
  double cost_ms = 0;        // its PeakEwma estimate
  uint32_t weight = 1;       // relative capacity (0 is treated as 1)
};

// The endpoints earlier attempts of this request used (any index, up to kCapacity
// remembered; beyond that the oldest is forgotten, since a request makes few attempts).
class TriedSet {
 public:
  static constexpr size_t kCapacity = 8;

  // Remembers that endpoint `index` was tried.
  void insert(size_t index);
  // True if endpoint `index` was tried (and not forgotten).
  bool contains(size_t index) const;
  // Number of endpoints remembered.
  size_t size() const { return size_; }
  // True when nothing was tried.
  bool empty() const { return size_ == 0; }
  // Forgets every endpoint.
  void clear() { size_ = 0; }

 private:
  std::array<size_t, kCapacity> items_{};
  size_t size_ = 0;
  size_t next_ = 0;  // slot overwritten once full
};

// The chosen endpoint and how it was chosen.
struct Pick {
  size_t index = 0;           // position in the span passed to pick()
  bool panic = false;         // no endpoint was available; chosen among all of them
  bool reused_tried = false;  // every candidate had been tried by this request already
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // Chooses an endpoint by the tiers above; nullopt only when `endpoints` is empty.
  virtual std::optional<Pick> pick(std::span<const EndpointLoad> endpoints, const TriedSet& tried,
                                   Rng& rng) = 0;
  // The algorithm's config name: "round_robin", "least_request" or "p2c_ewma".
  virtual std::string_view name() const = 0;
};

class RoundRobinBalancer final : public Balancer {
 public:
  // Smooth weighted round robin over the best non-empty tier.
  std::optional<Pick> pick(std::span<const EndpointLoad> endpoints, const TriedSet& tried,
                           Rng& rng) override;
  // "round_robin".
  std::string_view name() const override { return "round_robin"; }

 private:
  std::vector<int64_t> credit_;
};

class LeastRequestBalancer final : public Balancer {
 public:
  // Power of two choices on (outstanding + 1) / weight.
  std::optional<Pick> pick(std::span<const EndpointLoad> endpoints, const TriedSet& tried,
                           Rng& rng) override;
  // "least_request".
  std::string_view name() const override { return "least_request"; }
};

class P2cEwmaBalancer final : public Balancer {
 public:
  // Power of two choices on cost_ms × (outstanding + 1) / weight.
  std::optional<Pick> pick(std::span<const EndpointLoad> endpoints, const TriedSet& tried,
                           Rng& rng) override;
  // "p2c_ewma".
  std::string_view name() const override { return "p2c_ewma"; }
};

// A balancer by config name ("round_robin", "least_request", "p2c_ewma"); nullptr if unknown.
std::unique_ptr<Balancer> makeBalancer(std::string_view name);

}  // namespace rampart::policy
