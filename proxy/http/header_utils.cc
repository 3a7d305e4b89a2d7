#include "proxy/http/header_utils.h"

#include <limits>
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
  // "te: trailers" is the one TE value that means something end to end (gRPC requires it):
  // it survives the strip, reduced to exactly that token.
  const auto te = headers.get("te");
  const bool te_trailers = te && headerValueHasToken(*te, "trailers");
  // One pass over the headers instead of one scan per hop-by-hop name.
  headers.removeIf([](std::string_view name) {
    switch (name.size()) {
      case 2:
        return name == "te";
      case 7:
        return name == "trailer" || name == "upgrade";
      case 10:
        return name == "connection" || name == "keep-alive";
      case 14:
        return name == "content-length";
      case 16:
        return name == "proxy-connection";
      case 17:
        return name == "transfer-encoding";
      default:
        return false;
    }
  });
  if (te_trailers) headers.set("te", "trailers");
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

std::optional<std::chrono::nanoseconds> parseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t amount = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    amount = amount * 10 + (c - '0');
  }
  // 8 digits of hours overflow int64 nanoseconds: cap at the largest duration.
  int64_t unit_ns;
  switch (value.back()) {
    case 'H':
      unit_ns = 3600000000000;
      break;
    case 'M':
      unit_ns = 60000000000;
      break;
    case 'S':
      unit_ns = 1000000000;
      break;
    case 'm':
      unit_ns = 1000000;
      break;
    case 'u':
      unit_ns = 1000;
      break;
    case 'n':
      unit_ns = 1;
      break;
    default:
      return std::nullopt;
  }
  if (amount > std::numeric_limits<int64_t>::max() / unit_ns)
    return std::chrono::nanoseconds::max();
  return std::chrono::nanoseconds(amount * unit_ns);
}

std::string formatGrpcTimeout(std::chrono::nanoseconds timeout) {
  using namespace std::chrono;
  const int64_t ns = std::max<int64_t>(timeout.count(), 0);
  constexpr int64_t kMax = 99999999;
  if (ns <= kMax) return std::to_string(ns) + "n";
  if (ns / 1000 <= kMax) return std::to_string(ns / 1000) + "u";
  if (ns / 1000000 <= kMax) return std::to_string(ns / 1000000) + "m";
  if (ns / 1000000000 <= kMax) return std::to_string(ns / 1000000000) + "S";
  return std::to_string(std::min<int64_t>(ns / 60000000000, kMax)) + "M";
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
