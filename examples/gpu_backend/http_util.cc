#include "examples/gpu_backend/http_util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include <algorithm>
#include <cctype>

namespace rampart::gpu_backend {

std::string_view methodName(const evhttp_request* req) {
  switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "UNKNOWN";
}

std::string requestBody(evhttp_request* req) {
  evbuffer* input = evhttp_request_get_input_buffer(req);
  const size_t length = evbuffer_get_length(input);
  std::string body(length, '\0');
  if (length > 0) evbuffer_copyout(input, body.data(), length);
  return body;
}

nlohmann::json headersJson(evhttp_request* req) {
  nlohmann::json headers = nlohmann::json::object();
  const evkeyvalq* list = evhttp_request_get_input_headers(req);
  for (const evkeyval* h = list->tqh_first; h != nullptr; h = h->next.tqe_next) {
    std::string name(h->key);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto it = headers.find(name);
    if (it == headers.end()) {
      headers[name] = h->value;
    } else {
      *it = it->get<std::string>() + ", " + h->value;
    }
  }
  return headers;
}

std::string requestPath(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  return (path != nullptr && *path != '\0') ? path : "/";
}

std::string requestQuery(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
  return query != nullptr ? query : "";
}

nlohmann::json queryArgs(std::string_view query) {
  nlohmann::json args = nlohmann::json::object();
  if (query.empty()) return args;
  evkeyvalq parsed;
  const std::string copy(query);
  if (evhttp_parse_query_str(copy.c_str(), &parsed) == 0) {
    for (const evkeyval* kv = parsed.tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
      args[kv->key] = kv->value;
    }
  }
  evhttp_clear_headers(&parsed);
  return args;
}

void sendReply(evhttp_request* req, int status, std::string_view body,
               std::string_view contentType) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  const std::string type(contentType);
  evhttp_add_header(headers, "Content-Type", type.c_str());
  const bool bodyAllowed =
      evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && status != 204 && status != 304;
  if (bodyAllowed && !body.empty()) {
    evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  }
  evhttp_send_reply(req, status, nullptr, nullptr);
}

void pauseReading(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn != nullptr) bufferevent_disable(evhttp_connection_get_bufferevent(conn), EV_READ);
}

}  // namespace rampart::gpu_backend
