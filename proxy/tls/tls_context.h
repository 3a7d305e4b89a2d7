#pragma once
// TLS contexts (OpenSSL 3) for listeners and clusters, built from plain config
// structs. Building never throws and never crashes on bad files: it returns an
// error string the config loader turns into a config error, at start and on
// reload (where the running context stays).
//
// One context is shared by every worker (SSL_CTX is thread-safe for SSL_new);
// each connection holds a shared_ptr so a reload can drop the old context while
// its connections finish.
//
// Session resumption:
// - server: stateless session tickets (TLS 1.3 and 1.2), keyed by a random key
//   OpenSSL makes per context, so every worker resumes every other worker's
//   sessions; a reload makes a new key (clients fall back to a full handshake).
//   The stateful server cache is off: no memory per client, no lock.
// - client: one cached session per (server name, address), taken from the
//   tickets the server sends, bounded (LRU); the cache has a mutex, taken once
//   per handshake, never per request.

#include <openssl/ssl.h>

#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rampart::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct SslSessionDeleter {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionDeleter>;

// A listener's TLS: certificate chain and key (PEM); client_ca_file turns on mTLS
// (a client certificate is required and verified against it).
struct ServerTlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  std::vector<std::string> alpn = {"h2", "http/1.1"};  // in order of preference
};

// A cluster's TLS: the server is verified against ca_file (system roots when empty)
// and its name against sni; cert_file/key_file present a client certificate (mTLS).
struct ClientTlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string sni;                // server name sent and verified; the endpoint IP when empty
  std::vector<std::string> alpn;  // offered protocols, e.g. {"h2"}
};

class TlsContext;

// A context, or the reason there is none.
struct TlsContextResult {
  std::shared_ptr<TlsContext> context;  // null on failure
  std::string error;                    // "cannot read certificate /x/y.pem: No such file ..."
  explicit operator bool() const { return context != nullptr; }
};

class TlsContext {
 public:
  // Builds a server context; see ServerTlsConfig.
  static TlsContextResult makeServer(const ServerTlsConfig& config);
  // Builds a client context; see ClientTlsConfig.
  static TlsContextResult makeClient(const ClientTlsConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool isServer() const { return server_; }
  // True when clients must present a certificate from client_ca_file.
  bool requiresClientCertificate() const { return require_client_cert_; }
  // Client: the configured server name (may be empty).
  const std::string& serverName() const { return server_name_; }
  // The OpenSSL context, for the TLS transport.
  SSL_CTX* native() const { return ctx_.get(); }

  // Server: a new SSL in accept state. Null only when OpenSSL is out of memory.
  SslPtr newServerSsl() const;
  // Client: a new SSL in connect state that sends SNI `server_name` (unless it is an
  // IP address), verifies the certificate against it, and resumes the session cached
  // under `session_key` if any. Null only when OpenSSL is out of memory.
  SslPtr newClientSsl(std::string_view server_name, const std::string& session_key);

  // Client session cache: remembers `session` (taking the reference) under `key`,
  // replacing the previous one, evicting the least recently stored past 1024.
  void storeSession(const std::string& key, SSL_SESSION* session);
  // Number of cached client sessions.
  size_t cachedSessions() const;

 private:
  explicit TlsContext(bool server);
  static int selectAlpnCb(SSL*, const unsigned char** out, unsigned char* outlen,
                          const unsigned char* in, unsigned int inlen, void* arg);
  static int newSessionCb(SSL* ssl, SSL_SESSION* session);

  bool server_;
  bool require_client_cert_ = false;
  std::string server_name_;
  std::vector<std::string> alpn_;  // server preference order
  SslCtxPtr ctx_;

  // Client session cache, most recent at the front.
  mutable std::mutex sessions_mutex_;
  std::list<std::pair<std::string, SslSessionPtr>> sessions_;
  std::unordered_map<std::string, std::list<std::pair<std::string, SslSessionPtr>>::iterator>
      session_index_;
};

// The verified peer's identity: its certificate's first URI SAN (a SPIFFE ID such as
// spiffe://cluster.local/ns/a/sa/b), else its subject in RFC 2253 form. Nullopt when
// the peer sent no certificate or it did not verify.
std::optional<std::string> peerIdentity(const SSL* ssl);

// Takes every queued OpenSSL error of this thread and returns the last reason
// ("no such file", "key values mismatch"); empty when none.
std::string takeOpenSslError();

}  // namespace rampart::tls
