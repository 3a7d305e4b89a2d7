#pragma once
// SHA-256 (FIPS 180-4), written here so /echo can report a body digest that a
// test recomputes with hashlib, without linking OpenSSL into this example.
// Streaming: update() any number of times, then hexDigest() once.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace rampart::gpu_backend {

class Sha256 {
 public:
  // An empty message.
  Sha256();
  // Appends `size` bytes to the message.
  void update(const void* data, size_t size);
  // Finishes the message and returns its digest as 64 lower-case hex digits.
  std::string hexDigest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t totalBytes_ = 0;
};

}  // namespace rampart::gpu_backend
