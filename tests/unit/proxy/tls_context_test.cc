#include "proxy/tls/tls_context.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "proxy/tls/tls_transport.h"

namespace rampart::tls {
namespace {

// Throwaway keys and certificates made with the openssl CLI in a temp dir
// (never committed): a CA, a server cert (localhost, 127.0.0.1), a client cert
// with a SPIFFE URI SAN, one with only a subject, and a second, unrelated CA.
class Pki {
 public:
  Pki() {
    char tmpl[] = "/tmp/rampart-tls-ctx-XXXXXX";
    if (mkdtemp(tmpl)) dir_ = tmpl;
  }
  ~Pki() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }

  bool makeCa(const std::string& name) {
    return run(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        " -keyout " +
        path(name + ".key") + " -out " + path(name + ".pem") + " -days 2 -subj '/CN=" + name +
        "'"
        " -addext basicConstraints=critical,CA:TRUE"
        " -addext keyUsage=critical,keyCertSign,cRLSign");
  }
  bool makeLeaf(const std::string& name, const std::string& subject, const std::string& ext,
                const std::string& ca) {
    std::ofstream(path(name + ".ext")) << ext << "\nbasicConstraints=CA:FALSE\n";
    return run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
               " -keyout " +
               path(name + ".key") + " -out " + path(name + ".csr") + " -subj '" + subject + "'") &&
           run("openssl x509 -req -in " + path(name + ".csr") + " -CA " + path(ca + ".pem") +
               " -CAkey " + path(ca + ".key") + " -CAcreateserial -days 2 -out " +
               path(name + ".pem") + " -extfile " + path(name + ".ext"));
  }
  bool makeAll() {
    return !dir_.empty() && makeCa("ca") && makeCa("other-ca") &&
           makeLeaf("server", "/CN=localhost",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
                    "ca") &&
           makeLeaf("client", "/O=Test Org/CN=workload-y",
                    "subjectAltName=URI:spiffe://test/ns/x/sa/y\nextendedKeyUsage=clientAuth",
                    "ca") &&
           makeLeaf("plain-client", "/O=Test Org/CN=plain", "extendedKeyUsage=clientAuth", "ca") &&
           run("openssl pkey -in " + path("client.key") + " -aes256 -passout pass:secret -out " +
               path("encrypted.key"));
  }

 private:
  static bool run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string dir_;
};

class TlsContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki();
    ready_ = pki_->makeAll();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "openssl CLI could not make test certificates"; }
  static std::string path(const std::string& file) { return pki_->path(file); }

  ServerTlsConfig serverConfig() const {
    ServerTlsConfig c;
    c.cert_file = path("server.pem");
    c.key_file = path("server.key");
    return c;
  }
  ClientTlsConfig clientConfig() const {
    ClientTlsConfig c;
    c.ca_file = path("ca.pem");
    c.sni = "localhost";
    return c;
  }

  static Pki* pki_;
  static bool ready_;
};
Pki* TlsContextTest::pki_ = nullptr;
bool TlsContextTest::ready_ = false;

// Moves ciphertext between two transports until neither makes progress.
void pipe(TlsTransport& client, TlsTransport& server, event::Buffer& client_plain,
          event::Buffer& server_plain, TlsTransport::Status* client_status = nullptr,
          TlsTransport::Status* server_status = nullptr) {
  for (int i = 0; i < 50; ++i) {
    if (client.wireOut().empty() && server.wireOut().empty()) return;
    server.wireIn().moveFrom(client.wireOut());
    bool done = false;
    const auto s = server.onWireInput(server_plain, done);
    if (server_status) *server_status = s;
    client.wireIn().moveFrom(server.wireOut());
    const auto c = client.onWireInput(client_plain, done);
    if (client_status) *client_status = c;
    if (s != TlsTransport::Status::Ok || c != TlsTransport::Status::Ok) return;
  }
}

TEST_F(TlsContextTest, LoadsServerAndClientContexts) {
  const auto server = TlsContext::makeServer(serverConfig());
  ASSERT_TRUE(server) << server.error;
  EXPECT_TRUE(server.context->isServer());
  EXPECT_FALSE(server.context->requiresClientCertificate());
  const auto client = TlsContext::makeClient(clientConfig());
  ASSERT_TRUE(client) << client.error;
  EXPECT_FALSE(client.context->isServer());
  EXPECT_EQ(client.context->serverName(), "localhost");
  ServerTlsConfig mtls = serverConfig();
  mtls.client_ca_file = path("ca.pem");
  const auto mutual = TlsContext::makeServer(mtls);
  ASSERT_TRUE(mutual) << mutual.error;
  EXPECT_TRUE(mutual.context->requiresClientCertificate());
}

TEST_F(TlsContextTest, MissingCertificateNamesTheFile) {
  ServerTlsConfig c = serverConfig();
  c.cert_file = "/nonexistent/x/y.pem";
  const auto r = TlsContext::makeServer(c);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error, "cannot read certificate /nonexistent/x/y.pem: No such file or directory");
}

TEST_F(TlsContextTest, MissingKeyAndCaNameTheFile) {
  ServerTlsConfig s = serverConfig();
  s.key_file = path("nope.key");
  EXPECT_EQ(TlsContext::makeServer(s).error,
            "cannot read key " + path("nope.key") + ": No such file or directory");
  s = serverConfig();
  s.client_ca_file = path("nope-ca.pem");
  EXPECT_EQ(TlsContext::makeServer(s).error,
            "cannot read CA " + path("nope-ca.pem") + ": No such file or directory");
  ClientTlsConfig c = clientConfig();
  c.ca_file = path("missing.pem");
  EXPECT_EQ(TlsContext::makeClient(c).error,
            "cannot read CA " + path("missing.pem") + ": No such file or directory");
}

TEST_F(TlsContextTest, KeyThatDoesNotMatchIsRejected) {
  ServerTlsConfig c = serverConfig();
  c.key_file = path("client.key");
  const auto r = TlsContext::makeServer(c);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error,
            "key " + path("client.key") + " does not match certificate " + path("server.pem"));
  ClientTlsConfig cc = clientConfig();
  cc.cert_file = path("client.pem");
  cc.key_file = path("server.key");
  EXPECT_NE(TlsContext::makeClient(cc).error.find("does not match certificate"), std::string::npos);
}

TEST_F(TlsContextTest, GarbageAndEncryptedFilesFailWithoutPrompting) {
  std::ofstream(path("garbage.pem")) << "this is not a certificate\n";
  ServerTlsConfig c = serverConfig();
  c.cert_file = path("garbage.pem");
  const auto r = TlsContext::makeServer(c);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error.rfind("cannot load certificate " + path("garbage.pem") + ": ", 0), 0u)
      << r.error;
  // A passphrase-protected key fails at once instead of asking on the terminal.
  ClientTlsConfig cc = clientConfig();
  cc.cert_file = path("client.pem");
  cc.key_file = path("encrypted.key");
  const auto e = TlsContext::makeClient(cc);
  EXPECT_FALSE(e);
  EXPECT_EQ(e.error.rfind("cannot load key " + path("encrypted.key"), 0), 0u) << e.error;
}

TEST_F(TlsContextTest, InvalidAlpnIsAConfigError) {
  ServerTlsConfig c = serverConfig();
  c.alpn = {"h2", ""};
  EXPECT_EQ(TlsContext::makeServer(c).error, "invalid ALPN protocol ''");
}

TEST_F(TlsContextTest, ServerPrefersH2WhateverTheClientOrder) {
  const auto server = TlsContext::makeServer(serverConfig());
  ClientTlsConfig cc = clientConfig();
  cc.alpn = {"http/1.1", "h2"};
  const auto client = TlsContext::makeClient(cc);
  ASSERT_TRUE(server && client);
  auto s = TlsTransport::server(server.context);
  auto c = TlsTransport::client(client.context, "localhost", "k");
  event::Buffer sp, cp;
  ASSERT_EQ(c->startHandshake(), TlsTransport::Status::Ok);
  pipe(*c, *s, cp, sp);
  ASSERT_TRUE(c->handshakeComplete()) << c->error();
  ASSERT_TRUE(s->handshakeComplete()) << s->error();
  EXPECT_EQ(s->alpn(), "h2");
  EXPECT_EQ(c->alpn(), "h2");
  // Data both ways.
  event::Buffer out;
  out.add("hello over tls");
  ASSERT_TRUE(c->encrypt(out));
  pipe(*c, *s, cp, sp);
  EXPECT_EQ(sp.toString(), "hello over tls");
  // The server's identity as the client sees it: no URI SAN, so the subject.
  EXPECT_EQ(c->peerIdentity(), "CN=localhost");
  EXPECT_FALSE(s->peerIdentity()) << "no client certificate without mTLS";
}

TEST_F(TlsContextTest, NoCommonAlpnFallsBackToNone) {
  const auto server = TlsContext::makeServer(serverConfig());
  ClientTlsConfig cc = clientConfig();
  cc.alpn = {"spdy/3"};
  const auto client = TlsContext::makeClient(cc);
  auto s = TlsTransport::server(server.context);
  auto c = TlsTransport::client(client.context, "localhost", "k");
  event::Buffer sp, cp;
  c->startHandshake();
  pipe(*c, *s, cp, sp);
  ASSERT_TRUE(s->handshakeComplete());
  EXPECT_EQ(s->alpn(), "");
  EXPECT_EQ(c->alpn(), "");
}

TEST_F(TlsContextTest, PeerIdentityIsTheSpiffeUriOrElseTheSubject) {
  ServerTlsConfig sc = serverConfig();
  sc.client_ca_file = path("ca.pem");
  const auto server = TlsContext::makeServer(sc);
  for (const auto& [cert, expected] :
       {std::pair<std::string, std::string>{"client", "spiffe://test/ns/x/sa/y"},
        std::pair<std::string, std::string>{"plain-client", "CN=plain,O=Test Org"}}) {
    ClientTlsConfig cc = clientConfig();
    cc.cert_file = path(cert + ".pem");
    cc.key_file = path(cert + ".key");
    const auto client = TlsContext::makeClient(cc);
    ASSERT_TRUE(client) << client.error;
    auto s = TlsTransport::server(server.context);
    auto c = TlsTransport::client(client.context, "localhost", "k");
    event::Buffer sp, cp;
    c->startHandshake();
    pipe(*c, *s, cp, sp);
    ASSERT_TRUE(s->handshakeComplete()) << s->error();
    EXPECT_EQ(s->peerIdentity(), expected);
  }
}

TEST_F(TlsContextTest, ClientVerifiesTheServerName) {
  const auto server = TlsContext::makeServer(serverConfig());
  const auto client = TlsContext::makeClient(clientConfig());
  auto s = TlsTransport::server(server.context);
  auto c = TlsTransport::client(client.context, "resnet.svc", "k");
  event::Buffer sp, cp;
  TlsTransport::Status cs = TlsTransport::Status::Ok;
  c->startHandshake();
  pipe(*c, *s, cp, sp, &cs);
  EXPECT_EQ(cs, TlsTransport::Status::HandshakeFailed);
  EXPECT_FALSE(c->handshakeComplete());
  EXPECT_NE(c->error().find("hostname mismatch"), std::string::npos) << c->error();
  // The IP SAN works when dialling by address.
  auto s2 = TlsTransport::server(server.context);
  auto c2 = TlsTransport::client(client.context, "127.0.0.1", "k2");
  c2->startHandshake();
  pipe(*c2, *s2, cp, sp, &cs);
  EXPECT_TRUE(c2->handshakeComplete()) << c2->error();
}

TEST_F(TlsContextTest, ClientCachesSessionsFromTickets) {
  const auto server = TlsContext::makeServer(serverConfig());
  const auto client = TlsContext::makeClient(clientConfig());
  EXPECT_EQ(client.context->cachedSessions(), 0u);
  for (int round = 0; round < 2; ++round) {
    auto s = TlsTransport::server(server.context);
    auto c = TlsTransport::client(client.context, "localhost", "localhost@10.0.0.1:443");
    event::Buffer sp, cp;
    c->startHandshake();
    pipe(*c, *s, cp, sp);
    ASSERT_TRUE(c->handshakeComplete());
    EXPECT_EQ(c->sessionReused(), round == 1);
    EXPECT_EQ(s->sessionReused(), round == 1);
  }
  EXPECT_EQ(client.context->cachedSessions(), 1u) << "one entry per key, the newest ticket";
}

}  // namespace
}  // namespace rampart::tls
