#include "proxy/config/units.h"

#include <charconv>
#include <cmath>

namespace rampart::config {

namespace {
// Splits "12.5ms" into 12.5 and "ms".
bool splitNumber(std::string_view text, double* value, std::string_view* unit) {
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + i, *value);
  if (ec != std::errc() || end != text.data() + i || !std::isfinite(*value) || *value < 0) {
    return false;
  }
  *unit = text.substr(i);
  while (!unit->empty() && unit->front() == ' ') unit->remove_prefix(1);
  return true;
}
}  // namespace

std::optional<policy::Duration> parseDuration(std::string_view text) {
  double value = 0;
  std::string_view unit;
  if (!splitNumber(text, &value, &unit)) return std::nullopt;
  double seconds;
  if (unit == "us") {
    seconds = value / 1e6;
  } else if (unit == "ms") {
    seconds = value / 1e3;
  } else if (unit == "s") {
    seconds = value;
  } else if (unit == "m") {
    seconds = value * 60;
  } else if (unit == "h") {
    seconds = value * 3600;
  } else if (unit.empty() && value == 0) {
    seconds = 0;
  } else {
    return std::nullopt;
  }
  if (seconds > 1e7) return std::nullopt;
  return policy::fromSeconds(seconds);
}

std::optional<uint64_t> parseSize(std::string_view text) {
  double value = 0;
  std::string_view unit;
  if (!splitNumber(text, &value, &unit)) return std::nullopt;
  double multiplier;
  if (unit.empty() || unit == "B") {
    multiplier = 1;
  } else if (unit == "KB") {
    multiplier = 1e3;
  } else if (unit == "MB") {
    multiplier = 1e6;
  } else if (unit == "GB") {
    multiplier = 1e9;
  } else if (unit == "KiB") {
    multiplier = 1024.0;
  } else if (unit == "MiB") {
    multiplier = 1024.0 * 1024;
  } else if (unit == "GiB") {
    multiplier = 1024.0 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  const double bytes = value * multiplier;
  if (bytes > 1e15 || bytes != std::floor(bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

std::string formatDuration(policy::Duration d) {
  const auto ns = d.count();
  if (ns % 1000000000 == 0) return std::to_string(ns / 1000000000) + "s";
  if (ns % 1000000 == 0) return std::to_string(ns / 1000000) + "ms";
  if (ns % 1000 == 0) return std::to_string(ns / 1000) + "us";
  return std::to_string(policy::toMillis(d)) + "ms";
}

}  // namespace rampart::config
