// rampart: an L7 sidecar proxy for ML services.
//   rampart [--config FILE] [--log-level LEVEL]
//   rampart --validate FILE

#include <cstdio>
#include <cstring>
#include <string>

#include "proxy/common/log.h"
#include "proxy/config/config_loader.h"
#include "proxy/server/server.h"

#ifndef RAMPART_DEFAULT_CONFIG
#define RAMPART_DEFAULT_CONFIG "configs/rampart.yaml"
#endif

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: rampart [--config FILE] [--log-level debug|info|warn|error]\n"
               "       rampart --validate FILE\n"
               "With no --config, the default config " RAMPART_DEFAULT_CONFIG " is used.\n");
}

int validate(const std::string& path) {
  auto result = rampart::config::loadConfigFile(path);
  if (!result.config) {
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  std::printf("%s: ok\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = RAMPART_DEFAULT_CONFIG;
  std::string log_level;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config" || arg == "-c") {
      config_path = value("--config");
    } else if (arg == "--validate") {
      return validate(value("--validate"));
    } else if (arg == "--log-level") {
      log_level = value("--log-level");
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }
  auto result = rampart::config::loadConfigFile(config_path);
  if (!result.config) {
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  rampart::log::Level level;
  const std::string& level_text = log_level.empty() ? result.config->log_level : log_level;
  if (!rampart::log::parseLevel(level_text, &level)) {
    std::fprintf(stderr, "invalid --log-level '%s'\n", level_text.c_str());
    return 2;
  }
  rampart::log::setLevel(level);
  rampart::server::Server server(result.config);
  return server.run();
}
