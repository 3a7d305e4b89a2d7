// rampart_loadgen: an open-loop HTTP/1.1 load generator for the resilience
// scenarios (bench/scenarios.py). One thread; JSON results on stdout. See
// --help and bench/README.md ("Resilience scenarios").

#include <sys/resource.h>

#include <csignal>
#include <iostream>

#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/options.h"

namespace {

// Every connection is a file descriptor: lift the soft limit to the hard one,
// then keep the connection cap below what is left.
void fitFileLimit(rampart::loadgen::Options& options) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  const size_t usable = limit.rlim_cur > 64 ? static_cast<size_t>(limit.rlim_cur - 64) : 1;
  if (options.maxConnections > usable) {
    std::cerr << "rampart_loadgen: --max-connections lowered to " << usable
              << " (open file limit)\n";
    options.maxConnections = usable;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rampart::loadgen;
  ParseResult parsed = parseOptions(argc, argv);
  if (parsed.help) {
    std::cout << usage();
    return 0;
  }
  if (!parsed.options) {
    std::cerr << "rampart_loadgen: " << parsed.error << "\n(see --help)\n";
    return 2;
  }
  Options options = *parsed.options;
  fitFileLimit(options);
  // A peer that resets mid-write is an error on that request, not the end of the run.
  std::signal(SIGPIPE, SIG_IGN);
  LoadGenerator generator(options);
  if (const std::optional<std::string> error = generator.prepare()) {
    std::cerr << "rampart_loadgen: " << *error << "\n";
    return 1;
  }
  std::cout << generator.run().toJson() << std::endl;
  return 0;
}
