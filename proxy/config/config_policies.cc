#include "proxy/config/config_policies.h"

#include <charconv>

#include "filters/batching/codecs/batch_codec.h"

namespace rampart::config {

namespace {

// Runs `fn` on the map under `key` when it is written; reports a non-map value.
template <class Fn>
bool withOptionalMap(ErrorSink& sink, MapReader& parent, const std::string& key, Fn&& fn) {
  YAML::Node node = parent.get(key);
  if (!node.IsDefined() || node.IsNull()) return false;
  if (!node.IsMap()) {
    sink.error(node.Mark(), "'" + parent.pathOf(key) + "' must be a map");
    return false;
  }
  MapReader reader(sink, node, parent.pathOf(key));
  fn(reader);
  reader.reportUnknownKeys();
  return true;
}

void requirePositive(ErrorSink& sink, MapReader& m, const std::string& key, Duration d) {
  if (d <= Duration::zero()) sink.error(m.markOf(key), "'" + m.pathOf(key) + "' must be positive");
}

void requireRange(ErrorSink& sink, MapReader& m, const std::string& key, double v, double lo,
                  double hi) {
  if (!(v >= lo && v <= hi)) {
    sink.error(m.markOf(key), "'" + m.pathOf(key) + "' must be between " + std::to_string(lo) +
                                  " and " + std::to_string(hi));
  }
}

// gRPC status names as used in retry.on ("grpc:unavailable").
std::optional<int> grpcCode(std::string_view name) {
  static const std::pair<std::string_view, int> kCodes[] = {
      {"cancelled", 1}, {"unknown", 2},   {"deadline_exceeded", 4}, {"resource_exhausted", 8},
      {"aborted", 10},  {"internal", 13}, {"unavailable", 14}};
  for (const auto& [n, code] : kCodes) {
    if (n == name) return code;
  }
  return std::nullopt;
}

}  // namespace

HealthCheckConfig readHealthCheck(ErrorSink& sink, MapReader& cluster) {
  HealthCheckConfig hc;
  hc.enabled = withOptionalMap(sink, cluster, "health_check", [&](MapReader& m) {
    hc.path = m.string("path");
    hc.interval = m.duration("interval");
    hc.timeout = m.duration("timeout");
    hc.healthy_threshold = m.uint("healthy_threshold");
    hc.unhealthy_threshold = m.uint("unhealthy_threshold");
    if (!hc.path.empty() && hc.path.front() != '/') {
      sink.error(m.markOf("path"), "'clusters[].health_check.path' must start with '/'");
    }
    requirePositive(sink, m, "interval", hc.interval);
    requirePositive(sink, m, "timeout", hc.timeout);
    if (hc.healthy_threshold == 0 || hc.unhealthy_threshold == 0) {
      sink.error(m.mark(), "health_check thresholds must be at least 1");
    }
  });
  return hc;
}

OutlierDetectionConfig readOutlierDetection(ErrorSink& sink, MapReader& cluster) {
  OutlierDetectionConfig od;
  od.enabled = withOptionalMap(sink, cluster, "outlier_detection", [&](MapReader& m) {
    policy::OutlierConfig& p = od.policy;
    p.consecutive_failures = m.uint("consecutive_failures");
    p.success_rate = m.boolean("success_rate");
    p.latency = m.boolean("latency");
    p.latency_factor = m.number("latency_factor");
    p.min_requests = m.uint("min_requests");
    p.interval = m.duration("interval");
    p.base_ejection = m.duration("base_ejection");
    p.max_ejection = m.duration("max_ejection");
    p.max_ejection_percent = m.uint("max_ejection_percent");
    od.shadow = m.boolean("shadow");
    requirePositive(sink, m, "interval", p.interval);
    requirePositive(sink, m, "base_ejection", p.base_ejection);
    if (p.max_ejection < p.base_ejection) {
      sink.error(m.markOf("max_ejection"), "'max_ejection' must be at least 'base_ejection'");
    }
    if (p.max_ejection_percent > 100) {
      sink.error(m.markOf("max_ejection_percent"), "'max_ejection_percent' must be 0..100");
    }
    if (p.latency_factor < 1) {
      sink.error(m.markOf("latency_factor"), "'latency_factor' must be at least 1");
    }
  });
  return od;
}

RetryConfig readRetry(ErrorSink& sink, MapReader& route) {
  RetryConfig r;
  r.enabled = withOptionalMap(sink, route, "retry", [&](MapReader& m) {
    r.attempts = m.uint("attempts");
    if (r.attempts < 1 || r.attempts > 10) {
      sink.error(m.markOf("attempts"), "'routes[].retry.attempts' must be 1..10");
    }
    for (const std::string& cond : m.stringList("on")) {
      if (cond == "5xx") {
        r.on.server_error = true;
      } else if (cond == "gateway_error") {
        r.on.gateway_error = true;
      } else if (cond == "reset") {
        r.on.reset = true;
      } else if (cond == "connect_failure") {
        r.on.connect_failure = true;
      } else if (cond == "timeout") {
        r.on.timeout = true;
      } else if (cond.rfind("grpc:", 0) == 0 && grpcCode(cond.substr(5))) {
        r.on.grpc_codes.push_back(*grpcCode(cond.substr(5)));
      } else {
        int status = 0;
        auto [end, ec] = std::from_chars(cond.data(), cond.data() + cond.size(), status);
        if (ec == std::errc() && end == cond.data() + cond.size() && status >= 400 &&
            status < 600) {
          r.on.statuses.push_back(status);
        } else {
          sink.error(m.markOf("on"), "unknown retry condition '" + cond +
                                         "' (use 5xx, gateway_error, reset, connect_failure, "
                                         "timeout, a 4xx/5xx status or grpc:<code>)");
        }
      }
    }
    r.methods = m.stringList("methods");
    r.buffer_limit = m.size("buffer_limit");
    withMap(sink, m, "budget", [&](MapReader& b) {
      r.budget.ratio = b.number("ratio");
      r.budget.min_per_second = b.number("min_per_second");
      r.budget.ttl = b.duration("ttl");
      requireRange(sink, b, "ratio", r.budget.ratio, 0, 10);
      requireRange(sink, b, "min_per_second", r.budget.min_per_second, 0, 1e6);
      requirePositive(sink, b, "ttl", r.budget.ttl);
    });
    withMap(sink, m, "backoff", [&](MapReader& b) {
      r.backoff.base = b.duration("base");
      r.backoff.max = b.duration("max");
      requirePositive(sink, b, "base", r.backoff.base);
      if (r.backoff.max < r.backoff.base) {
        sink.error(b.markOf("max"), "'routes[].retry.backoff.max' must be at least base");
      }
    });
  });
  return r;
}

HedgeConfig readHedge(ErrorSink& sink, MapReader& route) {
  HedgeConfig h;
  h.enabled = withOptionalMap(sink, route, "hedge", [&](MapReader& m) {
    policy::HedgePolicyConfig& p = h.policy;
    YAML::Node after = m.get("after");
    if (after.IsScalar() && after.Scalar() == "learned") {
      p.learned = true;
    } else if (auto d = readDuration(sink, after, "routes[].hedge.after")) {
      p.learned = false;
      p.fixed_after = *d;
      if (*d <= Duration::zero())
        sink.error(after.Mark(), "'routes[].hedge.after' must be positive");
    }
    p.quantile = m.number("quantile");
    p.min = m.duration("min");
    p.max = m.duration("max");
    p.max_extra = static_cast<int>(m.uint("max_extra"));
    p.budget_ratio = m.number("budget_ratio");
    p.budget_min_per_second = m.number("budget_min_per_second");
    h.shadow = m.boolean("shadow");
    requireRange(sink, m, "quantile", p.quantile, 0.5, 0.9999);
    if (p.min <= Duration::zero() || p.min > p.max) {
      sink.error(m.markOf("min"), "'routes[].hedge' needs 0 < min <= max");
    }
    if (p.max_extra < 1 || p.max_extra > 3) {
      sink.error(m.markOf("max_extra"), "'routes[].hedge.max_extra' must be 1..3");
    }
    requireRange(sink, m, "budget_ratio", p.budget_ratio, 0, 1);
  });
  return h;
}

SheddingConfig readShedding(ErrorSink& sink, MapReader& route) {
  SheddingConfig s;
  s.enabled = withOptionalMap(sink, route, "load_shedding", [&](MapReader& m) {
    const std::string mode = m.string("mode");
    if (mode == "adaptive") {
      s.adaptive = true;
    } else if (mode == "fixed") {
      s.adaptive = false;
    } else {
      sink.error(m.markOf("mode"), "'routes[].load_shedding.mode' must be adaptive or fixed");
    }
    policy::ConcurrencyLimitConfig& limit = s.admission.limit;
    limit.min_limit = m.uint("min_limit");
    limit.max_limit = m.uint("max_limit");
    limit.initial_limit = m.uint("initial_limit");
    s.admission.max_queue = m.uint("max_queue");
    s.admission.max_queue_wait = m.duration("max_queue_wait");
    s.admission.shadow = m.boolean("shadow");
    s.priority_header = m.string("priority_header");
    for (char& c : s.priority_header)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // A fixed limit is max_limit; min_limit only bounds an adaptive one.
    if (!s.adaptive) limit.min_limit = limit.initial_limit = limit.max_limit;
    if (limit.min_limit < 1 || limit.min_limit > limit.max_limit) {
      sink.error(m.markOf("min_limit"),
                 "'routes[].load_shedding' needs 1 <= min_limit <= max_limit");
    }
    if (limit.min_limit <= limit.max_limit) {
      limit.initial_limit = std::clamp(limit.initial_limit, limit.min_limit, limit.max_limit);
    }
    // An unset queue bound follows max_limit: bursts wait (at most max_queue_wait) rather
    // than being refused while the limit is low; max_queue_wait is what bounds the delay.
    if (s.admission.max_queue == 0) s.admission.max_queue = limit.max_limit;
    // Queueing backends (one batch at a time) double their latency well before they are
    // saturated; a tighter tolerance would shed at moderate load.
    limit.tolerance = 2.0;
    requirePositive(sink, m, "max_queue_wait", s.admission.max_queue_wait);
  });
  return s;
}

BatchingConfig readBatching(ErrorSink& sink, MapReader& route) {
  BatchingConfig b;
  b.enabled = withOptionalMap(sink, route, "batching", [&](MapReader& m) {
    b.format = m.string("format");
    if (!b.format.empty() && !batching::parseFormat(b.format)) {
      sink.error(m.markOf("format"),
                 "'routes[].batching.format' must be kserve_v2, tfserving or "
                 "openai_embeddings, not '" +
                     b.format + "'");
    }
    const std::string mode = m.string("mode");
    if (mode == "learned" || mode == "static") {
      b.learned = mode == "learned";
    } else {
      sink.error(m.markOf("mode"), "'routes[].batching.mode' must be learned or static");
    }
    b.window.max_batch_size = m.uint("max_batch_size");
    if (b.window.max_batch_size < 1 || b.window.max_batch_size > 4096) {
      sink.error(m.markOf("max_batch_size"), "'routes[].batching.max_batch_size' must be 1..4096");
    }
    YAML::Node delay = m.get("max_delay");
    if (delay.IsScalar() && delay.Scalar() == "learned") {
      b.window.max_delay.reset();
    } else if (auto d = readDuration(sink, delay, "routes[].batching.max_delay")) {
      b.window.max_delay = *d;
    }
    if (!b.learned && !b.window.max_delay) {
      sink.error(m.markOf("max_delay"), "static batching needs a fixed max_delay");
    }
    b.window.slo = m.duration("slo");
    requirePositive(sink, m, "slo", b.window.slo);
    b.max_queue = m.uint("max_queue");
    if (b.max_queue == 0)
      sink.error(m.markOf("max_queue"), "'routes[].batching.max_queue' must be at least 1");
    b.isolate_failures = m.boolean("isolate_failures");
  });
  return b;
}

ListenerTlsConfig readListenerTls(ErrorSink& sink, MapReader& listener) {
  ListenerTlsConfig t;
  t.enabled = withOptionalMap(sink, listener, "tls", [&](MapReader& m) {
    t.files.cert_file = m.string("cert");
    t.files.key_file = m.string("key");
    t.files.client_ca_file = m.optionalString("client_ca").value_or("");
    t.identity_header = m.string("identity_header");
    for (char& c : t.identity_header)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (t.files.cert_file.empty() || t.files.key_file.empty() || !sink.readFiles()) return;
    auto result = tls::TlsContext::makeServer(t.files);
    if (!result) {
      sink.error(m.mark(), "listener tls: " + result.error);
      return;
    }
    t.context = result.context;
  });
  return t;
}

ClusterTlsConfig readClusterTls(ErrorSink& sink, MapReader& cluster, bool h2) {
  ClusterTlsConfig t;
  t.enabled = withOptionalMap(sink, cluster, "tls", [&](MapReader& m) {
    t.files.ca_file = m.string("ca");
    t.files.cert_file = m.optionalString("cert").value_or("");
    t.files.key_file = m.optionalString("key").value_or("");
    t.files.sni = m.optionalString("sni").value_or("");
    if (t.files.cert_file.empty() != t.files.key_file.empty()) {
      sink.error(m.mark(), "cluster tls: 'cert' and 'key' go together");
      return;
    }
    t.files.alpn = h2 ? std::vector<std::string>{"h2"} : std::vector<std::string>{"http/1.1"};
    if (t.files.ca_file.empty() || !sink.readFiles()) return;
    auto result = tls::TlsContext::makeClient(t.files);
    if (!result) {
      sink.error(m.mark(), "cluster tls: " + result.error);
      return;
    }
    t.context = result.context;
  });
  return t;
}

http::Http2Limits readHttp2Limits(ErrorSink& sink, MapReader& parent) {
  http::Http2Limits limits;
  withMap(sink, parent, "http2", [&](MapReader& m) {
    limits.max_concurrent_streams = m.uint("max_concurrent_streams");
    const uint64_t stream_window = m.size("initial_stream_window");
    const uint64_t connection_window = m.size("connection_window");
    const uint64_t header_list = m.size("max_header_list_bytes");
    // RFC 9113: windows are at most 2^31 - 1.
    if (stream_window < 65535 || stream_window > 0x7fffffff) {
      sink.error(m.markOf("initial_stream_window"), "'initial_stream_window' must be 64KiB..2GiB");
    }
    if (connection_window < 65535 || connection_window > 0x7fffffff) {
      sink.error(m.markOf("connection_window"), "'connection_window' must be 64KiB..2GiB");
    }
    if (header_list < 1024 || header_list > 16 * 1024 * 1024) {
      sink.error(m.markOf("max_header_list_bytes"), "'max_header_list_bytes' must be 1KiB..16MiB");
    }
    if (limits.max_concurrent_streams == 0) {
      sink.error(m.markOf("max_concurrent_streams"), "'max_concurrent_streams' must be at least 1");
    }
    limits.initial_stream_window =
        static_cast<uint32_t>(std::min<uint64_t>(stream_window, 0x7fffffff));
    limits.connection_window =
        static_cast<uint32_t>(std::min<uint64_t>(connection_window, 0x7fffffff));
    limits.max_header_list_bytes =
        static_cast<uint32_t>(std::min<uint64_t>(header_list, 16u << 20));
  });
  return limits;
}

}  // namespace rampart::config
