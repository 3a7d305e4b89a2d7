#include "policy/batch_static.h"

#include <gtest/gtest.h>

namespace rampart::policy {
namespace {

using namespace std::chrono_literals;

TEST(StaticBatchWindow, WaitsForTheWindowThenSendsWhatItHas) {
  StaticBatchWindow w(8, 5ms);
  const TimePoint t0 = TimePoint{} + 1s;
  const PendingBucket bucket{3, t0, std::nullopt};
  auto d = w.decide(t0 + 1ms, bucket, {0, 1});
  ASSERT_TRUE(std::holds_alternative<WaitUntil>(d));
  EXPECT_EQ(std::get<WaitUntil>(d).at, t0 + 5ms);
  d = w.decide(t0 + 5ms, bucket, {0, 1});
  ASSERT_TRUE(std::holds_alternative<Dispatch>(d));
  EXPECT_EQ(std::get<Dispatch>(d).rows, 3u);
  EXPECT_EQ(std::get<Dispatch>(d).reason, DispatchReason::WindowExpired);
}

TEST(StaticBatchWindow, SendsAFullBatchAtOnce) {
  StaticBatchWindow w(8, 5ms);
  const TimePoint t0 = TimePoint{} + 1s;
  auto d = w.decide(t0, {20, t0, std::nullopt}, {0, 2});
  ASSERT_TRUE(std::holds_alternative<Dispatch>(d));
  EXPECT_EQ(std::get<Dispatch>(d).rows, 8u);
  EXPECT_EQ(std::get<Dispatch>(d).reason, DispatchReason::Full);
}

TEST(StaticBatchWindow, HoldsWhileEverySlotIsBusy) {
  StaticBatchWindow w(8, 5ms);
  const TimePoint t0 = TimePoint{} + 1s;
  auto d = w.decide(t0 + 1s, {20, t0, std::nullopt}, {2, 2});
  ASSERT_TRUE(std::holds_alternative<WaitUntil>(d));
  EXPECT_EQ(std::get<WaitUntil>(d).at, TimePoint::max());
}

}  // namespace
}  // namespace rampart::policy
