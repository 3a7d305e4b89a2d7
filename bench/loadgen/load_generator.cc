#include "bench/loadgen/load_generator.h"

#include <netdb.h>
#include <strings.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rampart::loadgen {
namespace {

// The sweep's period bounds how late a timeout is noticed: 5 ms, or 1/20 of a short timeout.
timeval sweepPeriod(const Options& options) {
  const int64_t us = std::clamp<int64_t>(options.timeout.count() / 20 / 1000, 1000, 5000);
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

timeval toTimeval(int64_t nanos) {
  const int64_t us = std::max<int64_t>(0, (nanos + 999) / 1000);
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

bool hasHeader(const Options& options, const char* name) {
  const size_t len = std::strlen(name);
  return std::any_of(options.headers.begin(), options.headers.end(), [&](const std::string& h) {
    return h.size() > len && h[len] == ':' && strncasecmp(h.c_str(), name, len) == 0;
  });
}

}  // namespace

std::vector<std::string> buildRequests(const Options& options) {
  std::string head = options.method + " " + options.path + " HTTP/1.1\r\n";
  if (!hasHeader(options, "host"))
    head += "Host: " + options.host + ":" + std::to_string(options.port) + "\r\n";
  if (!hasHeader(options, "user-agent")) head += "User-Agent: rampart-loadgen\r\n";
  for (const std::string& h : options.headers) head += h + "\r\n";
  const bool hasBody = !options.body.empty() || options.method == "POST" ||
                       options.method == "PUT" || options.method == "PATCH";
  std::string tail;
  if (hasBody && !hasHeader(options, "content-length"))
    tail += "Content-Length: " + std::to_string(options.body.size()) + "\r\n";
  tail += "\r\n" + options.body;
  if (options.priorities.empty()) return {head + tail};
  std::vector<std::string> wires;
  for (const PriorityClass& p : options.priorities)
    wires.push_back(head + options.priorityHeader + ": " + p.name + "\r\n" + tail);
  return wires;
}

LoadGenerator::LoadGenerator(const Options& options)
    : options_(options),
      wires_(buildRequests(options)),
      head_(options.method == "HEAD"),
      rng_(options.seed),
      gaps_(options.rate),
      stats_(options) {
  std::vector<double> weights;
  for (const PriorityClass& p : options.priorities) weights.push_back(p.weight);
  if (weights.empty()) weights.push_back(1.0);
  priorityDraw_ = std::discrete_distribution<size_t>(weights.begin(), weights.end());
  end_ = options.warmup.count() + options.duration.count();
}

LoadGenerator::~LoadGenerator() {
  // Connections own events of base_: free them before the base.
  connections_.clear();
  graveyard_.clear();
  scheduleTimer_.reset();
  sweepTimer_.reset();
}

std::optional<std::string> LoadGenerator::prepare() {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(options_.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr)
    return "cannot resolve " + options_.host + ": " + gai_strerror(rc);
  std::memcpy(&address_, found->ai_addr, sizeof(address_));
  freeaddrinfo(found);
  address_.sin_port = htons(options_.port);

  // Precise timers (timerfd): intended starts are tens of microseconds apart at high rates.
  event_config* config = event_config_new();
  event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER);
  base_.reset(event_base_new_with_config(config));
  event_config_free(config);
  if (!base_) return "cannot create the event loop";
  scheduleTimer_.reset(evtimer_new(base_.get(), &LoadGenerator::onScheduleTimer, this));
  sweepTimer_.reset(event_new(base_.get(), -1, EV_PERSIST, &LoadGenerator::onSweepTimer, this));
  return std::nullopt;
}

const RunStats& LoadGenerator::run() {
  start_ = std::chrono::steady_clock::now();
  // The first request: at once for fixed gaps, after one drawn gap for Poisson arrivals.
  nextIntendedSeconds_ = options_.arrival == Arrival::kUniform ? 0.0 : gaps_(rng_);
  const timeval zero{0, 0};
  const timeval period = sweepPeriod(options_);
  event_add(scheduleTimer_.get(), &zero);
  event_add(sweepTimer_.get(), &period);
  event_base_dispatch(base_.get());
  stats_.setElapsed(now());
  stats_.setPool(opened_, peakOpen_, capHits_, peakWaiting_);
  return stats_;
}

int64_t LoadGenerator::now() const {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now() - start_).count();
}

int64_t LoadGenerator::nextIntended() const {
  return static_cast<int64_t>(std::llround(nextIntendedSeconds_ * 1e9));
}

void LoadGenerator::onScheduleTimer(evutil_socket_t, short, void* arg) {
  static_cast<LoadGenerator*>(arg)->scheduleDue();
}

void LoadGenerator::onSweepTimer(evutil_socket_t, short, void* arg) {
  static_cast<LoadGenerator*>(arg)->sweep();
}

void LoadGenerator::scheduleDue() {
  // Issue everything that is due; a bounded batch per wake-up so that, if the
  // generator ever falls behind, responses are still read between batches.
  int64_t t = now();
  for (int batch = 0; batch < 1024 && nextIntended() <= t && nextIntended() < end_; ++batch) {
    issue(nextIntended());
    nextIntendedSeconds_ +=
        options_.arrival == Arrival::kUniform ? 1.0 / options_.rate : gaps_(rng_);
    if ((batch & 63) == 63) t = now();
  }
  if (nextIntended() >= end_) {
    sendingDone_ = true;
    return;
  }
  const timeval wait = toTimeval(nextIntended() - now());
  event_add(scheduleTimer_.get(), &wait);
}

void LoadGenerator::issue(int64_t intended) {
  const size_t priority = priorityDraw_(rng_);
  requests_.push_back(Request{intended, priority, nullptr, State::kWaiting});
  stats_.onSent(intended, priority);
  assign(firstId_ + requests_.size() - 1);
}

void LoadGenerator::assign(uint64_t id) {
  Connection* connection = nullptr;
  if (!idle_.empty()) {
    connection = idle_.back();  // most recently used: warm, and lets the rest idle out
    idle_.pop_back();
  } else if (connections_.size() < options_.maxConnections) {
    connection = openConnection();
    if (connection == nullptr) {
      finish(id, OutcomeKind::kConnect, 0);
      return;
    }
  } else {
    ++capHits_;
    waiting_.push_back(id);
    peakWaiting_ = std::max<uint64_t>(peakWaiting_, waiting_.size());
    return;
  }
  startOn(*connection, id);
}

Connection* LoadGenerator::openConnection() {
  ConnectionCallbacks& callbacks =
      *this;  // the private base, converted here where it is accessible
  auto connection = std::make_unique<Connection>(base_.get(), callbacks, head_);
  if (!connection->open(address_)) return nullptr;
  ++opened_;
  connection->setSlot(connections_.size());
  connections_.push_back(std::move(connection));
  peakOpen_ = std::max<uint64_t>(peakOpen_, connections_.size());
  return connections_.back().get();
}

void LoadGenerator::startOn(Connection& connection, uint64_t id) {
  Request& r = request(id);
  r.connection = &connection;
  r.state = State::kInFlight;
  connection.setRequest(id);
  stats_.onDispatched(r.intended, now() - r.intended);
  connection.send(wires_[r.priority]);
}

void LoadGenerator::release(Connection& connection) {
  connection.setRequest(Connection::kNoRequest);
  while (!waiting_.empty()) {
    const uint64_t id = waiting_.front();
    waiting_.pop_front();
    if (id >= firstId_ && request(id).state == State::kWaiting) {
      startOn(connection, id);
      return;
    }
  }
  idle_.push_back(&connection);
}

void LoadGenerator::retire(Connection& connection) {
  connection.close();
  const auto idle = std::find(idle_.begin(), idle_.end(), &connection);
  if (idle != idle_.end()) idle_.erase(idle);
  // Swap-remove from connections_; the object lives on in the graveyard until the next sweep.
  const size_t slot = connection.slot();
  std::swap(connections_[slot], connections_.back());
  connections_[slot]->setSlot(slot);
  graveyard_.push_back(std::move(connections_.back()));
  connections_.pop_back();
}

void LoadGenerator::serveWaiting() {
  while (!waiting_.empty() && connections_.size() < options_.maxConnections) {
    const uint64_t id = waiting_.front();
    waiting_.pop_front();
    if (id < firstId_ || request(id).state != State::kWaiting) continue;
    assign(id);
  }
}

void LoadGenerator::onResponse(Connection& connection, int status, bool keepAlive) {
  const uint64_t id = connection.request();
  finish(id, OutcomeKind::kResponse, status);
  if (keepAlive) {
    release(connection);
  } else {
    connection.setRequest(Connection::kNoRequest);
    retire(connection);
    serveWaiting();
  }
}

void LoadGenerator::onFailure(Connection& connection, OutcomeKind kind) {
  const uint64_t id = connection.request();
  connection.setRequest(Connection::kNoRequest);
  retire(connection);
  if (id != Connection::kNoRequest) finish(id, kind, 0);
  serveWaiting();
}

void LoadGenerator::finish(uint64_t id, OutcomeKind kind, int status) {
  Request& r = request(id);
  if (r.state == State::kDone) return;
  r.state = State::kDone;
  r.connection = nullptr;
  stats_.onFinished(Outcome{r.intended, now(), kind, status, r.priority});
  while (!requests_.empty() && requests_.front().state == State::kDone) {
    requests_.pop_front();
    ++firstId_;
  }
}

void LoadGenerator::sweep() {
  graveyard_.clear();
  const int64_t t = now();
  const int64_t timeout = options_.timeout.count();
  while (!requests_.empty() && requests_.front().intended + timeout <= t) {
    Request& r = requests_.front();
    // A late response could still arrive on its connection: that connection is done for.
    if (Connection* c = r.connection) {
      c->setRequest(Connection::kNoRequest);
      retire(*c);
    }
    finish(firstId_, OutcomeKind::kTimeout, 0);
  }
  serveWaiting();
  if (sendingDone_ && requests_.empty()) event_base_loopbreak(base_.get());
}

}  // namespace rampart::loadgen
