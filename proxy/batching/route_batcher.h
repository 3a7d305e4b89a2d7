#pragma once
// One batching route's batcher, on the batching thread, shared by every worker.
// Requests join a bucket per compatibility key (same model, shapes, params),
// ordered by deadline; each bucket's BatchWindowController decides when to
// send and how many rows (at once to an idle backend, larger batches under
// load, never past the SLO or a deadline). A request that cannot meet its
// deadline is refused at once; one whose deadline passes while waiting gets
// 504 unsent; a client that leaves is dropped from its bucket. A batch that
// fails as a whole is split in halves and retried, within a budget, so one
// poison input fails alone.

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "filters/batching/batch_submitter.h"
#include "policy/batch_static.h"
#include "policy/batch_window.h"
#include "policy/random.h"
#include "policy/retry_budget.h"
#include "proxy/batching/batch_call.h"
#include "proxy/config/config.h"
#include "proxy/stats/stats.h"

namespace rampart::batching_engine {

class RouteBatcher final : public filters::BatchSubmitter {
 public:
  RouteBatcher(event::Dispatcher& dispatcher, const config::RouteConfig& route,
               upstream::UpstreamCluster& cluster, stats::RouteStats& stats);
  ~RouteBatcher() override;

  // Thread-safe: posts the request to the batching thread.
  void submit(filters::BatchRequest request) override;
  const batching::BatchCodec& codec() const override { return *codec_; }
  // The buckets and their controllers (batching thread).
  nlohmann::json explain() const;
  // Answers everything still pending with 503 (shutdown).
  void abandon();

 private:
  struct Bucket {
    Bucket(const policy::BatchWindowConfig& config, bool learned)
        : controller(config),
          fixed(learned ? std::nullopt
                        : std::optional<policy::StaticBatchWindow>(
                              std::in_place, config.max_batch_size, *config.max_delay)) {}
    std::string key;
    std::vector<filters::BatchRequest> items;  // ordered by deadline
    size_t rows = 0;
    policy::BatchWindowController controller;        // learns the cost curve in both modes
    std::optional<policy::StaticBatchWindow> fixed;  // decides in static mode
    std::unique_ptr<event::Timer> timer;
  };

  void enqueue(filters::BatchRequest request);
  void decide(Bucket& bucket);
  void decideAll();
  void dispatch(Bucket& bucket, size_t rows, policy::DispatchReason reason);
  void send(Bucket& bucket, std::vector<filters::BatchRequest> members, size_t rows);
  void onDone(Bucket& bucket, BatchCall& call, BatchCallResult result);
  void fail(filters::BatchRequest& request, int status, std::string_view message,
            std::string detail);
  policy::BackendLoad load() const;

  event::Dispatcher& dispatcher_;
  const config::RouteConfig& route_;
  upstream::UpstreamCluster& cluster_;
  stats::RouteStats& stats_;
  std::unique_ptr<batching::BatchCodec> codec_;
  std::unordered_map<std::string, std::unique_ptr<Bucket>> buckets_;
  std::list<std::unique_ptr<BatchCall>> calls_;
  size_t queued_rows_ = 0;
  size_t in_flight_ = 0;
  policy::RetryBudget isolation_budget_;
  policy::Rng rng_;
};

}  // namespace rampart::batching_engine
