#pragma once
// TensorFlow Serving REST :predict batching (also the KServe v1 protocol).
//
//   request  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict
//            {"signature_name"?, "instances": [row, row, ...]}
//   response {"predictions": [row, row, ...]}
//
// Each element of "instances" is one row. Merge concatenates the instances of
// compatible callers; split slices "predictions" by each caller's row count.
// Key = model path + every top-level field but "instances" (signature_name, ...)
// + the shape signature of a row (JSON types, array lengths, object keys), so
// rows of different shapes never share a batch. The columnar "inputs" format is
// PassThrough (its inputs may have different 0th dims), as are requests whose
// rows differ in shape and other verbs (:classify, :regress).
//
// Per-row errors: the REST API has none. If a backend answers a row with an
// object whose only field is "error" (impossible for a real prediction row: a
// multi-output row has output names, a single-output row is a bare value), that
// caller alone gets 500 with {"error": message}.

#include "filters/batching/codecs/batch_codec.h"

namespace rampart::batching {

// The TF Serving REST row-format codec.
class TfServingCodec final : public BatchCodec {
 public:
  // `options.max_rows` caps the rows of one batchable request.
  explicit TfServingCodec(CodecOptions options = {}) : options_(options) {}

  // Always Format::TfServing.
  Format format() const override { return Format::TfServing; }
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
