#include "filters/batching/codecs/batch_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "filters/batching/codecs/contract_check.h"
#include "filters/batching/codecs/json_util.h"

namespace rampart::batching {
namespace {

TEST(BatchCodec, FormatNamesRoundTrip) {
  for (Format f : {Format::KServeV2, Format::TfServing, Format::OpenAiEmbeddings}) {
    auto parsed = parseFormat(formatName(f));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, f);
    auto codec = makeCodec(f);
    ASSERT_NE(codec, nullptr);
    EXPECT_EQ(codec->format(), f);
  }
  EXPECT_EQ(parseFormat("kserve_v2"), Format::KServeV2);
  EXPECT_FALSE(parseFormat("kserve"));
  EXPECT_FALSE(parseFormat(""));
}

TEST(BatchCodec, DeeplyNestedBodiesAreNeverParsed) {
  std::string deep(100000, '[');
  for (Format f : {Format::KServeV2, Format::TfServing, Format::OpenAiEmbeddings}) {
    auto codec = makeCodec(f);
    const char* path = f == Format::KServeV2    ? "/v2/models/m/infer"
                       : f == Format::TfServing ? "/v1/models/m:predict"
                                                : "/v1/embeddings";
    EXPECT_EQ(codec->parse(path, deep).kind, ParseOutcome::Kind::PassThrough);
    std::string body = R"({"inputs":)" + deep;
    EXPECT_NE(codec->parse(path, body).kind, ParseOutcome::Kind::Batchable);
  }
}

TEST(BatchCodec, ContractHoldsOnRepresentativeBatches) {
  struct Case {
    Format format;
    const char* path;
    std::vector<std::string_view> requests;
    std::string_view upstream;
  } cases[] = {
      {Format::KServeV2,
       "/v2/models/m/versions/1/infer",
       {R"({"id":"a","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]})",
        R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[3,4],[5,6]]}]})"},
       R"({"outputs":[{"name":"y","shape":[5],"datatype":"FP32","data":[1,2,3,4,5]}]})"},
      {Format::TfServing,
       "/v1/models/m:predict",
       {R"({"instances":[[1,2],[3,4]]})", R"({"instances":[[5,6]]})"},
       R"({"predictions":[1,2,3]})"},
      {Format::OpenAiEmbeddings,
       "/v1/embeddings",
       {R"({"model":"m","input":["ab","cd"]})", R"({"model":"m","input":"ef"})"},
       R"({"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":[2]},)"
       R"({"index":2,"embedding":[3]},{"index":3,"embedding":[4]},{"index":4,"embedding":[5]}]})"},
  };
  for (const auto& c : cases) {
    auto codec = makeCodec(c.format);
    for (int status : {200, 500}) {
      EXPECT_EQ(checkCodecContract(*codec, c.path, c.requests, status, c.upstream), "")
          << formatName(c.format) << " status " << status;
    }
  }
}

TEST(JsonUtil, ApportionAddsUpExactly) {
  using detail::apportion;
  EXPECT_EQ(apportion(10, {11, 22}), (std::vector<std::int64_t>{3, 7}));
  EXPECT_EQ(apportion(7, {1, 1, 1}), (std::vector<std::int64_t>{3, 2, 2}));
  EXPECT_EQ(apportion(5, {0, 0}), (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(apportion(0, {4, 5}), (std::vector<std::int64_t>{0, 0}));
  auto shares = apportion(1000003, {17, 4, 99, 1, 0, 250});
  std::int64_t sum = 0;
  for (auto s : shares) sum += s;
  EXPECT_EQ(sum, 1000003);
  EXPECT_EQ(shares[4], 0);
}

TEST(JsonUtil, NestingScanIgnoresBracketsInStrings) {
  EXPECT_FALSE(detail::nestsDeeperThan(R"({"a":"[[[[[[[[[["})", 3));
  EXPECT_TRUE(detail::nestsDeeperThan("[[[[", 3));
  EXPECT_FALSE(detail::nestsDeeperThan(R"(["\"[[[[[["])", 3));
}

}  // namespace
}  // namespace rampart::batching
