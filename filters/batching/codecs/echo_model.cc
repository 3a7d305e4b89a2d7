#include "filters/batching/codecs/echo_model.h"

#include "filters/batching/codecs/json_util.h"

namespace rampart::batching {
namespace {

using detail::Json;

std::optional<std::string> echoKServe(Json doc) {
  auto inputs = doc.find("inputs");
  if (inputs == doc.end() || !inputs->is_array()) return std::nullopt;
  Json outputs = Json::array();
  for (auto& in : *inputs) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string()) return std::nullopt;
    Json out = Json::object();
    out["name"] = in["name"].get<std::string>() + "__echo";
    out["shape"] = in.value("shape", Json::array());
    out["datatype"] = in.value("datatype", Json("FP32"));
    out["data"] = in.value("data", Json::array());
    outputs.push_back(std::move(out));
  }
  Json resp = Json::object();
  resp["model_name"] = "echo";
  resp["model_version"] = "1";
  if (doc.contains("id")) resp["id"] = doc["id"];
  resp["outputs"] = std::move(outputs);
  return detail::dump(resp);
}

std::optional<std::string> echoTf(Json doc) {
  auto instances = doc.find("instances");
  if (instances == doc.end() || !instances->is_array()) return std::nullopt;
  Json resp = Json::object();
  resp["predictions"] = std::move(*instances);
  return detail::dump(resp);
}

std::optional<std::string> echoEmbeddings(Json doc) {
  auto input = doc.find("input");
  if (input == doc.end()) return std::nullopt;
  Json rows = input->is_array() ? *input : Json::array({*input});
  Json data = Json::array();
  std::int64_t tokens = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Json& row = rows[i];
    std::int64_t length = 0, first = 0;
    if (row.is_string()) {
      const auto& s = row.get_ref<const std::string&>();
      length = static_cast<std::int64_t>(s.size());
      first = s.empty() ? 0 : static_cast<unsigned char>(s[0]);
    } else if (row.is_array()) {
      length = static_cast<std::int64_t>(row.size());
      first = !row.empty() && row[0].is_number_integer() ? row[0].get<std::int64_t>() : 0;
    } else if (row.is_number_integer()) {
      length = 1;  // a lone token array sent unwrapped
      first = row.get<std::int64_t>();
    }
    tokens += length;
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", {length, first}}});
  }
  if (input->is_array() && !input->empty() && input->front().is_number_integer()) {
    data = Json::array({{{"object", "embedding"},
                         {"index", 0},
                         {"embedding", {tokens, input->front().get<std::int64_t>()}}}});
  }
  Json resp = Json::object();
  resp["object"] = "list";
  resp["data"] = std::move(data);
  resp["model"] = doc.value("model", Json("echo"));
  resp["usage"] = {{"prompt_tokens", tokens}, {"total_tokens", tokens}};
  return detail::dump(resp);
}

}  // namespace

std::optional<std::string> echoResponse(Format format, std::string_view request) {
  auto doc = detail::parseJson(request);
  if (!doc || !doc->is_object()) return std::nullopt;
  try {
    switch (format) {
      case Format::KServeV2:
        return echoKServe(std::move(*doc));
      case Format::TfServing:
        return echoTf(std::move(*doc));
      case Format::OpenAiEmbeddings:
        return echoEmbeddings(std::move(*doc));
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace rampart::batching
