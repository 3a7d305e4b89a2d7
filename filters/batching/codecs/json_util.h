#pragma once
// JSON helpers shared by the batching codecs. Internal to filters/batching/codecs.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart::batching::detail {

using Json = nlohmann::json;

// Deepest JSON nesting we parse. Real tensors nest a handful of levels; the limit
// keeps every recursive walk (ours and the library's dump) far from the stack limit.
inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses a complete JSON document without throwing; nullopt when the text is not
// JSON or nests deeper than kMaxJsonDepth.
std::optional<Json> parseJson(std::string_view text);

// Whether `text` nests arrays/objects deeper than `limit` (strings are skipped).
bool nestsDeeperThan(std::string_view text, std::size_t limit);

// Serializes compactly; invalid UTF-8 (impossible after parseJson) is replaced, never thrown.
std::string dump(const Json& value);

// Appends the compact serialization of `value` to `out`.
void dumpTo(const Json& value, std::string& out);

// {"error": message} — the error shape of KServe v2 and TF Serving.
std::string simpleErrorBody(std::string_view message);

// The message of an upstream error response: its "error" string (or error.message),
// else the start of the body.
std::string upstreamErrorMessage(int status, std::string_view body);

// Whether `status` is a 2xx.
inline bool isSuccess(int status) {
  return status >= 200 && status < 300;
}

// The path without its query string.
std::string_view stripQuery(std::string_view path);

// Splits `path` on '/', dropping the leading empty segment.
std::vector<std::string_view> splitPath(std::string_view path);

// The product of `dims`, or nullopt on overflow / a negative dimension.
std::optional<std::size_t> elementCount(const std::vector<std::int64_t>& dims);

// Largest-remainder apportioning of `total` over `weights` (sum of the result == total).
// Equal shares when every weight is zero.
std::vector<std::int64_t> apportion(std::int64_t total, const std::vector<std::size_t>& weights);

}  // namespace rampart::batching::detail
