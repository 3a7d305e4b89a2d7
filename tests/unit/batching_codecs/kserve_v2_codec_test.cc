#include "filters/batching/codecs/kserve_v2_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "filters/batching/codecs/echo_model.h"

namespace rampart::batching {
namespace {

using Json = nlohmann::json;
using Kind = ParseOutcome::Kind;

constexpr std::string_view kPath = "/v2/models/resnet/versions/2/infer";

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

TEST(KServeV2Codec, MergesRowsAndSetsBatchDimension) {
  KServeV2Codec codec;
  std::vector<BatchItem> items = {
      mustParse(codec,
                R"({"id":"a1","inputs":[{"name":"INPUT0","shape":[1,3],"datatype":"FP32",
                    "data":[0.1,0.2,0.3]}],"outputs":[{"name":"OUTPUT0"}]})"),
      mustParse(codec, R"({"id":"b7","inputs":[{"name":"INPUT0","shape":[2,3],"datatype":"FP32",
                    "data":[[1,2,3],[4,5,6]]}],"outputs":[{"name":"OUTPUT0"}]})")};
  EXPECT_EQ(items[0].key, items[1].key);
  EXPECT_EQ(items[0].rows, 1u);
  EXPECT_EQ(items[1].rows, 2u);
  Json merged = Json::parse(codec.merge(ptrs(items)));
  EXPECT_FALSE(merged.contains("id"));  // the caller ids stay private to the proxy
  ASSERT_EQ(merged["inputs"].size(), 1u);
  EXPECT_EQ(merged["inputs"][0]["shape"], Json::parse("[3,3]"));
  EXPECT_EQ(merged["inputs"][0]["data"], Json::parse("[0.1,0.2,0.3,1.0,2.0,3.0,4.0,5.0,6.0]"));
  EXPECT_EQ(merged["outputs"], Json::parse(R"([{"name":"OUTPUT0"}])"));
}

TEST(KServeV2Codec, SplitsOutputsByRowsAndRestoresIds) {
  KServeV2Codec codec;
  std::vector<BatchItem> items = {
      mustParse(codec, R"({"id":"a1","inputs":[{"name":"x","shape":[1,3],"datatype":"FP32",
                    "data":[0.1,0.2,0.3]}]})"),
      mustParse(codec, R"({"id":"b7","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32",
                    "data":[1,2,3,4,5,6]}]})"),
      mustParse(codec, R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32",
                    "data":[7,8,9]}]})")};
  std::string upstream = R"({"model_name":"resnet","model_version":"2","id":"whatever",
      "outputs":[{"name":"prob","shape":[4,2],"datatype":"FP32","data":[0.9,0.1,0.3,0.7,0.5,0.5,0.2,0.8]},
                 {"name":"label","shape":[4],"datatype":"INT64","data":[0,1,0,1]}]})";
  SplitOutcome out = codec.split(200, upstream, ptrs(items));
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  ASSERT_EQ(out.items.size(), 3u);
  Json a = Json::parse(out.items[0].body);
  EXPECT_EQ(out.items[0].status, 200);
  EXPECT_EQ(a["id"], "a1");
  EXPECT_EQ(a["model_name"], "resnet");
  EXPECT_EQ(a["model_version"], "2");
  EXPECT_EQ(a["outputs"][0]["shape"], Json::parse("[1,2]"));
  EXPECT_EQ(a["outputs"][0]["data"], Json::parse("[0.9,0.1]"));
  EXPECT_EQ(a["outputs"][1]["shape"], Json::parse("[1]"));
  EXPECT_EQ(a["outputs"][1]["data"], Json::parse("[0]"));
  Json b = Json::parse(out.items[1].body);
  EXPECT_EQ(b["id"], "b7");
  EXPECT_EQ(b["outputs"][0]["shape"], Json::parse("[2,2]"));
  EXPECT_EQ(b["outputs"][0]["data"], Json::parse("[0.3,0.7,0.5,0.5]"));
  EXPECT_EQ(b["outputs"][1]["data"], Json::parse("[1,0]"));
  Json c = Json::parse(out.items[2].body);
  EXPECT_FALSE(c.contains("id"));  // the caller gave none, so none is invented
  EXPECT_EQ(c["outputs"][0]["data"], Json::parse("[0.2,0.8]"));
  EXPECT_EQ(c["outputs"][1]["data"], Json::parse("[1]"));
}

TEST(KServeV2Codec, EchoRoundTripGivesEveryCallerItsOwnRowsAcrossInputs) {
  KServeV2Codec codec;
  std::vector<BatchItem> items;
  for (int caller = 0; caller < 5; ++caller) {
    Json req = {{"id", "req-" + std::to_string(caller)}, {"inputs", Json::array()}};
    const int rows = 1 + caller % 3;
    Json img = Json::array(), mask = Json::array();
    for (int r = 0; r < rows; ++r) {
      img.push_back({caller * 100 + r, caller * 100 + r + 0.5});
      mask.push_back(caller % 2 == 0);
    }
    req["inputs"].push_back(
        {{"name", "img"}, {"shape", {rows, 2}}, {"datatype", "FP64"}, {"data", img}});
    req["inputs"].push_back(
        {{"name", "mask"}, {"shape", {rows}}, {"datatype", "BOOL"}, {"data", mask}});
    items.push_back(mustParse(codec, req.dump()));
  }
  auto p = ptrs(items);
  auto echo = echoResponse(Format::KServeV2, codec.merge(p));
  ASSERT_TRUE(echo);
  SplitOutcome out = codec.split(200, *echo, p);
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  for (int caller = 0; caller < 5; ++caller) {
    Json resp = Json::parse(out.items[caller].body);
    const int rows = 1 + caller % 3;
    EXPECT_EQ(resp["id"], "req-" + std::to_string(caller));
    for (const auto& o : resp["outputs"]) {
      EXPECT_EQ(o["shape"][0], rows);
      if (o["name"] == "img__echo") {
        ASSERT_EQ(o["data"].size(), static_cast<size_t>(2 * rows));
        for (int r = 0; r < rows; ++r) EXPECT_EQ(o["data"][2 * r], caller * 100 + r);
      } else {
        EXPECT_EQ(o["name"], "mask__echo");
        for (const auto& v : o["data"]) EXPECT_EQ(v, caller % 2 == 0);
      }
    }
  }
}

TEST(KServeV2Codec, InputOrderDoesNotChangeTheKey) {
  KServeV2Codec codec;
  auto a = mustParse(codec, R"({"inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[1]},
      {"name":"b","shape":[1,2],"datatype":"INT32","data":[[1,2]]}]})");
  auto b =
      mustParse(codec, R"({"inputs":[{"name":"b","shape":[1,2],"datatype":"INT32","data":[3,4]},
      {"name":"a","shape":[1],"datatype":"INT32","data":[2]}]})");
  EXPECT_EQ(a.key, b.key);
  Json merged = Json::parse(codec.merge(ptrs({a, b})));
  EXPECT_EQ(merged["inputs"][0]["data"], Json::parse("[1,2]"));
  EXPECT_EQ(merged["inputs"][1]["data"], Json::parse("[1,2,3,4]"));
}

TEST(KServeV2Codec, DifferentModelsShapesTypesAndParametersNeverShareAKey) {
  KServeV2Codec codec;
  const std::string base =
      R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})";
  std::string key = mustParse(codec, base).key;
  EXPECT_EQ(mustParse(codec, R"({"id":"other","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32",
      "data":[1,2,3,4,5,6]}]})")
                .key,
            key);  // more rows and an id: same key
  EXPECT_NE(mustParse(codec, base, "/v2/models/other/versions/2/infer").key, key);
  EXPECT_NE(mustParse(codec, base, "/v2/models/resnet/versions/3/infer").key, key);
  EXPECT_NE(mustParse(codec, base, "/v2/models/resnet/infer").key, key);
  EXPECT_NE(mustParse(codec, R"({"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32",
      "data":[1,2,3,4]}]})")
                .key,
            key);
  EXPECT_NE(mustParse(codec, R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64",
      "data":[1,2,3]}]})")
                .key,
            key);
  EXPECT_NE(mustParse(codec, R"({"inputs":[{"name":"y","shape":[1,3],"datatype":"FP32",
      "data":[1,2,3]}]})")
                .key,
            key);
  EXPECT_NE(mustParse(codec, R"({"parameters":{"priority":1},"inputs":[{"name":"x","shape":[1,3],
      "datatype":"FP32","data":[1,2,3]}]})")
                .key,
            key);
  EXPECT_NE(mustParse(codec, R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32",
      "data":[1,2,3]}],"outputs":[{"name":"OUT"}]})")
                .key,
            key);
  EXPECT_NE(mustParse(codec, R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32",
      "parameters":{"content_type":"np"},"data":[1,2,3]}]})")
                .key,
            key);
}

TEST(KServeV2Codec, InvalidRequestsGetAClearMessage) {
  KServeV2Codec codec;
  struct Case {
    const char* body;
    const char* reason_contains;
  } cases[] = {
      {"not json", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {R"({"inputs":[]})", "non-empty array"},
      {R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})", "name"},
      {R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5]}]})",
       "shape holds 6 elements but data has 5"},
      {R"({"inputs":[{"name":"x","shape":[1,-3],"datatype":"FP32","data":[1]}]})", "shape"},
      {R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","data":[1,"two"]}]})",
       "does not match datatype INT32"},
      {R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","data":[1,2.5]}]})", "INT32"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})", "missing \"data\""},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},
           {"name":"x","shape":[1],"datatype":"FP32","data":[2]}]})",
       "appears twice"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":{}})",
       "outputs"},
  };
  for (const auto& c : cases) {
    ParseOutcome out = codec.parse(kPath, c.body);
    EXPECT_EQ(out.kind, Kind::Invalid) << c.body;
    EXPECT_NE(out.reason.find(c.reason_contains), std::string::npos) << out.reason;
  }
  EXPECT_EQ(Json::parse(codec.errorBody(400, "bad shape")),
            Json::parse(R"({"error":"bad shape"})"));
}

TEST(KServeV2Codec, UnbatchableRequestsPassThrough) {
  KServeV2Codec codec(CodecOptions{.max_rows = 4});
  const char* bodies[] = {
      // binary tensor extension: JSON header followed by raw bytes
      ("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
       "\"parameters\":{\"binary_data_size\":8}}]}\x01\x02\x03\x04\x05\x06\x07\x08"),
      R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})",
      R"({"parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]})",
      R"({"parameters":{"sequence_id":7},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"inputs":[{"name":"x","shape":[0,3],"datatype":"FP32","data":[]}]})",  // no rows
      R"({"inputs":[{"name":"x","shape":[],"datatype":"FP32","data":1}]})",      // no batch dim
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},
          {"name":"b","shape":[3],"datatype":"FP32","data":[1,2,3]}]})",         // dims disagree
      R"({"inputs":[{"name":"x","shape":[5],"datatype":"FP32","data":[1,2,3,4,5]}]})",  // >
                                                                                        // max_rows
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP8E4","data":[1]}]})",  // unknown type
  };
  for (const char* body : bodies) {
    ParseOutcome out = codec.parse(kPath, body);
    EXPECT_EQ(out.kind, Kind::PassThrough) << body << " -> " << out.reason;
    EXPECT_FALSE(out.reason.empty());
  }
  EXPECT_EQ(codec.parse("/v2/models/resnet", "{}").kind, Kind::PassThrough);
  EXPECT_EQ(codec.parse("/v2/models/resnet/ready", "{}").kind, Kind::PassThrough);
  EXPECT_EQ(codec
                .parse(std::string(kPath) + "?x=1",
                       R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})")
                .kind,
            Kind::Batchable);
}

TEST(KServeV2Codec, BytesTensorsSplitPerElement) {
  KServeV2Codec codec;
  std::vector<BatchItem> items = {
      mustParse(
          codec,
          R"({"inputs":[{"name":"text","shape":[1,2],"datatype":"BYTES","data":["a","b"]}]})"),
      mustParse(
          codec,
          R"({"inputs":[{"name":"text","shape":[1,2],"datatype":"BYTES","data":["c,d","e"]}]})")};
  auto p = ptrs(items);
  Json merged = Json::parse(codec.merge(p));
  EXPECT_EQ(merged["inputs"][0]["data"], Json::parse(R"(["a","b","c,d","e"])"));
  SplitOutcome out = codec.split(200, *echoResponse(Format::KServeV2, merged.dump()), p);
  ASSERT_FALSE(out.whole_batch_failed);
  EXPECT_EQ(Json::parse(out.items[1].body)["outputs"][0]["data"], Json::parse(R"(["c,d","e"])"));
}

TEST(KServeV2Codec, BackendErrorsFailTheWholeBatch) {
  KServeV2Codec codec;
  std::vector<BatchItem> items = {
      mustParse(codec, R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]})"),
      mustParse(codec,
                R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]})")};
  auto p = ptrs(items);
  SplitOutcome e500 = codec.split(500, R"({"error":"CUDA out of memory"})", p);
  EXPECT_TRUE(e500.whole_batch_failed);
  EXPECT_TRUE(e500.items.empty());
  EXPECT_NE(e500.error.find("CUDA out of memory"), std::string::npos);
  EXPECT_NE(e500.error.find("500"), std::string::npos);

  // Wrong row count in a 200: never a mis-split.
  SplitOutcome rows = codec.split(
      200, R"({"outputs":[{"name":"y","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]})", p);
  EXPECT_TRUE(rows.whole_batch_failed);
  EXPECT_NE(rows.error.find("has 2 rows, expected 3"), std::string::npos) << rows.error;

  // Shape and data disagree.
  SplitOutcome size = codec.split(
      200, R"({"outputs":[{"name":"y","shape":[3,2],"datatype":"FP32","data":[1,2,3,4,5]}]})", p);
  EXPECT_TRUE(size.whole_batch_failed);
  EXPECT_NE(size.error.find("elements"), std::string::npos);

  EXPECT_TRUE(codec.split(200, "<html>oops</html>", p).whole_batch_failed);
  EXPECT_TRUE(codec.split(200, R"({"model_name":"m"})", p).whole_batch_failed);
  EXPECT_TRUE(codec
                  .split(200, R"({"outputs":[{"name":"y","shape":[3,2],"datatype":"FP32",
      "parameters":{"binary_data_size":24}}]})",
                         p)
                  .whole_batch_failed);
}

TEST(KServeV2Codec, NestedUpstreamDataAndResponseParametersAreKept) {
  KServeV2Codec codec;
  std::vector<BatchItem> items = {
      mustParse(codec,
                R"({"id":"1","inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[1]}]})"),
      mustParse(codec,
                R"({"id":"2","inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[2]}]})")};
  SplitOutcome out = codec.split(200, R"({"model_name":"m","parameters":{"trace":"t"},
      "outputs":[{"name":"y","shape":[2,2,1],"datatype":"FP32","parameters":{"unit":"p"},
      "data":[[[1],[2]],[[3],[4]]]}]})",
                                 ptrs(items));
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  Json second = Json::parse(out.items[1].body);
  EXPECT_EQ(second["parameters"]["trace"], "t");
  EXPECT_EQ(second["outputs"][0]["parameters"]["unit"], "p");
  EXPECT_EQ(second["outputs"][0]["shape"], Json::parse("[1,2,1]"));
  EXPECT_EQ(second["outputs"][0]["data"], Json::parse("[3,4]"));
  EXPECT_FALSE(second.contains("model_version"));
}

}  // namespace
}  // namespace rampart::batching
