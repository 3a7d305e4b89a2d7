#include "proxy/http/http2_grpc.h"

#include <string>

namespace rampart::http {

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
