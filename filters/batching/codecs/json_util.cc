#include "filters/batching/codecs/json_util.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace rampart::batching::detail {

bool nestsDeeperThan(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::optional<Json> parseJson(std::string_view text) {
  // Scanning first keeps deeply nested hostile input away from every recursive
  // walk after parsing (dump, destruction, our own flattening).
  if (nestsDeeperThan(text, kMaxJsonDepth)) return std::nullopt;
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void dumpTo(const Json& value, std::string& out) {
  out += dump(value);
}

std::string simpleErrorBody(std::string_view message) {
  Json body = Json::object();
  body["error"] = std::string(message);
  return dump(body);
}

std::string upstreamErrorMessage(int status, std::string_view body) {
  std::string prefix = "upstream status " + std::to_string(status);
  if (auto parsed = parseJson(body); parsed && parsed->is_object()) {
    auto it = parsed->find("error");
    if (it != parsed->end()) {
      if (it->is_string()) return prefix + ": " + it->get<std::string>();
      if (it->is_object()) {
        auto msg = it->find("message");
        if (msg != it->end() && msg->is_string()) return prefix + ": " + msg->get<std::string>();
      }
    }
  }
  constexpr std::size_t kMaxEcho = 200;  // enough to recognise the backend's message
  if (body.empty()) return prefix;
  return prefix + ": " + std::string(body.substr(0, kMaxEcho));
}

std::string_view stripQuery(std::string_view path) {
  auto q = path.find_first_of("?#");
  return q == std::string_view::npos ? path : path.substr(0, q);
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  if (!path.empty() && path.front() == '/') start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::optional<std::size_t> elementCount(const std::vector<std::int64_t>& dims) {
  std::size_t count = 1;
  for (std::int64_t d : dims) {
    if (d < 0) return std::nullopt;
    auto ud = static_cast<std::size_t>(d);
    if (ud != 0 && count > std::numeric_limits<std::size_t>::max() / ud) return std::nullopt;
    count *= ud;
  }
  return count;
}

std::vector<std::int64_t> apportion(std::int64_t total, const std::vector<std::size_t>& weights) {
  std::vector<std::int64_t> shares(weights.size(), 0);
  if (weights.empty() || total <= 0) return shares;
  long double sum = std::accumulate(weights.begin(), weights.end(), 0.0L,
                                    [](long double acc, std::size_t w) { return acc + w; });
  std::vector<long double> exact(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    exact[i] =
        sum > 0 ? total * (weights[i] / sum) : static_cast<long double>(total) / weights.size();
  }
  std::int64_t given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    shares[i] = static_cast<std::int64_t>(exact[i]);  // floor: exact >= 0
    given += shares[i];
  }
  // Hand the remaining units to the largest fractional parts, earliest first on ties,
  // so the shares add up to exactly the backend's total.
  std::vector<std::size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return exact[a] - shares[a] > exact[b] - shares[b];
  });
  for (std::size_t k = 0; given < total; k = (k + 1) % order.size(), ++given) {
    ++shares[order[k]];
  }
  return shares;
}

}  // namespace rampart::batching::detail
