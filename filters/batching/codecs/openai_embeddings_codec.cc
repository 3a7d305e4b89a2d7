#include "filters/batching/codecs/openai_embeddings_codec.h"

#include <bit>
#include <optional>
#include <utility>

#include "filters/batching/codecs/json_util.h"

namespace rampart::batching {
namespace {

using detail::Json;

// The parsed state of one embeddings request.
struct EmbeddingsState final : ItemState {
  std::string inputs;          // the caller's rows, serialized, comma-separated
  Json rest = Json::object();  // model, encoding_format, dimensions, ... (equal per key)
};

// Characters (UTF-8 code points) in a text input: a cheap stand-in for its tokens.
std::size_t characters(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool isTokenArray(const Json& v) {
  if (!v.is_array() || v.empty()) return false;
  for (const auto& t : v) {
    if (!t.is_number_integer()) return false;
  }
  return true;
}

// The rows of "input": each a string or a token array, with its length.
struct Rows {
  Json rows = Json::array();
  std::vector<std::size_t> lengths;
  bool tokens = false;
};

// Reads "input"; sets `error` (Invalid) or `pass` (PassThrough) when it cannot.
std::optional<Rows> readInput(const Json& input, std::string& error, std::string& pass) {
  auto invalid = [&](const char* why) {
    error = why;
    return std::nullopt;
  };
  Rows r;
  if (input.is_string()) {
    r.lengths.push_back(characters(input.get_ref<const std::string&>()));
    r.rows.push_back(input);
  } else if (isTokenArray(input)) {
    r.tokens = true;  // one pre-tokenized input
    r.lengths.push_back(input.size());
    r.rows.push_back(input);
  } else if (input.is_array() && !input.empty() && input.front().is_string()) {
    for (const auto& s : input) {
      if (!s.is_string()) return invalid("\"input\" mixes strings and other values");
      r.lengths.push_back(characters(s.get_ref<const std::string&>()));
      r.rows.push_back(s);
    }
  } else if (input.is_array() && !input.empty() && input.front().is_array()) {
    r.tokens = true;
    for (const auto& t : input) {
      if (!isTokenArray(t)) return invalid("\"input\" token arrays must hold integers");
      r.lengths.push_back(t.size());
      r.rows.push_back(t);
    }
  } else if (input.is_array() && input.empty()) {
    return invalid("\"input\" must not be empty");
  } else {
    return invalid("\"input\" must be a string, an array of strings or token arrays");
  }
  for (auto len : r.lengths) {
    // The backend decides what an empty string means; we only refuse to batch it.
    if (len == 0) {
      pass = "empty input string";
      return std::nullopt;
    }
  }
  return r;
}

ParseOutcome parseDocument(Json doc, std::size_t max_rows) {
  if (!doc.is_object()) return ParseOutcome::invalid("request body must be a JSON object");
  auto model = doc.find("model");
  if (model == doc.end() || !model->is_string()) {
    return ParseOutcome::invalid("\"model\" must be a string");
  }
  if (auto f = doc.find("encoding_format"); f != doc.end() && !f->is_string()) {
    return ParseOutcome::invalid("\"encoding_format\" must be a string");
  }
  if (auto d = doc.find("dimensions"); d != doc.end() && !d->is_number_integer()) {
    return ParseOutcome::invalid("\"dimensions\" must be an integer");
  }
  auto input = doc.find("input");
  if (input == doc.end()) return ParseOutcome::invalid("\"input\" is required");
  std::string error, pass;
  auto rows = readInput(*input, error, pass);
  if (!rows) return error.empty() ? ParseOutcome::passThrough(pass) : ParseOutcome::invalid(error);
  if (max_rows != 0 && rows->lengths.size() > max_rows) {
    return ParseOutcome::passThrough("request has more inputs than max_batch_size");
  }
  std::size_t longest = 0, total = 0;
  for (auto len : rows->lengths) {
    longest = std::max(longest, len);
    total += len;
  }
  auto st = std::make_shared<EmbeddingsState>();
  st->inputs = detail::dump(rows->rows);
  st->inputs = st->inputs.substr(1, st->inputs.size() - 2);
  doc.erase("input");
  doc.erase("user");
  st->rest = doc;

  BatchItem item;
  // Power-of-two length buckets: a batch pads to its longest input, so mixing a
  // 10-token and a 500-token input would cost the short one 50x its own work.
  const auto bucket = static_cast<unsigned>(std::bit_width(longest));
  item.key = "openai_embeddings:" +
             detail::dump(Json::array({doc, rows->tokens ? "tokens" : "text", bucket}));
  item.rows = rows->lengths.size();
  item.cost = total;
  item.state = std::move(st);
  return ParseOutcome::batchable(std::move(item));
}

// Places the upstream data entries by their "index"; nullopt (with `error`) if they
// are not exactly a permutation of 0..total-1.
std::optional<std::vector<Json>> orderEntries(Json& data, std::size_t total, std::string& error) {
  if (data.size() != total) {
    error = "upstream returned " + std::to_string(data.size()) + " embeddings for " +
            std::to_string(total) + " inputs";
    return std::nullopt;
  }
  auto bad = [&](const char* why) {
    error = why;
    return std::nullopt;
  };
  std::vector<Json> ordered(total);
  std::vector<bool> seen(total, false);
  bool any_index = false;
  for (std::size_t pos = 0; pos < total; ++pos) {
    Json& e = data[pos];
    if (!e.is_object()) return bad("upstream data entry is not an object");
    auto idx = e.find("index");
    any_index |= idx != e.end();
    std::size_t i = pos;
    if (idx != e.end()) {
      if (!idx->is_number_unsigned() &&
          !(idx->is_number_integer() && idx->get<std::int64_t>() >= 0)) {
        return bad("upstream data entry has a bad index");
      }
      i = idx->get<std::size_t>();
    } else if (any_index) {
      return bad("upstream data entries mix indexed and unindexed");
    }
    if (i >= total || seen[i]) {
      return bad("upstream data indices are not a permutation of the inputs");
    }
    seen[i] = true;
    ordered[i] = std::move(e);
  }
  return ordered;
}

// The status and message of a per-input error entry, if `entry` is one.
std::optional<std::pair<int, std::string>> entryError(const Json& entry) {
  auto err = entry.find("error");
  if (err == entry.end() || entry.contains("embedding")) return std::nullopt;
  int status = 500;
  std::string message = err->is_string() ? err->get<std::string>() : detail::dump(*err);
  if (err->is_object()) {
    if (auto m = err->find("message"); m != err->end() && m->is_string()) message = *m;
    if (auto c = err->find("code"); c != err->end() && c->is_number_integer()) {
      auto code = c->get<std::int64_t>();
      if (code >= 400 && code <= 599) status = static_cast<int>(code);
    }
  }
  return std::make_pair(status, message);
}

}  // namespace

ParseOutcome OpenAiEmbeddingsCodec::parse(std::string_view path, std::string_view body) const {
  auto p = detail::stripQuery(path);
  if (p != "/v1/embeddings" && p != "/embeddings") {
    return ParseOutcome::passThrough("not an embeddings path");
  }
  auto doc = detail::parseJson(body);
  if (!doc) {
    if (detail::nestsDeeperThan(body, detail::kMaxJsonDepth)) {
      return ParseOutcome::passThrough("JSON nests too deeply to batch");
    }
    return ParseOutcome::invalid("request body is not valid JSON");
  }
  try {
    return parseDocument(std::move(*doc), options_.max_rows);
  } catch (const std::exception& e) {
    return ParseOutcome::passThrough(std::string("codec error: ") + e.what());
  }
}

std::string OpenAiEmbeddingsCodec::merge(std::span<const BatchItem* const> items) const {
  if (items.empty()) return {};
  const auto& first = static_cast<const EmbeddingsState&>(*items.front()->state);
  std::string out = "{";
  for (auto kv = first.rest.begin(); kv != first.rest.end(); ++kv) {
    detail::dumpTo(Json(kv.key()), out);
    out += ':';
    detail::dumpTo(kv.value(), out);
    out += ',';
  }
  out += "\"input\":[";
  bool any = false;
  for (const auto* it : items) {
    if (any) out += ',';
    out += static_cast<const EmbeddingsState&>(*it->state).inputs;
    any = true;
  }
  out += "]}";
  return out;
}

SplitOutcome OpenAiEmbeddingsCodec::split(int upstream_status, std::string_view upstream_body,
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
  auto data = doc->find("data");
  if (data == doc->end() || !data->is_array()) return fail("upstream body has no \"data\" array");
  std::size_t total = 0;
  std::vector<std::size_t> weights;
  for (const auto* it : items) {
    total += it->rows;
    weights.push_back(it->cost);
  }
  try {
    std::string error;
    auto entries = orderEntries(*data, total, error);
    if (!entries) return fail(error);
    doc->erase("data");
    // Usage is per batch: give each caller a share of every integer counter by input length.
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> shares;
    if (auto u = doc->find("usage"); u != doc->end() && u->is_object()) {
      for (auto kv = u->begin(); kv != u->end(); ++kv) {
        if (kv.value().is_number_integer()) {
          shares.emplace_back(kv.key(), detail::apportion(kv.value().get<std::int64_t>(), weights));
        }
      }
    }
    std::size_t row = 0;
    for (std::size_t k = 0; k < items.size(); ++k) {
      const auto* it = items[k];
      Json mine = Json::array();
      std::optional<std::pair<int, std::string>> error_entry;
      for (std::size_t r = 0; r < it->rows; ++r) {
        Json& e = (*entries)[row + r];
        if (!error_entry) error_entry = entryError(e);
        e["index"] = r;
        mine.push_back(std::move(e));
      }
      row += it->rows;
      if (error_entry) {
        result.items.push_back(
            {error_entry->first, errorBody(error_entry->first, error_entry->second)});
        continue;
      }
      Json resp = *doc;  // object, model, id, created, usage (replaced below), ...
      resp["data"] = std::move(mine);
      if (!shares.empty()) {
        Json u = resp["usage"];
        for (const auto& [name, values] : shares) u[name] = values[k];
        resp["usage"] = std::move(u);
      }
      result.items.push_back({200, detail::dump(resp)});
    }
  } catch (const std::exception& e) {
    return fail(std::string("codec error while splitting: ") + e.what());
  }
  return result;
}

std::string OpenAiEmbeddingsCodec::errorBody(int status, std::string_view message) const {
  Json err = Json::object();
  err["message"] = std::string(message);
  err["type"] = status >= 500 ? "server_error" : "invalid_request_error";
  err["param"] = nullptr;
  err["code"] = status;
  Json body = Json::object();
  body["error"] = std::move(err);
  return detail::dump(body);
}

}  // namespace rampart::batching
