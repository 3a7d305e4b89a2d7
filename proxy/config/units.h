#pragma once
// Parsing of the config's duration ("250ms", "2s", "1m") and size ("64KiB",
// "16MiB", "1024") strings.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/time.h"

namespace rampart::config {

// Parses "<number><unit>" with unit us|ms|s|m|h (fractions allowed: "1.5s").
std::optional<policy::Duration> parseDuration(std::string_view text);
// Parses bytes: a plain integer, or with B|KB|MB|GB (powers of 1000) or KiB|MiB|GiB (1024).
std::optional<uint64_t> parseSize(std::string_view text);
// "250ms", "2s", "1.5s": the shortest exact form for reports.
std::string formatDuration(policy::Duration d);

}  // namespace rampart::config
