#pragma once
// YAML → validated Config. Every problem is reported as "file:line:column: message";
// all problems are collected, not just the first.

#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace rampart::config {

struct LoadResult {
  ConfigPtr config;                 // null when errors is not empty
  std::vector<std::string> errors;  // "file:line:column: message"
};

struct LoadOptions {
  bool read_files = true;  // read certificates and keys (false: only check the keys)
};

// Reads and validates a config file.
LoadResult loadConfigFile(const std::string& path, LoadOptions options = {});
// Validates YAML text; `source` names it in messages.
LoadResult loadConfigString(std::string_view yaml, const std::string& source,
                            LoadOptions options = {});

}  // namespace rampart::config
