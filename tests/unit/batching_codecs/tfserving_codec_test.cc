#include "filters/batching/codecs/tfserving_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "filters/batching/codecs/echo_model.h"

namespace rampart::batching {
namespace {

using Json = nlohmann::json;
using Kind = ParseOutcome::Kind;

constexpr std::string_view kPath = "/v1/models/half_plus_two:predict";

BatchItem mustParse(const BatchCodec& codec, std::string_view body, std::string_view path = kPath) {
  ParseOutcome out = codec.parse(path, body);
  EXPECT_EQ(out.kind, Kind::Batchable) << out.reason << " for " << body;
  return out.item.value_or(BatchItem{});
}

std::vector<const BatchItem*> ptrs(const std::vector<BatchItem>& items) {
  std::vector<const BatchItem*> p;
  for (const auto& i : items) p.push_back(&i);
  return p;
}

TEST(TfServingCodec, MergeAndSplitByRowCount) {
  TfServingCodec codec;
  std::vector<BatchItem> items = {mustParse(codec, R"({"instances":[1.0,2.0]})"),
                                  mustParse(codec, R"({"instances":[5.0]})"),
                                  mustParse(codec, R"({"instances":[7,8,9]})")};
  EXPECT_EQ(items[0].key, items[1].key);
  EXPECT_EQ(items[0].key, items[2].key);
  auto p = ptrs(items);
  Json merged = Json::parse(codec.merge(p));
  EXPECT_EQ(merged, Json::parse(R"({"instances":[1.0,2.0,5.0,7,8,9]})"));
  SplitOutcome out = codec.split(200, R"({"predictions":[2.5,3.0,4.5,5.5,6.0,6.5]})", p);
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  ASSERT_EQ(out.items.size(), 3u);
  EXPECT_EQ(Json::parse(out.items[0].body), Json::parse(R"({"predictions":[2.5,3.0]})"));
  EXPECT_EQ(Json::parse(out.items[1].body), Json::parse(R"({"predictions":[4.5]})"));
  EXPECT_EQ(Json::parse(out.items[2].body), Json::parse(R"({"predictions":[5.5,6.0,6.5]})"));
}

TEST(TfServingCodec, NamedInputRowsRoundTripWithSignature) {
  TfServingCodec codec;
  const std::string path = "/v1/models/wide_deep/versions/3:predict";
  std::vector<BatchItem> items;
  for (int caller = 0; caller < 4; ++caller) {
    Json req = {{"signature_name", "serving_default"}, {"instances", Json::array()}};
    for (int r = 0; r <= caller; ++r) {
      req["instances"].push_back(
          {{"tag", "c" + std::to_string(caller)}, {"signal", {caller, r, 0}}});
    }
    items.push_back(mustParse(codec, req.dump(), path));
  }
  auto p = ptrs(items);
  Json merged = Json::parse(codec.merge(p));
  EXPECT_EQ(merged["signature_name"], "serving_default");
  EXPECT_EQ(merged["instances"].size(), 10u);
  SplitOutcome out = codec.split(200, *echoResponse(Format::TfServing, merged.dump()), p);
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  for (int caller = 0; caller < 4; ++caller) {
    Json preds = Json::parse(out.items[caller].body)["predictions"];
    ASSERT_EQ(preds.size(), static_cast<size_t>(caller + 1));
    for (int r = 0; r <= caller; ++r) {
      EXPECT_EQ(preds[r]["tag"], "c" + std::to_string(caller));
      EXPECT_EQ(preds[r]["signal"], Json({caller, r, 0}));
    }
  }
}

TEST(TfServingCodec, KeySeparatesModelsVersionsSignaturesAndShapes) {
  TfServingCodec codec;
  std::string key = mustParse(codec, R"({"instances":[[1,2,3]]})").key;
  EXPECT_EQ(mustParse(codec, R"({"instances":[[4,5,6],[7,8,9]]})").key, key);
  EXPECT_NE(mustParse(codec, R"({"instances":[[1,2]]})").key, key);          // row length
  EXPECT_NE(mustParse(codec, R"({"instances":[["a","b","c"]]})").key, key);  // element type
  EXPECT_NE(mustParse(codec, R"({"instances":[[[1],[2],[3]]]})").key, key);  // rank
  EXPECT_NE(mustParse(codec, R"({"signature_name":"other","instances":[[1,2,3]]})").key, key);
  EXPECT_NE(mustParse(codec, R"({"instances":[[1,2,3]]})", "/v1/models/other:predict").key, key);
  EXPECT_NE(
      mustParse(codec, R"({"instances":[[1,2,3]]})", "/v1/models/half_plus_two/versions/2:predict")
          .key,
      key);
  EXPECT_NE(mustParse(codec, R"({"instances":[[1,2,3]]})",
                      "/v1/models/half_plus_two/labels/canary:predict")
                .key,
            key);
  EXPECT_NE(mustParse(codec, R"({"instances":[{"a":[1,2,3]}]})").key,
            mustParse(codec, R"({"instances":[{"b":[1,2,3]}]})").key);  // object keys
}

TEST(TfServingCodec, InvalidAndPassThrough) {
  TfServingCodec codec(CodecOptions{.max_rows = 3});
  EXPECT_EQ(codec.parse(kPath, "{").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"instances":{}})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"signature_name":5,"instances":[1]})").kind, Kind::Invalid);
  ParseOutcome both = codec.parse(kPath, R"({"instances":[1],"inputs":[1]})");
  EXPECT_EQ(both.kind, Kind::Invalid);
  EXPECT_NE(both.reason.find("both"), std::string::npos);
  EXPECT_EQ(codec.parse(kPath, R"({"inputs":{"a":[1,2],"b":[3]}})").kind, Kind::PassThrough);
  EXPECT_EQ(codec.parse(kPath, R"({"instances":[]})").kind, Kind::PassThrough);
  EXPECT_EQ(codec.parse(kPath, R"({"instances":[[1,2],[3]]})").kind, Kind::PassThrough);  // ragged
  EXPECT_EQ(codec.parse(kPath, R"({"instances":[[1,[2]]]})").kind, Kind::PassThrough);    // mixed
  EXPECT_EQ(codec.parse(kPath, R"({"instances":[1,2,3,4]})").kind, Kind::PassThrough);    // > max
  EXPECT_EQ(codec.parse("/v1/models/half_plus_two:classify", R"({"instances":[1]})").kind,
            Kind::PassThrough);
  EXPECT_EQ(codec.parse("/v1/models/half_plus_two", R"({"instances":[1]})").kind,
            Kind::PassThrough);
  EXPECT_EQ(codec.parse("/v1/models/a/b:predict", R"({"instances":[1]})").kind, Kind::PassThrough);
}

TEST(TfServingCodec, WrongRowCountAndErrorsFailTheWholeBatch) {
  TfServingCodec codec;
  std::vector<BatchItem> items = {mustParse(codec, R"({"instances":[1,2]})"),
                                  mustParse(codec, R"({"instances":[3]})")};
  auto p = ptrs(items);
  SplitOutcome few = codec.split(200, R"({"predictions":[1,2]})", p);
  EXPECT_TRUE(few.whole_batch_failed);
  EXPECT_NE(few.error.find("2 predictions for 3 rows"), std::string::npos) << few.error;
  SplitOutcome err =
      codec.split(404, R"j({"error":"Servable not found for request: Latest(half)"})j", p);
  EXPECT_TRUE(err.whole_batch_failed);
  EXPECT_NE(err.error.find("Servable not found"), std::string::npos);
  EXPECT_TRUE(codec.split(200, R"({"error":"oops"})", p).whole_batch_failed);
  EXPECT_TRUE(codec.split(200, R"({"outputs":[1,2,3]})", p).whole_batch_failed);
  EXPECT_TRUE(codec.split(200, "", p).whole_batch_failed);
}

TEST(TfServingCodec, PerRowErrorFailsOnlyItsCaller) {
  TfServingCodec codec;
  std::vector<BatchItem> items = {mustParse(codec, R"({"instances":[1,2]})"),
                                  mustParse(codec, R"({"instances":[3]})"),
                                  mustParse(codec, R"({"instances":[4]})")};
  SplitOutcome out =
      codec.split(200, R"({"predictions":[10,20,{"error":"NaN in input"},40]})", ptrs(items));
  ASSERT_FALSE(out.whole_batch_failed);
  EXPECT_EQ(out.items[0].status, 200);
  EXPECT_EQ(Json::parse(out.items[0].body)["predictions"], Json::parse("[10,20]"));
  EXPECT_EQ(out.items[1].status, 500);
  EXPECT_EQ(Json::parse(out.items[1].body), Json::parse(R"({"error":"NaN in input"})"));
  EXPECT_EQ(out.items[2].status, 200);
  EXPECT_EQ(Json::parse(out.items[2].body)["predictions"], Json::parse("[40]"));
}

}  // namespace
}  // namespace rampart::batching
