#include "proxy/upstream/health_checker.h"

#include "proxy/common/log.h"

namespace rampart::upstream {

HealthState::HealthState(const config::Config& config) {
  flags_.resize(config.clusters.size());
  for (size_t c = 0; c < config.clusters.size(); ++c) {
    flags_[c] = std::vector<std::atomic<bool>>(config.clusters[c].endpoints.size());
    for (auto& flag : flags_[c]) flag.store(true, std::memory_order_relaxed);
  }
}

// One endpoint's prober: connect, GET path, read the status line, close.
class HealthChecker::Probe final : public event::ConnectionCallbacks,
                                   public http::Http1ParserCallbacks {
 public:
  Probe(event::Dispatcher& dispatcher, const config::ClusterConfig& cluster, size_t cluster_index,
        size_t endpoint, HealthState& state)
      : dispatcher_(dispatcher),
        cluster_(cluster),
        cluster_index_(cluster_index),
        endpoint_(endpoint),
        state_(state),
        interval_timer_(dispatcher, [this] { begin(); }),
        timeout_timer_(dispatcher, [this] { finish(false, "timeout"); }) {}

  void start() { interval_timer_.enable(event::Duration::zero()); }

  HealthExplain explain() const {
    return {
        cluster_.name, cluster_.endpoints[endpoint_].text, healthy_, successes_, failures_, checks_,
        last_failure_};
  }

  // ConnectionCallbacks
  void onConnected() override {
    std::string request = "GET " + cluster_.health_check.path +
                          " HTTP/1.1\r\nhost: " + cluster_.endpoints[endpoint_].text +
                          "\r\nuser-agent: rampart-health-check\r\nconnection: close\r\n\r\n";
    connection_->write(request);
  }
  void onRead() override {
    event::Buffer& input = connection_->input();
    bool done = false;
    input.forEachChunk([&](std::string_view chunk) {
      const auto result = parser_->execute(chunk);
      done = result.status != http::Http1Parser::Status::Ok || finished_;
      return !done;
    });
    input.drain(input.length());
    if (!finished_ && parser_->error() != http::Http1Error::None) finish(false, "bad response");
  }
  void onWriteDrained() override {}
  void onClose(event::CloseReason reason) override {
    if (!finished_) {
      finish(false, reason == event::CloseReason::ConnectFailed ? "connect failed" : "closed");
    }
  }

  // Http1ParserCallbacks
  http::HeadersAction onResponseHead(http::ResponseHead& head) override {
    if (head.status >= 100 && head.status < 200) return http::HeadersAction::Continue;
    const bool ok = head.status >= 200 && head.status < 300;
    finish(ok, ok ? "" : "status " + std::to_string(head.status));
    return http::HeadersAction::Abort;
  }
  void onBody(std::string_view) override {}
  void onMessageComplete() override {}

 private:
  void begin() {
    retired_.reset();
    finished_ = false;
    ++checks_;
    parser_ =
        std::make_unique<http::Http1Parser>(http::Http1Parser::Mode::Response, *this, 64 * 1024);
    connection_ =
        event::BufferedConnection::connect(dispatcher_, cluster_.endpoints[endpoint_].address);
    connection_->setCallbacks(this);
    timeout_timer_.enable(cluster_.health_check.timeout);
  }

  void finish(bool ok, std::string why) {
    if (finished_) return;
    finished_ = true;
    timeout_timer_.disable();
    if (connection_) {
      connection_->close();
      // The socket object may still be on the stack (onRead): keep it until the next probe.
      retired_ = std::move(connection_);
    }
    if (ok) {
      failures_ = 0;
      ++successes_;
      last_failure_.clear();
      if (!healthy_ && successes_ >= cluster_.health_check.healthy_threshold) setHealthy(true);
    } else {
      successes_ = 0;
      ++failures_;
      last_failure_ = std::move(why);
      if (healthy_ && failures_ >= cluster_.health_check.unhealthy_threshold) setHealthy(false);
    }
    interval_timer_.enable(cluster_.health_check.interval);
  }

  void setHealthy(bool healthy) {
    healthy_ = healthy;
    state_.set(cluster_index_, endpoint_, healthy);
    log::info(healthy ? "endpoint healthy" : "endpoint unhealthy",
              {{"cluster", cluster_.name},
               {"endpoint", cluster_.endpoints[endpoint_].text},
               {"reason", last_failure_}});
  }

  event::Dispatcher& dispatcher_;
  const config::ClusterConfig& cluster_;
  size_t cluster_index_;
  size_t endpoint_;
  HealthState& state_;
  event::Timer interval_timer_;
  event::Timer timeout_timer_;
  std::unique_ptr<event::BufferedConnection> connection_;
  std::unique_ptr<event::BufferedConnection> retired_;
  std::unique_ptr<http::Http1Parser> parser_;
  bool finished_ = true;
  bool healthy_ = true;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
  uint64_t checks_ = 0;
  std::string last_failure_;
};

HealthChecker::HealthChecker(event::Dispatcher& dispatcher, config::ConfigPtr config,
                             HealthState& state) {
  for (size_t c = 0; c < config->clusters.size(); ++c) {
    const auto& cluster = config->clusters[c];
    if (!cluster.health_check.enabled) continue;
    for (size_t e = 0; e < cluster.endpoints.size(); ++e) {
      probes_.push_back(std::make_unique<Probe>(dispatcher, cluster, c, e, state));
    }
  }
}

HealthChecker::~HealthChecker() = default;

void HealthChecker::start() {
  for (auto& probe : probes_) probe->start();
}

std::vector<HealthExplain> HealthChecker::explain() const {
  std::vector<HealthExplain> out;
  for (const auto& probe : probes_) out.push_back(probe->explain());
  return out;
}

}  // namespace rampart::upstream
