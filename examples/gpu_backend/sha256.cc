#include "examples/gpu_backend/sha256.h"

#include <algorithm>
#include <cstring>

namespace rampart::gpu_backend {
namespace {

__extension__ using U128 = unsigned __int128;

// floor(cbrt(x)) or floor(sqrt(x)) for x < 2^110, by bisection on exact integers.
uint64_t integerRoot(U128 x, int power) {
  uint64_t lo = 0;
  uint64_t hi = uint64_t{1} << 40;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    U128 p = mid;
    for (int i = 1; i < power; ++i) p *= mid;
    if (p <= x) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// The first `count` primes.
template <size_t N>
std::array<uint32_t, N> firstPrimes() {
  std::array<uint32_t, N> primes{};
  size_t found = 0;
  for (uint32_t candidate = 2; found < N; ++candidate) {
    bool prime = true;
    for (size_t i = 0; i < found && primes[i] * primes[i] <= candidate; ++i) {
      if (candidate % primes[i] == 0) prime = false;
    }
    if (prime) primes[found++] = candidate;
  }
  return primes;
}

// The standard's constants are the first 32 fractional bits of roots of primes:
// K = cube roots of the first 64, H0 = square roots of the first 8. Computing
// them exactly in integers avoids a table of magic numbers.
struct Constants {
  std::array<uint32_t, 64> k;
  std::array<uint32_t, 8> h0;
  Constants() {
    const auto primes = firstPrimes<64>();
    for (size_t i = 0; i < 64; ++i) {
      k[i] = static_cast<uint32_t>(integerRoot(static_cast<U128>(primes[i]) << 96, 3));
    }
    for (size_t i = 0; i < 8; ++i) {
      h0[i] = static_cast<uint32_t>(integerRoot(static_cast<U128>(primes[i]) << 64, 2));
    }
  }
};

const Constants& constants() {
  static const Constants kConstants;
  return kConstants;
}

uint32_t rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

}  // namespace

Sha256::Sha256() : state_(constants().h0) {}

void Sha256::update(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  totalBytes_ += size;
  if (buffered_ > 0) {
    const size_t take = std::min(size, buffer_.size() - buffered_);
    std::memcpy(buffer_.data() + buffered_, bytes, take);
    buffered_ += take;
    bytes += take;
    size -= take;
    if (buffered_ < buffer_.size()) return;
    compress(buffer_.data());
    buffered_ = 0;
  }
  for (; size >= 64; size -= 64, bytes += 64) compress(bytes);
  std::memcpy(buffer_.data(), bytes, size);
  buffered_ = size;
}

std::string Sha256::hexDigest() {
  const uint64_t bits = totalBytes_ * 8;
  const uint8_t pad = 0x80;
  update(&pad, 1);
  const uint8_t zero = 0;
  while (buffered_ != 56) update(&zero, 1);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  update(length, 8);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint32_t word : state_) {
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(word >> shift) & 0xf]);
  }
  return out;
}

void Sha256::compress(const uint8_t* block) {
  const auto& k = constants().k;
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16) |
           (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
  }
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const uint32_t choose = (e & f) ^ (~e & g);
    const uint32_t t1 = h + s1 + choose + k[i] + w[i];
    const uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    const uint32_t t2 = s0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
  state_[4] += e;
  state_[5] += f;
  state_[6] += g;
  state_[7] += h;
}

}  // namespace rampart::gpu_backend
