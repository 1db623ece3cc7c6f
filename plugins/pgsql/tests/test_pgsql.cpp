// ts_pgsql: the wire encoding and decoding, md5 and SCRAM-SHA-256 (RFC 7677's test vector),
// request parsing (Tsung's types, attributes and defaults; errors naming the element), and the
// PgsqlConnection state machine driven with a fake ConnectionServices and the messages a
// PostgreSQL server sends.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <optional>

#include <pugixml.hpp>

#include "loadctl/connection.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "pgsql_auth.hpp"
#include "pgsql_expr.hpp"
#include "pgsql_wire.hpp"
#include "recorder/pgsql_record.hpp"
#include "support/fake_conn_services.hpp"
#include "support/fake_connection.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

namespace loadctl::pgsql {
namespace {

const ProtocolRegistry& registry() { return ProtocolRegistry::builtin(); }
const Protocol& protocol() { return *registry().by_element("pgsql"); }

// A whole scenario with `session` as its ts_pgsql session's content, loaded as "t.xml".
std::string scenario(const std::string& session, const std::string& server_type = "tcp",
                     const std::string& options = "") {
  return "<?xml version=\"1.0\"?>\n<tsung>\n<clients><client host=\"localhost\"/></clients>\n"
         "<servers><server host=\"127.0.0.1\" port=\"5432\" type=\"" + server_type + "\"/></servers>\n"
         "<load><arrivalphase phase=\"1\" duration=\"1\" unit=\"second\"><users arrivalrate=\"1\" unit=\"second\"/>"
         "</arrivalphase></load>\n" + options +
         "<sessions><session name=\"s\" probability=\"100\" type=\"ts_pgsql\">\n" + session +
         "\n</session></sessions>\n</tsung>\n";
}

// The scenario is refused at `marker` (t.xml:line:column), with `message` in the error.
void expect_refused(const std::string& text, std::string_view marker, const std::string& message) {
  try {
    load_scenario_text(text, "t.xml", registry());
    ADD_FAILURE() << "accepted: " << text;
  } catch (const ScenarioError& e) {
    ASSERT_NE(text.find(marker), std::string::npos) << marker;
    TextPosition at = text_position(text, static_cast<std::ptrdiff_t>(text.find(marker)));
    std::string place = "t.xml:" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": ";
    EXPECT_EQ(std::string(e.what()).substr(0, place.size()), place) << e.what();
    EXPECT_NE(e.message().find(message), std::string::npos) << e.what();
  }
}

std::shared_ptr<const RequestSpec> request(const std::string& xml, bool subst = false) {
  return protocol().parse_request(test::kept_element(xml), test::subst_context(subst));
}

std::string parse_error(const std::string& xml) {
  return test::scenario_error_of([&] { request(xml); }, "(accepted)");
}

// A backend message: type, length, body.
std::string msg(char type, std::string_view body) {
  std::string out;
  std::size_t start = begin_message(out, type);
  out += body;
  end_message(out, start);
  return out;
}
std::string u32(std::uint32_t v) {
  std::string out;
  put_u32(out, v);
  return out;
}
std::string ready(char status = 'I') { return msg('Z', std::string(1, status)); }
std::string error(std::string_view severity) {
  using namespace std::string_literals;
  return msg('E', "S"s + std::string(severity) + "\0V"s + std::string(severity) + "\0C28P01\0Mpassword authentication failed\0\0"s);
}

TEST(PgsqlWire, FramesWholePartialTooLargeAndBad) {
  std::string two = msg('C', std::string("SELECT 1\0", 9)) + ready();
  Message m = next_message(two, 1024);
  ASSERT_EQ(m.status, Message::Status::whole);
  EXPECT_EQ(m.type, 'C');
  EXPECT_EQ(m.size, 14u);
  EXPECT_EQ(m.body, std::string_view("SELECT 1\0", 9));
  m = next_message(std::span<const char>(two).subspan(14), 1024);
  EXPECT_EQ(m.status, Message::Status::whole);
  EXPECT_EQ(m.type, 'Z');
  for (std::size_t n = 0; n < 14; ++n)
    EXPECT_EQ(next_message(std::span<const char>(two.data(), n), 1024).status, Message::Status::partial) << n;
  // The length alone decides: a 1 GiB announcement is refused before any of it arrives.
  std::string huge = "D" + u32(1u << 30);
  EXPECT_EQ(next_message(huge, 16 << 20).status, Message::Status::too_large);
  EXPECT_EQ(next_message(two, 8).status, Message::Status::too_large);  // 9-byte body
  EXPECT_EQ(next_message("D" + u32(3), 1024).status, Message::Status::bad);
}

TEST(PgsqlWire, StartupAndFrontendMessages) {
  std::string out;
  startup_message(out, "bench", "db");
  using namespace std::string_literals;
  EXPECT_EQ(out, u32(32) + u32(0x30000) + "user\0bench\0database\0db\0\0"s);
  out.clear();
  string_message(out, 'Q', "SELECT 1");
  EXPECT_EQ(out, "Q"s + u32(13) + "SELECT 1\0"s);
  out.clear();
  empty_message(out, 'S');
  EXPECT_EQ(out, "S"s + u32(4));
  std::string body = "SERROR\0VERROR\0C42601\0Msyntax error\0\0"s;
  EXPECT_EQ(error_field(body, 'C'), "42601");
  EXPECT_EQ(error_field(body, 'M'), "syntax error");
  EXPECT_EQ(error_field(body, 'D'), "");
}

TEST(PgsqlAuth, Md5AsPostgresComputesIt) {
  // md5(md5("sesame" "bench") hex, salt 01 02 03 04), computed independently with Python's hashlib.
  EXPECT_EQ(md5_password("bench", "sesame", std::string("\x01\x02\x03\x04", 4)),
            "md5df09a93e58779a341a48986eae905bd1");
}

TEST(PgsqlAuth, ScramSha256Rfc7677TestVector) {
  ScramClient scram("pencil", "rOprNGfwEbeRWgbNEkqO", "user");
  EXPECT_EQ(scram.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  std::string final_message;
  ASSERT_TRUE(scram.client_final(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", final_message));
  EXPECT_EQ(final_message,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_TRUE(scram.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  EXPECT_FALSE(scram.verify_server_final("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
}

TEST(PgsqlAuth, ScramRefusesAForeignNonceAndBadIterations) {
  std::string out = "untouched";
  ScramClient a("pencil", "abc");
  EXPECT_FALSE(a.client_final("r=xyzdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", out));  // not our nonce
  ScramClient b("pencil", "abc");
  EXPECT_FALSE(b.client_final("r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", out));  // no server part
  ScramClient c("pencil", "abc");
  EXPECT_FALSE(c.client_final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", out));
  ScramClient d("pencil", "abc");
  EXPECT_FALSE(d.client_final("r=abcdef,s=***,i=4096", out));
  ScramClient e("pencil", "abc");  // a mandatory extension first (RFC 5802 section 5.1)
  EXPECT_FALSE(e.client_final("m=ext,r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", out));
  ScramClient f("pencil", "abc");  // over 100 000 iterations (each user would stall its thread)
  EXPECT_FALSE(f.client_final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100001", out));
  EXPECT_EQ(out, "untouched");
  ScramClient g("pencil", "abc");  // one server-first-message per exchange
  EXPECT_TRUE(g.client_final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", out));
  out = "untouched";
  EXPECT_FALSE(g.client_final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", out));
  EXPECT_EQ(out, "untouched");
  EXPECT_FALSE(d.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  // Random nonces differ between exchanges.
  EXPECT_NE(ScramClient("x").client_first(), ScramClient("x").client_first());
  std::string decoded;
  EXPECT_TRUE(base64_decode(base64_encode("pencil!"), decoded));
  EXPECT_EQ(decoded, "pencil!");
}

struct Client : test::FakeConnection {
  explicit Client(std::size_t max_frame = 16 << 20, bool negotiate_tls = false)
      : FakeConnection(protocol(), max_frame, nullptr, negotiate_tls) {}
  // Feeds `bytes` one at a time as the engine would (unconsumed bytes offered again with more);
  // returns the first event other than none, and how many bytes were left unconsumed then.
  std::pair<ConnEvent, std::size_t> feed(const std::string& bytes, const RequestSpec* pending) {
    std::string buffer;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      buffer.push_back(bytes[i]);
      while (!buffer.empty()) {
        info = ResponseInfo{};
        ConnResult r = conn->on_data(s, pending, buffer, info);
        buffer.erase(0, r.consumed);
        if (r.event != ConnEvent::none) return {r.event, bytes.size() - i - 1 + buffer.size()};
        if (r.consumed == 0) break;
      }
    }
    return {ConnEvent::none, buffer.size()};
  }
};

TEST(PgsqlConnection, Md5LoginThenQueryUntilReadyForQuery) {
  Client c;
  auto connect = request(R"(<pgsql type="connect" database="bench" username="%%_u%%"/>)", true);
  auto auth = request(R"(<pgsql type="authenticate" password="sesame"/>)");
  auto sql = request(R"(<pgsql type="sql">SELECT * from accounts;</pgsql>)");
  c.vars.values["u"] = "bench";
  std::string startup = c.encode(*connect);
  EXPECT_NE(startup.find(std::string("user\0bench\0database\0bench\0", 26)), std::string::npos);
  // AuthenticationMD5Password completes connect (Tsung's ack on the authentication request).
  EXPECT_EQ(c.feed(msg('R', u32(5) + "\x01\x02\x03\x04"), connect.get()), std::make_pair(ConnEvent::complete, std::size_t{0}));
  EXPECT_EQ(c.encode(*auth), msg('p', std::string("md5df09a93e58779a341a48986eae905bd1\0", 36)));
  std::string login = msg('R', u32(0)) + msg('S', std::string("server_version\0" "15.0\0", 20)) +
                      msg('K', u32(7) + u32(9)) + ready();
  EXPECT_EQ(c.feed(login, auth.get()).first, ConnEvent::complete);
  EXPECT_EQ(c.encode(*sql), msg('Q', std::string("SELECT * from accounts;\0", 24)));
  // Rows, a non-fatal error in the middle: counted (error_pgsql), the reply goes on to ReadyForQuery.
  std::string reply = msg('T', "...") + msg('D', "row1") + msg('D', "row2") + error("ERROR") +
                      ready('E') + msg('N', "notice after");
  EXPECT_EQ(c.feed(reply, sql.get()), std::make_pair(ConnEvent::complete, std::size_t{msg('N', "notice after").size()}));
  EXPECT_EQ(c.s["error_pgsql"], 1u);
  EXPECT_EQ(c.s["pgsql_failed_transaction"], 1u);
  // Messages with nothing pending are consumed without an event, and not counted: Tsung does
  // not parse what arrives while the user thinks.
  EXPECT_EQ(c.feed(msg('N', "x") + error("ERROR") + ready('E') + error("FATAL"), nullptr),
            std::make_pair(ConnEvent::none, std::size_t{0}));
  EXPECT_EQ(c.s["error_pgsql"], 1u);
  EXPECT_EQ(c.s["pgsql_failed_transaction"], 1u);
}

TEST(PgsqlConnection, SslRequestThenStartupMessageOverTls) {
  Client plain;  // type="tcp": nothing sent before the StartupMessage, nothing held
  EXPECT_FALSE(plain.holds);
  EXPECT_EQ(plain.s.sent, "");
  Client c(16 << 20, true);
  EXPECT_TRUE(c.holds);  // connect waits for TLS
  EXPECT_EQ(c.s.sent, std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));  // length 8, code 80877103
  EXPECT_EQ(c.feed("S", nullptr), std::make_pair(ConnEvent::none, std::size_t{0}));
  EXPECT_EQ(c.s.tls_started, 1);
  EXPECT_EQ(c.conn->on_tls_ready(c.s), ConnEvent::ready);
  // Then the login as on a plain connection (its bytes go over TLS).
  auto connect = request(R"(<pgsql type="connect" database="d" username="u"/>)");
  EXPECT_NE(c.encode(*connect).find(std::string("user\0u\0database\0d\0", 18)), std::string::npos);
  EXPECT_EQ(c.feed(msg('R', u32(3)), connect.get()).first, ConnEvent::complete);
  EXPECT_EQ(c.s.tls_started, 1);
}

TEST(PgsqlConnection, SslRefusedOrFollowedByBytesEndsTheUser) {
  Client refused(16 << 20, true);
  EXPECT_EQ(refused.feed("N", nullptr).first, ConnEvent::fatal_counted);
  EXPECT_EQ(refused.s["error_pgsql_ssl_refused"], 1u);
  EXPECT_EQ(refused.s.tls_started, 0);
  // Bytes after 'S' before the TLS handshake are not the server's (CVE-2021-23222).
  Client injected(16 << 20, true);
  std::string s_and_more = "S" + msg('R', u32(0));
  EXPECT_EQ(injected.conn->on_data(injected.s, nullptr, s_and_more, injected.info).event, ConnEvent::fatal);
  EXPECT_STREQ(injected.info.error, "pgsql_ssl_unexpected_data");
  EXPECT_EQ(injected.s.tls_started, 0);
  // An ErrorResponse (a server too old for SSLRequest) is not an answer.
  Client old(16 << 20, true);
  EXPECT_EQ(old.conn->on_data(old.s, nullptr, error("FATAL"), old.info).event, ConnEvent::fatal);
  EXPECT_STREQ(old.info.error, "pgsql_bad_message");
}

TEST(PgsqlConnection, CleartextWrongPasswordIsCountedAndEndsTheUser) {
  Client c;
  auto connect = request(R"(<pgsql type="connect" database="d" username="u"/>)");
  auto auth = request(R"(<pgsql type="authenticate" password="%%_pw%%"/>)", true);
  c.encode(*connect);
  EXPECT_EQ(c.feed(msg('R', u32(3)), connect.get()).first, ConnEvent::complete);
  c.vars.values["pw"] = "wrong";
  EXPECT_EQ(c.encode(*auth), msg('p', std::string("wrong\0", 6)));
  EXPECT_EQ(c.feed(error("FATAL"), auth.get()).first, ConnEvent::fatal_counted);
  EXPECT_EQ(c.s["error_pgsql"], 1u);
}

TEST(PgsqlConnection, ScramStartsWithSaslInitialResponse) {
  Client c;
  auto connect = request(R"(<pgsql type="connect" database="d" username="u"/>)");
  auto auth = request(R"(<pgsql type="authenticate" password="pw"/>)");
  c.encode(*connect);
  using namespace std::string_literals;
  EXPECT_EQ(c.feed(msg('R', u32(10) + "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"s), connect.get()).first, ConnEvent::complete);
  std::string initial = c.encode(*auth);
  ASSERT_GT(initial.size(), 5u + 14u + 4u);
  EXPECT_EQ(initial.substr(5, 14), "SCRAM-SHA-256\0"s);
  std::string first = initial.substr(23);
  EXPECT_EQ(get_u32(initial.substr(19, 4)), first.size());
  EXPECT_TRUE(first.starts_with("n,,n=,r=")) << first;
  // A server-first whose nonce is not ours ends the user.
  EXPECT_EQ(c.feed(msg('R', u32(11) + "r=forged,s=QUJD,i=4096"), auth.get()).first, ConnEvent::fatal);
  EXPECT_STREQ(c.info.error, "pgsql_scram");
  EXPECT_EQ(c.s.sent, "");  // no SASLResponse (ScramFullExchange shows one is sent otherwise)
  // SASL without SCRAM-SHA-256 (or GSSAPI, ...): counted, the user ends from the timer.
  Client g;
  g.encode(*connect);
  g.feed(msg('R', u32(10) + "OTHER\0\0"s), connect.get());
  EXPECT_EQ(g.encode(*auth), "");
  EXPECT_EQ(g.s["error_pgsql_auth_method"], 1u);
  EXPECT_EQ(g.s.timer, 0);
  EXPECT_EQ(g.conn->on_timer(g.s), ConnEvent::fatal_counted);
}

std::string hmac256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

// The server's side of a SCRAM-SHA-256 exchange (RFC 5802), computed here independently of
// ScramClient: connect, SASL offered, authenticate sends the client-first, the server-first
// below answered with a SASLResponse whose proof is checked. Returns the server signature (base64).
struct ScramServer {
  Client c;
  std::shared_ptr<const RequestSpec> auth = request(R"(<pgsql type="authenticate" password="pencil"/>)");
  std::string server_first, signature;

  ScramServer() {
    using namespace std::string_literals;
    auto connect = request(R"(<pgsql type="connect" database="d" username="u"/>)");
    c.encode(*connect);
    EXPECT_EQ(c.feed(msg('R', u32(10) + "SCRAM-SHA-256\0\0"s), connect.get()).first, ConnEvent::complete);
    std::string first_bare = c.encode(*auth).substr(23 + 3);  // after "n,,"
    std::string nonce = first_bare.substr(first_bare.find("r=") + 2);
    std::string salt = "0123456789abcdef";
    server_first = "r=" + nonce + "SRV,s=" + base64_encode(salt) + ",i=4096";
    std::string salted(32, '\0');
    PKCS5_PBKDF2_HMAC("pencil", 6, reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                      4096, EVP_sha256(), 32, reinterpret_cast<unsigned char*>(salted.data()));
    std::string without_proof = "c=biws,r=" + nonce + "SRV";
    std::string auth_message = first_bare + "," + server_first + "," + without_proof;
    std::string client_key = hmac256(salted, "Client Key");
    unsigned char stored[32];
    EVP_Digest(client_key.data(), client_key.size(), stored, nullptr, EVP_sha256(), nullptr);
    std::string proof = hmac256(std::string_view(reinterpret_cast<char*>(stored), 32), auth_message);
    for (std::size_t i = 0; i < proof.size(); ++i) proof[i] ^= client_key[i];
    signature = base64_encode(hmac256(hmac256(salted, "Server Key"), auth_message));
    EXPECT_EQ(c.feed(msg('R', u32(11) + server_first), auth.get()).first, ConnEvent::none);
    EXPECT_EQ(c.s.sent, msg('p', without_proof + ",p=" + base64_encode(proof)));
    c.s.sent.clear();
  }
};

TEST(PgsqlConnection, ScramFullExchange) {
  std::string login = msg('R', u32(0)) + ready();
  {  // the server proves it knows the password: logged in at ReadyForQuery
    ScramServer good;
    EXPECT_EQ(good.c.feed(msg('R', u32(12) + "v=" + good.signature) + login, good.auth.get()).first,
              ConnEvent::complete);
  }
  {  // a forged SASLFinal ends the user
    ScramServer forged;
    std::string wrong = forged.signature;
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    EXPECT_EQ(forged.c.feed(msg('R', u32(12) + "v=" + wrong) + login, forged.auth.get()).first, ConnEvent::fatal);
    EXPECT_STREQ(forged.c.info.error, "pgsql_scram_server_signature");
  }
  {  // AuthenticationOk without a SASLFinal: the server never proved anything
    ScramServer skipped;
    EXPECT_EQ(skipped.c.feed(login, skipped.auth.get()).first, ConnEvent::fatal);
    EXPECT_STREQ(skipped.c.info.error, "pgsql_scram_no_server_final");
  }
  {  // a second SASLContinue is refused, nothing more is sent
    ScramServer twice;
    EXPECT_EQ(twice.c.feed(msg('R', u32(11) + twice.server_first), twice.auth.get()).first, ConnEvent::fatal);
    EXPECT_STREQ(twice.c.info.error, "pgsql_scram");
    EXPECT_EQ(twice.c.s.sent, "");
  }
  {  // a second SASLFinal after a good one is refused too
    ScramServer again;
    std::string final_message = msg('R', u32(12) + "v=" + again.signature);
    EXPECT_EQ(again.c.feed(final_message + final_message, again.auth.get()).first, ConnEvent::fatal);
  }
}

TEST(PgsqlConnection, FrameOverMaxIsAnErrorNotAnAllocation) {
  Client c(64);
  auto sql = request(R"(<pgsql type="sql">SELECT 1</pgsql>)");
  c.encode(*sql);
  std::string header = "D" + u32(1000);
  ResponseInfo info;
  ConnResult r = c.conn->on_data(c.s, sql.get(), header, info);
  EXPECT_EQ(r.event, ConnEvent::fatal);
  EXPECT_STREQ(info.error, "pgsql_frame_too_large");
}

TEST(PgsqlConnection, TrustThenAuthenticateSyncsAndCloseEndsAtEof) {
  Client c;
  auto connect = request(R"(<pgsql type="connect" database="d" username="u"/>)");
  auto auth = request(R"(<pgsql type="authenticate"/>)");
  auto close = request(R"(<pgsql type="close"></pgsql>)");
  c.encode(*connect);
  EXPECT_EQ(c.feed(msg('R', u32(0)) + ready(), connect.get()).first, ConnEvent::complete);
  EXPECT_EQ(c.encode(*auth), msg('S', ""));
  EXPECT_EQ(c.encode(*close), msg('X', ""));
  ResponseInfo info;
  EXPECT_TRUE(c.conn->on_eof(close.get(), info));
  EXPECT_FALSE(c.conn->on_eof(auth.get(), info));
}

// The recorder (src/recorder/pgsql_record.cpp) writes a Bind as <pgsql type="bind">; replayed,
// this plugin must send the very bytes the client sent.
TEST(PgsqlRequests, RecordedBindReplaysTheSameBytes) {
  using namespace std::string_literals;
  std::vector<std::string> binds = {
      "\0P1\0"s + "\0\0"s + "\0\0"s + "\0\0"s,                                        // formats none, nothing
      "por\0P1\0"s + "\0\1\0\0"s + "\0\2"s + u32(2) + "42" + u32(0xFFFFFFFF) + "\0\0"s,  // text, a NULL
      "\0P1\0"s + "\0\2\0\0\0\0"s + "\0\2"s + u32(1) + "a" + u32(3) + "b c" + "\0\2\0\0\0\1"s,  // auto, results
      "\0P2\0"s + "\0\1\0\1"s + "\0\1"s + u32(4) + "abcd" + "\0\1\0\1"s,  // binary, binary results
      "\0\0"s + "\0\0"s + "\0\1"s + u32(0xFFFFFFFF) + "\0\0"s,             // unnamed, one NULL
  };
  Client c;
  for (const std::string& body : binds) {
    loadctl::recorder::PgsqlRecordFormatter f;
    std::string xml = f.message('B', body, nullptr).xml;
    ASSERT_TRUE(xml.starts_with("<request>") && xml.ends_with("</request>")) << xml;
    std::string element = xml.substr(9, xml.size() - 9 - 10);
    EXPECT_EQ(c.encode(*request(element)), msg('B', body)) << element;
  }
  // The same for a query with a carriage return (written &#13; outside CDATA).
  loadctl::recorder::PgsqlRecordFormatter f;
  std::string xml = f.message('Q', "SELECT 1\r\n;\0"s, nullptr).xml;
  EXPECT_EQ(c.encode(*request(xml.substr(9, xml.size() - 9 - 10))), msg('Q', "SELECT 1\r\n;\0"s)) << xml;
}

TEST(PgsqlRequests, ExtendedProtocolAsTsungEncodesIt) {
  using namespace std::string_literals;
  auto parse = request(R"(<pgsql type="parse" name_prepared="P1" parameters="23,25">INSERT INTO t VALUES ($1, $2)</pgsql>)");
  EXPECT_FALSE(parse->awaits_response());
  Client c;
  EXPECT_EQ(c.encode(*parse), msg('P', "P1\0INSERT INTO t VALUES ($1, $2)\0"s + "\0\2"s + u32(23) + u32(25)));
  auto bind = request(R"(<pgsql type="bind" name_portal="" name_prepared="P1" formats="auto" formats_results="text,binary" parameters="%%_id%%,null"/>)", true);
  c.vars.values["id"] = "42";
  EXPECT_EQ(c.encode(*bind), msg('B', "\0P1\0"s + "\0\2\0\0\0\0"s + "\0\2"s + u32(2) + "42" + u32(0xFFFFFFFF) + "\0\2\0\0\0\1"s));
  auto bind_none = request(R"(<pgsql type="bind" name_prepared="P0_7" formats="none" formats_results="text"/>)");
  EXPECT_EQ(c.encode(*bind_none), msg('B', "\0P0_7\0"s + "\0\0"s + "\0\0"s + "\0\1\0\0"s));
  EXPECT_EQ(c.encode(*request(R"(<pgsql type="execute" max_rows="5"/>)")), msg('E', "\0"s + u32(5)));
  EXPECT_EQ(c.encode(*request(R"(<pgsql type="describe" name_portal=""/>)")), msg('D', "P\0"s));
  EXPECT_EQ(c.encode(*request(R"(<pgsql type="describe" name_prepared="P1"/>)")), msg('D', "SP1\0"s));
  EXPECT_EQ(c.encode(*request(R"(<pgsql type="copy">49,44,50</pgsql>)")), msg('d', "1,2"));
  EXPECT_EQ(c.encode(*request(R"(<pgsql type="copyfail" equery="stop"/>)")), msg('f', "stop\0"s));
  auto sync = request(R"(<pgsql type="sync"/>)");
  EXPECT_TRUE(sync->awaits_response());
  c.encode(*sync);
  // The replies to the no_ack steps arrive with the sync's: complete at ReadyForQuery.
  EXPECT_EQ(c.feed(msg('1', "") + msg('2', "") + msg('C', "INSERT 0 1\0"s) + ready(), sync.get()).first,
            ConnEvent::complete);
  // CopyInResponse completes the query that started COPY FROM STDIN.
  auto sql = request(R"(<pgsql type="sql">COPY t FROM STDIN</pgsql>)");
  c.encode(*sql);
  EXPECT_EQ(c.feed(msg('G', "\0\0\1\0\0"s), sql.get()).first, ConnEvent::complete);
}

TEST(PgsqlRequests, RefusedWithTheirPlace) {
  expect_refused(scenario(R"(<request><pgsql type="cancel"/></request>)"), "<pgsql", "not supported yet");
  expect_refused(scenario(R"(<request><pgsql type="sql" database="x">SELECT 1</pgsql></request>)"), "database=",
                 "database");
  expect_refused(scenario(R"(<request><pgsql type="bind" formats_results="json"/></request>)"), "formats_results=",
                 "formats_results");
  // %%...%% where Tsung's ts_pgsql:subst does not look (it would be sent as it is).
  expect_refused(scenario(R"(<request subst="true"><pgsql type="bind" name_prepared="%%_p%%" parameters="%%_a%%"/></request>)"),
                 "name_prepared=", "not supported yet: %%...%% in attribute 'name_prepared'");
  expect_refused(scenario(R"(<request subst="true"><pgsql type="copyfail" equery="%%_e%%"/></request>)"), "equery=",
                 "attribute 'equery'");
  expect_refused(scenario("<request subst=\"true\">\n  <pgsql type=\"parse\">SELECT %%_x%%</pgsql></request>"),
                 "<pgsql", "the text of a <pgsql type=\"parse\">");
  // Accepted: the fields Tsung substitutes, and %% without subst (sent as they are, as Tsung).
  EXPECT_NO_THROW(load_scenario_text(
      scenario(R"(<request subst="true"><pgsql type="connect" database="%%_d%%" username="%%_u%%"/></request>)"
               R"(<request subst="true"><pgsql type="bind" parameters="%%_a%%"/></request>)"
               R"(<request><pgsql type="parse">SELECT '%%'</pgsql></request>)"),
      "t.xml", registry()));
  // <server type="ssl">: TLS after an SSLRequest on the plain connection (PgsqlConnection.SslRequest...).
  EXPECT_NO_THROW(load_scenario_text(scenario(R"(<request><pgsql type="sql">SELECT 1</pgsql></request>)", "ssl"),
                                     "t.xml", registry()));
  EXPECT_TRUE(protocol().negotiates_tls());
  EXPECT_NE(parse_error(R"(<pgsql type="cancel"/>)").find("not supported yet"), std::string::npos);
  EXPECT_NE(parse_error(R"(<pgsql type="nope"/>)").find("unknown pgsql type 'nope'"), std::string::npos);
  EXPECT_NE(parse_error(R"(<pgsql type="sql" database="x">SELECT 1</pgsql>)").find("database"), std::string::npos);
  EXPECT_NE(parse_error(R"(<pgsql type="describe"/>)").find("one of name_portal and name_prepared"), std::string::npos);
  EXPECT_NE(parse_error(R"(<pgsql type="bind" formats_results="json"/>)").find("formats_results"), std::string::npos);
  EXPECT_NE(parse_error(R"(<pgsql type="parse" parameters="23,x">SELECT $1</pgsql>)").find("parameters"), std::string::npos);
  EXPECT_NE(parse_error(R"(<pgsql type="close">text</pgsql>)").find("takes no text"), std::string::npos);
  // The password never shows in what loadctl prints about a request.
  EXPECT_EQ(request(R"(<pgsql type="authenticate" password="sesame"/>)")->describe(), "pgsql authenticate");
}


// A RowDescription column: name, table oid, column number, type oid, size, modifier, format.
std::string column(std::string_view name, std::uint16_t number, std::uint32_t type) {
  std::string c(name);
  c += '\0';
  c += u32(16384);
  c += std::string{static_cast<char>(number >> 8), static_cast<char>(number & 0xff)};
  c += u32(type);
  c += std::string{'\xff', '\xff'};  // size -1
  c += u32(0xffffffff);               // modifier -1
  c += std::string(2, '\0');         // text
  return c;
}
std::string data_row(std::initializer_list<std::optional<std::string_view>> values) {
  std::string body{'\0', static_cast<char>(values.size())};
  for (const auto& v : values) {
    body += v ? u32(static_cast<std::uint32_t>(v->size())) + std::string(*v) : u32(0xffffffff);
  }
  return msg('D', body);
}

TEST(PgsqlExpr, ReadsRowsAndColumnsAsTsungsFindPair) {
  std::string reply = msg('T', std::string{'\0', '\2'} + column("id", 1, 23) + column("name", 2, 25)) +
                      data_row({"7", "alice"}) + data_row({"8", std::nullopt}) + data_row({"9", "carol"}) +
                      msg('C', std::string("SELECT 3") + '\0') + ready();
  auto value = [&](const std::string& expr) {
    std::string out = "(none)";
    PgsqlExpr(expr).extract(reply, out);
    return out;
  };
  EXPECT_EQ(value("data_row[1][1]"), "7");
  EXPECT_EQ(value("data_row[3][2]"), "carol");
  EXPECT_EQ(value("data_row.1.2"), "alice");        // Tsung's dotted form
  EXPECT_EQ(value("data_row[3].name"), "carol");    // by column name
  EXPECT_EQ(value("data_row[2].name"), "(none)");   // NULL
  EXPECT_EQ(value("data_row[4][1]"), "(none)");     // no such row
  EXPECT_EQ(value("data_row[1][3]"), "(none)");     // no such column
  EXPECT_EQ(value("data_row[1].nope"), "(none)");
  EXPECT_EQ(value("row_description[1][2][1]"), "name");
  EXPECT_EQ(value("row_description[1][2][3]"), "2");
  EXPECT_EQ(value("row_description[1][1][4]"), "23");
  EXPECT_EQ(value("row_description[1][1][2]"), "text");
  EXPECT_THROW(PgsqlExpr("command_complete[1][1]"), std::invalid_argument);
  EXPECT_THROW(PgsqlExpr("data_row[0][1]"), std::invalid_argument);
  EXPECT_THROW(PgsqlExpr("data_row[1]"), std::invalid_argument);
  EXPECT_THROW(PgsqlExpr("row_description[1][1][9]"), std::invalid_argument);
}

TEST(PgsqlExpr, LoadedOnlyInPgsqlSessions) {
  const std::string ok = R"(<request><dyn_variable name="v" pgsql_expr="data_row[1][1]"/><pgsql type="sql">SELECT 1</pgsql></request>)";
  Scenario s = load_scenario_text(scenario(ok), "t.xml", registry());
  const auto& var = s.sessions[0].actions[0].dynamics->variables[0];
  EXPECT_EQ(var.kind, DynVariable::Kind::protocol);
  expect_refused(scenario(R"(<request><dyn_variable name="v" pgsql_expr="data_row[1]"/><pgsql type="sql">SELECT 1</pgsql></request>)"),
                 "pgsql_expr=", "expected data_row[ROW][COLUMN]");
}

}  // namespace
}  // namespace loadctl::pgsql
