#include "filters/batching/codecs/tfserving_codec.h"

#include <optional>
#include <utility>

#include "filters/batching/codecs/json_util.h"

namespace rampart::batching {
namespace {

using detail::Json;

constexpr std::string_view kPrefix = "/v1/models/";
constexpr std::string_view kVerb = ":predict";

// The parsed state of one :predict request.
struct TfState final : ItemState {
  std::string instances;       // the caller's rows, serialized, comma-separated, no brackets
  Json rest = Json::object();  // other top-level fields (signature_name, ...), equal per key
};

// "name", "name/versions/3" or "name/labels/canary" between /v1/models/ and :predict.
std::optional<std::string> modelOfPath(std::string_view path) {
  path = detail::stripQuery(path);
  if (!path.starts_with(kPrefix) || !path.ends_with(kVerb)) return std::nullopt;
  std::string_view model = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kVerb.size());
  auto parts = detail::splitPath(model);
  for (auto p : parts) {
    if (p.empty()) return std::nullopt;
  }
  if (parts.size() == 1) return std::string(model);
  if (parts.size() == 3 && (parts[1] == "versions" || parts[1] == "labels")) {
    return std::string(model);
  }
  return std::nullopt;
}

// The shape signature of one row: JSON types, array lengths and object keys, e.g.
// "[3:[2:n]]" for [[1,2],[3,4],[5,6]]. Nullopt for ragged or mixed arrays, which
// are not dense tensors and so cannot be stacked with other rows. Counts leaves.
std::optional<std::string> signature(const Json& v, std::size_t& leaves) {
  switch (v.type()) {
    case Json::value_t::array: {
      std::optional<std::string> inner;
      for (const auto& e : v) {
        auto s = signature(e, leaves);
        if (!s || (inner && *inner != *s)) return std::nullopt;
        inner = std::move(s);
      }
      return "[" + std::to_string(v.size()) + ":" + inner.value_or("") + "]";
    }
    case Json::value_t::object: {
      std::string sig = "{";
      for (auto it = v.begin(); it != v.end(); ++it) {  // keys come sorted
        auto s = signature(it.value(), leaves);
        if (!s) return std::nullopt;
        sig += detail::dump(Json(it.key())) + ":" + *s + ",";
      }
      return sig + "}";
    }
    case Json::value_t::string:
      ++leaves;
      return "s";
    case Json::value_t::boolean:
      ++leaves;
      return "b";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      ++leaves;
      return "n";
    default:
      ++leaves;
      return "z";  // null
  }
}

ParseOutcome parseDocument(const std::string& model, Json doc, std::size_t max_rows) {
  if (!doc.is_object()) return ParseOutcome::invalid("request body must be a JSON object");
  bool has_inputs = doc.contains("inputs");
  auto instances = doc.find("instances");
  if (has_inputs && instances != doc.end()) {
    return ParseOutcome::invalid("request has both \"instances\" and \"inputs\"");
  }
  if (has_inputs) return ParseOutcome::passThrough("columnar \"inputs\" format");
  if (instances == doc.end() || !instances->is_array()) {
    return ParseOutcome::invalid("\"instances\" must be an array");
  }
  if (auto sig = doc.find("signature_name"); sig != doc.end() && !sig->is_string()) {
    return ParseOutcome::invalid("\"signature_name\" must be a string");
  }
  if (instances->empty()) return ParseOutcome::passThrough("no instances");
  const std::size_t rows = instances->size();
  if (max_rows != 0 && rows > max_rows) {
    return ParseOutcome::passThrough("request has more rows than max_batch_size");
  }
  std::size_t leaves = 0;
  std::optional<std::string> row_sig;
  for (const auto& row : *instances) {
    auto s = signature(row, leaves);
    if (!s || (row_sig && *s != *row_sig)) {
      return ParseOutcome::passThrough("instances are ragged or differ in shape");
    }
    row_sig = std::move(s);
  }
  auto st = std::make_shared<TfState>();
  st->instances = detail::dump(*instances);
  st->instances = st->instances.substr(1, st->instances.size() - 2);
  doc.erase("instances");
  st->rest = doc;

  BatchItem item;
  // Every other top-level field (signature_name, ...) joins the key, so only
  // requests that agree on all of them merge, and merge() can copy them once.
  item.key = "tfserving:" + detail::dump(Json::array({model, doc, *row_sig}));
  item.rows = rows;
  item.cost = leaves;
  item.state = std::move(st);
  return ParseOutcome::batchable(std::move(item));
}

// The message of a per-row error entry, if `row` is one.
std::optional<std::string> rowError(const Json& row) {
  if (!row.is_object() || row.size() != 1) return std::nullopt;
  auto it = row.find("error");
  if (it == row.end()) return std::nullopt;
  return it->is_string() ? it->get<std::string>() : detail::dump(*it);
}

}  // namespace

ParseOutcome TfServingCodec::parse(std::string_view path, std::string_view body) const {
  auto model = modelOfPath(path);
  if (!model) return ParseOutcome::passThrough("not a :predict path");
  auto doc = detail::parseJson(body);
  if (!doc) {
    if (detail::nestsDeeperThan(body, detail::kMaxJsonDepth)) {
      return ParseOutcome::passThrough("JSON nests too deeply to batch");
    }
    return ParseOutcome::invalid("request body is not valid JSON");
  }
  try {
    return parseDocument(*model, std::move(*doc), options_.max_rows);
  } catch (const std::exception& e) {
    return ParseOutcome::passThrough(std::string("codec error: ") + e.what());
  }
}

std::string TfServingCodec::merge(std::span<const BatchItem* const> items) const {
  if (items.empty()) return {};
  const auto& first = static_cast<const TfState&>(*items.front()->state);
  std::string out = "{";
  for (auto kv = first.rest.begin(); kv != first.rest.end(); ++kv) {
    detail::dumpTo(Json(kv.key()), out);
    out += ':';
    detail::dumpTo(kv.value(), out);
    out += ',';
  }
  out += "\"instances\":[";
  bool any = false;
  for (const auto* it : items) {
    const auto& st = static_cast<const TfState&>(*it->state);
    if (any) out += ',';
    out += st.instances;
    any = true;
  }
  out += "]}";
  return out;
}

SplitOutcome TfServingCodec::split(int upstream_status, std::string_view upstream_body,
                                   std::span<const BatchItem* const> items) const {
  SplitOutcome result;
  auto fail = [&](std::string why) {
    result.items.clear();
    result.whole_batch_failed = true;
    result.error = std::move(why);
    return result;
  };
  if (!detail::isSuccess(upstream_status)) {
    return fail(detail::upstreamErrorMessage(upstream_status, upstream_body));
  }
  auto doc = detail::parseJson(upstream_body);
  if (!doc || !doc->is_object()) return fail("upstream 2xx body is not a JSON object");
  if (doc->contains("error"))
    return fail(detail::upstreamErrorMessage(upstream_status, upstream_body));
  auto predictions = doc->find("predictions");
  if (predictions == doc->end() || !predictions->is_array()) {
    return fail("upstream body has no \"predictions\" array");
  }
  std::size_t total_rows = 0;
  for (const auto* it : items) total_rows += it->rows;
  if (predictions->size() != total_rows) {
    return fail("upstream returned " + std::to_string(predictions->size()) + " predictions for " +
                std::to_string(total_rows) + " rows");
  }
  try {
    Json preds = std::move(*predictions);
    doc->erase("predictions");
    std::size_t row = 0;
    for (const auto* it : items) {
      std::optional<std::string> error;
      Json mine = Json::array();
      for (std::size_t r = row; r < row + it->rows; ++r) {
        if (!error) error = rowError(preds[r]);
        mine.push_back(std::move(preds[r]));
      }
      row += it->rows;
      if (error) {
        result.items.push_back({500, detail::simpleErrorBody(*error)});
        continue;
      }
      Json resp = *doc;
      resp["predictions"] = std::move(mine);
      result.items.push_back({200, detail::dump(resp)});
    }
  } catch (const std::exception& e) {
    return fail(std::string("codec error while splitting: ") + e.what());
  }
  return result;
}

std::string TfServingCodec::errorBody(int, std::string_view message) const {
  return detail::simpleErrorBody(message);
}

}  // namespace rampart::batching
