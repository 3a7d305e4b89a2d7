#include "proxy/http/headers.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http/header_utils.h"

namespace rampart::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs pairsOf(const HeaderMap& headers) {
  Pairs out;
  headers.forEach([&](std::string_view name, std::string_view value) {
    out.emplace_back(std::string(name), std::string(value));
  });
  return out;
}

TEST(HeaderUtilsText, ToLowerAsciiLeavesNonLettersAlone) {
  std::string text = "Content-TYPE_9 \xC3\x84";
  toLowerAscii(text);
  EXPECT_EQ(text, "content-type_9 \xC3\x84");
}

TEST(HeaderUtilsText, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("Keep-Alive", "keep-alive"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("close", "closed"));
  EXPECT_FALSE(equalsIgnoreCase("a-b", "a_b"));
  // '@' (0x40) and '`' (0x60) differ only in bit 5 like letters do, but are not letters.
  EXPECT_FALSE(equalsIgnoreCase("@", "`"));
}

TEST(HeaderUtilsText, HeaderValueHasTokenSplitsOnCommasAndTrims) {
  EXPECT_TRUE(headerValueHasToken("close", "close"));
  EXPECT_TRUE(headerValueHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(headerValueHasToken("a,\t b ,c", "b"));
  EXPECT_TRUE(headerValueHasToken("gzip, chunked", "CHUNKED"));
  EXPECT_FALSE(headerValueHasToken("keep-alive", "alive"));
  EXPECT_FALSE(headerValueHasToken("closed", "close"));
  EXPECT_FALSE(headerValueHasToken("", "close"));
  EXPECT_FALSE(headerValueHasToken("a b", "b"));
}

TEST(HeaderMap, AddLowerCasesNamesAndKeepsOrderAndDuplicates) {
  HeaderMap h;
  h.add("Content-Type", "application/json");
  h.add("X-Tenant", "A");
  h.add("x-tenant", "B");
  EXPECT_EQ(h.size(), 3u);
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(pairsOf(h),
            (Pairs{{"content-type", "application/json"}, {"x-tenant", "A"}, {"x-tenant", "B"}}));
  // Values keep their case; get() returns the first value.
  EXPECT_EQ(h.get("x-tenant"), "A");
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_FALSE(h.get("x-missing"));
  // Look-ups take lower-case names, as documented.
  EXPECT_FALSE(h.get("Content-Type"));
}

TEST(HeaderMap, ByteSizeCountsNamesAndValues) {
  HeaderMap h;
  h.add("ab", "cde");
  h.add("f", "");
  EXPECT_EQ(h.byteSize(), 6u);
  h.remove("ab");
  EXPECT_EQ(h.byteSize(), 1u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(HeaderMap, RemoveDeletesEveryValueAndReportsCount) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  h.add("a", "3");
  EXPECT_EQ(h.remove("a"), 2u);
  EXPECT_EQ(h.remove("a"), 0u);
  EXPECT_EQ(h.remove("zz"), 0u);
  EXPECT_EQ(pairsOf(h), (Pairs{{"b", "2"}}));
  EXPECT_FALSE(h.get("a"));
}

TEST(HeaderMap, SetReplacesAllValuesWithOne) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  h.add("a", "3");
  h.set("a", "9");
  EXPECT_EQ(pairsOf(h), (Pairs{{"b", "2"}, {"a", "9"}}));
  h.set("c", "new");
  EXPECT_EQ(h.get("c"), "new");
  EXPECT_EQ(h.size(), 3u);
}

TEST(HeaderMap, SetWithAViewIntoItselfIsSafe) {
  // set() may reallocate storage that `value` points into.
  HeaderMap h;
  h.add("a", std::string(100, 'x'));
  for (int i = 0; i < 50; ++i) {
    const std::string_view own = *h.get("a");
    h.set("a", own);
  }
  EXPECT_EQ(h.get("a"), std::string(100, 'x'));
  EXPECT_EQ(h.size(), 1u);
}

TEST(HeaderMap, ClearEmptiesAndAllowsReuse) {
  HeaderMap h;
  h.add("a", "1");
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.byteSize(), 0u);
  EXPECT_FALSE(h.get("a"));
  h.add("b", "2");
  EXPECT_EQ(pairsOf(h), (Pairs{{"b", "2"}}));
}

TEST(HeaderMap, NamesThatArePrefixesDoNotMatch) {
  HeaderMap h;
  h.add("x-a", "1");
  h.add("x-ab", "2");
  EXPECT_EQ(h.get("x-ab"), "2");
  EXPECT_EQ(h.get("x-a"), "1");
  EXPECT_EQ(h.remove("x-a"), 1u);
  EXPECT_EQ(h.get("x-ab"), "2");
}

TEST(StripHopByHop, RemovesFixedHopByHopHeadersAndFraming) {
  HeaderMap h;
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                           "Transfer-Encoding", "Upgrade", "Content-Length"}) {
    h.add(name, "x");
  }
  h.add("content-type", "application/json");
  h.add("x-request-id", "r1");
  stripHopByHop(h);
  EXPECT_EQ(pairsOf(h), (Pairs{{"content-type", "application/json"}, {"x-request-id", "r1"}}));
}

TEST(StripHopByHop, RemovesHeadersNamedByConnection) {
  HeaderMap h;
  h.add("connection", "keep-alive, X-Secret ,\tx-other,,");
  h.add("x-secret", "s");
  h.add("X-Other", "o");
  h.add("x-keep", "k");
  stripHopByHop(h);
  EXPECT_EQ(pairsOf(h), (Pairs{{"x-keep", "k"}}));
}

TEST(StripHopByHop, ConnectionCannotStripHeadersTheProxyRelieson) {
  HeaderMap h;
  h.add("connection", "host, x-forwarded-for, X-Request-Id");
  h.add("host", "svc");
  h.add("x-forwarded-for", "10.0.0.1");
  h.add("x-request-id", "r1");
  stripHopByHop(h);
  EXPECT_EQ(pairsOf(h),
            (Pairs{{"host", "svc"}, {"x-forwarded-for", "10.0.0.1"}, {"x-request-id", "r1"}}));
}

TEST(StripHopByHop, KeepsTeTrailersReducedToThatToken) {
  HeaderMap h;
  h.add("TE", "gzip, Trailers");
  h.add("x-a", "1");
  stripHopByHop(h);
  EXPECT_EQ(pairsOf(h), (Pairs{{"x-a", "1"}, {"te", "trailers"}}));
}

TEST(StripHopByHop, NoConnectionHeaderIsFine) {
  HeaderMap h;
  h.add("a", "1");
  stripHopByHop(h);
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "1"}}));
}

TEST(AppendForwardedFor, CreatesThenAppends) {
  HeaderMap h;
  appendForwardedFor(h, "10.0.0.1");
  EXPECT_EQ(h.get("x-forwarded-for"), "10.0.0.1");
  appendForwardedFor(h, "10.0.0.2");
  EXPECT_EQ(h.get("x-forwarded-for"), "10.0.0.1, 10.0.0.2");
  EXPECT_EQ(h.size(), 1u);
}

TEST(AppendForwardedFor, MergesDuplicateHeadersIntoOne) {
  // Two client-sent lines are one list (RFC 9110 5.3): every hop is kept, in order.
  HeaderMap h;
  h.add("X-Forwarded-For", "1.1.1.1");
  h.add("x-forwarded-for", "2.2.2.2");
  appendForwardedFor(h, "3.3.3.3");
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.get("x-forwarded-for"), "1.1.1.1, 2.2.2.2, 3.3.3.3");
}

TEST(FormatUuidV4, SetsVersionAndVariantBits) {
  EXPECT_EQ(formatUuidV4(0, 0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(formatUuidV4(~0ull, ~0ull), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_EQ(formatUuidV4(0x0123456789abcdefull, 0xfedcba9876543210ull),
            "01234567-89ab-4def-bedc-ba9876543210");
}

TEST(FormatUuidV4, DistinctInputsGiveDistinctWellFormedIds) {
  std::set<std::string> seen;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 1000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::string id = formatUuidV4(x, x * 31 + static_cast<uint64_t>(i));
    ASSERT_EQ(id.size(), 36u);
    for (size_t p : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[p], '-');
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace rampart::http
