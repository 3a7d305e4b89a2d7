#include "proxy/event/http_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stdexcept>

#include "proxy/event/listener.h"

namespace rampart::event {

void EvhttpDeleter::operator()(evhttp* http) const {
  evhttp_free(http);
}

HttpServer::HttpServer(Dispatcher& dispatcher) : http_(evhttp_new(dispatcher.base())) {
  if (!http_) throw std::runtime_error("evhttp_new failed");
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http_.get(), &HttpServer::onRequest, this);
}

HttpServer::~HttpServer() = default;

bool HttpServer::listen(const SocketAddress& address, std::string* error) {
  const int fd = openListenSocket(address, 128, error);
  if (fd < 0) return false;
  if (!evhttp_accept_socket_with_handle(http_.get(), fd)) {
    *error = "evhttp_accept_socket failed";
    return false;
  }
  address_ = localAddress(fd);
  return true;
}

void HttpServer::route(const std::string& path, Handler handler) {
  routes_[path] = std::move(handler);
}

void HttpServer::onRequest(evhttp_request* request, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  SimpleRequest req;
  switch (evhttp_request_get_command(request)) {
    case EVHTTP_REQ_POST:
      req.method = "POST";
      break;
    case EVHTTP_REQ_HEAD:
      req.method = "HEAD";
      break;
    default:
      req.method = "GET";
      break;
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  if (const char* path = uri ? evhttp_uri_get_path(uri) : nullptr) req.path = path;
  if (const char* query = uri ? evhttp_uri_get_query(uri) : nullptr) req.query = query;
  evbuffer* input = evhttp_request_get_input_buffer(request);
  const size_t length = evbuffer_get_length(input);
  req.body.resize(length);
  if (length > 0) evbuffer_remove(input, req.body.data(), length);

  SimpleResponse response;
  auto it = self->routes_.find(req.path);
  if (it == self->routes_.end()) {
    response.status = 404;
    response.body = "not found\n";
  } else {
    response = it->second(req);
  }
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", response.content_type.c_str());
  evbuffer* output = evbuffer_new();
  evbuffer_add(output, response.body.data(), response.body.size());
  evhttp_send_reply(request, response.status, nullptr, output);
  evbuffer_free(output);
}

}  // namespace rampart::event
