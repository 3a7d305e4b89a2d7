#pragma once
// An IPv4/IPv6 socket address parsed from "host:port" / "[v6]:port".

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::event {

class SocketAddress {
 public:
  SocketAddress() = default;
  // Parses "1.2.3.4:80", "[::1]:80" or "localhost:80" (resolved once, numerically
  // preferred); returns nullopt with `error` set when it cannot.
  static std::optional<SocketAddress> parse(std::string_view text, std::string* error);
  // Wraps a kernel-provided address (accept/getsockname).
  static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  // "1.2.3.4:80" or "[::1]:80".
  std::string toString() const;
  // The host part only, as used in x-forwarded-for.
  std::string hostString() const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace rampart::event
