#include "proxy/router/route_table.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "policy/random.h"
#include "proxy/config/config_loader.h"

namespace rampart::router {
namespace {

const char* kClusters = R"(
listeners: [{name: in, address: "127.0.0.1:15001"}]
clusters:
  - {name: a, endpoints: ["127.0.0.1:8001"]}
  - {name: b, endpoints: ["127.0.0.1:8002"]}
  - {name: c, endpoints: ["127.0.0.1:8003"]}
)";

// A route table over kClusters plus `routes` (a YAML list under "routes:").
RouteTable tableWith(const std::string& routes) {
  const std::string yaml = std::string(kClusters) + "routes:\n" + routes;
  config::LoadResult r = config::loadConfigString(yaml, "test.yaml");
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors.front());
  if (!r.config) throw std::runtime_error("test config does not load");
  return RouteTable(r.config);
}

http::RequestHead request(std::string method, std::string path, std::string authority = "svc") {
  http::RequestHead head;
  head.method = std::move(method);
  head.path = std::move(path);
  head.authority = std::move(authority);
  return head;
}

// The name of the route `head` matches, or "none".
std::string matched(const RouteTable& table, const http::RequestHead& head) {
  auto index = table.match(head);
  return index ? table.route(*index).name : "none";
}

TEST(RouteTable, ExactMatchesOnlyTheWholePath) {
  RouteTable t = tableWith(R"(
  - {name: exact, match: {path_exact: /v2/health}, cluster: a}
)");
  EXPECT_EQ(matched(t, request("GET", "/v2/health")), "exact");
  EXPECT_EQ(matched(t, request("GET", "/v2/health/ready")), "none");
  EXPECT_EQ(matched(t, request("GET", "/v2/healt")), "none");
  EXPECT_EQ(matched(t, request("GET", "/v2/health/")), "none");
  EXPECT_EQ(matched(t, request("GET", "/V2/health")), "none");
}

TEST(RouteTable, PrefixMatchesByteWise) {
  RouteTable t = tableWith(R"(
  - {name: models, match: {path_prefix: /v2/models}, cluster: a}
)");
  EXPECT_EQ(matched(t, request("POST", "/v2/models")), "models");
  EXPECT_EQ(matched(t, request("POST", "/v2/models/resnet/infer")), "models");
  // A plain string prefix, not a path-segment prefix.
  EXPECT_EQ(matched(t, request("POST", "/v2/modelsX")), "models");
  EXPECT_EQ(matched(t, request("POST", "/v2/model")), "none");
  EXPECT_EQ(matched(t, request("POST", "/v1/models")), "none");
  EXPECT_EQ(matched(t, request("POST", "")), "none");
}

TEST(RouteTable, QueryStringIsIgnoredForPaths) {
  RouteTable t = tableWith(R"(
  - {name: exact, match: {path_exact: /ready}, cluster: a}
  - {name: prefix, match: {path_prefix: /v2/models/x}, cluster: b}
)");
  EXPECT_EQ(matched(t, request("GET", "/ready?verbose=1")), "exact");
  EXPECT_EQ(matched(t, request("GET", "/ready?")), "exact");
  // The query is not part of the path, so it cannot complete a prefix.
  EXPECT_EQ(matched(t, request("GET", "/v2/models?/x")), "none");
  EXPECT_EQ(matched(t, request("GET", "/v2/models/x?q=1")), "prefix");
}

TEST(RouteTable, MethodsRestrictTheMatch) {
  RouteTable t = tableWith(R"(
  - {name: infer, match: {path_prefix: /, methods: [POST, PUT]}, cluster: a}
  - {name: rest, match: {path_prefix: /}, cluster: b}
)");
  EXPECT_EQ(matched(t, request("POST", "/x")), "infer");
  EXPECT_EQ(matched(t, request("PUT", "/x")), "infer");
  EXPECT_EQ(matched(t, request("GET", "/x")), "rest");
  // Methods are case-sensitive tokens (RFC 9110 §9.1).
  EXPECT_EQ(matched(t, request("post", "/x")), "rest");
}

TEST(RouteTable, EveryHeaderMustMatchExactly) {
  RouteTable t = tableWith(R"(
  - {name: tenant-a, match: {path_prefix: /, headers: {X-Tenant: a, x-tier: gold}}, cluster: a}
  - {name: rest, match: {path_prefix: /}, cluster: b}
)");
  http::RequestHead both = request("GET", "/");
  both.headers.add("x-tenant", "a");
  both.headers.add("X-Tier", "gold");
  EXPECT_EQ(matched(t, both), "tenant-a");

  http::RequestHead one = request("GET", "/");
  one.headers.add("x-tenant", "a");
  EXPECT_EQ(matched(t, one), "rest");

  http::RequestHead wrong_case = request("GET", "/");
  wrong_case.headers.add("x-tenant", "A");
  wrong_case.headers.add("x-tier", "gold");
  EXPECT_EQ(matched(t, wrong_case), "rest");

  http::RequestHead longer = request("GET", "/");
  longer.headers.add("x-tenant", "ab");
  longer.headers.add("x-tier", "gold");
  EXPECT_EQ(matched(t, longer), "rest");
}

TEST(RouteTable, HostIsCaseInsensitiveAndIgnoresThePort) {
  RouteTable t = tableWith(R"(
  - {name: named, match: {host: Models.Example.com}, cluster: a}
  - {name: v6, match: {host: "[::1]"}, cluster: b}
  - {name: rest, match: {path_prefix: /}, cluster: c}
)");
  EXPECT_EQ(matched(t, request("GET", "/", "models.example.com")), "named");
  EXPECT_EQ(matched(t, request("GET", "/", "MODELS.EXAMPLE.COM:8080")), "named");
  EXPECT_EQ(matched(t, request("GET", "/", "models.example.com:")), "named");
  EXPECT_EQ(matched(t, request("GET", "/", "models.example.co")), "rest");
  EXPECT_EQ(matched(t, request("GET", "/", "xmodels.example.com")), "rest");
  EXPECT_EQ(matched(t, request("GET", "/", "[::1]:15001")), "v6");
  EXPECT_EQ(matched(t, request("GET", "/", "[::1]")), "v6");
  EXPECT_EQ(matched(t, request("GET", "/", "")), "rest");
}

TEST(RouteTable, FirstMatchWinsInConfigOrder) {
  RouteTable t = tableWith(R"(
  - {name: first, match: {path_prefix: /v2}, cluster: a}
  - {name: second, match: {path_prefix: /v2/models}, cluster: b}
  - {name: catch-all, match: {path_prefix: /}, cluster: c}
)");
  EXPECT_EQ(matched(t, request("GET", "/v2/models/x")), "first");
  EXPECT_EQ(matched(t, request("GET", "/metrics")), "catch-all");
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.match(request("GET", "/v2")), 0u);
  EXPECT_EQ(t.match(request("GET", "/x")), 2u);
}

TEST(RouteTable, EmptyMatchMatchesEverything) {
  RouteTable t = tableWith(R"(
  - {name: any, cluster: a}
)");
  EXPECT_EQ(matched(t, request("DELETE", "/anything?x", "whatever:1")), "any");
  EXPECT_EQ(matched(t, request("GET", "*")), "any");
}

TEST(RouteTable, NoMatchIsNullopt) {
  RouteTable t = tableWith(R"(
  - {name: only, match: {path_exact: /a, methods: [GET], host: svc}, cluster: a}
)");
  EXPECT_TRUE(t.match(request("GET", "/a", "svc")));
  EXPECT_FALSE(t.match(request("POST", "/a", "svc")));
  EXPECT_FALSE(t.match(request("GET", "/b", "svc")));
  EXPECT_FALSE(t.match(request("GET", "/a", "other")));
  // An absolute-form target is not a path: the proxy is never an open proxy.
  EXPECT_FALSE(t.match(request("GET", "http://svc/a", "svc")));
}

TEST(RouteTable, NoRoutesMatchesNothing) {
  RouteTable t = tableWith("  []\n");
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.match(request("GET", "/")));
}

TEST(RouteTable, SingleClusterRouteAlwaysPicksIt) {
  RouteTable t = tableWith(R"(
  - {name: one, cluster: b}
  - {name: one-weighted, clusters: [{name: c, weight: 7}]}
)");
  for (uint64_t r : {0ull, 1ull, 12345ull, ~0ull}) {
    EXPECT_EQ(t.pickCluster(0, r), 0u);
    EXPECT_EQ(t.pickCluster(1, r), 0u);
  }
  EXPECT_EQ(t.route(0).clusters[0].name, "b");
  EXPECT_EQ(t.route(0).clusters[0].cluster_index, 1u);
  EXPECT_EQ(t.route(1).clusters[0].cluster_index, 2u);
}

TEST(RouteTable, WeightBoundariesAreExact) {
  RouteTable t = tableWith(R"(
  - {name: split, clusters: [{name: a, weight: 3}, {name: b, weight: 1}, {name: c, weight: 6}]}
)");
  // random % 10: [0,3) → a, [3,4) → b, [4,10) → c.
  const std::vector<size_t> expected = {0, 0, 0, 1, 2, 2, 2, 2, 2, 2};
  for (uint64_t r = 0; r < 30; ++r) EXPECT_EQ(t.pickCluster(0, r), expected[r % 10]) << r;
  EXPECT_EQ(t.pickCluster(0, ~0ull), expected[~0ull % 10]);
}

TEST(RouteTable, WeightedPickFollowsWeights) {
  RouteTable t = tableWith(R"(
  - {name: canary, clusters: [{name: a, weight: 90}, {name: b, weight: 10}]}
  - {name: thirds, clusters: [{name: a}, {name: b}, {name: c}]}
)");
  policy::Rng rng(42);
  constexpr int kDraws = 10000;
  std::vector<int> canary(2), thirds(3);
  for (int i = 0; i < kDraws; ++i) {
    ++canary[t.pickCluster(0, rng.next())];
    ++thirds[t.pickCluster(1, rng.next())];
  }
  // Binomial standard deviation: sqrt(10000 × 0.9 × 0.1) = 30; allow 5 sigma.
  EXPECT_NEAR(canary[0], 9000, 150);
  EXPECT_NEAR(canary[1], 1000, 150);
  // Default weight 1 each: 3333 ± 5 × 47.
  for (int n : thirds) EXPECT_NEAR(n, kDraws / 3, 235);
}

}  // namespace
}  // namespace rampart::router
