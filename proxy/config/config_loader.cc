#include "proxy/config/config_loader.h"

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "proxy/config/config_policies.h"
#include "proxy/config/yaml_reader.h"

namespace rampart::config {

std::optional<size_t> Config::clusterIndex(std::string_view name) const {
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (clusters[i].name == name) return i;
  }
  return std::nullopt;
}

namespace {

using namespace std::chrono_literals;

void checkUnique(ErrorSink& sink, std::set<std::string>& seen, const std::string& name,
                 const YAML::Mark& mark, const char* what) {
  if (name.empty()) return;
  if (!seen.insert(name).second)
    sink.error(mark, std::string("duplicate ") + what + " '" + name + "'");
}

LimitsConfig readLimits(ErrorSink& sink, MapReader& m) {
  LimitsConfig l{};
  l.max_header_bytes = m.size("max_header_bytes");
  l.max_body_bytes = m.size("max_body_bytes");
  l.header_timeout = m.duration("header_timeout");
  l.idle_timeout = m.duration("idle_timeout");
  l.max_connections = m.uint("max_connections");
  l.max_requests_per_connection = m.uint("max_requests_per_connection");
  if (l.max_header_bytes < 1024 || l.max_header_bytes > 16 * 1024 * 1024) {
    sink.error(m.markOf("max_header_bytes"), "'limits.max_header_bytes' must be 1KiB..16MiB");
  }
  if (l.header_timeout <= Duration::zero()) {
    sink.error(m.markOf("header_timeout"), "'limits.header_timeout' must be positive");
  }
  if (l.idle_timeout <= Duration::zero()) {
    sink.error(m.markOf("idle_timeout"), "'limits.idle_timeout' must be positive");
  }
  if (l.max_connections == 0) {
    sink.error(m.markOf("max_connections"), "'limits.max_connections' must be at least 1");
  }
  return l;
}

ClusterConfig readCluster(ErrorSink& sink, MapReader& m) {
  ClusterConfig c{};
  c.name = m.string("name");
  const std::string protocol = m.string("protocol");
  if (protocol == "http1") {
    c.protocol = UpstreamProtocol::Http1;
  } else if (protocol == "h2") {
    c.protocol = UpstreamProtocol::H2;
  } else {
    sink.error(m.markOf("protocol"),
               "'clusters[].protocol' must be http1 or h2, not '" + protocol + "'");
  }
  YAML::Node endpoints = m.get("endpoints");
  if (endpoints.IsDefined() && !endpoints.IsSequence()) {
    sink.error(endpoints.Mark(), "'clusters[].endpoints' must be a list of host:port");
  } else if (endpoints.IsDefined()) {
    for (const YAML::Node& e : endpoints) {
      std::string why;
      auto address = e.IsScalar() ? event::SocketAddress::parse(e.Scalar(), &why) : std::nullopt;
      if (!address) {
        sink.error(e.Mark(), "invalid endpoint" +
                                 (e.IsScalar() ? " '" + e.Scalar() + "'" : std::string()) +
                                 (why.empty() ? "" : ": " + why));
        continue;
      }
      if (address->port() == 0) sink.error(e.Mark(), "endpoint port must not be 0");
      c.endpoints.push_back({e.Scalar(), *address});
    }
    if (c.endpoints.empty() && endpoints.size() == 0) {
      sink.error(endpoints.Mark(), "cluster '" + c.name + "' has no endpoints");
    }
  }
  const std::string lb = m.string("lb");
  if (lb == "round_robin") {
    c.lb = LbPolicy::RoundRobin;
  } else if (lb == "least_request") {
    c.lb = LbPolicy::LeastRequest;
  } else if (lb == "p2c_ewma") {
    c.lb = LbPolicy::P2cEwma;
  } else {
    sink.error(m.markOf("lb"),
               "'clusters[].lb' must be round_robin, least_request or p2c_ewma, not '" + lb + "'");
  }
  c.connect_timeout = m.duration("connect_timeout");
  c.max_connections_per_endpoint = m.uint("max_connections_per_endpoint");
  c.max_pending_requests = m.uint("max_pending_requests");
  c.upstream_idle_timeout = m.duration("idle_timeout");
  c.health_check = readHealthCheck(sink, m);
  c.outlier_detection = readOutlierDetection(sink, m);
  c.tls = readClusterTls(sink, m, c.protocol == UpstreamProtocol::H2);
  c.http2 = readHttp2Limits(sink, m);
  if (c.connect_timeout <= Duration::zero()) {
    sink.error(m.markOf("connect_timeout"), "'clusters[].connect_timeout' must be positive");
  }
  if (c.max_connections_per_endpoint == 0) {
    sink.error(m.markOf("max_connections_per_endpoint"),
               "'clusters[].max_connections_per_endpoint' must be at least 1");
  }
  return c;
}

TimeoutSpec readTimeout(ErrorSink& sink, MapReader& route) {
  TimeoutSpec t{false, false, 15s, 0.99, 3.0, 20ms, 15s};
  YAML::Node n = route.get("timeout");
  if (n.IsScalar() && n.Scalar() == "learned") {
    t.learned = true;
    // Defaults of the map form apply.
    MapReader defaults(sink, YAML::Node(YAML::NodeType::Map), route.pathOf("timeout"));
    t.quantile = defaults.number("quantile");
    t.multiplier = defaults.number("multiplier");
    t.min = defaults.duration("min");
    t.max = defaults.duration("max");
    return t;
  }
  if (n.IsScalar()) {
    if (auto d = readDuration(sink, n, "routes[].timeout")) {
      t.fixed = *d;
      if (*d <= Duration::zero()) sink.error(n.Mark(), "'routes[].timeout' must be positive");
    }
    return t;
  }
  if (n.IsMap()) {
    MapReader m(sink, n, route.pathOf("timeout"));
    t.learned = true;
    t.quantile = m.number("quantile");
    t.multiplier = m.number("multiplier");
    t.min = m.duration("min");
    t.max = m.duration("max");
    t.shadow = m.boolean("shadow");
    m.reportUnknownKeys();
    if (!(t.quantile > 0 && t.quantile < 1)) {
      sink.error(m.markOf("quantile"), "'routes[].timeout.quantile' must be between 0 and 1");
    }
    if (t.multiplier < 1) {
      sink.error(m.markOf("multiplier"), "'routes[].timeout.multiplier' must be at least 1");
    }
    if (t.min <= Duration::zero() || t.min > t.max) {
      sink.error(m.markOf("min"), "'routes[].timeout' needs 0 < min <= max");
    }
    return t;
  }
  sink.error(n.Mark(), "'routes[].timeout' must be a duration, 'learned' or a map");
  return t;
}

RouteMatch readMatch(ErrorSink& sink, MapReader& m) {
  RouteMatch match;
  match.path_exact = m.optionalString("path_exact");
  match.path_prefix = m.optionalString("path_prefix");
  for (const auto* path : {&match.path_exact, &match.path_prefix}) {
    if (*path && (path->value().empty() || path->value().front() != '/')) {
      sink.error(m.mark(), "route paths must start with '/': '" + path->value() + "'");
    }
  }
  if (match.path_exact && match.path_prefix) {
    sink.error(m.mark(), "a route match takes path_exact or path_prefix, not both");
  }
  match.methods = m.stringList("methods");
  for (const std::string& method : match.methods) {
    bool token = !method.empty();
    for (char c : method) token = token && c >= 'A' && c <= 'Z';
    if (!token) sink.error(m.markOf("methods"), "invalid method '" + method + "' (use upper case)");
  }
  YAML::Node headers = m.get("headers");
  if (headers.IsDefined() && !headers.IsNull()) {
    if (!headers.IsMap()) {
      sink.error(headers.Mark(), "'routes[].match.headers' must be a map of name: value");
    } else {
      for (const auto& kv : headers) {
        if (!kv.second.IsScalar()) {
          sink.error(kv.second.Mark(), "header match values must be strings");
          continue;
        }
        std::string name = kv.first.Scalar();
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        match.headers.push_back({name, kv.second.Scalar()});
      }
    }
  }
  match.host = m.optionalString("host");
  match.client_identity = m.optionalString("client_identity");
  return match;
}

RouteConfig readRoute(ErrorSink& sink, MapReader& m, const std::vector<ClusterConfig>& clusters) {
  RouteConfig r{};
  r.name = m.string("name");
  withMap(sink, m, "match", [&](MapReader& mm) { r.match = readMatch(sink, mm); });
  auto resolve = [&](const std::string& name, const YAML::Mark& mark) -> size_t {
    for (size_t i = 0; i < clusters.size(); ++i) {
      if (clusters[i].name == name) return i;
    }
    sink.error(mark, "route '" + r.name + "' refers to unknown cluster '" + name + "'");
    return 0;
  };
  const bool single = m.has("cluster");
  const bool weighted = m.has("clusters");
  if (single == weighted) {
    sink.error(m.mark(), "route '" + r.name + "' needs exactly one of 'cluster' or 'clusters'");
  }
  if (single) {
    const std::string name = m.string("cluster");
    r.clusters.push_back({name, 1, resolve(name, m.markOf("cluster"))});
  } else {
    m.get("cluster");  // mark as read so it is not reported as unknown
  }
  forEachMap(sink, m, "clusters", [&](MapReader& wc) {
    WeightedCluster w{};
    w.name = wc.string("name");
    w.weight = wc.uint("weight");
    w.cluster_index = resolve(w.name, wc.markOf("name"));
    if (w.weight == 0) sink.error(wc.markOf("weight"), "cluster weight must be at least 1");
    r.clusters.push_back(w);
  });
  r.timeout = readTimeout(sink, m);
  r.retry = readRetry(sink, m);
  r.hedge = readHedge(sink, m);
  r.load_shedding = readShedding(sink, m);
  r.batching = readBatching(sink, m);
  return r;
}

LoadResult load(const YAML::Node& root, ErrorSink& sink) {
  auto config = std::make_shared<Config>();
  config->source = sink.source();
  if (!root.IsMap()) {
    sink.error(root.Mark(), "the config must be a YAML map");
    return {nullptr, sink.errors()};
  }
  MapReader top(sink, root, "");
  withMap(sink, top, "admin", [&](MapReader& m) {
    if (auto a = m.address("address")) config->admin.address = *a;
  });
  config->workers = top.uint("workers");
  if (config->workers == 0) config->workers = std::max(1u, std::thread::hardware_concurrency());
  if (config->workers > 256) sink.error(top.markOf("workers"), "'workers' must be at most 256");
  config->drain_timeout = top.duration("drain_timeout");
  config->log_level = top.string("log_level");
  if (config->log_level != "debug" && config->log_level != "info" && config->log_level != "warn" &&
      config->log_level != "error") {
    sink.error(top.markOf("log_level"), "'log_level' must be debug, info, warn or error");
  }
  config->access_log = top.boolean("access_log");
  config->deadline_header = top.string("deadline_header");
  for (char& c : config->deadline_header)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  withMap(sink, top, "limits", [&](MapReader& m) { config->limits = readLimits(sink, m); });

  std::set<std::string> names;
  forEachMap(sink, top, "listeners", [&](MapReader& m) {
    ListenerConfig l;
    l.name = m.string("name");
    checkUnique(sink, names, l.name, m.markOf("name"), "listener");
    if (auto a = m.address("address")) l.address = *a;
    l.tls = readListenerTls(sink, m);
    l.http2 = readHttp2Limits(sink, m);
    config->listeners.push_back(std::move(l));
  });
  names.clear();
  forEachMap(sink, top, "clusters", [&](MapReader& m) {
    config->clusters.push_back(readCluster(sink, m));
    checkUnique(sink, names, config->clusters.back().name, m.markOf("name"), "cluster");
  });
  names.clear();
  forEachMap(sink, top, "routes", [&](MapReader& m) {
    config->routes.push_back(readRoute(sink, m, config->clusters));
    checkUnique(sink, names, config->routes.back().name, m.markOf("name"), "route");
  });
  if (top.has("listeners") && config->listeners.empty()) {
    sink.error(top.markOf("listeners"), "at least one listener is needed");
  }
  top.reportUnknownKeys();
  if (!sink.errors().empty()) return {nullptr, sink.errors()};
  return {config, {}};
}

}  // namespace

LoadResult loadConfigString(std::string_view yaml, const std::string& source, LoadOptions options) {
  ErrorSink sink(source, options.read_files);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    sink.error(e.mark, "invalid YAML: " + e.msg);
    return {nullptr, sink.errors()};
  }
  return load(root, sink);
}

LoadResult loadConfigFile(const std::string& path, LoadOptions options) {
  std::ifstream in(path);
  if (!in) return {nullptr, {path + ": cannot open the config file"}};
  std::stringstream text;
  text << in.rdbuf();
  return loadConfigString(text.str(), path, options);
}

}  // namespace rampart::config
