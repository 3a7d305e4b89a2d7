#pragma once
// Protocol-neutral request and response heads. HTTP/1 and HTTP/2 codecs both
// produce and consume these, so filters and the router never see a wire format.

#include <cstdint>
#include <optional>
#include <string>

#include "proxy/http/headers.h"

namespace rampart::http {

struct RequestHead {
  std::string method;     // "GET", "POST", ...
  std::string path;       // request-target as received: "/v2/models/x/infer?q=1"
  std::string authority;  // Host header or :authority
  std::string scheme = "http";
  int version_major = 1;  // 2 for HTTP/2
  int version_minor = 1;
  HeaderMap headers;                       // without pseudo-headers; names lower-case
  std::optional<uint64_t> content_length;  // when the framing declares one
  bool chunked = false;                    // HTTP/1 chunked transfer coding
  bool keep_alive = true;                  // the client allows reuse after this request
  bool expect_continue = false;            // "Expect: 100-continue"
  bool is_grpc = false;                    // content-type application/grpc*
  std::string client_identity;             // verified mTLS peer identity (set by the proxy)

  // The path without the query string.
  std::string_view pathOnly() const {
    const auto q = path.find('?');
    return q == std::string::npos ? std::string_view(path) : std::string_view(path).substr(0, q);
  }
  bool isHead() const { return method == "HEAD"; }
};

struct ResponseHead {
  int status = 200;
  std::string reason;  // HTTP/1 reason phrase (may be empty)
  int version_major = 1;
  int version_minor = 1;
  HeaderMap headers;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;  // the upstream allows reuse of its connection
};

// The standard reason phrase for a status code ("Not Found"), or "Unknown".
const char* reasonPhrase(int status);

// True for methods that RFC 9110 defines as idempotent.
bool isIdempotentMethod(std::string_view method);

}  // namespace rampart::http
