#pragma once
// Structured logs: one JSON object per line on stderr. Each line goes out in a
// single write(2), so lines from different threads never interleave and no
// lock is taken.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace rampart::log {

enum class Level {
  Debug,  // per-request detail, off in production
  Info,   // lifecycle: start, listening, drain, reload
  Warn,   // degraded but serving: rejected reload, upstream down
  Error,  // failed to do what was asked
};

// One "key": value pair of a log line.
struct Field {
  std::string_view key;
  std::variant<std::string_view, int64_t, double, bool> value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, uint32_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

// Sets the minimum level written; lines below it cost one comparison.
void setLevel(Level level);
// Parses "debug" | "info" | "warn" | "error".
bool parseLevel(std::string_view text, Level* level);
bool enabled(Level level);
// Writes {"ts":..., "level":..., "msg":..., fields...}.
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::Debug)) write(Level::Debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::Info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::Warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::Error, m, f);
}

// Appends `text` to `out` as a JSON string literal (with quotes).
void appendJsonString(std::string& out, std::string_view text);

}  // namespace rampart::log
