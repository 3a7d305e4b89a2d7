#pragma once
// Every config key, declared once: its path, type, default and meaning. The
// loader reads keys only through this table (a key missing here is a bug that
// fails loudly), and configs/reference.yaml is checked against it by a test.

#include <string_view>
#include <vector>

namespace rampart::config {

struct SchemaKey {
  std::string_view path;           // "limits.max_header_bytes", "routes[].match.path_prefix"
  std::string_view type;           // "duration", "size", "string", "uint", "bool", ...
  std::string_view default_value;  // YAML text used when absent; empty = no default
  bool required;                   // absent is an error
  std::string_view doc;            // one line for the reference
};

// The whole table, in reference order.
const std::vector<SchemaKey>& configSchema();
// The entry for `path`, or nullptr.
const SchemaKey* findSchemaKey(std::string_view path);

}  // namespace rampart::config
