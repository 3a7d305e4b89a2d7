#include "proxy/http/header_utils.h"

#include <vector>

namespace rampart::http {

void stripHopByHop(HeaderMap& headers) {
  if (auto connection = headers.get("connection")) {
    // Collect first: removing invalidates the view.
    std::vector<std::string> named;
    std::string_view list = *connection;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view token = list.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty()) {
        std::string name(token);
        toLowerAscii(name);
        named.push_back(std::move(name));
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    for (const auto& name : named) {
      // Never let a client strip headers the proxy relies on.
      if (name != "x-request-id" && name != "x-forwarded-for" && name != "host")
        headers.remove(name);
    }
  }
  for (const char* name : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                           "transfer-encoding", "upgrade", "content-length"}) {
    headers.remove(name);
  }
}

void appendForwardedFor(HeaderMap& headers, std::string_view client) {
  // Several x-forwarded-for lines are one comma-separated list (RFC 9110 5.3): keep every hop.
  std::string value;
  headers.forEach([&value](std::string_view name, std::string_view v) {
    if (name != "x-forwarded-for") return;
    value.append(v);
    value.append(", ");
  });
  value.append(client);
  headers.set("x-forwarded-for", value);
}

std::string formatUuidV4(uint64_t high, uint64_t low) {
  high = (high & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  low = (low & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;    // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[static_cast<size_t>(pos++)] = kHex[(v >> (i * 4)) & 0xF];
    }
  };
  put(high, 16);
  put(low, 16);
  return out;
}

}  // namespace rampart::http
