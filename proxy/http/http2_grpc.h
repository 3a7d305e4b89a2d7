#pragma once
// gRPC over HTTP/2 helpers: the trailers-only error responses Rampart sends for its own failures
// (no route, shed, upstream down, timed out), so gRPC clients see a
// grpc-status instead of an HTTP status they cannot interpret. The grpc-timeout
// header (deadline propagation) is parsed and formatted in header_utils.h.

#include <optional>
#include <string>
#include <string_view>

#include "proxy/http/message.h"

namespace rampart::http {

// The gRPC status codes (grpc/doc/statuscodes.md).
enum class GrpcStatus : int {
  Ok = 0,                  // success
  Cancelled = 1,           // the caller cancelled
  Unknown = 2,             // an error without a better code
  InvalidArgument = 3,     // the request is invalid whatever the server state
  DeadlineExceeded = 4,    // the deadline passed before the call completed
  NotFound = 5,            // an entity was not found
  AlreadyExists = 6,       // the entity already exists
  PermissionDenied = 7,    // the caller may not do this
  ResourceExhausted = 8,   // out of quota or capacity (load shedding, size limits)
  FailedPrecondition = 9,  // the system is not in the state the call needs
  Aborted = 10,            // a concurrency conflict
  OutOfRange = 11,         // past the valid range
  Unimplemented = 12,      // the method is not served here
  Internal = 13,           // an invariant broke
  Unavailable = 14,        // transient: retry with backoff
  DataLoss = 15,           // unrecoverable data loss
  Unauthenticated = 16,    // no valid credentials
};

// The gRPC status for an HTTP status Rampart answers with: 503 -> Unavailable,
// 504/408 -> DeadlineExceeded, 429/413/431 -> ResourceExhausted, 404 -> Unimplemented,
// 400 -> Internal, 401 -> Unauthenticated, 403 -> PermissionDenied, other 5xx -> Unavailable,
// anything else -> Unknown.
GrpcStatus grpcStatusForHttp(int http_status);

// Percent-encodes a grpc-message value: bytes outside 0x20..0x7E and '%' become %XX.
std::string percentEncodeGrpcMessage(std::string_view message);

// A trailers-only gRPC response head: :status 200, content-type application/grpc,
// grpc-status and (when not empty) the percent-encoded grpc-message. Send it with
// end_stream = true and no body.
ResponseHead makeGrpcErrorResponse(GrpcStatus status, std::string_view message);

}  // namespace rampart::http
