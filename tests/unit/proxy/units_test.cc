#include "proxy/config/units.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::config {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(parseDuration("250us"), microseconds(250));
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("2s"), seconds(2));
  EXPECT_EQ(parseDuration("1m"), minutes(1));
  EXPECT_EQ(parseDuration("3h"), hours(3));
}

TEST(ParseDuration, AcceptsFractions) {
  EXPECT_EQ(parseDuration("1.5m"), seconds(90));
  EXPECT_EQ(parseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parseDuration("0.25ms"), microseconds(250));
  EXPECT_EQ(parseDuration("2.5us"), nanoseconds(2500));
}

TEST(ParseDuration, BareZeroIsZeroButOtherBareNumbersAreNot) {
  // "0" is unambiguous; "10" could mean seconds or milliseconds, so it is refused.
  EXPECT_EQ(parseDuration("0"), nanoseconds(0));
  EXPECT_EQ(parseDuration("0s"), nanoseconds(0));
  EXPECT_FALSE(parseDuration("10"));
  EXPECT_FALSE(parseDuration("1"));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* text : {"", "s", "ms", "-1s", "+1s", "1x", "1sec", "1 m s", "1S", "1MS", ".s",
                           "1.2.3s", "abc", "1e3ms", "1d", "1ns", "s1", "NaNs", "infs"}) {
    EXPECT_FALSE(parseDuration(text)) << "'" << text << "'";
  }
}

TEST(ParseDuration, RejectsAbsurdlyLongDurations) {
  // Beyond ~115 days the nanosecond count is still representable, but no
  // timeout in a sidecar is meant to be that long: the limit is 1e7 seconds.
  EXPECT_EQ(parseDuration("10000000s"), seconds(10000000));
  EXPECT_FALSE(parseDuration("10000001s"));
  EXPECT_FALSE(parseDuration("3000h"));
  EXPECT_FALSE(parseDuration("99999999999999999999999s"));
}

TEST(ParseSize, PlainBytesAndByteSuffix) {
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("1000"), 1000u);
  EXPECT_EQ(parseSize("1000B"), 1000u);
}

TEST(ParseSize, DecimalAndBinaryMultiples) {
  EXPECT_EQ(parseSize("1KB"), 1000u);
  EXPECT_EQ(parseSize("2MB"), 2000000u);
  EXPECT_EQ(parseSize("3GB"), 3000000000u);
  EXPECT_EQ(parseSize("64KiB"), 64u * 1024);
  EXPECT_EQ(parseSize("16MiB"), 16u * 1024 * 1024);
  EXPECT_EQ(parseSize("2GiB"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(parseSize("1.5KiB"), 1536u);
  EXPECT_EQ(parseSize("0.5MB"), 500000u);
}

TEST(ParseSize, RejectsFractionalBytesAndUnknownUnits) {
  for (const char* text : {"", "KiB", "-1", "1.5", "0.3KiB", "1kb", "1kib", "1K", "1Ki", "1TB",
                           "1 KiBs", "1e3", "x", "1..5KB"}) {
    EXPECT_FALSE(parseSize(text)) << "'" << text << "'";
  }
}

TEST(ParseSize, RejectsHugeValues) {
  EXPECT_EQ(parseSize("1000000GB"), 1000000000000000ull);
  EXPECT_FALSE(parseSize("1000001GB"));
  EXPECT_FALSE(parseSize("99999999999999999999"));
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(seconds(0)), "0s");
  EXPECT_EQ(formatDuration(seconds(2)), "2s");
  EXPECT_EQ(formatDuration(minutes(1)), "60s");
  EXPECT_EQ(formatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(microseconds(20)), "20us");
  EXPECT_EQ(formatDuration(microseconds(1500)), "1500us");
}

TEST(FormatDuration, SubMicrosecondFallsBackToFractionalMilliseconds) {
  const std::string text = formatDuration(nanoseconds(1500));
  EXPECT_EQ(text.substr(text.size() - 2), "ms");
  EXPECT_DOUBLE_EQ(std::stod(text), 0.0015);
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (auto d : {nanoseconds(0), nanoseconds(seconds(15)), nanoseconds(milliseconds(20)),
                 nanoseconds(microseconds(7)), nanoseconds(milliseconds(123456))}) {
    EXPECT_EQ(parseDuration(formatDuration(d)), d) << formatDuration(d);
  }
}

}  // namespace
}  // namespace rampart::config
