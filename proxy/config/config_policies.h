#pragma once
// Readers for the policy blocks of clusters and routes (health_check,
// outlier_detection, retry, hedge, load_shedding). Each returns a disabled
// config when its key is absent.

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace rampart::config {

HealthCheckConfig readHealthCheck(ErrorSink& sink, MapReader& cluster);
OutlierDetectionConfig readOutlierDetection(ErrorSink& sink, MapReader& cluster);
RetryConfig readRetry(ErrorSink& sink, MapReader& route);
HedgeConfig readHedge(ErrorSink& sink, MapReader& route);
SheddingConfig readShedding(ErrorSink& sink, MapReader& route);
BatchingConfig readBatching(ErrorSink& sink, MapReader& route);
// Protocol blocks of listeners and clusters; TLS files are read here, so a bad file
// is a config error with its location.
ListenerTlsConfig readListenerTls(ErrorSink& sink, MapReader& listener);
ClusterTlsConfig readClusterTls(ErrorSink& sink, MapReader& cluster, bool h2);
http::Http2Limits readHttp2Limits(ErrorSink& sink, MapReader& parent);

}  // namespace rampart::config
