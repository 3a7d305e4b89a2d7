#pragma once
// Small helpers over evhttp requests: reading bodies, headers and query
// strings, and writing one complete reply. Nothing here keeps state.

#include <cstdint>
#include <string>
#include <string_view>

#include <event2/http.h>

#include <nlohmann/json.hpp>

namespace rampart::gpu_backend {

// The request method as its HTTP token ("GET", "POST", ...).
std::string_view methodName(const evhttp_request* req);
// The whole request body (evhttp has already buffered it).
std::string requestBody(evhttp_request* req);
// Request headers as {lower-case name: value}; repeated names are joined with ", ".
nlohmann::json headersJson(evhttp_request* req);
// The raw path of the request URI ("/" when missing).
std::string requestPath(evhttp_request* req);
// The raw query string of the request URI ("" when missing).
std::string requestQuery(evhttp_request* req);
// Query parameters as {name: value} (last one wins); empty when unparsable.
nlohmann::json queryArgs(std::string_view query);
// Sends a complete reply with `body` and a Content-Type (no body for HEAD/204/304).
void sendReply(evhttp_request* req, int status, std::string_view body,
               std::string_view contentType = "application/json");
// Stops reading from the request's connection until the reply is sent, so a
// pipelined request or EOF cannot reach evhttp while this one is pending.
void pauseReading(evhttp_request* req);

}  // namespace rampart::gpu_backend
