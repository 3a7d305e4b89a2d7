#pragma once
// Open Inference Protocol (KServe v2 / Triton / MLServer) REST JSON batching.
//
//   request  POST /v2/models/{name}[/versions/{v}]/infer
//            {"id"?, "parameters"?, "inputs": [{"name","shape","datatype","data","parameters"?}],
//             "outputs"?: [{"name","parameters"?}]}
//   response {"model_name","model_version"?,"id"?,"parameters"?,
//             "outputs": [{"name","shape","datatype","data","parameters"?}]}
//
// shape[0] of every input is the batch dimension. Merge concatenates each input's
// rows (data flattened row-major, nested or flat accepted) and sets shape[0] to
// the total; split hands each caller its rows of every output (per-row element
// count = product of the output's other dims) with its own id restored.
//
// Not batchable (PassThrough): the binary tensor extension, shared memory,
// sequence (stateful) requests, inputs without a batch dimension or whose batch
// dimensions disagree, unknown datatypes, too many rows. Invalid (400): non-JSON,
// missing fields, data that does not fill the shape, elements of the wrong type.
// The protocol has no per-item errors inside one response, so every caller of a
// successful split gets 200.

#include "filters/batching/codecs/batch_codec.h"

namespace rampart::batching {

// The KServe v2 / Open Inference Protocol codec.
class KServeV2Codec final : public BatchCodec {
 public:
  // `options.max_rows` caps the rows of one batchable request.
  explicit KServeV2Codec(CodecOptions options = {}) : options_(options) {}

  // Always Format::KServeV2.
  Format format() const override { return Format::KServeV2; }
  // See BatchCodec::parse.
  ParseOutcome parse(std::string_view path, std::string_view body) const override;
  // See BatchCodec::merge.
  std::string merge(std::span<const BatchItem* const> items) const override;
  // See BatchCodec::split.
  SplitOutcome split(int upstream_status, std::string_view upstream_body,
                     std::span<const BatchItem* const> items) const override;
  // {"error": message}.
  std::string errorBody(int status, std::string_view message) const override;

 private:
  CodecOptions options_;
};

}  // namespace rampart::batching
