// Microbenchmarks of the batching codecs: parse one caller's request, merge a
// batch, split the upstream reply. Sizes: a 128-float feature vector (typical
// tabular / embedding model) and a 3×224×224 image (150,528 floats). The raw
// nlohmann parse of the same body is measured alongside, since JSON parsing
// dominates and decides whether a faster parser (simdjson) would pay off.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "filters/batching/codecs/batch_codec.h"
#include "filters/batching/codecs/echo_model.h"

namespace {

using rampart::batching::BatchItem;
using rampart::batching::Format;
using rampart::batching::makeCodec;

constexpr const char* kKServePath = "/v2/models/m/versions/1/infer";

// A deterministic float list "0.1234,0.5678,..." of `n` values.
std::string floats(std::size_t n, std::size_t seed) {
  std::string out;
  out.reserve(n * 8);
  char buf[32];
  std::size_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    std::snprintf(buf, sizeof buf, "%s%.4f", i ? "," : "",
                  static_cast<double>(x >> 40) / 16777216.0);
    out += buf;
  }
  return out;
}

std::string kserveRequest(std::size_t elements, std::size_t seed) {
  const std::string shape = elements == 128 ? "[1,128]" : "[1,3,224,224]";
  return R"({"id":"req-)" + std::to_string(seed) + R"(","inputs":[{"name":"x","shape":)" + shape +
         R"(,"datatype":"FP32","data":[)" + floats(elements, seed) + "]}]}";
}

std::string tfRequest(std::size_t seed) {
  return R"({"instances":[[)" + floats(128, seed) + "]]}";
}

std::string embeddingsRequest(std::size_t seed) {
  std::string text(200, 'a');
  for (std::size_t i = 0; i < text.size(); ++i)
    text[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return R"({"model":"e5","input":")" + text + R"("})";
}

std::string requestFor(Format f, std::size_t elements, std::size_t seed) {
  switch (f) {
    case Format::KServeV2:
      return kserveRequest(elements, seed);
    case Format::TfServing:
      return tfRequest(seed);
    case Format::OpenAiEmbeddings:
      return embeddingsRequest(seed);
  }
  return {};
}

const char* pathFor(Format f) {
  switch (f) {
    case Format::KServeV2:
      return kKServePath;
    case Format::TfServing:
      return "/v1/models/m:predict";
    case Format::OpenAiEmbeddings:
      return "/v1/embeddings";
  }
  return "";
}

void parseBench(benchmark::State& state, Format f, std::size_t elements) {
  auto codec = makeCodec(f);
  const std::string body = requestFor(f, elements, 1);
  for (auto _ : state) {
    auto out = codec->parse(pathFor(f), body);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void rawJsonBench(benchmark::State& state, Format f, std::size_t elements) {
  const std::string body = requestFor(f, elements, 1);
  for (auto _ : state) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// Parses `batch` requests once; the benchmark then times merge or split.
struct Batch {
  std::vector<BatchItem> items;
  std::vector<const BatchItem*> ptrs;
  std::string merged;
  std::string reply;
};

Batch makeBatch(const rampart::batching::BatchCodec& codec, Format f, std::size_t elements,
                std::size_t batch) {
  Batch b;
  for (std::size_t i = 0; i < batch; ++i) {
    b.items.push_back(*codec.parse(pathFor(f), requestFor(f, elements, i)).item);
  }
  for (const auto& it : b.items) b.ptrs.push_back(&it);
  b.merged = codec.merge(b.ptrs);
  b.reply = rampart::batching::echoResponse(f, b.merged).value_or("");
  return b;
}

void mergeBench(benchmark::State& state, Format f, std::size_t elements) {
  auto codec = makeCodec(f);
  Batch b = makeBatch(*codec, f, elements, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto merged = codec->merge(b.ptrs);
    benchmark::DoNotOptimize(merged);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.merged.size()));
}

void splitBench(benchmark::State& state, Format f, std::size_t elements) {
  auto codec = makeCodec(f);
  Batch b = makeBatch(*codec, f, elements, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto out = codec->split(200, b.reply, b.ptrs);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.reply.size()));
}

void BM_KServeV2_Parse_128(benchmark::State& s) {
  parseBench(s, Format::KServeV2, 128);
}
void BM_KServeV2_Parse_Image(benchmark::State& s) {
  parseBench(s, Format::KServeV2, 150528);
}
void BM_RawNlohmann_Parse_128(benchmark::State& s) {
  rawJsonBench(s, Format::KServeV2, 128);
}
void BM_RawNlohmann_Parse_Image(benchmark::State& s) {
  rawJsonBench(s, Format::KServeV2, 150528);
}
void BM_KServeV2_Merge_128(benchmark::State& s) {
  mergeBench(s, Format::KServeV2, 128);
}
void BM_KServeV2_Split_128(benchmark::State& s) {
  splitBench(s, Format::KServeV2, 128);
}
void BM_KServeV2_Merge_Image(benchmark::State& s) {
  mergeBench(s, Format::KServeV2, 150528);
}
void BM_KServeV2_Split_Image(benchmark::State& s) {
  splitBench(s, Format::KServeV2, 150528);
}
void BM_TfServing_Parse(benchmark::State& s) {
  parseBench(s, Format::TfServing, 128);
}
void BM_TfServing_Merge(benchmark::State& s) {
  mergeBench(s, Format::TfServing, 128);
}
void BM_TfServing_Split(benchmark::State& s) {
  splitBench(s, Format::TfServing, 128);
}
void BM_OpenAiEmbeddings_Parse(benchmark::State& s) {
  parseBench(s, Format::OpenAiEmbeddings, 0);
}
void BM_OpenAiEmbeddings_Merge(benchmark::State& s) {
  mergeBench(s, Format::OpenAiEmbeddings, 0);
}
void BM_OpenAiEmbeddings_Split(benchmark::State& s) {
  splitBench(s, Format::OpenAiEmbeddings, 0);
}

}  // namespace

BENCHMARK(BM_KServeV2_Parse_128);
BENCHMARK(BM_RawNlohmann_Parse_128);
BENCHMARK(BM_KServeV2_Parse_Image)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawNlohmann_Parse_Image)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KServeV2_Merge_128)->Arg(8)->Arg(32);
BENCHMARK(BM_KServeV2_Split_128)->Arg(8)->Arg(32);
BENCHMARK(BM_KServeV2_Merge_Image)->Arg(8)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KServeV2_Split_Image)->Arg(8)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TfServing_Parse);
BENCHMARK(BM_TfServing_Merge)->Arg(32);
BENCHMARK(BM_TfServing_Split)->Arg(32);
BENCHMARK(BM_OpenAiEmbeddings_Parse);
BENCHMARK(BM_OpenAiEmbeddings_Merge)->Arg(32);
BENCHMARK(BM_OpenAiEmbeddings_Split)->Arg(32);
