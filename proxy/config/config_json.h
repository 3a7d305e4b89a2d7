#pragma once
// The effective config as JSON, for the admin /config endpoint.

#include <nlohmann/json.hpp>

#include "proxy/config/config.h"

namespace rampart::config {

// Every field with its resolved value (defaults applied, durations as strings).
nlohmann::json toJson(const Config& config);

}  // namespace rampart::config
