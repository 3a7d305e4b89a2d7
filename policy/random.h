#pragma once
// Rng: the deterministic random source every policy takes by reference.
//
// Algorithm: xoshiro256** (Blackman & Vigna) for the stream, with its 256-bit
// state expanded from one 64-bit seed by splitmix64, so any seed (even 0) gives
// a well-mixed state. uniform() keeps the top 53 bits; below(n) is Lemire's
// multiply-shift with rejection, so it is unbiased and rarely divides.
//
// Thread sharing: none. Each worker owns one Rng (seeded differently per
// worker); tests seed it with a constant so every run is the same.

#include <cstdint>
#include <limits>

namespace rampart::policy {

class Rng {
 public:
  using result_type = uint64_t;

  // Seeds the generator; equal seeds give equal streams.
  explicit Rng(uint64_t seed = 0x5EED5EED5EED5EEDull) { reseed(seed); }

  // Restarts the stream from `seed`.
  void reseed(uint64_t seed) {
    for (uint64_t& word : state_) word = splitMix64(seed);
  }

  // The next 64 uniformly distributed bits.
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // A uniform double in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // A uniform integer in [0, n); returns 0 when n == 0.
  uint64_t below(uint64_t n) {
    if (n == 0) return 0;
    // Lemire: the high word of x*n is uniform in [0, n) once the few low words
    // that would bias it are rejected.
    __extension__ using U128 = unsigned __int128;
    U128 m = static_cast<U128>(next()) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<U128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // UniformRandomBitGenerator, so <random> distributions and std::shuffle accept an Rng.
  static constexpr result_type min() { return 0; }
  // Largest value next() can return.
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  // Same as next().
  result_type operator()() { return next(); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitMix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  uint64_t state_[4];
};

}  // namespace rampart::policy
