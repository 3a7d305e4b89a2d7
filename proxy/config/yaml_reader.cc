#include "proxy/config/yaml_reader.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "proxy/config/units.h"

namespace rampart::config {

void ErrorSink::error(const YAML::Mark& mark, const std::string& message) {
  if (mark.is_null()) {
    errors_.push_back(source_ + ": " + message);
  } else {
    errors_.push_back(source_ + ":" + std::to_string(mark.line + 1) + ":" +
                      std::to_string(mark.column + 1) + ": " + message);
  }
}

MapReader::MapReader(ErrorSink& sink, const YAML::Node& node, std::string prefix)
    : sink_(sink), node_(node), prefix_(std::move(prefix)) {}

std::string MapReader::pathOf(const std::string& key) const {
  return prefix_.empty() ? key : prefix_ + "." + key;
}

const SchemaKey& MapReader::schema(const std::string& key) const {
  const SchemaKey* entry = findSchemaKey(pathOf(key));
  // A key the loader reads but the schema lacks is a programming error.
  if (!entry) throw std::logic_error("config key not declared in schema: " + pathOf(key));
  return *entry;
}

bool MapReader::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

YAML::Mark MapReader::markOf(const std::string& key) const {
  if (has(key)) return node_[key].Mark();
  return node_.Mark();
}

void MapReader::error(const YAML::Node& at, const std::string& message) {
  sink_.error(at.IsDefined() ? at.Mark() : node_.Mark(), message);
}

YAML::Node MapReader::get(const std::string& key) {
  const SchemaKey& entry = schema(key);
  read_.insert(key);
  if (has(key)) return node_[key];
  if (entry.required) {
    sink_.error(node_.Mark(), "missing required key '" + pathOf(key) + "'");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  if (entry.default_value.empty()) return YAML::Node(YAML::NodeType::Undefined);
  return YAML::Load(std::string(entry.default_value));
}

std::string MapReader::string(const std::string& key) {
  return optionalString(key).value_or("");
}

std::optional<std::string> MapReader::optionalString(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) {
    error(n, "'" + pathOf(key) + "' must be a string");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<policy::Duration> readDuration(ErrorSink& sink, const YAML::Node& node,
                                             const std::string& path) {
  if (!node.IsScalar()) {
    sink.error(node.Mark(), "'" + path + "' must be a duration such as 250ms, 2s or 1m");
    return std::nullopt;
  }
  auto d = parseDuration(node.Scalar());
  if (!d) {
    sink.error(node.Mark(), "'" + path + "': invalid duration '" + node.Scalar() +
                                "' (use a number with us, ms, s, m or h)");
  }
  return d;
}

std::optional<double> readNumber(ErrorSink& sink, const YAML::Node& node, const std::string& path) {
  double value = 0;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && end == s.data() + s.size() && std::isfinite(value)) return value;
  }
  sink.error(node.Mark(), "'" + path + "' must be a number");
  return std::nullopt;
}

policy::Duration MapReader::duration(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return policy::Duration::zero();
  return readDuration(sink_, n, pathOf(key)).value_or(policy::Duration::zero());
}

uint64_t MapReader::size(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return 0;
  if (n.IsScalar()) {
    if (auto v = parseSize(n.Scalar())) return *v;
  }
  error(n, "'" + pathOf(key) + "' must be a size such as 65536, 64KiB or 16MiB");
  return 0;
}

uint32_t MapReader::uint(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return 0;
  uint64_t value = 0;
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && end == s.data() + s.size() &&
        value <= std::numeric_limits<uint32_t>::max()) {
      return static_cast<uint32_t>(value);
    }
  }
  error(n, "'" + pathOf(key) + "' must be a non-negative integer");
  return 0;
}

double MapReader::number(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return 0;
  return readNumber(sink_, n, pathOf(key)).value_or(0);
}

bool MapReader::boolean(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return false;
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  error(n, "'" + pathOf(key) + "' must be true or false");
  return false;
}

std::optional<event::SocketAddress> MapReader::address(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    error(n, "'" + pathOf(key) + "' must be an address host:port");
    return std::nullopt;
  }
  std::string why;
  auto a = event::SocketAddress::parse(n.Scalar(), &why);
  if (!a) error(n, "'" + pathOf(key) + "': invalid address '" + n.Scalar() + "': " + why);
  return a;
}

std::vector<std::string> MapReader::stringList(const std::string& key) {
  YAML::Node n = get(key);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    error(n, "'" + pathOf(key) + "' must be a list");
    return out;
  }
  for (const YAML::Node& item : n) {
    if (!item.IsScalar()) {
      error(item, "'" + pathOf(key) + "' items must be strings");
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

void MapReader::reportUnknownKeys() {
  if (!node_.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    // yaml-cpp accepts repeated keys and lookups see only one; YAML forbids them.
    if (!seen.insert(key).second) {
      sink_.error(kv.first.Mark(), "duplicate key '" + pathOf(key) + "'");
      continue;
    }
    if (read_.count(key)) continue;
    std::string hint;
    // Say which keys are allowed here so a typo is easy to fix.
    for (const SchemaKey& entry : configSchema()) {
      const std::string_view p = entry.path;
      const std::string want = prefix_.empty() ? "" : prefix_ + ".";
      if (p.substr(0, want.size()) == want && p.size() > want.size() &&
          p.substr(want.size()).find_first_of(".[") == std::string_view::npos) {
        hint += hint.empty() ? "" : ", ";
        hint += p.substr(want.size());
      }
    }
    sink_.error(kv.first.Mark(), "unknown key '" + pathOf(key) + "'" +
                                     (hint.empty() ? "" : " (allowed: " + hint + ")"));
  }
}

}  // namespace rampart::config
