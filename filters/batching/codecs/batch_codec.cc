#include "filters/batching/codecs/batch_codec.h"

#include <utility>

#include "filters/batching/codecs/kserve_v2_codec.h"
#include "filters/batching/codecs/openai_embeddings_codec.h"
#include "filters/batching/codecs/tfserving_codec.h"

namespace rampart::batching {

ParseOutcome ParseOutcome::batchable(BatchItem item) {
  ParseOutcome out;
  out.kind = Kind::Batchable;
  out.item = std::move(item);
  return out;
}

ParseOutcome ParseOutcome::passThrough(std::string reason) {
  ParseOutcome out;
  out.kind = Kind::PassThrough;
  out.reason = std::move(reason);
  return out;
}

ParseOutcome ParseOutcome::invalid(std::string reason) {
  ParseOutcome out;
  out.kind = Kind::Invalid;
  out.reason = std::move(reason);
  return out;
}

std::unique_ptr<BatchCodec> makeCodec(Format format, CodecOptions options) {
  switch (format) {
    case Format::KServeV2:
      return std::make_unique<KServeV2Codec>(options);
    case Format::TfServing:
      return std::make_unique<TfServingCodec>(options);
    case Format::OpenAiEmbeddings:
      return std::make_unique<OpenAiEmbeddingsCodec>(options);
  }
  return nullptr;
}

std::optional<Format> parseFormat(std::string_view name) {
  for (Format f : {Format::KServeV2, Format::TfServing, Format::OpenAiEmbeddings}) {
    if (formatName(f) == name) return f;
  }
  return std::nullopt;
}

std::string_view formatName(Format format) {
  switch (format) {
    case Format::KServeV2:
      return "kserve_v2";
    case Format::TfServing:
      return "tfserving";
    case Format::OpenAiEmbeddings:
      return "openai_embeddings";
  }
  return "unknown";
}

}  // namespace rampart::batching
