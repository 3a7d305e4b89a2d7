#pragma once
// Typed, schema-checked access to one YAML map. Each key read must be declared
// in schema.cc; keys present in the file but never read are reported as unknown.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/time.h"
#include "proxy/config/schema.h"
#include "proxy/event/address.h"

namespace rampart::config {

// Collects located errors for one config source.
class ErrorSink {
 public:
  explicit ErrorSink(std::string source, bool read_files = true)
      : source_(std::move(source)), read_files_(read_files) {}
  // False when validating a file away from its certificates (the config reference):
  // paths are checked for presence, not read.
  bool readFiles() const { return read_files_; }
  // Records "source:line:column: message" (line and column 1-based).
  void error(const YAML::Mark& mark, const std::string& message);
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  bool read_files_;
  std::vector<std::string> errors_;
};

class MapReader {
 public:
  // `node` must be a map (or null, read as empty); `prefix` is its schema path ("" for the root).
  MapReader(ErrorSink& sink, const YAML::Node& node, std::string prefix);

  // True when the key is written in the file.
  bool has(const std::string& key) const;
  // The key's node as written, or its schema default parsed, or an undefined node.
  YAML::Node get(const std::string& key);
  // Where this map is, for errors about it as a whole.
  YAML::Mark mark() const { return node_.Mark(); }
  // The mark of `key`'s value, or of the map when absent.
  YAML::Mark markOf(const std::string& key) const;
  // The schema path of `key`.
  std::string pathOf(const std::string& key) const;

  std::string string(const std::string& key);
  std::optional<std::string> optionalString(const std::string& key);
  policy::Duration duration(const std::string& key);
  uint64_t size(const std::string& key);
  uint32_t uint(const std::string& key);
  double number(const std::string& key);
  bool boolean(const std::string& key);
  std::optional<event::SocketAddress> address(const std::string& key);
  std::vector<std::string> stringList(const std::string& key);

  // Reports every key present in the map that no one read.
  void reportUnknownKeys();

 private:
  const SchemaKey& schema(const std::string& key) const;
  void error(const YAML::Node& at, const std::string& message);

  ErrorSink& sink_;
  YAML::Node node_;
  std::string prefix_;
  std::set<std::string> read_;
};

// Each item of a list key as a MapReader; non-map items are reported.
template <class Fn>
void forEachMap(ErrorSink& sink, MapReader& parent, const std::string& key, Fn&& fn) {
  YAML::Node list = parent.get(key);
  if (!list.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence()) {
    sink.error(list.Mark(), "'" + parent.pathOf(key) + "' must be a list");
    return;
  }
  for (const YAML::Node& item : list) {
    if (!item.IsMap()) {
      sink.error(item.Mark(), "each '" + parent.pathOf(key) + "' item must be a map");
      continue;
    }
    MapReader reader(sink, item, parent.pathOf(key) + "[]");
    fn(reader);
    reader.reportUnknownKeys();
  }
}

// A nested map key as a MapReader (an absent key reads as an empty map).
template <class Fn>
void withMap(ErrorSink& sink, MapReader& parent, const std::string& key, Fn&& fn) {
  YAML::Node node = parent.get(key);
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    sink.error(node.Mark(), "'" + parent.pathOf(key) + "' must be a map");
    return;
  }
  MapReader reader(sink, node.IsDefined() ? node : YAML::Node(YAML::NodeType::Map),
                   parent.pathOf(key));
  fn(reader);
  reader.reportUnknownKeys();
}

// Scalar conversions used by MapReader and by callers with polymorphic keys.
std::optional<policy::Duration> readDuration(ErrorSink& sink, const YAML::Node& node,
                                             const std::string& path);
std::optional<double> readNumber(ErrorSink& sink, const YAML::Node& node, const std::string& path);

}  // namespace rampart::config
