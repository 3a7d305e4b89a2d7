// TLS on BufferedConnection over real loopback TCP within one Dispatcher:
// handshake, echo, ALPN, mTLS identities, refusals, resumption, close_notify.
// Event-driven: each test runs the loop until its condition is met; a guard
// timer only bounds a broken test, nothing waits on time.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/event/connection.h"
#include "proxy/event/dispatcher.h"
#include "proxy/tls/tls_context.h"

namespace rampart::event {
namespace {

using tls::ClientTlsConfig;
using tls::ServerTlsConfig;
using tls::TlsContext;

// Throwaway certificates made with the openssl CLI in a temp dir (never committed).
class Pki {
 public:
  Pki() {
    char tmpl[] = "/tmp/rampart-tls-conn-XXXXXX";
    if (mkdtemp(tmpl)) dir_ = tmpl;
  }
  ~Pki() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  bool makeAll() {
    return !dir_.empty() && makeCa("ca") && makeCa("wrong-ca") &&
           makeLeaf("server", "/CN=localhost",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
                    "ca") &&
           makeLeaf("client", "/CN=workload-y",
                    "subjectAltName=URI:spiffe://test/ns/x/sa/y\nextendedKeyUsage=clientAuth",
                    "ca") &&
           makeLeaf("intruder", "/CN=intruder",
                    "subjectAltName=URI:spiffe://evil/ns/x/sa/y\nextendedKeyUsage=clientAuth",
                    "wrong-ca");
  }

 private:
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
  static bool run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string dir_;
};

// One end of a connection: records what happens, optionally echoes, and tells the
// test loop after every event so it can stop as soon as its condition holds.
struct Peer : ConnectionCallbacks {
  void onRead() override {
    const std::string data = conn->input().toString();
    conn->input().drain(data.size());
    received += data;
    if (echo) conn->write(data);
    notify();
  }
  void onWriteDrained() override {}
  void onConnected() override {
    connected = true;
    if (on_connected) on_connected();
    notify();
  }
  void onClose(CloseReason reason) override {
    closed = reason;
    notify();
  }
  void notify() {
    if (event) (*event)();
  }

  std::unique_ptr<BufferedConnection> conn;
  bool echo = false;
  bool connected = false;
  std::string received;
  std::optional<CloseReason> closed;
  std::function<void()> on_connected;
  const std::function<void()>* event = nullptr;
};

class TlsConnectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signal(SIGPIPE, SIG_IGN);  // as the server does; a refused peer may close mid-write
    pki_ = new Pki();
    ready_ = pki_->makeAll();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(ready_) << "openssl CLI could not make test certificates";
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listen_fd_, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    address_ = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&addr), len);
  }
  void TearDown() override {
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  static std::string path(const std::string& file) { return pki_->path(file); }
  static std::shared_ptr<TlsContext> serverContext(bool mtls) {
    ServerTlsConfig c;
    c.cert_file = path("server.pem");
    c.key_file = path("server.key");
    if (mtls) c.client_ca_file = path("ca.pem");
    auto r = TlsContext::makeServer(c);
    EXPECT_TRUE(r) << r.error;
    return r.context;
  }
  static std::shared_ptr<TlsContext> clientContext(const std::string& cert,
                                                   std::vector<std::string> alpn = {"h2",
                                                                                    "http/1.1"}) {
    ClientTlsConfig c;
    c.ca_file = path("ca.pem");
    c.sni = "localhost";
    c.alpn = std::move(alpn);
    if (!cert.empty()) {
      c.cert_file = path(cert + ".pem");
      c.key_file = path(cert + ".key");
    }
    auto r = TlsContext::makeClient(c);
    EXPECT_TRUE(r) << r.error;
    return r.context;
  }

  // Connects `client` with TLS and adopts the accepted socket into `server`.
  void connect(Peer& client, Peer& server, std::shared_ptr<TlsContext> client_ctx,
               std::shared_ptr<TlsContext> server_ctx, std::string_view name = {}) {
    client.conn =
        BufferedConnection::connectTls(dispatcher_, address_, std::move(client_ctx), name);
    client.conn->setCallbacks(&client);
    client.event = &event_;
    pollfd pfd{listen_fd_, POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 5000), 1) << "loopback connect did not arrive";
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(fd, 0);
    server.conn = BufferedConnection::adoptTls(dispatcher_, fd, std::move(server_ctx));
    server.conn->setCallbacks(&server);
    server.event = &event_;
  }

  // Runs the loop until `done` holds after some connection event; a guard timer
  // only bounds a broken test.
  bool runUntil(const std::function<bool()>& done) {
    if (done()) return true;
    bool timed_out = false;
    Timer guard(dispatcher_, [&] {
      timed_out = true;
      dispatcher_.exit();
    });
    guard.enable(std::chrono::seconds(10));
    event_ = [&] {
      if (done()) dispatcher_.exit();
    };
    dispatcher_.run();
    event_ = nullptr;
    return !timed_out && done();
  }

  Dispatcher dispatcher_;
  std::function<void()> event_;
  int listen_fd_ = -1;
  SocketAddress address_;
  static Pki* pki_;
  static bool ready_;
};
Pki* TlsConnectionTest::pki_ = nullptr;
bool TlsConnectionTest::ready_ = false;

TEST_F(TlsConnectionTest, HandshakeEchoAndAlpnH2) {
  Peer client, server;
  server.echo = true;
  connect(client, server, clientContext(""), serverContext(false));
  // Written before the handshake: held back, then sent encrypted.
  client.conn->write("ping over tls");
  ASSERT_TRUE(runUntil([&] { return client.received == "ping over tls"; }));
  EXPECT_TRUE(client.connected);
  EXPECT_TRUE(client.conn->isTls());
  EXPECT_TRUE(client.conn->handshakeComplete());
  EXPECT_TRUE(server.conn->handshakeComplete());
  EXPECT_EQ(server.conn->alpn(), "h2");
  EXPECT_EQ(client.conn->alpn(), "h2");
  EXPECT_EQ(client.conn->peerIdentity(), "CN=localhost");
  EXPECT_FALSE(server.conn->peerIdentity());
  EXPECT_FALSE(server.closed);
  EXPECT_FALSE(client.closed);
}

TEST_F(TlsConnectionTest, Http11WhenTheClientOffersOnlyThat) {
  Peer client, server;
  server.echo = true;
  connect(client, server, clientContext("", {"http/1.1"}), serverContext(false));
  client.conn->write("x");
  ASSERT_TRUE(runUntil([&] { return client.received == "x"; }));
  EXPECT_EQ(server.conn->alpn(), "http/1.1");
}

TEST_F(TlsConnectionTest, LargeTransfersBothWays) {
  Peer client, server;
  server.echo = true;
  connect(client, server, clientContext(""), serverContext(false));
  std::string payload(3 * 1024 * 1024 + 11, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + i / 977);
  client.on_connected = [&] {
    // Many small writes then one big one: records are coalesced and split as needed.
    const std::string_view all(payload);
    for (size_t off = 0; off < 4096; off += 7) {
      client.conn->write(all.substr(off, std::min<size_t>(7, 4096 - off)));
    }
    client.conn->write(all.substr(4096));
  };
  const size_t expected = payload.size();
  ASSERT_TRUE(runUntil([&] { return client.received.size() >= expected; }));
  EXPECT_EQ(client.received.size(), expected);
  EXPECT_EQ(server.received.size(), expected);
  EXPECT_TRUE(client.received == server.received);
  EXPECT_EQ(client.conn->pendingOutput(), 0u);
}

TEST_F(TlsConnectionTest, MutualTlsAcceptedWithSpiffeIdentity) {
  Peer client, server;
  server.echo = true;
  connect(client, server, clientContext("client"), serverContext(true));
  client.conn->write("hello");
  ASSERT_TRUE(runUntil([&] { return client.received == "hello"; }));
  EXPECT_EQ(server.conn->peerIdentity(), "spiffe://test/ns/x/sa/y");
  EXPECT_EQ(client.conn->peerIdentity(), "CN=localhost");
}

TEST_F(TlsConnectionTest, ClientWithoutCertificateIsRefused) {
  Peer client, server;
  server.echo = true;
  connect(client, server, clientContext(""), serverContext(true));
  client.conn->write("let me in");
  ASSERT_TRUE(runUntil([&] { return server.closed && client.closed; }));
  EXPECT_EQ(*server.closed, CloseReason::TlsHandshakeFailed);
  EXPECT_FALSE(server.conn->tlsError().empty());
  // TLS 1.3: the client had finished; the server's alert arrives before any data.
  EXPECT_EQ(*client.closed, CloseReason::TlsHandshakeFailed) << client.conn->tlsError();
  EXPECT_EQ(server.received, "");
  EXPECT_EQ(client.received, "");
}

TEST_F(TlsConnectionTest, ClientCertificateFromTheWrongCaIsRefused) {
  Peer client, server;
  server.echo = true;
  connect(client, server, clientContext("intruder"), serverContext(true));
  client.conn->write("let me in");
  ASSERT_TRUE(runUntil([&] { return server.closed && client.closed; }));
  EXPECT_EQ(*server.closed, CloseReason::TlsHandshakeFailed);
  EXPECT_NE(server.conn->tlsError().find("certificate"), std::string::npos)
      << server.conn->tlsError();
  EXPECT_FALSE(server.conn->peerIdentity());
  EXPECT_EQ(server.received, "");
}

TEST_F(TlsConnectionTest, HostnameMismatchIsRefusedByTheClient) {
  Peer client, server;
  connect(client, server, clientContext(""), serverContext(false), "resnet.svc");
  ASSERT_TRUE(runUntil([&] { return client.closed && server.closed; }));
  EXPECT_EQ(*client.closed, CloseReason::TlsHandshakeFailed);
  EXPECT_FALSE(client.connected);
  EXPECT_NE(client.conn->tlsError().find("hostname mismatch"), std::string::npos)
      << client.conn->tlsError();
  EXPECT_EQ(*server.closed, CloseReason::TlsHandshakeFailed) << "the client's alert reaches it";
}

TEST_F(TlsConnectionTest, ServerFromAnUnknownCaIsRefusedByTheClient) {
  ClientTlsConfig c;
  c.ca_file = path("wrong-ca.pem");
  c.sni = "localhost";
  auto ctx = TlsContext::makeClient(c);
  ASSERT_TRUE(ctx);
  Peer client, server;
  connect(client, server, ctx.context, serverContext(false));
  ASSERT_TRUE(runUntil([&] { return client.closed.has_value(); }));
  EXPECT_EQ(*client.closed, CloseReason::TlsHandshakeFailed);
  EXPECT_FALSE(client.connected);
}

TEST_F(TlsConnectionTest, DialByAddressVerifiesTheIpSan) {
  ClientTlsConfig c;
  c.ca_file = path("ca.pem");  // no sni: the endpoint's IP is what gets verified
  auto ctx = TlsContext::makeClient(c);
  ASSERT_TRUE(ctx);
  Peer client, server;
  server.echo = true;
  connect(client, server, ctx.context, serverContext(false));
  client.conn->write("ip");
  ASSERT_TRUE(runUntil([&] { return client.received == "ip"; })) << client.conn->tlsError();
}

TEST_F(TlsConnectionTest, ReconnectResumesTheSession) {
  auto client_ctx = clientContext("client");
  auto server_ctx = serverContext(true);
  for (int round = 0; round < 2; ++round) {
    Peer client, server;
    server.echo = true;
    connect(client, server, client_ctx, server_ctx);
    client.conn->write("again");
    // The echo round trip also carries the server's session tickets to the client.
    ASSERT_TRUE(runUntil([&] { return client.received == "again"; }));
    EXPECT_EQ(client.conn->tlsSessionReused(), round == 1) << "round " << round;
    EXPECT_EQ(server.conn->tlsSessionReused(), round == 1) << "round " << round;
    // A resumed session still knows who the client is.
    EXPECT_EQ(server.conn->peerIdentity(), "spiffe://test/ns/x/sa/y");
    client.conn->close();
    server.conn->close();
  }
  EXPECT_EQ(client_ctx->cachedSessions(), 1u);
}

TEST_F(TlsConnectionTest, ShutdownWriteSendsCloseNotifyAfterTheData) {
  Peer client, server;
  connect(client, server, clientContext(""), serverContext(false));
  client.conn->write("last words");
  client.conn->shutdownWrite();
  ASSERT_TRUE(runUntil([&] { return server.closed.has_value(); }));
  EXPECT_EQ(server.received, "last words");
  EXPECT_EQ(*server.closed, CloseReason::RemoteClose);
  // Half-close: the server can still answer.
  server.conn->write("bye");
  ASSERT_TRUE(runUntil([&] { return client.received == "bye"; }));
}

TEST_F(TlsConnectionTest, PlaintextClientOnATlsPortFailsTheHandshake) {
  Peer client, server;
  client.conn = BufferedConnection::connect(dispatcher_, address_);
  client.conn->setCallbacks(&client);
  client.event = server.event = &event_;
  pollfd pfd{listen_fd_, POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  server.conn = BufferedConnection::adoptTls(
      dispatcher_, ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC), serverContext(false));
  server.conn->setCallbacks(&server);
  client.conn->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(runUntil([&] { return server.closed.has_value(); }));
  EXPECT_EQ(*server.closed, CloseReason::TlsHandshakeFailed);
  EXPECT_EQ(server.received, "");
}

}  // namespace
}  // namespace rampart::event
