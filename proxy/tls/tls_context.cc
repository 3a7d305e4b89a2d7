#include "proxy/tls/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rampart::tls {

namespace {

constexpr size_t kMaxCachedSessions = 1024;
// Distinguishes our sessions from another application's in a shared ticket key space.
constexpr unsigned char kSessionIdContext[] = "rampart";

// Checks that `path` can be opened, so the error names the file and the OS reason
// instead of OpenSSL's "system lib".
std::optional<std::string> unreadable(const std::string& what, const std::string& path) {
  if (path.empty()) return "no " + what + " file given";
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "cannot read " + what + " " + path + ": " + std::strerror(errno);
  std::fclose(f);
  return std::nullopt;
}

// Never prompt on the terminal for an encrypted key's passphrase: fail instead.
int noPassphrase(char*, int, int, void*) {
  return 0;
}

bool isIpLiteral(std::string_view name) {
  const std::string s(name);
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, s.c_str(), &v4) == 1 || inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

std::optional<std::string> loadCertificateAndKey(SSL_CTX* ctx, const std::string& cert,
                                                 const std::string& key) {
  if (auto e = unreadable("certificate", cert)) return e;
  if (auto e = unreadable("key", key)) return e;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return "cannot load certificate " + cert + ": " + takeOpenSslError();
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the pair while loading: name that failure plainly.
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                           ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH)) {
      takeOpenSslError();
      return "key " + key + " does not match certificate " + cert;
    }
    return "cannot load key " + key + ": " + takeOpenSslError();
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    takeOpenSslError();
    return "key " + key + " does not match certificate " + cert;
  }
  return std::nullopt;
}

std::optional<std::string> loadCa(SSL_CTX* ctx, const std::string& ca) {
  if (auto e = unreadable("CA", ca)) return e;
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
    return "cannot load CA " + ca + ": " + takeOpenSslError();
  }
  return std::nullopt;
}

// ALPN protocols in wire format (length-prefixed); error when one is empty or too long.
std::optional<std::string> alpnWire(const std::vector<std::string>& protocols,
                                    std::vector<unsigned char>& out) {
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) return "invalid ALPN protocol '" + p + "'";
    out.push_back(static_cast<unsigned char>(p.size()));
    out.insert(out.end(), p.begin(), p.end());
  }
  return std::nullopt;
}

SslCtxPtr newContext() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return ctx;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Renegotiation is a CPU-exhaustion lever for clients and HTTP/2 forbids it anyway;
  // an EOF without close_notify is a normal close (HTTP framing catches truncation).
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Idle connections give their read/write buffers back.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx.get(), &noPassphrase);
  return ctx;
}

}  // namespace

std::string takeOpenSslError() {
  std::string reason;
  while (const unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    if (r) {
      reason = r;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      reason = buf;
    }
  }
  return reason;
}

TlsContext::TlsContext(bool server) : server_(server) {}

TlsContext::~TlsContext() = default;

TlsContextResult TlsContext::makeServer(const ServerTlsConfig& config) {
  ERR_clear_error();
  std::shared_ptr<TlsContext> self(new TlsContext(true));
  self->ctx_ = newContext();
  SSL_CTX* ctx = self->ctx_.get();
  if (!ctx) return {nullptr, "cannot create TLS context: " + takeOpenSslError()};
  if (auto e = loadCertificateAndKey(ctx, config.cert_file, config.key_file)) {
    return {nullptr, *e};
  }
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Resumption by stateless tickets only: no per-client memory, no cache lock.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  if (!config.client_ca_file.empty()) {
    if (auto e = loadCa(ctx, config.client_ca_file)) return {nullptr, *e};
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (!names) {
      return {nullptr,
              "cannot read CA names from " + config.client_ca_file + ": " + takeOpenSslError()};
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    self->require_client_cert_ = true;
  }
  std::vector<unsigned char> wire;
  if (auto e = alpnWire(config.alpn, wire)) return {nullptr, *e};
  self->alpn_ = config.alpn;
  if (!self->alpn_.empty()) SSL_CTX_set_alpn_select_cb(ctx, &selectAlpnCb, self.get());
  return {std::move(self), {}};
}

TlsContextResult TlsContext::makeClient(const ClientTlsConfig& config) {
  ERR_clear_error();
  std::shared_ptr<TlsContext> self(new TlsContext(false));
  self->ctx_ = newContext();
  SSL_CTX* ctx = self->ctx_.get();
  if (!ctx) return {nullptr, "cannot create TLS context: " + takeOpenSslError()};
  if (config.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return {nullptr, "cannot load the system CA store: " + takeOpenSslError()};
    }
  } else if (auto e = loadCa(ctx, config.ca_file)) {
    return {nullptr, *e};
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!config.cert_file.empty() || !config.key_file.empty()) {
    if (auto e = loadCertificateAndKey(ctx, config.cert_file, config.key_file)) {
      return {nullptr, *e};
    }
  }
  std::vector<unsigned char> wire;
  if (auto e = alpnWire(config.alpn, wire)) return {nullptr, *e};
  if (!wire.empty() &&
      SSL_CTX_set_alpn_protos(ctx, wire.data(), static_cast<unsigned>(wire.size())) != 0) {
    return {nullptr, "cannot set ALPN: " + takeOpenSslError()};
  }
  // Sessions are kept by us (per server name and address), not in OpenSSL's internal store.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &newSessionCb);
  SSL_CTX_set_app_data(ctx, self.get());
  self->server_name_ = config.sni;
  self->alpn_ = config.alpn;
  return {std::move(self), {}};
}

int TlsContext::selectAlpnCb(SSL*, const unsigned char** out, unsigned char* outlen,
                             const unsigned char* in, unsigned int inlen, void* arg) {
  const auto* self = static_cast<const TlsContext*>(arg);
  // Our preference order wins (h2 first), whatever order the client offered.
  for (const std::string& wanted : self->alpn_) {
    for (unsigned int i = 0; i < inlen;) {
      const unsigned int len = in[i];
      if (i + 1 + len > inlen) break;
      if (len == wanted.size() && std::memcmp(in + i + 1, wanted.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  // No overlap: carry on without ALPN (the client speaks HTTP/1.1) rather than fail.
  return SSL_TLSEXT_ERR_NOACK;
}

SslPtr TlsContext::newServerSsl() const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (ssl) SSL_set_accept_state(ssl.get());
  return ssl;
}

SslPtr TlsContext::newClientSsl(std::string_view server_name, const std::string& session_key) {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) return ssl;
  SSL_set_connect_state(ssl.get());
  const std::string name(server_name);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (isIpLiteral(name)) {
    // RFC 6066: no SNI for addresses; the certificate must carry the IP as a SAN.
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else if (!name.empty()) {
    SSL_set_tlsext_host_name(ssl.get(), name.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
  }
  std::lock_guard lock(sessions_mutex_);
  const auto it = session_index_.find(session_key);
  if (it != session_index_.end()) {
    SSL_SESSION* session = it->second->second.get();
    if (SSL_SESSION_is_resumable(session)) {
      SSL_set_session(ssl.get(), session);  // takes its own reference
    } else {
      sessions_.erase(it->second);
      session_index_.erase(it);
    }
  }
  return ssl;
}

int TlsContext::newSessionCb(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto* key = static_cast<const std::string*>(SSL_get_app_data(ssl));
  if (!self || !key) return 0;
  // Keep a copy: OpenSSL marks the live session unresumable when the connection ends
  // without close_notify (idle close, abort), which RFC 5246 7.2.1 no longer requires.
  if (SSL_SESSION* copy = SSL_SESSION_dup(session)) self->storeSession(*key, copy);
  return 0;  // OpenSSL keeps (and frees) its own reference
}

void TlsContext::storeSession(const std::string& key, SSL_SESSION* session) {
  SslSessionPtr owned(session);
  std::lock_guard lock(sessions_mutex_);
  const auto it = session_index_.find(key);
  if (it != session_index_.end()) sessions_.erase(it->second);
  sessions_.emplace_front(key, std::move(owned));
  session_index_[key] = sessions_.begin();
  if (sessions_.size() > kMaxCachedSessions) {
    session_index_.erase(sessions_.back().first);
    sessions_.pop_back();
  }
}

size_t TlsContext::cachedSessions() const {
  std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

std::optional<std::string> peerIdentity(const SSL* ssl) {
  if (!ssl) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    std::optional<std::string> uri;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && !uri; ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
      uri.emplace(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                  static_cast<size_t>(ASN1_STRING_length(value)));
    }
    GENERAL_NAMES_free(names);
    if (uri) return uri;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio) return std::nullopt;
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0) return std::nullopt;
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace rampart::tls
