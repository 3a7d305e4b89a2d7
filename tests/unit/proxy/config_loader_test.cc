#include "proxy/config/config_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "proxy/config/schema.h"
#include "proxy/config/units.h"

namespace rampart::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string repoRoot() {
  if (const char* dir = std::getenv("RAMPART_SOURCE_DIR")) return dir;
  const std::string file = __FILE__;
  const auto at = file.rfind("/tests/unit/proxy/");
  return at == std::string::npos ? "." : file.substr(0, at);
}

// The smallest valid config; tests append to or replace parts of it.
const char* kListeners =
    "listeners:\n"
    "  - name: in\n"
    "    address: 127.0.0.1:15001\n";
const char* kClusters =
    "clusters:\n"
    "  - name: c\n"
    "    endpoints: [127.0.0.1:8001]\n";
const char* kRoutes =
    "routes:\n"
    "  - name: r\n"
    "    cluster: c\n";

std::string minimal() {
  return std::string(kListeners) + kClusters + kRoutes;
}

LoadResult load(const std::string& yaml) {
  return loadConfigString(yaml, "t.yaml");
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += "\n  " + e;
  return out;
}

// Expects `yaml` to be rejected with an error "t.yaml:line:column: ..." containing `text`.
void expectError(const std::string& yaml, int line, int column, const std::string& text) {
  const LoadResult r = load(yaml);
  EXPECT_EQ(r.config, nullptr);
  const std::string where = "t.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  bool found = false;
  for (const auto& e : r.errors) {
    found = found || (e.rfind(where, 0) == 0 && e.find(text) != std::string::npos);
  }
  EXPECT_TRUE(found) << "want " << where << "..." << text << "...\ngot:" << joined(r.errors)
                     << "\nfor:\n"
                     << yaml;
}

// Loads a valid config or fails the test with its errors.
ConfigPtr loadOk(const std::string& yaml) {
  const LoadResult r = load(yaml);
  EXPECT_TRUE(r.errors.empty()) << joined(r.errors) << "\nfor:\n" << yaml;
  return r.config;
}

Duration schemaDuration(const char* path) {
  return parseDuration(findSchemaKey(path)->default_value).value();
}
uint64_t schemaNumber(const char* path) {
  const SchemaKey* key = findSchemaKey(path);
  if (auto size = parseSize(key->default_value)) return *size;
  return std::stoull(std::string(key->default_value));
}

// ---------------------------------------------------------------- files that must load

TEST(ConfigLoader, DefaultConfigFileLoads) {
  const LoadResult r = loadConfigFile(repoRoot() + "/configs/rampart.yaml");
  ASSERT_TRUE(r.errors.empty()) << joined(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.source, repoRoot() + "/configs/rampart.yaml");
  EXPECT_EQ(c.admin.address.toString(), "127.0.0.1:9901");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address.port(), 15001);
  ASSERT_EQ(c.clusters.size(), 1u);
  EXPECT_EQ(c.clusters[0].endpoints[0].text, "127.0.0.1:8001");
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].match.methods, std::vector<std::string>{"POST"});
  EXPECT_EQ(c.routes[0].timeout.fixed, seconds(10));
}

TEST(ConfigLoader, MissingFileIsReported) {
  const LoadResult r = loadConfigFile("/nonexistent/rampart.yaml");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "/nonexistent/rampart.yaml: cannot open the config file");
}

// ---------------------------------------------------------------- defaults

TEST(ConfigLoader, MinimalConfigGetsEveryDocumentedDefault) {
  const ConfigPtr c = loadOk(minimal());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->source, "t.yaml");
  EXPECT_EQ(c->admin.address.toString(), findSchemaKey("admin.address")->default_value);
  EXPECT_EQ(c->workers, std::max(1u, std::thread::hardware_concurrency()));  // 0 = CPU count
  EXPECT_EQ(c->drain_timeout, schemaDuration("drain_timeout"));
  EXPECT_EQ(c->log_level, findSchemaKey("log_level")->default_value);
  EXPECT_FALSE(c->access_log);

  EXPECT_EQ(c->limits.max_header_bytes, schemaNumber("limits.max_header_bytes"));
  EXPECT_EQ(c->limits.max_header_bytes, 64u * 1024);
  EXPECT_EQ(c->limits.max_body_bytes, schemaNumber("limits.max_body_bytes"));
  EXPECT_EQ(c->limits.header_timeout, schemaDuration("limits.header_timeout"));
  EXPECT_EQ(c->limits.idle_timeout, schemaDuration("limits.idle_timeout"));
  EXPECT_EQ(c->limits.max_connections, schemaNumber("limits.max_connections"));
  EXPECT_EQ(c->limits.max_requests_per_connection,
            schemaNumber("limits.max_requests_per_connection"));

  const ClusterConfig& cl = c->clusters.at(0);
  EXPECT_EQ(cl.protocol, UpstreamProtocol::Http1);
  EXPECT_EQ(findSchemaKey("clusters[].protocol")->default_value, "http1");
  EXPECT_EQ(cl.lb, LbPolicy::RoundRobin);
  EXPECT_EQ(findSchemaKey("clusters[].lb")->default_value, "round_robin");
  EXPECT_EQ(cl.connect_timeout, schemaDuration("clusters[].connect_timeout"));
  EXPECT_EQ(cl.max_connections_per_endpoint,
            schemaNumber("clusters[].max_connections_per_endpoint"));
  EXPECT_EQ(cl.max_pending_requests, schemaNumber("clusters[].max_pending_requests"));
  EXPECT_EQ(cl.upstream_idle_timeout, schemaDuration("clusters[].idle_timeout"));

  const RouteConfig& r = c->routes.at(0);
  EXPECT_FALSE(r.match.path_exact);
  EXPECT_FALSE(r.match.path_prefix);
  EXPECT_TRUE(r.match.methods.empty());
  EXPECT_TRUE(r.match.headers.empty());
  EXPECT_FALSE(r.match.host);
  ASSERT_EQ(r.clusters.size(), 1u);
  EXPECT_EQ(r.clusters[0].name, "c");
  EXPECT_EQ(r.clusters[0].cluster_index, 0u);
  EXPECT_FALSE(r.timeout.learned);
  EXPECT_EQ(r.timeout.fixed, schemaDuration("routes[].timeout"));
}

TEST(ConfigLoader, LearnedTimeoutTakesTheMapDefaults) {
  const ConfigPtr c = loadOk(minimal() + "    timeout: learned\n");
  ASSERT_TRUE(c);
  const TimeoutSpec& t = c->routes[0].timeout;
  EXPECT_TRUE(t.learned);
  EXPECT_DOUBLE_EQ(
      t.quantile,
      std::stod(std::string(findSchemaKey("routes[].timeout.quantile")->default_value)));
  EXPECT_DOUBLE_EQ(t.quantile, 0.99);
  EXPECT_DOUBLE_EQ(t.multiplier, 3.0);
  EXPECT_EQ(t.min, schemaDuration("routes[].timeout.min"));
  EXPECT_EQ(t.max, schemaDuration("routes[].timeout.max"));
  EXPECT_EQ(t.min, milliseconds(20));
}

TEST(ConfigLoader, PartialTimeoutMapFillsTheRest) {
  const ConfigPtr c = loadOk(minimal() + "    timeout: {quantile: 0.9, max: 2s}\n");
  ASSERT_TRUE(c);
  const TimeoutSpec& t = c->routes[0].timeout;
  EXPECT_TRUE(t.learned);
  EXPECT_DOUBLE_EQ(t.quantile, 0.9);
  EXPECT_DOUBLE_EQ(t.multiplier, 3.0);
  EXPECT_EQ(t.min, milliseconds(20));
  EXPECT_EQ(t.max, seconds(2));
}

TEST(ConfigLoader, ExplicitValuesAreRead) {
  const ConfigPtr c = loadOk(
      "admin: {address: '[::1]:9000'}\n"
      "workers: 3\n"
      "drain_timeout: 1.5s\n"
      "log_level: debug\n"
      "access_log: true\n"
      "limits: {max_header_bytes: 8KiB, max_body_bytes: 1MB, header_timeout: 250ms,\n"
      "         idle_timeout: 2m, max_connections: 7, max_requests_per_connection: 100}\n" +
      std::string(kListeners) +
      "clusters:\n"
      "  - name: a\n"
      "    protocol: h2\n"
      "    endpoints: [127.0.0.1:8001, '[::1]:8002']\n"
      "    lb: p2c_ewma\n"
      "    connect_timeout: 300ms\n"
      "    max_connections_per_endpoint: 4\n"
      "    max_pending_requests: 0\n"
      "    idle_timeout: 5s\n"
      "  - name: b\n"
      "    endpoints: [127.0.0.1:8003]\n"
      "    lb: least_request\n"
      "routes:\n"
      "  - name: r1\n"
      "    match: {path_exact: /x, methods: [GET, POST], headers: {X-Tenant: A}, host: Svc}\n"
      "    clusters: [{name: b, weight: 3}, {name: a}]\n"
      "    timeout: {quantile: 0.5, multiplier: 1, min: 1ms, max: 1ms}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->admin.address.toString(), "[::1]:9000");
  EXPECT_EQ(c->workers, 3u);
  EXPECT_EQ(c->drain_timeout, milliseconds(1500));
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_TRUE(c->access_log);
  EXPECT_EQ(c->limits.max_header_bytes, 8192u);
  EXPECT_EQ(c->limits.max_body_bytes, 1000000u);
  EXPECT_EQ(c->limits.header_timeout, milliseconds(250));
  EXPECT_EQ(c->limits.idle_timeout, seconds(120));
  EXPECT_EQ(c->limits.max_connections, 7u);
  EXPECT_EQ(c->limits.max_requests_per_connection, 100u);
  const ClusterConfig& a = c->clusters[0];
  EXPECT_EQ(a.protocol, UpstreamProtocol::H2);
  EXPECT_EQ(a.lb, LbPolicy::P2cEwma);
  ASSERT_EQ(a.endpoints.size(), 2u);
  EXPECT_EQ(a.endpoints[1].text, "[::1]:8002");
  EXPECT_EQ(a.endpoints[1].address.port(), 8002);
  EXPECT_EQ(a.connect_timeout, milliseconds(300));
  EXPECT_EQ(a.max_connections_per_endpoint, 4u);
  EXPECT_EQ(a.max_pending_requests, 0u);
  EXPECT_EQ(a.upstream_idle_timeout, seconds(5));
  EXPECT_EQ(c->clusters[1].lb, LbPolicy::LeastRequest);
  EXPECT_EQ(c->clusterIndex("b"), 1u);
  EXPECT_FALSE(c->clusterIndex("zz"));
  const RouteConfig& r = c->routes[0];
  EXPECT_EQ(r.match.path_exact, "/x");
  EXPECT_EQ(r.match.methods, (std::vector<std::string>{"GET", "POST"}));
  ASSERT_EQ(r.match.headers.size(), 1u);
  EXPECT_EQ(r.match.headers[0].name, "x-tenant");  // names lower-cased, values kept
  EXPECT_EQ(r.match.headers[0].value, "A");
  EXPECT_EQ(r.match.host, "Svc");
  ASSERT_EQ(r.clusters.size(), 2u);
  EXPECT_EQ(r.clusters[0].cluster_index, 1u);
  EXPECT_EQ(r.clusters[0].weight, 3u);
  EXPECT_EQ(r.clusters[1].cluster_index, 0u);
  EXPECT_EQ(r.clusters[1].weight, 1u);  // the schema default
  EXPECT_TRUE(r.timeout.learned);
  EXPECT_EQ(r.timeout.min, r.timeout.max);
}

TEST(ConfigLoader, PoliciesAreOffUnlessWritten) {
  const ConfigPtr c = loadOk(minimal());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->clusters[0].health_check.enabled);
  EXPECT_FALSE(c->clusters[0].outlier_detection.enabled);
  EXPECT_FALSE(c->routes[0].retry.enabled);
  EXPECT_FALSE(c->routes[0].hedge.enabled);
  EXPECT_FALSE(c->routes[0].load_shedding.enabled);
  EXPECT_EQ(c->deadline_header, findSchemaKey("deadline_header")->default_value);
}

TEST(ConfigLoader, EmptyPolicyMapsTurnPoliciesOnWithTheirDefaults) {
  const ConfigPtr c = loadOk(std::string(kListeners) + kClusters +
                             "    outlier_detection: {}\n"
                             "    health_check: {path: /ready}\n" +
                             kRoutes +
                             "    retry: {}\n"
                             "    hedge: {}\n"
                             "    load_shedding: {}\n");
  ASSERT_TRUE(c);
  const HealthCheckConfig& hc = c->clusters[0].health_check;
  EXPECT_TRUE(hc.enabled);
  EXPECT_EQ(hc.path, "/ready");
  EXPECT_EQ(hc.interval, schemaDuration("clusters[].health_check.interval"));
  EXPECT_EQ(hc.timeout, schemaDuration("clusters[].health_check.timeout"));
  EXPECT_EQ(hc.healthy_threshold, schemaNumber("clusters[].health_check.healthy_threshold"));
  EXPECT_EQ(hc.unhealthy_threshold, schemaNumber("clusters[].health_check.unhealthy_threshold"));

  const OutlierDetectionConfig& od = c->clusters[0].outlier_detection;
  EXPECT_TRUE(od.enabled);
  EXPECT_FALSE(od.shadow);
  EXPECT_EQ(od.policy.consecutive_failures,
            schemaNumber("clusters[].outlier_detection.consecutive_failures"));
  EXPECT_EQ(od.policy.base_ejection, schemaDuration("clusters[].outlier_detection.base_ejection"));
  EXPECT_EQ(od.policy.max_ejection, schemaDuration("clusters[].outlier_detection.max_ejection"));
  EXPECT_EQ(od.policy.max_ejection_percent,
            schemaNumber("clusters[].outlier_detection.max_ejection_percent"));

  const RetryConfig& r = c->routes[0].retry;
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.attempts, schemaNumber("routes[].retry.attempts"));
  // Default conditions: [5xx, reset, connect_failure, timeout].
  EXPECT_TRUE(r.on.server_error);
  EXPECT_FALSE(r.on.gateway_error);
  EXPECT_TRUE(r.on.reset);
  EXPECT_TRUE(r.on.connect_failure);
  EXPECT_TRUE(r.on.timeout);
  EXPECT_TRUE(r.methods.empty());  // idempotent methods only
  EXPECT_EQ(r.buffer_limit, schemaNumber("routes[].retry.buffer_limit"));
  EXPECT_DOUBLE_EQ(r.budget.ratio, 0.2);
  EXPECT_DOUBLE_EQ(r.budget.min_per_second, 10);
  EXPECT_EQ(r.budget.ttl, schemaDuration("routes[].retry.budget.ttl"));
  EXPECT_EQ(r.backoff.base, schemaDuration("routes[].retry.backoff.base"));
  EXPECT_EQ(r.backoff.max, schemaDuration("routes[].retry.backoff.max"));

  const HedgeConfig& h = c->routes[0].hedge;
  EXPECT_TRUE(h.enabled);
  EXPECT_TRUE(h.policy.learned);
  EXPECT_DOUBLE_EQ(h.policy.quantile, 0.95);
  EXPECT_EQ(h.policy.min, schemaDuration("routes[].hedge.min"));
  EXPECT_EQ(h.policy.max, schemaDuration("routes[].hedge.max"));
  EXPECT_EQ(h.policy.max_extra, 1);

  const SheddingConfig& sh = c->routes[0].load_shedding;
  EXPECT_TRUE(sh.enabled);
  EXPECT_TRUE(sh.adaptive);
  EXPECT_EQ(sh.admission.limit.min_limit, schemaNumber("routes[].load_shedding.min_limit"));
  EXPECT_EQ(sh.admission.limit.max_limit, schemaNumber("routes[].load_shedding.max_limit"));
  EXPECT_EQ(sh.admission.limit.initial_limit, schemaNumber("routes[].load_shedding.initial_limit"));
  EXPECT_EQ(sh.admission.max_queue_wait, schemaDuration("routes[].load_shedding.max_queue_wait"));
  EXPECT_EQ(sh.priority_header, "x-priority");
}

TEST(ConfigLoader, PolicyValuesAreRead) {
  const ConfigPtr c =
      loadOk(minimal() +
             "    retry:\n"
             "      attempts: 2\n"
             "      on: [gateway_error, 429, grpc:unavailable]\n"
             "      methods: [POST]\n"
             "    hedge: {after: 30ms, max_extra: 2}\n"
             "    load_shedding: {mode: fixed, max_limit: 16, priority_header: X-Prio}\n");
  ASSERT_TRUE(c);
  const RetryConfig& r = c->routes[0].retry;
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_FALSE(r.on.server_error);
  EXPECT_TRUE(r.on.gateway_error);
  EXPECT_EQ(r.on.statuses, std::vector<int>{429});
  EXPECT_EQ(r.on.grpc_codes, std::vector<int>{14});
  EXPECT_EQ(r.methods, std::vector<std::string>{"POST"});
  const HedgeConfig& h = c->routes[0].hedge;
  EXPECT_FALSE(h.policy.learned);
  EXPECT_EQ(h.policy.fixed_after, milliseconds(30));
  EXPECT_EQ(h.policy.max_extra, 2);
  const SheddingConfig& sh = c->routes[0].load_shedding;
  EXPECT_FALSE(sh.adaptive);
  // A fixed limit is the max limit from the start.
  EXPECT_EQ(sh.admission.limit.min_limit, 16u);
  EXPECT_EQ(sh.admission.limit.initial_limit, 16u);
  EXPECT_EQ(sh.priority_header, "x-prio");
}

// ---------------------------------------------------------------- unknown keys

TEST(ConfigLoaderErrors, UnknownKeyAtTheTop) {
  // The hint lists the keys allowed at that level, in schema order, and no deeper ones.
  expectError(minimal() + "listener: x\n", 10, 1,
              "unknown key 'listener' (allowed: admin, workers, drain_timeout, log_level, ");
  expectError(minimal() + "listener: x\n", 10, 1, ", limits, listeners, clusters, routes");
  const LoadResult r = load(minimal() + "listener: x\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].find("address"), std::string::npos) << r.errors[0];
}

TEST(ConfigLoaderErrors, UnknownKeyInNestedMaps) {
  expectError("admin:\n  adress: 127.0.0.1:1\n" + minimal(), 2, 3,
              "unknown key 'admin.adress' (allowed: address)");
  expectError("limits: {max_header_byte: 1KiB}\n" + minimal(), 1, 10,
              "unknown key 'limits.max_header_byte'");
}

TEST(ConfigLoaderErrors, UnknownKeyInListItems) {
  expectError("listeners:\n  - name: in\n    address: 127.0.0.1:15001\n    tsl: {}\n" +
                  std::string(kClusters) + kRoutes,
              4, 5, "unknown key 'listeners[].tsl' (allowed: name, address, tls, http2)");
  expectError(std::string(kListeners) + kClusters + "    lb_policy: p2c_ewma\n" + kRoutes, 7, 5,
              "unknown key 'clusters[].lb_policy'");
  expectError(minimal() + "    retries: 3\n", 10, 5, "unknown key 'routes[].retries'");
}

TEST(ConfigLoaderErrors, UnknownKeyInRouteMatchTimeoutAndWeightedClusters) {
  expectError(minimal() + "    match:\n      path_prefx: /v2\n", 11, 7,
              "unknown key 'routes[].match.path_prefx' (allowed: path_exact, path_prefix, "
              "methods, headers, host, client_identity)");
  expectError(minimal() + "    timeout:\n      quantil: 0.9\n", 11, 7,
              "unknown key 'routes[].timeout.quantil' (allowed: quantile, multiplier, min, max");
  expectError(std::string(kListeners) + kClusters +
                  "routes:\n  - name: r\n    clusters:\n      - {name: c, wieght: 2}\n",
              10, 19, "unknown key 'routes[].clusters[].wieght'");
}

TEST(ConfigLoaderErrors, DuplicateKeysInOneMap) {
  // YAML forbids them, and silently keeping one hides the operator's mistake.
  expectError(minimal() + "    timeout: 1s\n    timeout: 30s\n", 11, 5,
              "duplicate key 'routes[].timeout'");
  expectError("workers: 1\nworkers: 2\n" + minimal(), 2, 1, "duplicate key 'workers'");
}

// ---------------------------------------------------------------- wrong types

TEST(ConfigLoaderErrors, StringWhereAnIntegerIsNeeded) {
  expectError("workers: two\n" + minimal(), 1, 10, "'workers' must be a non-negative integer");
  expectError("workers: -1\n" + minimal(), 1, 10, "'workers' must be a non-negative integer");
  expectError("workers: 1.5\n" + minimal(), 1, 10, "'workers' must be a non-negative integer");
  expectError("limits: {max_connections: 5000000000}\n" + minimal(), 1, 27,
              "'limits.max_connections' must be a non-negative integer");
}

TEST(ConfigLoaderErrors, MapWhereAListIsNeeded) {
  expectError("listeners: {name: in}\n" + std::string(kClusters) + kRoutes, 1, 12,
              "'listeners' must be a list");
  expectError(minimal() + "    match: {methods: {GET: 1}}\n", 10, 22,
              "'routes[].match.methods' must be a list");
  expectError(std::string(kListeners) + "clusters:\n  - name: c\n    endpoints: {a: 1}\n" + kRoutes,
              6, 16, "'clusters[].endpoints' must be a list of host:port");
}

TEST(ConfigLoaderErrors, ListWhereAMapIsNeeded) {
  expectError("limits: [1, 2]\n" + minimal(), 1, 9, "'limits' must be a map");
  expectError("admin: [127.0.0.1:1]\n" + minimal(), 1, 8, "'admin' must be a map");
  expectError(minimal() + "    match: [/a]\n", 10, 12, "'routes[].match' must be a map");
  expectError(minimal() + "    match: {headers: [a, b]}\n", 10, 22,
              "'routes[].match.headers' must be a map of name: value");
  expectError(minimal() + "    timeout: [1s]\n", 10, 14,
              "'routes[].timeout' must be a duration, 'learned' or a map");
}

TEST(ConfigLoaderErrors, OtherTypeMismatches) {
  expectError("access_log: yes\n" + minimal(), 1, 13, "'access_log' must be true or false");
  expectError("log_level: [info]\n" + minimal(), 1, 12, "'log_level' must be a string");
  expectError("drain_timeout: {s: 1}\n" + minimal(), 1, 16,
              "'drain_timeout' must be a duration such as 250ms, 2s or 1m");
  expectError("listeners: [in]\n" + std::string(kClusters) + kRoutes, 1, 13,
              "each 'listeners' item must be a map");
  expectError(minimal() + "    match: {headers: {x-a: [1]}}\n", 10, 28,
              "header match values must be strings");
  expectError(minimal() + "    match: {methods: [[GET]]}\n", 10, 23,
              "'routes[].match.methods' items must be strings");
  expectError(minimal() + "    timeout: {quantile: high}\n", 10, 25,
              "'routes[].timeout.quantile' must be a number");
}

// ---------------------------------------------------------------- bad values

TEST(ConfigLoaderErrors, BadDurations) {
  expectError("drain_timeout: 10\n" + minimal(), 1, 16,
              "'drain_timeout': invalid duration '10' (use a number with us, ms, s, m or h)");
  expectError("limits: {header_timeout: 5 sec}\n" + minimal(), 1, 26,
              "'limits.header_timeout': invalid duration '5 sec'");
  expectError(minimal() + "    timeout: soon\n", 10, 14,
              "'routes[].timeout': invalid duration 'soon'");
  expectError(minimal() + "    timeout: {min: -1ms}\n", 10, 20,
              "'routes[].timeout.min': invalid duration '-1ms'");
}

TEST(ConfigLoaderErrors, BadSizes) {
  expectError("limits: {max_body_bytes: 64mb}\n" + minimal(), 1, 26,
              "'limits.max_body_bytes' must be a size such as 65536, 64KiB or 16MiB");
  expectError("limits: {max_body_bytes: 1.5}\n" + minimal(), 1, 26,
              "'limits.max_body_bytes' must be a size");
}

TEST(ConfigLoaderErrors, BadAddressesAndPorts) {
  expectError("admin: {address: 127.0.0.1}\n" + minimal(), 1, 18,
              "'admin.address': invalid address '127.0.0.1': expected host:port");
  expectError("admin: {address: '127.0.0.1:99999'}\n" + minimal(), 1, 18, "invalid port '99999'");
  expectError("admin: {address: ':80'}\n" + minimal(), 1, 18, "missing host");
  expectError(
      "listeners:\n  - name: in\n    address: 127.0.0.1:http\n" + std::string(kClusters) + kRoutes,
      3, 14, "'listeners[].address': invalid address '127.0.0.1:http': invalid port");
  expectError(
      std::string(kListeners) + "clusters:\n  - name: c\n    endpoints: [127.0.0.1:0]\n" + kRoutes,
      6, 17, "endpoint port must not be 0");
  expectError(std::string(kListeners) +
                  "clusters:\n  - name: c\n    endpoints: [127.0.0.1:1, '[::1']\n" + kRoutes,
              6, 30, "invalid endpoint '[::1': expected [ipv6]:port");
  expectError(
      std::string(kListeners) + "clusters:\n  - name: c\n    endpoints: [{a: 1}]\n" + kRoutes, 6,
      17, "invalid endpoint");
}

TEST(ConfigLoaderErrors, UnknownLbAndProtocol) {
  expectError(std::string(kListeners) + kClusters + "    lb: random\n" + kRoutes, 7, 9,
              "'clusters[].lb' must be round_robin, least_request or p2c_ewma, not 'random'");
  expectError(std::string(kListeners) + kClusters + "    protocol: http3\n" + kRoutes, 7, 15,
              "'clusters[].protocol' must be http1 or h2, not 'http3'");
  expectError(std::string(kListeners) + kClusters + "    protocol: HTTP1\n" + kRoutes, 7, 15,
              "must be http1 or h2");
}

TEST(ConfigLoaderErrors, OtherBadEnumsAndRanges) {
  expectError("log_level: verbose\n" + minimal(), 1, 12,
              "'log_level' must be debug, info, warn or error");
  expectError("workers: 257\n" + minimal(), 1, 10, "'workers' must be at most 256");
  expectError("limits: {max_header_bytes: 1023}\n" + minimal(), 1, 28,
              "'limits.max_header_bytes' must be 1KiB..16MiB");
  expectError("limits: {max_header_bytes: 17MiB}\n" + minimal(), 1, 28,
              "'limits.max_header_bytes' must be 1KiB..16MiB");
  expectError(minimal() + "    match: {methods: [get]}\n", 10, 22,
              "invalid method 'get' (use upper case)");
  EXPECT_TRUE(loadOk("workers: 256\nlimits: {max_header_bytes: 1KiB}\n" + minimal()));
}

// ---------------------------------------------------------------- references and names

TEST(ConfigLoaderErrors, DanglingClusterName) {
  expectError(std::string(kListeners) + kClusters + "routes:\n  - name: r\n    cluster: nope\n", 9,
              14, "route 'r' refers to unknown cluster 'nope'");
  expectError(std::string(kListeners) + kClusters +
                  "routes:\n  - name: r\n    clusters:\n      - {name: c, weight: 1}\n"
                  "      - {name: gone, weight: 1}\n",
              11, 16, "route 'r' refers to unknown cluster 'gone'");
}

TEST(ConfigLoaderErrors, DuplicateNames) {
  expectError(
      "listeners:\n  - {name: in, address: 127.0.0.1:1}\n"
      "  - {name: in, address: 127.0.0.1:2}\n" +
          std::string(kClusters) + kRoutes,
      3, 12, "duplicate listener 'in'");
  expectError(
      std::string(kListeners) + kClusters + "  - name: c\n    endpoints: [127.0.0.1:2]\n" + kRoutes,
      7, 11, "duplicate cluster 'c'");
  expectError(minimal() + "  - name: r\n    cluster: c\n", 10, 11, "duplicate route 'r'");
}

TEST(ConfigLoaderErrors, ClusterAndClustersAreExclusive) {
  expectError(std::string(kListeners) + kClusters +
                  "routes:\n  - name: r\n    cluster: c\n    clusters: [{name: c}]\n",
              8, 5, "route 'r' needs exactly one of 'cluster' or 'clusters'");
  expectError(std::string(kListeners) + kClusters + "routes:\n  - name: r\n", 8, 5,
              "route 'r' needs exactly one of 'cluster' or 'clusters'");
  expectError(std::string(kListeners) + kClusters +
                  "routes:\n  - name: r\n    clusters: [{name: c, weight: 0}]\n",
              9, 34, "cluster weight must be at least 1");
}

// ---------------------------------------------------------------- route match and timeout

TEST(ConfigLoaderErrors, RoutePathsMustStartWithSlash) {
  expectError(minimal() + "    match:\n      path_prefix: v2/models\n", 11, 7,
              "route paths must start with '/': 'v2/models'");
  expectError(minimal() + "    match:\n      path_exact: ''\n", 11, 7,
              "route paths must start with '/': ''");
  expectError(minimal() + "    match:\n      path_exact: /a\n      path_prefix: /b\n", 11, 7,
              "a route match takes path_exact or path_prefix, not both");
}

TEST(ConfigLoaderErrors, TimeoutMapOutOfRange) {
  const std::string base = minimal() + "    timeout:\n";
  expectError(base + "      quantile: 1\n", 11, 17,
              "'routes[].timeout.quantile' must be between 0 and 1");
  expectError(base + "      quantile: 1.5\n", 11, 17, "must be between 0 and 1");
  expectError(base + "      quantile: 0\n", 11, 17, "must be between 0 and 1");
  expectError(base + "      multiplier: 0.5\n", 11, 19,
              "'routes[].timeout.multiplier' must be at least 1");
  expectError(base + "      min: 2s\n      max: 1s\n", 11, 12,
              "'routes[].timeout' needs 0 < min <= max");
  expectError(base + "      min: 0s\n", 11, 12, "needs 0 < min <= max");
  EXPECT_TRUE(loadOk(base + "      quantile: 0.5\n      multiplier: 1\n      min: 1s\n      "
                            "max: 1s\n"));
}

TEST(ConfigLoaderErrors, FixedTimeoutMustBePositive) {
  expectError(minimal() + "    timeout: 0s\n", 10, 14, "'routes[].timeout' must be positive");
  expectError(minimal() + "    timeout: 0\n", 10, 14, "'routes[].timeout' must be positive");
}

// ---------------------------------------------------------------- zero where positive is needed

TEST(ConfigLoaderErrors, ZeroValuesWherePositiveIsNeeded) {
  expectError("limits: {header_timeout: 0s}\n" + minimal(), 1, 26,
              "'limits.header_timeout' must be positive");
  expectError("limits: {idle_timeout: 0ms}\n" + minimal(), 1, 24,
              "'limits.idle_timeout' must be positive");
  expectError("limits: {max_connections: 0}\n" + minimal(), 1, 27,
              "'limits.max_connections' must be at least 1");
  expectError("limits: {max_header_bytes: 0}\n" + minimal(), 1, 28, "must be 1KiB..16MiB");
  expectError(std::string(kListeners) + kClusters + "    connect_timeout: 0s\n" + kRoutes, 7, 22,
              "'clusters[].connect_timeout' must be positive");
  expectError(
      std::string(kListeners) + kClusters + "    max_connections_per_endpoint: 0\n" + kRoutes, 7,
      35, "'clusters[].max_connections_per_endpoint' must be at least 1");
  expectError("listeners: []\n" + std::string(kClusters) + kRoutes, 1, 12,
              "at least one listener is needed");
  expectError(std::string(kListeners) + "clusters:\n  - name: c\n    endpoints: []\n" + kRoutes, 6,
              16, "cluster 'c' has no endpoints");
}

TEST(ConfigLoaderErrors, BadPolicyValues) {
  const std::string route = minimal();
  expectError(route + "    retry: {attempts: 0}\n", 10, 23,
              "'routes[].retry.attempts' must be 1..10");
  expectError(route + "    retry: {attempts: 11}\n", 10, 23, "must be 1..10");
  expectError(route + "    retry: {on: [5xx, sometimes]}\n", 10, 17,
              "unknown retry condition 'sometimes'");
  expectError(route + "    retry: {on: [200]}\n", 10, 17, "unknown retry condition '200'");
  expectError(route + "    retry: {on: [grpc:bogus]}\n", 10, 17,
              "unknown retry condition 'grpc:bogus'");
  expectError(route + "    retry: {backoff: {base: 100ms, max: 10ms}}\n", 10, 41,
              "'routes[].retry.backoff.max' must be at least base");
  expectError(route + "    retry: {budget: {ttl: 0s}}\n", 10, 27,
              "'routes[].retry.budget.ttl' must be positive");
  expectError(route + "    retry: {budget: {ratio: 11}}\n", 10, 29,
              "'routes[].retry.budget.ratio' must be between");
  expectError(route + "    hedge: {after: 0ms}\n", 10, 20,
              "'routes[].hedge.after' must be positive");
  expectError(route + "    hedge: {after: soon}\n", 10, 20,
              "'routes[].hedge.after': invalid duration 'soon'");
  expectError(route + "    hedge: {quantile: 0.3}\n", 10, 23,
              "'routes[].hedge.quantile' must be between");
  expectError(route + "    hedge: {max_extra: 4}\n", 10, 24,
              "'routes[].hedge.max_extra' must be 1..3");
  expectError(route + "    hedge: {min: 2s, max: 1s}\n", 10, 18,
              "'routes[].hedge' needs 0 < min <= max");
  expectError(route + "    load_shedding: {mode: smart}\n", 10, 27,
              "'routes[].load_shedding.mode' must be adaptive or fixed");
  expectError(route + "    load_shedding: {min_limit: 10, max_limit: 5}\n", 10, 32,
              "'routes[].load_shedding' needs 1 <= min_limit <= max_limit");
  expectError(route + "    load_shedding: {max_queue_wait: 0s}\n", 10, 37,
              "'routes[].load_shedding.max_queue_wait' must be positive");
  expectError(route + "    retry: [3]\n", 10, 12, "'routes[].retry' must be a map");
  expectError(route + "    retry: {attemps: 3}\n", 10, 13, "unknown key 'routes[].retry.attemps'");
}

TEST(ConfigLoaderErrors, BadClusterPolicyValues) {
  const std::string head = std::string(kListeners) + kClusters;
  expectError(head + "    health_check: {interval: 1s}\n" + kRoutes, 7, 19,
              "missing required key 'clusters[].health_check.path'");
  expectError(head + "    health_check: {path: ready}\n" + kRoutes, 7, 26,
              "'clusters[].health_check.path' must start with '/'");
  expectError(head + "    health_check: {path: /r, healthy_threshold: 0}\n" + kRoutes, 7, 19,
              "health_check thresholds must be at least 1");
  expectError(head + "    health_check: {path: /r, timeout: 0s}\n" + kRoutes, 7, 39,
              "'clusters[].health_check.timeout' must be positive");
  expectError(head + "    outlier_detection: {max_ejection_percent: 101}\n" + kRoutes, 7, 47,
              "'max_ejection_percent' must be 0..100");
  expectError(head + "    outlier_detection: {latency_factor: 0.5}\n" + kRoutes, 7, 41,
              "'latency_factor' must be at least 1");
  expectError(head + "    outlier_detection: {base_ejection: 30s, max_ejection: 10s}\n" + kRoutes,
              7, 59, "'max_ejection' must be at least 'base_ejection'");
  expectError(head + "    outlier_detection: {shadow: maybe}\n" + kRoutes, 7, 33,
              "'clusters[].outlier_detection.shadow' must be true or false");
}

// ---------------------------------------------------------------- syntax and required keys

TEST(ConfigLoaderErrors, InvalidYamlSyntax) {
  expectError("listeners: [a, b\n", 2, 1, "invalid YAML");
  expectError(minimal() + "  bad: [indent\n", 10, 3, "invalid YAML");
  expectError("a: b: c\n", 1, 5, "invalid YAML");
  expectError("routes: {a: 1\n", 2, 1, "invalid YAML");
}

TEST(ConfigLoaderErrors, NotAMap) {
  // An empty file has no position to point at.
  EXPECT_EQ(load("").errors, std::vector<std::string>{"t.yaml: the config must be a YAML map"});
  expectError("- a\n- b\n", 1, 1, "the config must be a YAML map");
  expectError("just text\n", 1, 1, "the config must be a YAML map");
}

TEST(ConfigLoaderErrors, MissingRequiredKeys) {
  const LoadResult empty = load("workers: 1\n");
  EXPECT_EQ(empty.config, nullptr);
  EXPECT_EQ(empty.errors, (std::vector<std::string>{"t.yaml:1:1: missing required key 'listeners'",
                                                    "t.yaml:1:1: missing required key 'clusters'",
                                                    "t.yaml:1:1: missing required key 'routes'"}));
  expectError("listeners:\n  - name: in\n" + std::string(kClusters) + kRoutes, 2, 5,
              "missing required key 'listeners[].address'");
  expectError(std::string(kListeners) + "clusters:\n  - name: c\n" + kRoutes, 5, 5,
              "missing required key 'clusters[].endpoints'");
  expectError(std::string(kListeners) + kClusters + "routes:\n  - cluster: c\n", 8, 5,
              "missing required key 'routes[].name'");
  expectError(
      std::string(kListeners) + kClusters + "routes:\n  - name: r\n    clusters: [{weight: 2}]\n",
      9, 16, "missing required key 'routes[].clusters[].name'");
  expectError("listeners:\n  - name: in\n    address:\n" + std::string(kClusters) + kRoutes, 2, 5,
              "missing required key 'listeners[].address'");
}

TEST(ConfigLoaderErrors, EveryProblemIsReportedInOneGo) {
  const LoadResult r = load(
      "workers: many\n"                                     // 1
      "limits: {idle_timeout: 0s, max_body_bytes: lots}\n"  // 2
      "listeners:\n"                                        // 3
      "  - name: in\n"                                      // 4
      "    address: nowhere\n"                              // 5
      "clusters:\n"                                         // 6
      "  - name: c\n"                                       // 7
      "    endpoints: [127.0.0.1:8001]\n"                   // 8
      "    lb: fastest\n"                                   // 9
      "routes:\n"                                           // 10
      "  - name: r\n"                                       // 11
      "    cluster: d\n"                                    // 12
      "    match: {path_prefix: v2}\n"                      // 13
      "    timeout: {quantile: 2}\n"                        // 14
      "    colour: blue\n");                                // 15
  EXPECT_EQ(r.config, nullptr);
  const std::vector<std::string> want = {
      "t.yaml:1:10: 'workers' must be a non-negative integer",
      "t.yaml:2:44: 'limits.max_body_bytes' must be a size",
      "t.yaml:2:24: 'limits.idle_timeout' must be positive",
      "t.yaml:5:14: 'listeners[].address': invalid address 'nowhere'",
      "t.yaml:9:9: 'clusters[].lb' must be round_robin",
      "t.yaml:13:12: route paths must start with '/'",
      "t.yaml:12:14: route 'r' refers to unknown cluster 'd'",
      "t.yaml:14:25: 'routes[].timeout.quantile' must be between 0 and 1",
      "t.yaml:15:5: unknown key 'routes[].colour'",
  };
  ASSERT_EQ(r.errors.size(), want.size()) << joined(r.errors);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.errors[i].rfind(want[i], 0), 0u) << "want " << want[i] << "\ngot " << r.errors[i];
  }
}

}  // namespace
}  // namespace rampart::config
