#include "filters/batching/codecs/contract_check.h"

#include <vector>

#include "filters/batching/codecs/echo_model.h"
#include "filters/batching/codecs/json_util.h"

namespace rampart::batching {
namespace {

using detail::Json;

std::string checkParse(const ParseOutcome& out) {
  switch (out.kind) {
    case ParseOutcome::Kind::Batchable:
      if (!out.item || out.item->rows == 0 || out.item->key.empty() || !out.item->state) {
        return "batchable outcome without rows, key or state";
      }
      return {};
    case ParseOutcome::Kind::PassThrough:
    case ParseOutcome::Kind::Invalid:
      if (out.item || out.reason.empty()) return "non-batchable outcome without a reason";
      return {};
  }
  return "unknown parse kind";
}

// A response body with the apportioned usage removed, for comparing batched with alone.
std::optional<Json> comparable(const std::string& body) {
  auto doc = detail::parseJson(body);
  if (doc && doc->is_object()) doc->erase("usage");
  return doc;
}

// Merges `batch`, re-parses the merged body and splits the echo answer.
std::string checkBatch(const BatchCodec& codec, std::string_view path,
                       const std::vector<const BatchItem*>& batch) {
  std::string merged = codec.merge(batch);
  ParseOutcome again = makeCodec(codec.format())->parse(path, merged);
  if (again.kind != ParseOutcome::Kind::Batchable)
    return "merged body not batchable: " + again.reason;
  std::size_t rows = 0;
  for (const auto* it : batch) rows += it->rows;
  if (again.item->rows != rows) return "merged body has the wrong row count";
  if (again.item->key != batch.front()->key) return "merged body has a different key";
  auto echo = echoResponse(codec.format(), merged);
  if (!echo) return "echo model refused the merged body";
  SplitOutcome split = codec.split(200, *echo, batch);
  if (split.whole_batch_failed) return "echo split failed: " + split.error;
  if (split.items.size() != batch.size()) return "echo split has the wrong item count";
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::vector<const BatchItem*> alone = {batch[i]};
    auto solo_echo = echoResponse(codec.format(), codec.merge(alone));
    if (!solo_echo) return "echo model refused a single item";
    SplitOutcome solo = codec.split(200, *solo_echo, alone);
    if (solo.whole_batch_failed || solo.items.size() != 1) return "single-item split failed";
    if (split.items[i].status != solo.items[0].status) return "status differs batched vs alone";
    auto a = comparable(split.items[i].body), b = comparable(solo.items[0].body);
    if (!a || !b) return "split produced a body that is not JSON";
    if (*a != *b) return "caller's response differs batched vs alone";
  }
  return {};
}

}  // namespace

std::string checkCodecContract(const BatchCodec& codec, std::string_view path,
                               std::span<const std::string_view> requests, int upstream_status,
                               std::string_view upstream_body) {
  std::vector<BatchItem> items;
  for (auto body : requests) {
    ParseOutcome out = codec.parse(path, body);
    if (auto why = checkParse(out); !why.empty()) return why;
    if (out.kind == ParseOutcome::Kind::Batchable) items.push_back(std::move(*out.item));
  }
  if (items.empty()) return {};
  // Every item with the first one's key, plus the first one again: merging a
  // request with itself is always allowed and exercises the multi-item paths.
  std::vector<const BatchItem*> batch;
  for (const auto& it : items) {
    if (it.key == items.front().key) batch.push_back(&it);
  }
  batch.push_back(&items.front());
  if (auto why = checkBatch(codec, path, batch); !why.empty()) return why;

  SplitOutcome any = codec.split(upstream_status, upstream_body, batch);
  if (any.whole_batch_failed) {
    if (!any.items.empty() || any.error.empty()) return "whole failure with items or no error";
  } else {
    if (any.items.size() != batch.size()) return "split answered the wrong number of callers";
    if (!detail::isSuccess(upstream_status)) return "non-2xx upstream split as success";
    for (const auto& r : any.items) {
      if (r.status < 200 || r.status > 599 || !detail::parseJson(r.body)) {
        return "split produced a bad status or a non-JSON body";
      }
    }
  }
  return {};
}

}  // namespace rampart::batching
