#pragma once
// Load shedding: each request asks its route's AdmissionController for a
// permit before it is routed. Admitted requests hold the permit (an RAII-like
// handle released in onComplete or the destructor, feeding the RTT sample);
// queued requests wait; refused ones get a fast 503 with retry-after.

#include <memory>

#include "filters/filter.h"
#include "filters/load_shedding/admission_controller.h"

namespace rampart::filters {

class LoadSheddingFilter final : public StreamFilter, public AdmissionWaiter {
 public:
  LoadSheddingFilter(AdmissionController& controller, const config::SheddingConfig& config,
                     event::Dispatcher& dispatcher);
  ~LoadSheddingFilter() override;

  void setCallbacks(FilterCallbacks& callbacks) override { callbacks_ = &callbacks; }
  FilterStatus decodeHeaders(http::RequestHead& head, bool end_stream) override;
  void onComplete(const RequestOutcome& outcome) override;

  void onAdmitted(policy::PermitId permit) override;
  void onRefused(policy::RejectReason reason) override;

 private:
  void refuse(policy::RejectReason reason);
  void giveBack(const RequestOutcome* outcome);

  AdmissionController& controller_;
  const config::SheddingConfig& config_;
  event::Dispatcher& dispatcher_;
  FilterCallbacks* callbacks_ = nullptr;
  policy::Priority priority_ = policy::Priority::Normal;
  policy::PermitId permit_{};
  policy::WaiterId waiter_{};
  policy::TimePoint admitted_at_{};
};

class LoadSheddingFilterFactory final : public FilterFactory {
 public:
  LoadSheddingFilterFactory(event::Dispatcher& dispatcher, const config::SheddingConfig& config,
                            stats::RouteStats& stats)
      : dispatcher_(dispatcher), config_(config), controller_(dispatcher, config, stats) {}
  std::unique_ptr<StreamFilter> create() override {
    return std::make_unique<LoadSheddingFilter>(controller_, config_, dispatcher_);
  }
  AdmissionController& controller() { return controller_; }

 private:
  event::Dispatcher& dispatcher_;
  const config::SheddingConfig& config_;
  AdmissionController controller_;
};

}  // namespace rampart::filters
