// gpu_backend: a simulated GPU inference server for Rampart's default config,
// integration tests and batching benchmark. See README.md beside this file.

#include <csignal>
#include <cstdio>
#include <iostream>

#include "examples/gpu_backend/backend_server.h"
#include "examples/gpu_backend/event_handles.h"
#include "examples/gpu_backend/flags.h"

namespace {

void onStopSignal(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

// An address printable as host:port (IPv6 in brackets).
std::string hostPort(const std::string& address, uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rampart::gpu_backend;
  const FlagResult flags = parseFlags(argc, argv);
  if (flags.help) {
    std::cout << usage();
    return 0;
  }
  if (!flags.options) {
    std::cerr << "gpu_backend: " << flags.error << "\n(see --help)\n";
    return 2;
  }
  // A peer that closes mid-write must become an error on that connection, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  // Precise timers: batch times are fractions of a millisecond apart.
  EventConfigPtr config(event_config_new());
  event_config_set_flag(config.get(), EVENT_BASE_FLAG_PRECISE_TIMER);
  EventBasePtr base(event_base_new_with_config(config.get()));
  if (!base) {
    std::cerr << "gpu_backend: cannot create the event loop\n";
    return 1;
  }
  const std::string address = flags.options->address;
  int exitCode = 0;
  {
    BackendServer server(base.get(), *flags.options);
    std::string error;
    const std::optional<uint16_t> port = server.listen(error);
    if (!port) {
      std::cerr << "gpu_backend: " << error << "\n";
      return 1;
    }
    // Exactly one line on stdout, flushed, so scripts can read the real port.
    std::printf("{\"listening\":\"%s\"}\n", hostPort(address, *port).c_str());
    std::fflush(stdout);

    EventPtr sigint(evsignal_new(base.get(), SIGINT, &onStopSignal, base.get()));
    EventPtr sigterm(evsignal_new(base.get(), SIGTERM, &onStopSignal, base.get()));
    event_add(sigint.get(), nullptr);
    event_add(sigterm.get(), nullptr);
    if (event_base_dispatch(base.get()) < 0) exitCode = 1;
  }
  return exitCode;
}
