#pragma once
// A streaming SHA-256 over OpenSSL's EVP digest API, so /echo can report a body
// digest that a test recomputes with hashlib.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <string>

namespace rampart::gpu_backend {

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

class Sha256 {
 public:
  // An empty message.
  Sha256();
  // Appends `size` bytes to the message.
  void update(const void* data, size_t size);
  // Finishes the message and returns its digest as 64 lower-case hex digits.
  std::string hexDigest();

 private:
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter> ctx_;
};

}  // namespace rampart::gpu_backend
