#pragma once
// The wire-format half of inference batching: parse one caller's request, merge
// several compatible requests into one upstream body, and split the upstream
// response back into one response per caller. Pure functions of strings: no I/O,
// no HTTP library types, no clock. The batching filter owns queues and timers and
// calls these.
//
// Contract shared by every codec:
//   - parse() never throws and never crashes on any input; a body it cannot batch
//     safely is PassThrough (forward unchanged), a body that is certainly wrong is
//     Invalid (answer 400 with `reason`, in the format's own error shape).
//   - merge() is only called with items whose keys are equal; the order of the
//     items is the order of the rows in the upstream body.
//   - split() returns exactly one response per item in the same order, or
//     whole_batch_failed. It never returns a mis-split: a 2xx upstream body that
//     does not hold exactly the merged row count fails the whole batch, so the
//     filter can bisect it; it never puts an error inside a 200.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::batching {

// The wire formats the batching filter understands.
enum class Format {
  KServeV2,   // Open Inference Protocol (KServe v2 / Triton / MLServer) REST JSON; config
              // "kserve_v2"
  TfServing,  // TensorFlow Serving REST :predict, row ("instances") format; config "tfserving"
  OpenAiEmbeddings,  // OpenAI-compatible POST /v1/embeddings (vLLM, TEI, ...); config
                     // "openai_embeddings"
};

// Codec-private parsed state of one request. Each codec derives its own type; the
// filter only stores and hands it back.
struct ItemState {
  virtual ~ItemState() = default;
};

// One caller's parsed, batchable request.
struct BatchItem {
  // Compatibility key: items merge only when keys are equal (model, version,
  // input names/dtypes/non-batch dims, parameters, ...). Opaque, printable.
  std::string key;
  // Batch rows this request contributes (>= 1).
  std::size_t rows = 0;
  // Work units for token budgets and usage apportioning: characters or tokens for
  // embeddings, tensor elements for the tensor formats.
  std::size_t cost = 0;
  // What merge() and split() need; shared so items stay cheap to copy.
  std::shared_ptr<const ItemState> state;
};

// The result of parsing one request.
struct ParseOutcome {
  // What the filter should do with the request.
  enum class Kind {
    Batchable,    // `item` is set: queue it for merging
    PassThrough,  // valid (or not ours to judge) but not batchable: forward unchanged
    Invalid,      // certainly malformed: answer 400 with `reason`
  };
  Kind kind = Kind::PassThrough;
  std::optional<BatchItem> item;  // set only when kind == Batchable
  std::string reason;             // why PassThrough / Invalid (for logs and the 400 body)

  // Builds a Batchable outcome.
  static ParseOutcome batchable(BatchItem item);
  // Builds a PassThrough outcome with a reason.
  static ParseOutcome passThrough(std::string reason);
  // Builds an Invalid outcome with a message for the caller.
  static ParseOutcome invalid(std::string reason);
};

// One caller's share of an upstream response.
struct ItemResponse {
  int status = 200;  // HTTP status for this caller
  std::string body;  // JSON body in the format's own shape (success or error)
};

// The result of splitting an upstream response.
struct SplitOutcome {
  std::vector<ItemResponse> items;  // one per merged item, same order; empty on whole failure
  bool whole_batch_failed = false;  // the filter should bisect / retry individually / fail all
  std::string error;                // why the whole batch failed (for logs and the 502 body)
};

// Knobs a codec takes at construction.
struct CodecOptions {
  // A request with more rows than this is PassThrough (sent alone). 0 = no limit.
  std::size_t max_rows = 0;
};

// Merge and split for one wire format. Implementations are immutable after
// construction and safe to share between threads.
class BatchCodec {
 public:
  virtual ~BatchCodec() = default;
  // The format this codec speaks.
  virtual Format format() const = 0;
  // Parses one request; `path` is the request path (query string allowed).
  virtual ParseOutcome parse(std::string_view path, std::string_view body) const = 0;
  // Builds the upstream request body for items that share one key (non-empty span).
  virtual std::string merge(std::span<const BatchItem* const> items) const = 0;
  // Splits the upstream response to merge(items) back into one response per item.
  virtual SplitOutcome split(int upstream_status, std::string_view upstream_body,
                             std::span<const BatchItem* const> items) const = 0;
  // An error body in this format's shape, for 400s from parse() and the filter's own errors.
  virtual std::string errorBody(int status, std::string_view message) const = 0;
};

// Creates the codec for `format`.
std::unique_ptr<BatchCodec> makeCodec(Format format, CodecOptions options = {});
// Parses a config value ("kserve_v2" | "tfserving" | "openai_embeddings"); nullopt if unknown.
std::optional<Format> parseFormat(std::string_view name);
// The config spelling of `format`.
std::string_view formatName(Format format);

}  // namespace rampart::batching
