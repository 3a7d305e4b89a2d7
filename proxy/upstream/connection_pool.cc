#include "proxy/upstream/connection_pool.h"

#include "proxy/upstream/http1_pool.h"
#include "proxy/upstream/http2_pool.h"

namespace rampart::upstream {

std::unique_ptr<event::BufferedConnection> connectUpstream(event::Dispatcher& dispatcher,
                                                           const config::ClusterConfig& cluster,
                                                           const event::SocketAddress& endpoint) {
  if (cluster.tls.enabled && cluster.tls.context) {
    return event::BufferedConnection::connectTls(dispatcher, endpoint, cluster.tls.context,
                                                 cluster.tls.files.sni);
  }
  return event::BufferedConnection::connect(dispatcher, endpoint);
}

std::unique_ptr<ConnectionPool> makePool(event::Dispatcher& dispatcher,
                                         const config::ClusterConfig& cluster,
                                         const event::SocketAddress& endpoint,
                                         stats::ClusterStats& stats) {
  if (cluster.protocol == config::UpstreamProtocol::H2) {
    return std::make_unique<Http2Pool>(dispatcher, cluster, endpoint, stats);
  }
  return std::make_unique<Http1Pool>(dispatcher, cluster, endpoint, stats);
}

}  // namespace rampart::upstream
