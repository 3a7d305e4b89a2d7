#include "proxy/common/log.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace rampart::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};

const char* levelName(Level level) {
  switch (level) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "info";
}
}  // namespace

void setLevel(Level level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool parseLevel(std::string_view text, Level* level) {
  if (text == "debug")
    *level = Level::Debug;
  else if (text == "info")
    *level = Level::Info;
  else if (text == "warn")
    *level = Level::Warn;
  else if (text == "error")
    *level = Level::Error;
  else
    return false;
  return true;
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void appendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out.append(esc);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(256);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ts.tv_nsec / 1000000));
  line.append("{\"ts\":\"").append(stamp).append("\",\"level\":\"").append(levelName(level));
  line.append("\",\"msg\":");
  appendJsonString(line, message);
  for (const Field& f : fields) {
    line.push_back(',');
    appendJsonString(line, f.key);
    line.push_back(':');
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      appendJsonString(line, *s);
    } else if (auto* i = std::get_if<int64_t>(&f.value)) {
      line.append(std::to_string(*i));
    } else if (auto* d = std::get_if<double>(&f.value)) {
      char num[32];
      std::snprintf(num, sizeof num, "%.6g", *d);
      line.append(num);
    } else if (auto* b = std::get_if<bool>(&f.value)) {
      line.append(*b ? "true" : "false");
    }
  }
  line.append("}\n");
  // One write per line: no interleaving between threads.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace rampart::log
