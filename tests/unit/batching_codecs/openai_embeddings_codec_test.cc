#include "filters/batching/codecs/openai_embeddings_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "filters/batching/codecs/echo_model.h"

namespace rampart::batching {
namespace {

using Json = nlohmann::json;
using Kind = ParseOutcome::Kind;

constexpr std::string_view kPath = "/v1/embeddings";

BatchItem mustParse(const BatchCodec& codec, std::string_view body) {
  ParseOutcome out = codec.parse(kPath, body);
  EXPECT_EQ(out.kind, Kind::Batchable) << out.reason << " for " << body;
  return out.item.value_or(BatchItem{});
}

std::vector<const BatchItem*> ptrs(const std::vector<BatchItem>& items) {
  std::vector<const BatchItem*> p;
  for (const auto& i : items) p.push_back(&i);
  return p;
}

TEST(OpenAiEmbeddingsCodec, MergesInputsAndReindexesPerCaller) {
  OpenAiEmbeddingsCodec codec;
  std::vector<BatchItem> items = {
      mustParse(codec, R"({"model":"e5","input":"hello world","user":"alice"})"),
      mustParse(codec, R"({"model":"e5","input":["foo bar baz","lorem ipsum"],"user":"bob"})")};
  EXPECT_EQ(items[0].key, items[1].key);
  EXPECT_EQ(items[0].rows, 1u);
  EXPECT_EQ(items[1].rows, 2u);
  EXPECT_EQ(items[0].cost, 11u);
  auto p = ptrs(items);
  Json merged = Json::parse(codec.merge(p));
  EXPECT_EQ(merged,
            Json::parse(R"({"model":"e5","input":["hello world","foo bar baz","lorem ipsum"]})"));

  // Entries arrive out of order: placement follows "index", not position.
  std::string upstream = R"({"object":"list","model":"e5",
    "data":[{"object":"embedding","index":2,"embedding":[0.3]},
            {"object":"embedding","index":0,"embedding":[0.1]},
            {"object":"embedding","index":1,"embedding":[0.2]}],
    "usage":{"prompt_tokens":10,"total_tokens":10}})";
  SplitOutcome out = codec.split(200, upstream, p);
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  Json a = Json::parse(out.items[0].body), b = Json::parse(out.items[1].body);
  EXPECT_EQ(a["object"], "list");
  EXPECT_EQ(a["model"], "e5");
  ASSERT_EQ(a["data"].size(), 1u);
  EXPECT_EQ(a["data"][0]["index"], 0);
  EXPECT_EQ(a["data"][0]["embedding"], Json::parse("[0.1]"));
  ASSERT_EQ(b["data"].size(), 2u);
  EXPECT_EQ(b["data"][0]["index"], 0);
  EXPECT_EQ(b["data"][0]["embedding"], Json::parse("[0.2]"));
  EXPECT_EQ(b["data"][1]["index"], 1);
  EXPECT_EQ(b["data"][1]["embedding"], Json::parse("[0.3]"));
  // Usage apportioned by length (11 vs 22 characters) and adding up to the backend's 10.
  EXPECT_EQ(a["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(b["usage"]["prompt_tokens"], 7);
  EXPECT_EQ(a["usage"]["total_tokens"].get<int>() + b["usage"]["total_tokens"].get<int>(), 10);
}

TEST(OpenAiEmbeddingsCodec, TokenInputsRoundTripThroughEcho) {
  OpenAiEmbeddingsCodec codec;
  std::vector<BatchItem> items = {
      mustParse(codec, R"({"model":"m","input":[11,12,13]})"),            // one token array
      mustParse(codec, R"({"model":"m","input":[[21,22],[31,32,33]]})"),  // two token arrays
  };
  EXPECT_EQ(items[0].rows, 1u);
  EXPECT_EQ(items[1].rows, 2u);
  EXPECT_EQ(items[0].key, items[1].key);
  auto p = ptrs(items);
  Json merged = Json::parse(codec.merge(p));
  EXPECT_EQ(merged["input"], Json::parse("[[11,12,13],[21,22],[31,32,33]]"));
  SplitOutcome out = codec.split(200, *echoResponse(Format::OpenAiEmbeddings, merged.dump()), p);
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  Json a = Json::parse(out.items[0].body), b = Json::parse(out.items[1].body);
  EXPECT_EQ(a["data"][0]["embedding"], Json::parse("[3,11]"));
  EXPECT_EQ(b["data"][0]["embedding"], Json::parse("[2,21]"));
  EXPECT_EQ(b["data"][1]["embedding"], Json::parse("[3,31]"));
  EXPECT_EQ(a["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(b["usage"]["prompt_tokens"], 5);
}

TEST(OpenAiEmbeddingsCodec, KeySeparatesModelsFormatsDimensionsAndLengths) {
  OpenAiEmbeddingsCodec codec;
  std::string key = mustParse(codec, R"({"model":"m","input":"twelve chars"})").key;
  EXPECT_EQ(mustParse(codec, R"({"model":"m","input":"ten chars!","user":"x"})").key, key);
  EXPECT_NE(mustParse(codec, R"({"model":"n","input":"twelve chars"})").key, key);
  EXPECT_NE(
      mustParse(codec, R"({"model":"m","input":"twelve chars","encoding_format":"base64"})").key,
      key);
  EXPECT_NE(mustParse(codec, R"({"model":"m","input":"twelve chars","dimensions":256})").key, key);
  EXPECT_NE(mustParse(codec, R"({"model":"m","input":[1,2,3,4,5,6,7,8,9,10,11,12]})").key, key);
  std::string long_input = std::string(600, 'x');
  EXPECT_NE(mustParse(codec, Json({{"model", "m"}, {"input", long_input}}).dump()).key, key);
  // A request's bucket is its longest input.
  EXPECT_EQ(mustParse(codec, Json({{"model", "m"}, {"input", {"short", long_input}}}).dump()).key,
            mustParse(codec, Json({{"model", "m"}, {"input", long_input}}).dump()).key);
}

TEST(OpenAiEmbeddingsCodec, InvalidAndPassThrough) {
  OpenAiEmbeddingsCodec codec(CodecOptions{.max_rows = 2});
  EXPECT_EQ(codec.parse(kPath, "nope").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"input":"x"})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m"})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":[]})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":["a",1]})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":[[1,2],["a"]]})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":{"a":1}})").kind, Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":"x","dimensions":"big"})").kind,
            Kind::Invalid);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":["a","b","c"]})").kind, Kind::PassThrough);
  EXPECT_EQ(codec.parse(kPath, R"({"model":"m","input":""})").kind, Kind::PassThrough);
  EXPECT_EQ(codec.parse("/v1/chat/completions", R"({"model":"m","input":"x"})").kind,
            Kind::PassThrough);
  Json err = Json::parse(codec.errorBody(400, "\"input\" must not be empty"));
  EXPECT_EQ(err["error"]["message"], "\"input\" must not be empty");
  EXPECT_EQ(err["error"]["type"], "invalid_request_error");
}

TEST(OpenAiEmbeddingsCodec, WrongCountsAndBadIndicesFailTheWholeBatch) {
  OpenAiEmbeddingsCodec codec;
  std::vector<BatchItem> items = {mustParse(codec, R"({"model":"m","input":"a"})"),
                                  mustParse(codec, R"({"model":"m","input":"b"})")};
  auto p = ptrs(items);
  SplitOutcome short_reply = codec.split(200, R"({"data":[{"index":0,"embedding":[1]}]})", p);
  EXPECT_TRUE(short_reply.whole_batch_failed);
  EXPECT_NE(short_reply.error.find("1 embeddings for 2 inputs"), std::string::npos);
  EXPECT_TRUE(
      codec.split(200, R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})", p)
          .whole_batch_failed);
  EXPECT_TRUE(
      codec.split(200, R"({"data":[{"index":0,"embedding":[1]},{"index":5,"embedding":[2]}]})", p)
          .whole_batch_failed);
  EXPECT_TRUE(
      codec.split(200, R"({"data":[{"index":0,"embedding":[1]},{"index":-1,"embedding":[2]}]})", p)
          .whole_batch_failed);
  SplitOutcome e = codec.split(
      400, R"({"error":{"message":"input too long","type":"invalid_request_error"}})", p);
  EXPECT_TRUE(e.whole_batch_failed);
  EXPECT_NE(e.error.find("input too long"), std::string::npos);
}

TEST(OpenAiEmbeddingsCodec, PerInputErrorFailsOnlyItsCaller) {
  OpenAiEmbeddingsCodec codec;
  std::vector<BatchItem> items = {mustParse(codec, R"({"model":"m","input":"aa"})"),
                                  mustParse(codec, R"({"model":"m","input":["bb","cc"]})")};
  SplitOutcome out = codec.split(200, R"({"object":"list","model":"m","data":[
      {"object":"embedding","index":0,"embedding":[1]},
      {"object":"embedding","index":1,"embedding":[2]},
      {"index":2,"error":{"message":"untokenizable input","code":422}}],
      "usage":{"prompt_tokens":6,"total_tokens":6}})",
                                 ptrs(items));
  ASSERT_FALSE(out.whole_batch_failed) << out.error;
  EXPECT_EQ(out.items[0].status, 200);
  EXPECT_EQ(Json::parse(out.items[0].body)["usage"]["prompt_tokens"], 2);
  EXPECT_EQ(out.items[1].status, 422);
  EXPECT_EQ(Json::parse(out.items[1].body)["error"]["message"], "untokenizable input");
}

}  // namespace
}  // namespace rampart::batching
