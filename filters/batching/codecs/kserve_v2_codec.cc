#include "filters/batching/codecs/kserve_v2_codec.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "filters/batching/codecs/json_util.h"

namespace rampart::batching {
namespace {

using detail::Json;

// What JSON value an element of a datatype must be.
enum class ElementKind {
  Bool,     // BOOL: true / false
  Integer,  // INT*/UINT*: JSON integers
  Number,   // FP*: any JSON number
  Bytes,    // BYTES: JSON strings, one per element
};

std::optional<ElementKind> kindOf(std::string_view datatype) {
  if (datatype == "BOOL") return ElementKind::Bool;
  if (datatype == "BYTES") return ElementKind::Bytes;
  if (datatype == "FP16" || datatype == "FP32" || datatype == "FP64" || datatype == "BF16") {
    return ElementKind::Number;
  }
  static constexpr std::string_view kIntegers[] = {"UINT8", "UINT16", "UINT32", "UINT64",
                                                   "INT8",  "INT16",  "INT32",  "INT64"};
  for (auto t : kIntegers) {
    if (datatype == t) return ElementKind::Integer;
  }
  return std::nullopt;  // unknown to us: the backend may know it, so pass through
}

bool elementMatches(const Json& v, ElementKind kind) {
  switch (kind) {
    case ElementKind::Bool:
      return v.is_boolean();
    case ElementKind::Integer:
      return v.is_number_integer();
    case ElementKind::Number:
      return v.is_number();
    case ElementKind::Bytes:
      return v.is_string();
  }
  return false;
}

// Moves the leaves of nested row-major `data` into `out`. False on a leaf of the wrong kind.
bool flattenInto(Json& data, ElementKind kind, Json& out) {
  if (data.is_array()) {
    for (auto& e : data) {
      if (!flattenInto(e, kind, out)) return false;
    }
    return true;
  }
  if (!elementMatches(data, kind)) return false;
  out.push_back(std::move(data));
  return true;
}

// Moves the leaves of nested `data` into `out` whatever their kind (upstream outputs).
void flattenAny(Json& data, Json& out) {
  if (!data.is_array()) {
    out.push_back(std::move(data));
    return;
  }
  for (auto& e : data) flattenAny(e, out);
}

std::optional<std::vector<std::int64_t>> readShape(const Json& shape) {
  if (!shape.is_array()) return std::nullopt;
  std::vector<std::int64_t> dims;
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0) return std::nullopt;
    dims.push_back(d.get<std::int64_t>());
  }
  return dims;
}

bool truthy(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

// One input of one caller, ready to merge.
struct InputTensor {
  std::string name;
  Json descriptor;                 // every field except shape and data
  std::vector<std::int64_t> dims;  // shape without the batch dimension
  std::string flat_data;           // row-major elements, comma-separated, no brackets
};

// The parsed state of one KServe v2 request.
struct KServeState final : ItemState {
  std::optional<Json> id;           // the caller's id, echoed back; absent if not given
  std::vector<InputTensor> inputs;  // sorted by name
  Json rest = Json::object();       // other top-level fields (parameters, outputs, ...)
};

struct ModelPath {
  std::string model;
  std::string version;  // empty when the path names no version
};

std::optional<ModelPath> parseInferPath(std::string_view path) {
  auto parts = detail::splitPath(detail::stripQuery(path));
  // v2 / models / {name} [/ versions / {v}] / infer
  if (parts.size() == 4 && parts[0] == "v2" && parts[1] == "models" && !parts[2].empty() &&
      parts[3] == "infer") {
    return ModelPath{std::string(parts[2]), ""};
  }
  if (parts.size() == 6 && parts[0] == "v2" && parts[1] == "models" && !parts[2].empty() &&
      parts[3] == "versions" && !parts[4].empty() && parts[5] == "infer") {
    return ModelPath{std::string(parts[2]), std::string(parts[4])};
  }
  return std::nullopt;
}

// Request-level reasons not to batch; empty when batchable so far.
std::string requestLevelPassThrough(const Json& doc) {
  if (auto it = doc.find("parameters"); it != doc.end() && it->is_object()) {
    if (truthy(*it, "binary_data_output")) return "binary tensor extension (binary_data_output)";
    for (const char* k : {"sequence_id", "sequence_start", "sequence_end"}) {
      if (it->contains(k)) return "stateful sequence request (parameters." + std::string(k) + ")";
    }
  }
  if (auto it = doc.find("outputs"); it != doc.end() && it->is_array()) {
    for (const auto& out : *it) {
      auto params = out.is_object() ? out.find("parameters") : out.end();
      if (params == out.end() || !params->is_object()) continue;
      if (truthy(*params, "binary_data")) return "binary tensor extension (output binary_data)";
      if (params->contains("shared_memory_region")) return "shared-memory output";
    }
  }
  return {};
}

// Validates the shape of request-level fields; empty when fine.
std::string requestLevelInvalid(const Json& doc) {
  if (auto it = doc.find("parameters"); it != doc.end() && !it->is_object()) {
    return "\"parameters\" must be an object";
  }
  if (auto it = doc.find("outputs"); it != doc.end()) {
    if (!it->is_array()) return "\"outputs\" must be an array";
    for (const auto& out : *it) {
      if (!out.is_object() || !out.contains("name") || !out["name"].is_string()) {
        return "each requested output needs a string \"name\"";
      }
    }
  }
  auto inputs = doc.find("inputs");
  if (inputs == doc.end() || !inputs->is_array() || inputs->empty()) {
    return "\"inputs\" must be a non-empty array";
  }
  return {};
}

// One parsed input, or why the request cannot be batched.
struct InputResult {
  std::optional<InputTensor> tensor;
  std::size_t rows = 0;
  std::size_t elements = 0;
  ParseOutcome::Kind failure = ParseOutcome::Kind::Invalid;
  std::string reason;

  static InputResult invalid(std::string why) {
    return {std::nullopt, 0, 0, ParseOutcome::Kind::Invalid, std::move(why)};
  }
  static InputResult passThrough(std::string why) {
    return {std::nullopt, 0, 0, ParseOutcome::Kind::PassThrough, std::move(why)};
  }
};

InputResult parseInput(Json& in) {
  if (!in.is_object()) return InputResult::invalid("each input must be an object");
  auto name = in.find("name");
  if (name == in.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return InputResult::invalid("each input needs a non-empty string \"name\"");
  }
  const std::string n = name->get<std::string>();
  auto datatype = in.find("datatype");
  if (datatype == in.end() || !datatype->is_string()) {
    return InputResult::invalid("input " + n + ": missing string \"datatype\"");
  }
  const std::string dt = datatype->get<std::string>();
  if (auto p = in.find("parameters"); p != in.end()) {
    if (!p->is_object())
      return InputResult::invalid("input " + n + ": parameters must be an object");
    if (p->contains("binary_data_size") || p->contains("shared_memory_region")) {
      return InputResult::passThrough("input " + n + " uses binary or shared-memory data");
    }
  }
  auto shape = in.find("shape");
  auto dims = shape == in.end() ? std::nullopt : readShape(*shape);
  if (!dims) return InputResult::invalid("input " + n + ": shape must be integers >= 0");
  auto count = detail::elementCount(*dims);
  if (!count) return InputResult::invalid("input " + n + ": shape is too large");
  auto kind = kindOf(dt);
  // A datatype we do not know may still be valid for the backend: not ours to refuse.
  if (!kind) return InputResult::passThrough("input " + n + ": datatype " + dt + " not batched");
  auto data = in.find("data");
  if (data == in.end()) return InputResult::invalid("input " + n + ": missing \"data\"");
  Json flat = Json::array();
  if (!flattenInto(*data, *kind, flat)) {
    return InputResult::invalid("input " + n + ": element does not match datatype " + dt);
  }
  if (flat.size() != *count) {
    return InputResult::invalid("input " + n + ": shape holds " + std::to_string(*count) +
                                " elements but data has " + std::to_string(flat.size()));
  }
  if (dims->empty()) return InputResult::passThrough("input " + n + " has no batch dimension");
  InputTensor t;
  t.name = n;
  t.dims.assign(dims->begin() + 1, dims->end());
  t.flat_data = detail::dump(flat);
  t.flat_data = t.flat_data.substr(1, t.flat_data.size() - 2);  // drop [ ]
  in.erase("shape");
  in.erase("data");
  t.descriptor = std::move(in);
  InputResult r;
  r.rows = static_cast<std::size_t>(dims->front());
  r.elements = *count;
  r.tensor = std::move(t);
  return r;
}

std::string buildKey(const ModelPath& mp, const KServeState& st) {
  Json inputs = Json::array();
  for (const auto& t : st.inputs) {
    Json d = t.descriptor;
    d["dims"] = t.dims;
    inputs.push_back(std::move(d));
  }
  Json key = Json::array({mp.model, mp.version, std::move(inputs), st.rest});
  return "kserve_v2:" + detail::dump(key);
}

ParseOutcome parseDocument(const ModelPath& mp, Json doc, std::size_t max_rows) {
  if (!doc.is_object()) return ParseOutcome::invalid("request body must be a JSON object");
  if (auto why = requestLevelInvalid(doc); !why.empty()) return ParseOutcome::invalid(why);
  if (auto why = requestLevelPassThrough(doc); !why.empty()) return ParseOutcome::passThrough(why);

  auto st = std::make_shared<KServeState>();
  std::optional<std::size_t> rows;
  bool rows_disagree = false;
  std::size_t elements = 0;
  for (auto& in : doc["inputs"]) {
    InputResult r = parseInput(in);
    if (!r.tensor) {
      return r.failure == ParseOutcome::Kind::PassThrough ? ParseOutcome::passThrough(r.reason)
                                                          : ParseOutcome::invalid(r.reason);
    }
    if (rows && *rows != r.rows) rows_disagree = true;
    rows = r.rows;
    elements += r.elements;
    st->inputs.push_back(std::move(*r.tensor));
  }
  std::sort(st->inputs.begin(), st->inputs.end(),
            [](const InputTensor& a, const InputTensor& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < st->inputs.size(); ++i) {
    if (st->inputs[i].name == st->inputs[i - 1].name) {
      return ParseOutcome::invalid("input " + st->inputs[i].name + " appears twice");
    }
  }
  // Inputs whose first dimensions differ are a model without a batch dimension.
  if (rows_disagree) return ParseOutcome::passThrough("inputs disagree on the batch dimension");
  if (*rows == 0) return ParseOutcome::passThrough("batch dimension is 0");
  if (max_rows != 0 && *rows > max_rows) {
    return ParseOutcome::passThrough("request has more rows than max_batch_size");
  }
  if (auto id = doc.find("id"); id != doc.end()) st->id = std::move(*id);
  doc.erase("id");
  doc.erase("inputs");
  st->rest = std::move(doc);

  BatchItem item;
  item.key = buildKey(mp, *st);
  item.rows = *rows;
  item.cost = elements;
  item.state = std::move(st);
  return ParseOutcome::batchable(std::move(item));
}

const KServeState& stateOf(const BatchItem* item) {
  return static_cast<const KServeState&>(*item->state);
}

// One upstream output, flattened and checked against the batch.
struct OutputTensor {
  Json descriptor;                 // name, datatype, parameters, ... (no shape / data)
  std::vector<std::int64_t> dims;  // without the batch dimension
  std::size_t per_row = 0;
  Json flat;
};

std::optional<OutputTensor> readOutput(Json& out, std::size_t total_rows, std::string& error) {
  if (!out.is_object() || !out.contains("name") || !out["name"].is_string()) {
    error = "upstream output without a name";
    return std::nullopt;
  }
  const std::string name = out["name"].get<std::string>();
  auto dims = out.contains("shape") ? readShape(out["shape"]) : std::nullopt;
  auto count = dims ? detail::elementCount(*dims) : std::nullopt;
  if (!dims || !count || dims->empty()) {
    error = "upstream output " + name + " has no usable shape";
    return std::nullopt;
  }
  if (static_cast<std::size_t>(dims->front()) != total_rows) {
    error = "upstream output " + name + " has " + std::to_string(dims->front()) +
            " rows, expected " + std::to_string(total_rows);
    return std::nullopt;
  }
  auto data = out.find("data");
  if (data == out.end()) {
    error = "upstream output " + name + " has no JSON data (binary outputs are not split)";
    return std::nullopt;
  }
  OutputTensor t;
  t.flat = Json::array();
  flattenAny(*data, t.flat);
  if (t.flat.size() != *count) {
    error = "upstream output " + name + " has " + std::to_string(t.flat.size()) +
            " elements, its shape needs " + std::to_string(*count);
    return std::nullopt;
  }
  t.dims.assign(dims->begin() + 1, dims->end());
  t.per_row = total_rows == 0 ? 0 : *count / total_rows;
  out.erase("shape");
  out.erase("data");
  t.descriptor = std::move(out);
  return t;
}

}  // namespace

ParseOutcome KServeV2Codec::parse(std::string_view path, std::string_view body) const {
  auto mp = parseInferPath(path);
  if (!mp) return ParseOutcome::passThrough("not a v2 infer path");
  auto doc = detail::parseJson(body);
  if (!doc) {
    // A JSON header followed by raw tensor bytes is the binary extension, not garbage.
    if (body.find("binary_data_size") != std::string_view::npos) {
      return ParseOutcome::passThrough("binary tensor extension");
    }
    if (detail::nestsDeeperThan(body, detail::kMaxJsonDepth)) {
      return ParseOutcome::passThrough("JSON nests too deeply to batch");
    }
    return ParseOutcome::invalid("request body is not valid JSON");
  }
  try {
    return parseDocument(*mp, std::move(*doc), options_.max_rows);
  } catch (const std::exception& e) {
    // Only a bug gets here; forwarding unchanged is always safe.
    return ParseOutcome::passThrough(std::string("codec error: ") + e.what());
  }
}

std::string KServeV2Codec::merge(std::span<const BatchItem* const> items) const {
  if (items.empty()) return {};
  const KServeState& first = stateOf(items.front());
  std::size_t total_rows = 0;
  for (const auto* it : items) total_rows += it->rows;

  std::string out = "{\"inputs\":[";
  for (std::size_t i = 0; i < first.inputs.size(); ++i) {
    const InputTensor& t = first.inputs[i];
    if (i) out += ',';
    out += '{';
    for (auto kv = t.descriptor.begin(); kv != t.descriptor.end(); ++kv) {
      detail::dumpTo(Json(kv.key()), out);
      out += ':';
      detail::dumpTo(kv.value(), out);
      out += ',';
    }
    out += "\"shape\":[" + std::to_string(total_rows);
    for (auto d : t.dims) out += ',' + std::to_string(d);
    out += "],\"data\":[";
    bool any = false;
    for (const auto* it : items) {
      // Equal keys guarantee the same sorted input list in every item.
      const std::string& flat = stateOf(it).inputs[i].flat_data;
      if (flat.empty()) continue;
      if (any) out += ',';
      out += flat;
      any = true;
    }
    out += "]}";
  }
  out += ']';
  for (auto kv = first.rest.begin(); kv != first.rest.end(); ++kv) {
    out += ',';
    detail::dumpTo(Json(kv.key()), out);
    out += ':';
    detail::dumpTo(kv.value(), out);
  }
  out += '}';
  return out;
}

SplitOutcome KServeV2Codec::split(int upstream_status, std::string_view upstream_body,
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
  auto outputs = doc->find("outputs");
  if (outputs == doc->end() || !outputs->is_array()) return fail("upstream body has no outputs");
  std::size_t total_rows = 0;
  for (const auto* it : items) total_rows += it->rows;

  try {
    std::vector<OutputTensor> tensors;
    std::string error;
    for (auto& out : *outputs) {
      auto t = readOutput(out, total_rows, error);
      if (!t) return fail(error);
      tensors.push_back(std::move(*t));
    }
    doc->erase("outputs");
    doc->erase("id");
    std::size_t row = 0;
    for (const auto* it : items) {
      Json resp = *doc;  // model_name, model_version, parameters, ...
      if (const auto& id = stateOf(it).id) resp["id"] = *id;
      Json outs = Json::array();
      for (auto& t : tensors) {
        Json o = t.descriptor;
        Json shape = Json::array({it->rows});
        for (auto d : t.dims) shape.push_back(d);
        o["shape"] = std::move(shape);
        Json data = Json::array();
        for (std::size_t e = row * t.per_row; e < (row + it->rows) * t.per_row; ++e) {
          data.push_back(std::move(t.flat[e]));  // each element goes to exactly one caller
        }
        o["data"] = std::move(data);
        outs.push_back(std::move(o));
      }
      resp["outputs"] = std::move(outs);
      result.items.push_back({200, detail::dump(resp)});
      row += it->rows;
    }
  } catch (const std::exception& e) {
    return fail(std::string("codec error while splitting: ") + e.what());
  }
  return result;
}

std::string KServeV2Codec::errorBody(int, std::string_view message) const {
  return detail::simpleErrorBody(message);
}

}  // namespace rampart::batching
