#pragma once
// Header rewriting shared by the HTTP/1 and HTTP/2 paths.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "proxy/http/headers.h"

namespace rampart::http {

// Removes hop-by-hop headers (RFC 9110 §7.6.1): Connection and every header it
// names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade.
// Content-Length is removed too: each codec writes its own framing.
void stripHopByHop(HeaderMap& headers);

// Appends `client` to x-forwarded-for (creating it when absent).
void appendForwardedFor(HeaderMap& headers, std::string_view client);

// Parses a gRPC timeout ("100m", "5S", "1H", "200u", "30n"; at most 8 digits).
std::optional<std::chrono::nanoseconds> parseGrpcTimeout(std::string_view value);
// Formats a gRPC timeout, choosing the unit so the value fits 8 digits.
std::string formatGrpcTimeout(std::chrono::nanoseconds timeout);

// Formats 128 random bits as a version-4 UUID string.
std::string formatUuidV4(uint64_t high, uint64_t low);

}  // namespace rampart::http
