#include "proxy/http/http2_grpc.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace rampart::http {

namespace {
// Nanoseconds per grpc-timeout unit.
std::optional<int64_t> unitNanos(char unit) {
  switch (unit) {
    case 'H':
      return int64_t{3600} * 1000 * 1000 * 1000;
    case 'M':
      return int64_t{60} * 1000 * 1000 * 1000;
    case 'S':
      return int64_t{1000} * 1000 * 1000;
    case 'm':
      return int64_t{1000} * 1000;
    case 'u':
      return int64_t{1000};
    case 'n':
      return int64_t{1};
    default:
      return std::nullopt;
  }
}
}  // namespace

std::optional<policy::Duration> parseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  const auto nanos = unitNanos(value.back());
  if (!nanos) return std::nullopt;
  const std::string_view digits = value.substr(0, value.size() - 1);
  int64_t count = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    count = count * 10 + (c - '0');  // at most 8 digits: no overflow
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (count > kMax / *nanos) return policy::Duration::max();  // 99999999H does not fit
  return policy::Duration(count * *nanos);
}

std::string formatGrpcTimeout(policy::Duration timeout) {
  const int64_t ns = std::max<int64_t>(0, timeout.count());
  constexpr int64_t kMaxCount = 99'999'999;
  static constexpr struct {
    char unit;
    int64_t nanos;
  } kUnits[] = {{'n', 1},
                {'u', 1000},
                {'m', 1000'000},
                {'S', 1000'000'000},
                {'M', 60'000'000'000},
                {'H', 3600'000'000'000}};
  for (const auto& u : kUnits) {
    const int64_t count = ns / u.nanos + (ns % u.nanos != 0 ? 1 : 0);
    if (count <= kMaxCount) return std::to_string(count) + u.unit;
  }
  return std::to_string(kMaxCount) + "H";
}

GrpcStatus grpcStatusForHttp(int http_status) {
  switch (http_status) {
    case 200:
      return GrpcStatus::Ok;
    case 400:
      return GrpcStatus::Internal;
    case 401:
      return GrpcStatus::Unauthenticated;
    case 403:
      return GrpcStatus::PermissionDenied;
    case 404:
      return GrpcStatus::Unimplemented;
    case 408:
    case 504:
      return GrpcStatus::DeadlineExceeded;
    case 413:
    case 429:
    case 431:
      return GrpcStatus::ResourceExhausted;
    case 500:
      return GrpcStatus::Internal;
    default:
      break;
  }
  // 502, 503 and the rest of 5xx: the upstream is not there right now; worth a retry.
  if (http_status >= 500 && http_status <= 599) return GrpcStatus::Unavailable;
  return GrpcStatus::Unknown;
}

std::string percentEncodeGrpcMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

ResponseHead makeGrpcErrorResponse(GrpcStatus status, std::string_view message) {
  ResponseHead head;
  head.status = 200;
  head.version_major = 2;
  head.version_minor = 0;
  head.headers.add("content-type", "application/grpc");
  head.headers.add("grpc-status", std::to_string(static_cast<int>(status)));
  if (!message.empty()) head.headers.add("grpc-message", percentEncodeGrpcMessage(message));
  return head;
}

}  // namespace rampart::http
