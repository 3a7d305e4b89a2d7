#include "proxy/upstream/upstream_stream.h"

namespace rampart::upstream {

const char* failureName(UpstreamFailure f) {
  switch (f) {
    case UpstreamFailure::ConnectFailed:
      return "connect_failed";
    case UpstreamFailure::ConnectTimeout:
      return "connect_timeout";
    case UpstreamFailure::PoolOverflow:
      return "pool_overflow";
    case UpstreamFailure::NoEndpoint:
      return "no_endpoint";
    case UpstreamFailure::ResetBeforeResponse:
      return "reset_before_response";
    case UpstreamFailure::ResetDuringResponse:
      return "reset_during_response";
    case UpstreamFailure::ProtocolError:
      return "protocol_error";
    case UpstreamFailure::Refused:
      return "refused_stream";
  }
  return "unknown";
}

}  // namespace rampart::upstream
