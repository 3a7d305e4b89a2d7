#pragma once
// OpenAI-compatible embeddings batching (vLLM, TEI, trtllm-serve, ...).
//
//   request  POST /v1/embeddings
//            {"model", "input": string | [string] | [token] | [[token]],
//             "encoding_format"?, "dimensions"?, "user"?}
//   response {"object":"list", "data":[{"object":"embedding","embedding":[...],"index":i}],
//             "model", "usage":{"prompt_tokens","total_tokens"}}
//
// Each input string or token array is one row. Key = model + encoding_format +
// dimensions + any other request field except "user" + text-or-tokens + a
// power-of-two bucket of the longest input (characters or tokens), so inputs of
// very different lengths do not share a batch and pay for each other's padding.
// "user" is a per-caller tag for abuse monitoring; it is dropped from the merged
// request rather than splitting batches by caller.
//
// Split: each caller gets its own data entries re-indexed from 0 (placed by the
// backend's "index", not by position). A data entry carrying "error" instead of
// "embedding" fails only its caller. Usage is per batch on every backend we know,
// so each caller's prompt_tokens/total_tokens is an apportioned share by input
// length (largest remainder, shares add up to the backend's totals); a caller
// alone in its batch gets the exact numbers.

#include "filters/batching/codecs/batch_codec.h"

namespace rampart::batching {

// The OpenAI embeddings codec.
class OpenAiEmbeddingsCodec final : public BatchCodec {
 public:
  // `options.max_rows` caps the inputs of one batchable request.
  explicit OpenAiEmbeddingsCodec(CodecOptions options = {}) : options_(options) {}

  // Always Format::OpenAiEmbeddings.
  Format format() const override { return Format::OpenAiEmbeddings; }
  // See BatchCodec::parse.
  ParseOutcome parse(std::string_view path, std::string_view body) const override;
  // See BatchCodec::merge.
  std::string merge(std::span<const BatchItem* const> items) const override;
  // See BatchCodec::split.
  SplitOutcome split(int upstream_status, std::string_view upstream_body,
                     std::span<const BatchItem* const> items) const override;
  // {"error": {"message", "type", "param": null, "code": status}}.
  std::string errorBody(int status, std::string_view message) const override;

 private:
  CodecOptions options_;
};

}  // namespace rampart::batching
