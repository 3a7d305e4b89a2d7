#pragma once
// A small HTTP/1.1 server for the admin endpoints, on libevent's evhttp. It
// runs on the main thread, off the data path, so its simplicity costs nothing.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "proxy/event/address.h"
#include "proxy/event/dispatcher.h"

struct evhttp;
struct evhttp_request;

namespace rampart::event {

struct SimpleRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', may be empty
  std::string body;
};

struct SimpleResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct EvhttpDeleter {
  void operator()(evhttp* http) const;
};

class HttpServer {
 public:
  using Handler = std::function<SimpleResponse(const SimpleRequest&)>;
  explicit HttpServer(Dispatcher& dispatcher);
  ~HttpServer();
  // Binds and listens; returns false with `error` set on failure.
  bool listen(const SocketAddress& address, std::string* error);
  // Serves `path` (exact match) with `handler`.
  void route(const std::string& path, Handler handler);
  // The bound address (resolves port 0).
  const SocketAddress& address() const { return address_; }

 private:
  static void onRequest(evhttp_request* request, void* arg);
  std::unique_ptr<evhttp, EvhttpDeleter> http_;
  std::map<std::string, Handler> routes_;
  SocketAddress address_;
};

}  // namespace rampart::event
