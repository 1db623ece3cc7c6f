// The MySQL plugin: the packet codec, the mysql_native_password scramble (a known vector and the
// server's own check), <mysql> parsing, and the connection against bytes MariaDB 10.11 sent
// (captured from a real server) through a fake ConnectionServices.
#include <random>

#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "loadctl/scenario_error.hpp"
#include "mysql_connection.hpp"
#include "mysql_packet.hpp"
#include "mysql_request.hpp"
#include "mysql_test_support.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

namespace loadctl::mysql {
namespace {

using loadctl::test::MapVars;
using namespace loadctl::mysql::test_support;

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(digits[static_cast<std::uint8_t>(c) >> 4]);
    out.push_back(digits[static_cast<std::uint8_t>(c) & 15]);
  }
  return out;
}

std::span<const char> span_of(const std::string& s) { return {s.data(), s.size()}; }

/// An ERR packet: code, '#' and the SQL state (when given), message.
std::string err_packet(std::uint8_t seq, std::uint16_t code, std::string_view state, std::string_view message) {
  std::string payload = "\xFF";
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.push_back(static_cast<char>(code >> 8));
  if (!state.empty()) payload.append("#").append(state);
  payload.append(message);
  std::string out;
  append_header(out, payload.size(), seq);
  return out + payload;
}

// SELECT * FROM gens: 2 columns, rows (1,'a') and (2,NULL).
const std::string kSelectGens = unhex(
    "0100000102260000020364656604746573740467656e730467656e730269640269640c3f000b0000000303500000002a0000030364656604"
    "746573740467656e730467656e73046e616d65046e616d650c2d0050000000fd000000000005000004fe00002200040000050131016103"
    "0000060132fb05000007fe00002200");
// SELEC 1: ERR 1064.
const std::string kSyntaxError = unhex(
    "a4000001ff2804233432303030596f75206861766520616e206572726f7220696e20796f75722053514c2073796e7461783b20636865636b"
    "20746865206d616e75616c207468617420636f72726573706f6e647320746f20796f7572204d617269614442207365727665722076657273"
    "696f6e20666f72207468652072696768742073796e74617820746f20757365206e656172202753454c4543203127206174206c696e652031");
const std::string kInsertOk = unhex("0700000100010002000000");

std::shared_ptr<const MysqlRequest> parse(const char* xml, bool subst = false, bool subst_body = true) {
  return test::parse_request_xml(parse_mysql_request, xml, subst, subst_body);
}

std::string error_of(const char* xml, bool subst = false, bool subst_body = true) {
  return test::scenario_error_of([&] { parse(xml, subst, subst_body); });
}

// --- packets -------------------------------------------------------------------------------

TEST(MysqlPacket, HeaderAndFraming) {
  PacketHeader h;
  EXPECT_FALSE(read_header(span_of(std::string("\x01\x00\x00", 3)), h));
  ASSERT_TRUE(read_header(span_of(kGreeting), h));
  EXPECT_EQ(h.length, 0x64u);
  EXPECT_EQ(h.seq, 0);
  std::string out = "prefix";
  std::size_t start = begin_packet(out);
  out.append("\x03SELECT 1");
  EXPECT_EQ(end_packet(out, start, 0), 1);
  EXPECT_EQ(hex(out.substr(6)), "0900000003" + hex("SELECT 1"));
  std::string quit;
  append_quit(quit);
  EXPECT_EQ(hex(quit), "0100000001");
}

TEST(MysqlPacket, PayloadsOf16MiBAreSplit) {
  // Exactly 0xFFFFFF bytes: a full packet then an empty one; one more byte: a 1-byte packet.
  for (std::size_t extra : {0u, 1u}) {
    std::string out;
    std::size_t start = begin_packet(out);
    out.append(kMaxPacketLength + extra, 'x');
    EXPECT_EQ(end_packet(out, start, 0), 2);
    ASSERT_EQ(out.size(), 2 * kHeaderSize + kMaxPacketLength + extra);
    PacketHeader a, b;
    ASSERT_TRUE(read_header(span_of(out), a));
    EXPECT_EQ(a.length, kMaxPacketLength);
    EXPECT_EQ(a.seq, 0);
    ASSERT_TRUE(read_header(span_of(out).subspan(kHeaderSize + kMaxPacketLength), b));
    EXPECT_EQ(b.length, extra);
    EXPECT_EQ(b.seq, 1);
  }
}

TEST(MysqlPacket, LengthEncodedIntegers) {
  std::string data = unhex("fa" "fc3412" "fd563412" "fe0807060504030201" "fb");
  Reader r(span_of(data));
  EXPECT_EQ(r.lenenc(), 250u);
  EXPECT_EQ(r.lenenc(), 0x1234u);
  EXPECT_EQ(r.lenenc(), 0x123456u);
  EXPECT_EQ(r.lenenc(), 0x0102030405060708u);
  EXPECT_TRUE(r.ok());
  r.lenenc();  // NULL is not an integer
  EXPECT_FALSE(r.ok());
  std::string short_int = unhex("fd5634");
  Reader t(span_of(short_int));
  t.lenenc();
  EXPECT_FALSE(t.ok());
}

TEST(MysqlPacket, MariaDbGreeting) {
  auto g = parse_greeting(span_of(kGreeting).subspan(kHeaderSize));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(g->salt.data()), g->salt.size()), kSalt);
  EXPECT_EQ(g->auth_plugin, "mysql_native_password");
  EXPECT_TRUE(g->capabilities & kProtocol41);
  EXPECT_TRUE(g->capabilities & kSecureConnection);
  EXPECT_TRUE(g->capabilities & kPluginAuth);
  // Cut anywhere inside the scramble, or another protocol version: refused, never read past.
  for (std::size_t n : {1u, 20u, 40u, 60u}) EXPECT_FALSE(parse_greeting(span_of(kGreeting).subspan(kHeaderSize, n))) << n;
  std::string v9 = kGreeting.substr(kHeaderSize);
  v9[0] = 9;
  EXPECT_FALSE(parse_greeting(span_of(v9)));
}

TEST(MysqlPacket, ErrOkEof) {
  auto e = parse_err(span_of(kSyntaxError).subspan(kHeaderSize));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 1064);
  EXPECT_EQ(e->sql_state, "42000");
  EXPECT_TRUE(e->message.starts_with("You have an error in your SQL syntax"));
  EXPECT_EQ(ok_status(span_of(kInsertOk).subspan(kHeaderSize)), std::optional<std::uint16_t>(2));
  std::string eof = unhex("fe00000a00");
  EXPECT_TRUE(is_eof(span_of(eof)));
  EXPECT_EQ(eof_status(span_of(eof)), std::optional<std::uint16_t>(kMoreResults | 2));
  EXPECT_FALSE(parse_err(span_of(eof)));
}

// The scramble of password "test" with the greeting's salt: the vector computed independently
// (Python's hashlib), and the check the server makes with the stored hash, PASSWORD('test') =
// *94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29 (MariaDB's documented example):
// SHA1(scramble XOR SHA1(salt + stored)) == stored.
TEST(MysqlPacket, NativePasswordScramble) {
  Sha1 stage1 = password_stage1("test");
  std::span<const std::uint8_t> salt(reinterpret_cast<const std::uint8_t*>(kSalt.data()), kSalt.size());
  Scramble s = native_scramble(stage1, salt);
  EXPECT_EQ(hex({reinterpret_cast<const char*>(s.data()), s.size()}), "1b41db384a6c5e343a963da774ff84bcd7945529");

  std::string stored = unhex("94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29");
  Sha1 stored_hash{};
  std::memcpy(stored_hash.data(), stored.data(), 20);
  std::string mix_input = kSalt + stored;
  Sha1 mix = password_stage1(mix_input);  // SHA1(salt + stored)
  Sha1 recovered{};
  for (std::size_t i = 0; i < 20; ++i) recovered[i] = static_cast<std::uint8_t>(s[i] ^ mix[i]);
  Sha1 check = password_stage1({reinterpret_cast<const char*>(recovered.data()), 20});
  EXPECT_EQ(check, stored_hash);
  // Another salt, another scramble.
  std::string other = "01234567890123456789";
  EXPECT_NE(native_scramble(stage1, {reinterpret_cast<const std::uint8_t*>(other.data()), 20}), s);
}

TEST(MysqlPacket, HandshakeResponse) {
  Scramble s{};
  s.fill(0xAB);
  std::string out;
  HandshakeResponse r;
  r.username = "test";
  r.database = "db1";
  r.scramble = &s;
  r.max_packet = 1 << 20;
  append_handshake_response(out, r);
  PacketHeader h;
  ASSERT_TRUE(read_header(span_of(out), h));
  EXPECT_EQ(h.seq, 1);
  ASSERT_EQ(h.length, out.size() - kHeaderSize);
  Reader rd(span_of(out).subspan(kHeaderSize));
  std::uint32_t caps = rd.u32();
  EXPECT_EQ(caps, kLongPassword | kLongFlag | kConnectWithDb | kProtocol41 | kTransactions | kSecureConnection |
                      kMultiResults | kPluginAuth);
  EXPECT_EQ(rd.u32(), 1u << 20);
  EXPECT_EQ(rd.u8(), kCharsetUtf8mb4);
  EXPECT_EQ(rd.bytes(23), std::string(23, '\0'));
  EXPECT_EQ(rd.nul_string(), "test");
  EXPECT_EQ(rd.u8(), 20);
  EXPECT_EQ(rd.bytes(20), std::string(20, '\xAB'));
  EXPECT_EQ(rd.nul_string(), "db1");
  EXPECT_EQ(rd.nul_string(), "mysql_native_password");
  EXPECT_EQ(rd.left(), 0u);
  // No password, no database: empty auth data, no CLIENT_CONNECT_WITH_DB.
  std::string bare;
  append_handshake_response(bare, HandshakeResponse{"u", "", nullptr, 100});
  Reader b(span_of(bare).subspan(kHeaderSize));
  EXPECT_FALSE(b.u32() & kConnectWithDb);
  b.skip(4 + 1 + 23);
  EXPECT_EQ(b.nul_string(), "u");
  EXPECT_EQ(b.u8(), 0);
  EXPECT_EQ(b.nul_string(), "mysql_native_password");
}

TEST(MysqlPacket, OptionalCapabilitiesOnlyWhenTheServerOffersThem) {
  HandshakeResponse r{"u", "", nullptr, 100};
  r.server_capabilities = kProtocol41 | kSecureConnection;  // neither PLUGIN_AUTH nor MULTI_RESULTS
  std::string out;
  append_handshake_response(out, r);
  Reader rd(span_of(out).subspan(kHeaderSize));
  std::uint32_t caps = rd.u32();
  EXPECT_EQ(caps, kLongPassword | kLongFlag | kProtocol41 | kTransactions | kSecureConnection);
  rd.skip(4 + 1 + 23);
  EXPECT_EQ(rd.nul_string(), "u");
  EXPECT_EQ(rd.u8(), 0);
  EXPECT_EQ(rd.left(), 0u);  // no plugin name without CLIENT_PLUGIN_AUTH
  r.server_capabilities = kProtocol41 | kSecureConnection | kMultiResults;
  out.clear();
  append_handshake_response(out, r);
  EXPECT_EQ(Reader(span_of(out).subspan(kHeaderSize)).u32() & (kMultiResults | kPluginAuth), kMultiResults);
}

TEST(MysqlPacket, SslRequestIsTheHandshakeResponsesFirst32Bytes) {
  Scramble s{};
  HandshakeResponse r{"test", "db1", &s, 1 << 20};
  std::string request;
  append_ssl_request(request, r);
  // Length 32, sequence id 1; capabilities 0x000AAA0D (those of the response, with CLIENT_SSL
  // 0x800), max packet 1 MiB, utf8mb4_general_ci (45), 23 zero bytes.
  EXPECT_EQ(hex(request), "20000001" "0daa0a00" "00001000" "2d" + std::string(46, '0'));
  r.ssl = true;
  std::string response;
  append_handshake_response(response, r);
  PacketHeader h;
  ASSERT_TRUE(read_header(span_of(response), h));
  EXPECT_EQ(h.seq, 2);  // after the SSL Request
  EXPECT_EQ(response.substr(kHeaderSize, 32), request.substr(kHeaderSize));
  EXPECT_EQ(response.substr(kHeaderSize + 32, 5), std::string("test\0", 5));
}

// --- <mysql> -------------------------------------------------------------------------------

TEST(MysqlParse, TsungTypes) {
  EXPECT_EQ(parse(R"(<mysql type="connect"/>)")->kind, Kind::connect);
  auto a = parse(R"(<mysql type="authenticate" database="test" username="u" password="s3cr3t"/>)");
  EXPECT_EQ(a->kind, Kind::authenticate);
  EXPECT_EQ(a->database.literal(), "test");
  EXPECT_EQ(a->username.literal(), "u");
  EXPECT_EQ(a->password.literal(), "s3cr3t");
  EXPECT_EQ(a->describe().find("s3cr3t"), std::string::npos);
  EXPECT_EQ(a->describe(), "mysql authenticate username=u database=test");  // never the password
  auto bare = parse(R"(<mysql type="authenticate"/>)");  // Tsung's defaults: ""
  EXPECT_TRUE(bare->username.literal().empty());
  EXPECT_TRUE(bare->password.literal().empty());
  auto q = parse("<mysql type=\"sql\">\n   SELECT * FROM gens  \n</mysql>");
  EXPECT_EQ(q->kind, Kind::sql);
  EXPECT_EQ(q->sql.literal(), "SELECT * FROM gens");  // ts_utils:clean_str
  EXPECT_EQ(parse(R"(<mysql type="close"></mysql>)")->kind, Kind::close);
  std::string out;
  q->encode(EncodeContext{}, out);
  EXPECT_EQ(out, std::string("\x13\x00\x00\x00\x03SELECT * FROM gens", 23));
}

TEST(MysqlParse, Substitution) {
  auto q = parse(R"(<mysql type="sql">INSERT INTO t VALUES (%%_id%%)</mysql>)", true);
  MapVars vars;
  vars.values["id"] = "42";
  EncodeContext ctx;
  ctx.vars = &vars;
  std::string out;
  q->encode(ctx, out);
  EXPECT_EQ(out.substr(kHeaderSize), "\x03INSERT INTO t VALUES (42)");
  EXPECT_EQ(static_cast<std::uint8_t>(out[0]), out.size() - kHeaderSize);
  // Without subst the text goes as written.
  EXPECT_EQ(parse(R"(<mysql type="sql">SELECT '%%_id%%'</mysql>)")->sql.literal(), "SELECT '%%_id%%'");
  EXPECT_FALSE(parse(R"(<mysql type="authenticate" username="%%_u%%"/>)", true)->username.is_literal());
}

TEST(MysqlParse, Errors) {
  EXPECT_NE(error_of(R"(<mysql/>)").find("missing attribute 'type'"), std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="select_db"/>)").find("type"), std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="connect" database="d"/>)").find("belongs to <mysql type=\"authenticate\">"),
            std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="sql" username="u">SELECT 1</mysql>)").find("'username'"), std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="close">SELECT 1</mysql>)").find("has no text"), std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="sql"><x/></mysql>)").find("unexpected element <x>"), std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="sql" table="t">SELECT 1</mysql>)").find("table"), std::string::npos);
  EXPECT_NE(error_of(R"(<mysql type="sql">SELECT 1</mysql>)", true, false).find("all_except_body"), std::string::npos);
}

// --- the connection ------------------------------------------------------------------------

struct Client {
  FakeServices s;
  ErrorCodeNames codes;
  MysqlConnection conn;
  std::shared_ptr<const MysqlRequest> connect = parse(R"(<mysql type="connect"/>)");
  std::shared_ptr<const MysqlRequest> auth =
      parse(R"(<mysql type="authenticate" database="test" username="test" password="test"/>)");
  std::shared_ptr<const MysqlRequest> close = parse(R"(<mysql type="close"/>)");
  explicit Client(std::size_t max_frame = 1 << 20, bool negotiate_tls = false) : conn(max_frame, codes, negotiate_tls) {
    EXPECT_FALSE(conn.on_open(s));
  }

  std::string send(const RequestSpec& r) {
    std::string out;
    conn.encode(s, r, EncodeContext{}, out);
    return out;
  }
  ConnResult feed(const RequestSpec* pending, const std::string& data, ResponseInfo* info_out = nullptr) {
    ResponseInfo info;
    ConnResult r = conn.on_data(s, pending, span_of(data), info);
    if (info_out) *info_out = info;
    return r;
  }
  /// Feeds `data` as the engine does: unconsumed bytes offered again with the next ones, in
  /// pieces of `step` bytes. Returns the first event other than none and the bytes left.
  std::pair<ConnEvent, std::size_t> trickle(const RequestSpec* pending, const std::string& data, std::size_t step) {
    std::string buffered;
    std::size_t pos = 0;
    while (pos < data.size() || !buffered.empty()) {
      std::size_t n = std::min(step, data.size() - pos);
      buffered.append(data, pos, n);
      pos += n;
      for (;;) {
        ConnResult r = feed(pending, buffered);
        buffered.erase(0, r.consumed);
        if (r.event != ConnEvent::none) return {r.event, buffered.size() + data.size() - pos};
        if (r.consumed == 0) break;
      }
      if (n == 0) break;
    }
    return {ConnEvent::none, buffered.size()};
  }
  /// Greeted, the handshake response sent: the authentication's answer is due.
  void start_auth() {
    send(*connect);
    feed(connect.get(), kGreeting);
    send(*auth);
  }
  void login() {
    EXPECT_EQ(send(*connect), "");
    ASSERT_EQ(feed(connect.get(), kGreeting).event, ConnEvent::complete);
    std::string hs = send(*auth);
    PacketHeader h;
    ASSERT_TRUE(read_header(span_of(hs), h));
    EXPECT_EQ(h.seq, 1);
    ConnResult r = feed(auth.get(), kAuthOk);
    ASSERT_EQ(r.event, ConnEvent::complete);
    EXPECT_EQ(r.consumed, kAuthOk.size());
    ASSERT_EQ(conn.phase(), MysqlConnection::Phase::ready);
  }
};

std::shared_ptr<const MysqlRequest> sql(const char* text) {
  return parse(("<mysql type=\"sql\">" + std::string(text) + "</mysql>").c_str());
}

TEST(MysqlConnection, HandshakeCarriesTheScrambleOfTheGreetingsSalt) {
  Client c;
  c.send(*c.connect);
  ASSERT_EQ(c.feed(c.connect.get(), kGreeting).event, ConnEvent::complete);
  std::string hs = c.send(*c.auth);
  Reader r(span_of(hs).subspan(kHeaderSize));
  r.skip(4 + 4 + 1 + 23);
  EXPECT_EQ(r.nul_string(), "test");
  ASSERT_EQ(r.u8(), 20);
  EXPECT_EQ(hex(r.bytes(20)), "1b41db384a6c5e343a963da774ff84bcd7945529");
  EXPECT_EQ(r.nul_string(), "test");
}

TEST(MysqlConnection, HandshakeAsksOnlyForWhatTheGreetingOffers) {
  // The MariaDB greeting without CLIENT_MULTI_RESULTS and CLIENT_PLUGIN_AUTH (the upper 16
  // capability bits follow the version, connection id, salt, filler, lower bits, charset, status).
  std::string greeting = kGreeting;
  std::size_t upper = greeting.find('\0', kHeaderSize + 1) + 1 + 4 + 8 + 1 + 2 + 1 + 2;
  ASSERT_EQ(static_cast<std::uint8_t>(greeting[upper]) & 0x0A, 0x0A);
  greeting[upper] = static_cast<char>(greeting[upper] & ~0x0A);
  Client c;
  c.send(*c.connect);
  ASSERT_EQ(c.feed(c.connect.get(), greeting).event, ConnEvent::complete);
  std::string hs = c.send(*c.auth);
  Reader r(span_of(hs).subspan(kHeaderSize));
  std::uint32_t caps = r.u32();
  EXPECT_FALSE(caps & kPluginAuth);
  EXPECT_FALSE(caps & kMultiResults);
  EXPECT_TRUE(caps & kProtocol41);
  EXPECT_EQ(hs.find("mysql_native_password"), std::string::npos);
  // The greeting as sent: both asked for.
  Client d;
  d.send(*d.connect);
  d.feed(d.connect.get(), kGreeting);
  EXPECT_EQ(Reader(span_of(d.send(*d.auth)).subspan(kHeaderSize)).u32() & (kPluginAuth | kMultiResults),
            kPluginAuth | kMultiResults);
}

TEST(MysqlConnection, WholeResultSetsByteByByte) {
  Client c;
  c.login();
  auto q = sql("SELECT * FROM gens");
  EXPECT_EQ(c.send(*q).substr(kHeaderSize), "\x03SELECT * FROM gens");
  // Complete only with the last EOF, however the bytes are cut.
  for (std::size_t step : {1u, 3u, 7u, 1000u}) {
    if (step != 1) c.send(*q);
    auto [event, left] = c.trickle(q.get(), kSelectGens, step);
    EXPECT_EQ(event, ConnEvent::complete) << step;
    EXPECT_EQ(left, 0u) << step;
    EXPECT_EQ(c.conn.phase(), MysqlConnection::Phase::ready);
  }
  // Until then: none.
  c.send(*q);
  EXPECT_EQ(c.trickle(q.get(), kSelectGens.substr(0, kSelectGens.size() - 1), 5).first, ConnEvent::none);
  EXPECT_TRUE(c.s.errors.empty());
}

TEST(MysqlConnection, SelectInsertAndErrorsAsTsungCountsThem) {
  Client c;
  c.login();
  auto one = sql("SELECT 1");
  c.send(*one);
  ConnResult r = c.feed(one.get(), kSelect1);
  EXPECT_EQ(r.event, ConnEvent::complete);
  EXPECT_EQ(r.consumed, kSelect1.size());
  auto bad = sql("SELEC 1");
  c.send(*bad);
  r = c.feed(bad.get(), kSyntaxError);
  EXPECT_EQ(r.event, ConnEvent::complete);  // timed, counted, and the user goes on
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_1064"});
  auto ins = sql("INSERT INTO gens VALUES (3,'c')");
  c.send(*ins);
  EXPECT_EQ(c.feed(ins.get(), kInsertOk).event, ConnEvent::complete);
  // An ERR in the middle of the rows ends the response too.
  c.send(*one);
  std::string cut = kSelect1.substr(0, kSelect1.size() - 9) + unhex("0a000005ff1e0523373030303078");
  r = c.feed(one.get(), cut);
  EXPECT_EQ(r.event, ConnEvent::complete);
  EXPECT_EQ(c.s.errors.back(), "mysql_1310");
}

TEST(MysqlConnection, GreetingAndAuthenticationRepliesCutAcrossReads) {
  for (std::size_t step : {1u, 5u, 17u}) {
    Client c;
    c.send(*c.connect);
    auto [greeted, left] = c.trickle(c.connect.get(), kGreeting, step);
    ASSERT_EQ(greeted, ConnEvent::complete) << step;
    EXPECT_EQ(left, 0u);
    std::string hs = c.send(*c.auth);
    Reader r(span_of(hs).subspan(kHeaderSize + 4 + 4 + 1 + 23));
    r.nul_string();
    ASSERT_EQ(r.u8(), 20);
    EXPECT_EQ(hex(r.bytes(20)), "1b41db384a6c5e343a963da774ff84bcd7945529") << step;  // the whole salt was read
    EXPECT_EQ(c.trickle(c.auth.get(), kAuthOk, step), std::make_pair(ConnEvent::complete, std::size_t{0})) << step;
    EXPECT_EQ(c.conn.phase(), MysqlConnection::Phase::ready);
    EXPECT_TRUE(c.s.errors.empty());
  }
}

TEST(MysqlConnection, ErrAfterAResultSetSayingMoreFollowEndsTheResponse) {
  Client c;
  c.login();
  auto call = sql("CALL p()");
  c.send(*call);
  std::string first = kSelect1;
  first[first.size() - 2] = 0x0A;  // the EOF's status: SERVER_MORE_RESULTS_EXISTS
  EXPECT_EQ(c.feed(call.get(), first).event, ConnEvent::none);
  // The procedure's next statement fails: an ERR where the next result would start (packet 6).
  ConnResult r = c.feed(call.get(), err_packet(6, 1146, "42S02", "Table 'test.nope' doesn't exist"));
  EXPECT_EQ(r.event, ConnEvent::complete);
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_1146"});
  EXPECT_EQ(c.conn.phase(), MysqlConnection::Phase::ready);
  // The connection takes the next query.
  auto one = sql("SELECT 1");
  c.send(*one);
  EXPECT_EQ(c.feed(one.get(), kSelect1).event, ConnEvent::complete);
}

TEST(MysqlConnection, MultipleResultsUntilTheLastOne) {
  Client c;
  c.login();
  auto call = sql("CALL p()");
  c.send(*call);
  // A result set whose EOF says more results follow, then the CALL's own OK.
  std::string first = kSelect1;
  first[first.size() - 2] = 0x0A;  // status 0x000A: SERVER_MORE_RESULTS_EXISTS
  std::string ok = unhex("0700000600000002000000");
  EXPECT_EQ(c.feed(call.get(), first).event, ConnEvent::none);
  EXPECT_EQ(c.feed(call.get(), ok).event, ConnEvent::complete);
}

TEST(MysqlConnection, QueriesOf16MiBGoOutInPacketsAndTheAnswerFollowsTheirSequence) {
  // COM_QUERY + 0xFFFFFF bytes: packets 0 (0xFFFFFF bytes) and 1 (1 byte); the answer is packet 2.
  std::string text(kMaxPacketLength, 'x');
  text.replace(0, 7, "SELECT ");
  auto q = sql(text.c_str());
  Client c;
  c.login();
  std::string out = c.send(*q);
  ASSERT_EQ(out.size(), 2 * kHeaderSize + kMaxPacketLength + 1);
  PacketHeader last;
  ASSERT_TRUE(read_header(span_of(out).subspan(kHeaderSize + kMaxPacketLength), last));
  EXPECT_EQ(last.seq, 1);
  EXPECT_EQ(last.length, 1u);
  std::string ok = unhex("0700000200000002000000");
  ConnResult r = c.feed(q.get(), ok);
  EXPECT_EQ(r.event, ConnEvent::complete);
  EXPECT_TRUE(c.s.errors.empty());
  // An answer numbered as after a single packet is out of order.
  Client d;
  d.login();
  d.send(*q);
  ResponseInfo info;
  EXPECT_EQ(d.feed(q.get(), kInsertOk, &info).event, ConnEvent::fatal);
  EXPECT_STREQ(info.error, "mysql_badpacket");
}

TEST(MysqlConnection, LongRowsAreSkippedNotBuffered) {
  Client c(1 << 20);
  c.login();
  auto q = sql("SELECT big");
  c.send(*q);
  // One column, one row of 300 kB (a 0xFD length prefix), then the EOF.
  std::string head = kSelect1.substr(0, 5 + 27 + 9);  // column count, definition, EOF
  std::size_t n = 300000;
  std::string row;
  append_header(row, 4 + n, 4);
  row += unhex("fde09304");
  row.append(n, 'r');
  std::string eof = unhex("05000005fe00000200");
  EXPECT_EQ(c.feed(q.get(), head).event, ConnEvent::none);
  // The row comes in 64 kB reads: each is consumed at once.
  std::size_t pos = 0;
  while (pos < row.size()) {
    std::string piece = row.substr(pos, 65536);
    ConnResult r = c.feed(q.get(), piece);
    EXPECT_EQ(r.event, ConnEvent::none);
    ASSERT_EQ(r.consumed, piece.size()) << "at " << pos;
    pos += piece.size();
  }
  EXPECT_EQ(c.feed(q.get(), eof).event, ConnEvent::complete);
}

TEST(MysqlConnection, SixteenMiBRowsContinueAndTheirContinuationIsNotAnEof) {
  Client c(64 << 20);
  c.login();
  auto q = sql("SELECT huge");
  c.send(*q);
  std::string head = kSelect1.substr(0, 5 + 27 + 9);
  EXPECT_EQ(c.feed(q.get(), head).event, ConnEvent::none);
  std::string full;
  append_header(full, kMaxPacketLength, 4);
  full.append(kMaxPacketLength, 'x');
  ConnResult r = c.feed(q.get(), full);
  EXPECT_EQ(r.consumed, full.size());
  EXPECT_EQ(r.event, ConnEvent::none);
  // The continuation is 3 bytes starting with 0xFE: part of the row, not an EOF.
  std::string tail = unhex("03000005fe7878");
  EXPECT_EQ(c.feed(q.get(), tail).event, ConnEvent::none);
  EXPECT_EQ(c.feed(q.get(), unhex("05000006fe00000200")).event, ConnEvent::complete);
  // With a 16 MiB limit the same logical row is too large.
  Client d(kMaxPacketLength + 1);
  d.login();
  d.send(*q);
  d.feed(q.get(), head);
  d.feed(q.get(), full);
  ResponseInfo info;
  EXPECT_EQ(d.feed(q.get(), tail, &info).event, ConnEvent::fatal);
  EXPECT_STREQ(info.error, "mysql_frame_too_large");
}

TEST(MysqlConnection, FrameLargerThanMaxFrameSizeIsAnErrorNotAnAllocation) {
  Client c(4096);
  c.login();
  auto q = sql("SELECT 1");
  c.send(*q);
  std::string huge;
  append_header(huge, 5000, 1);  // announces 5000 bytes: refused before they come
  ResponseInfo info;
  ConnResult r = c.feed(q.get(), huge + "\x01", &info);
  EXPECT_EQ(r.event, ConnEvent::fatal);
  EXPECT_STREQ(info.error, "mysql_frame_too_large");
}

TEST(MysqlConnection, WrongPasswordIsCountedAndEndsTheUser) {
  Client c;
  c.start_auth();
  // MariaDB's answer to a wrong password (captured).
  std::string denied = unhex("48000002ff15042332383030304163636573732064656e69656420666f7220757365722027746573742740"
                             "273132372e302e302e312720287573696e672070617373776f72643a2059455329");
  ConnResult r = c.feed(c.auth.get(), denied);
  EXPECT_EQ(r.event, ConnEvent::fatal_counted);
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_1045"});
}

TEST(MysqlConnection, PasswordHashIsWipedOnceTheServerAnswered) {
  Client ok;
  ok.start_auth();
  EXPECT_TRUE(ok.conn.holds_password_hash());
  ASSERT_EQ(ok.feed(ok.auth.get(), kAuthOk).event, ConnEvent::complete);
  EXPECT_FALSE(ok.conn.holds_password_hash());
  Client denied;
  denied.start_auth();
  denied.feed(denied.auth.get(), err_packet(2, 1045, "28000", "Access denied"));
  EXPECT_FALSE(denied.conn.holds_password_hash());
}

TEST(MysqlConnection, AuthSwitchToNativePasswordIsAnswered) {
  Client c;
  c.start_auth();
  std::string other_salt = "ABCDEFGHIJKLMNOPQRST";
  std::string payload = "\xFE" + std::string(kNativePassword) + std::string(1, '\0') + other_salt + std::string(1, '\0');
  std::string sw;
  append_header(sw, payload.size(), 2);
  sw += payload;
  EXPECT_EQ(c.feed(c.auth.get(), sw).event, ConnEvent::none);
  Scramble expected = native_scramble(password_stage1("test"), {reinterpret_cast<const std::uint8_t*>(other_salt.data()), 20});
  std::string reply;
  append_header(reply, 20, 3);
  reply.append(reinterpret_cast<const char*>(expected.data()), 20);
  EXPECT_EQ(hex(c.s.sent), hex(reply));
  EXPECT_TRUE(c.conn.holds_password_hash());  // until the server answers the switch
  EXPECT_EQ(c.feed(c.auth.get(), unhex("0700000400000002000000")).event, ConnEvent::complete);
  EXPECT_FALSE(c.conn.holds_password_hash());
}

TEST(MysqlConnection, OtherAuthMethodsAreRefusedClearly) {
  for (std::string plugin : {"client_ed25519", "caching_sha2_password"}) {
    Client c;
    c.start_auth();
    std::string payload = "\xFE" + plugin + std::string(1, '\0') + std::string(32, 'z');
    std::string sw;
    append_header(sw, payload.size(), 2);
    sw += payload;
    ResponseInfo info;
    EXPECT_EQ(c.feed(c.auth.get(), sw, &info).event, ConnEvent::fatal) << plugin;
    EXPECT_STREQ(info.error, "mysql_unsupported_auth");
    EXPECT_TRUE(c.s.sent.empty());
  }
}

TEST(MysqlConnection, PacketsOutOfOrderAndMalformedPacketsAreBadPackets) {
  Client c;
  c.login();
  auto q = sql("SELECT 1");
  c.send(*q);
  ResponseInfo info;
  std::string wrong_seq = kSelect1;
  wrong_seq[3] = 5;
  EXPECT_EQ(c.feed(q.get(), wrong_seq, &info).event, ConnEvent::fatal);
  EXPECT_STREQ(info.error, "mysql_badpacket");
  Client d;
  d.login();
  d.send(*q);
  EXPECT_EQ(d.feed(q.get(), unhex("0100000100"), &info).event, ConnEvent::fatal);  // 0 columns
  EXPECT_STREQ(info.error, "mysql_badpacket");
  Client e;
  ResponseInfo greeting_info;
  e.send(*e.connect);
  EXPECT_EQ(e.feed(e.connect.get(), unhex("050000000a352e3500"), &greeting_info).event, ConnEvent::fatal);
  EXPECT_STREQ(greeting_info.error, "mysql_badpacket");
}

// kGreeting with CLIENT_SSL (0x800) among its lower capability bits, as a server with ssl_cert.
std::string greeting_with_ssl() {
  std::string g = kGreeting;
  std::size_t caps = g.find("\xfe\xf7\x08\x02", kHeaderSize);
  EXPECT_NE(caps, std::string::npos);
  g[caps + 1] = static_cast<char>(0xf7 | 0x08);
  return g;
}

TEST(MysqlConnection, SslRequestThenTlsThenTheHandshakeResponse) {
  Client c(1 << 20, true);
  EXPECT_EQ(c.send(*c.connect), "");
  ASSERT_EQ(c.feed(c.connect.get(), greeting_with_ssl()).event, ConnEvent::complete);
  EXPECT_EQ(c.s.tls_started, 0);
  EXPECT_EQ(c.send(*c.auth), "");  // its bytes: the SSL Request, sent, then the rest over TLS
  EXPECT_EQ(c.s.tls_started, 1);
  ASSERT_EQ(c.s.sent.size(), kHeaderSize + 32);
  EXPECT_EQ(hex(c.s.sent.substr(0, 4)), "20000001");
  EXPECT_TRUE(Reader(span_of(c.s.sent).subspan(kHeaderSize)).u32() & kSsl);
  c.s.sent.clear();
  EXPECT_EQ(c.conn.on_tls_ready(c.s), ConnEvent::none);
  PacketHeader h;
  ASSERT_TRUE(read_header(span_of(c.s.sent), h));
  EXPECT_EQ(h.seq, 2);
  Reader r(span_of(c.s.sent).subspan(kHeaderSize));
  EXPECT_TRUE(r.u32() & kSsl);
  r.skip(4 + 1 + 23);
  EXPECT_EQ(r.nul_string(), "test");
  ASSERT_EQ(r.u8(), 20);
  // The server's OK follows the response's sequence id: 3.
  std::string ok = kAuthOk;
  ok[3] = 3;
  ASSERT_EQ(c.feed(c.auth.get(), ok).event, ConnEvent::complete);
  EXPECT_EQ(c.conn.phase(), MysqlConnection::Phase::ready);
  EXPECT_FALSE(c.conn.holds_password_hash());
  EXPECT_TRUE(c.s.errors.empty());
}

TEST(MysqlConnection, ServerWithoutClientSslEndsTheUserOnSslServers) {
  Client c(1 << 20, true);
  c.send(*c.connect);
  EXPECT_EQ(c.feed(c.connect.get(), kGreeting).event, ConnEvent::fatal_counted);  // no CLIENT_SSL
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_ssl_refused"});
  EXPECT_EQ(c.s.tls_started, 0);
  EXPECT_EQ(c.s.sent, "");
  // type="tcp" against a server offering TLS: no CLIENT_SSL asked, sequence id 1, no STARTTLS.
  Client plain;
  plain.send(*plain.connect);
  ASSERT_EQ(plain.feed(plain.connect.get(), greeting_with_ssl()).event, ConnEvent::complete);
  std::string hs = plain.send(*plain.auth);
  EXPECT_EQ(hex(hs.substr(3, 1)), "01");
  EXPECT_FALSE(Reader(span_of(hs).subspan(kHeaderSize)).u32() & kSsl);
  EXPECT_EQ(plain.s.tls_started, 0);
}

TEST(MysqlConnection, ServerRefusingAtGreetingIsCounted) {
  Client c;
  c.send(*c.connect);
  // Before the handshake the server's ERR has no SQL state (the 4.0 form).
  std::string too_many = err_packet(0, 1040, "", "Too many connections");
  EXPECT_EQ(c.feed(c.connect.get(), too_many).event, ConnEvent::fatal_counted);
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_1040"});
}

TEST(MysqlConnection, RequestsOutOfTurnAreRefusedFromTheTimer) {
  Client c;
  auto q = sql("SELECT 1");
  EXPECT_EQ(c.send(*q), "");  // no greeting, no authentication: nothing sent
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_unexpected_sql"});
  EXPECT_EQ(c.s.timer, 0);
  EXPECT_EQ(c.conn.on_timer(c.s), ConnEvent::fatal_counted);
  Client d;
  EXPECT_EQ(d.send(*d.auth), "");  // authenticate without connect: no salt yet
  EXPECT_EQ(d.s.errors, std::vector<std::string>{"mysql_unexpected_authenticate"});
  Client e;
  e.login();
  e.send(*e.connect);
  EXPECT_EQ(e.s.errors, std::vector<std::string>{"mysql_unexpected_connect"});
}

TEST(MysqlConnection, CloseSendsQuitAndEndsAtTheServersClose) {
  Client c;
  c.login();
  EXPECT_EQ(hex(c.send(*c.close)), "0100000001");
  ResponseInfo info;
  EXPECT_TRUE(c.conn.on_eof(c.close.get(), info));
  // Before authentication: nothing to send, the connection closes.
  Client d;
  d.send(*d.connect);
  d.feed(d.connect.get(), kGreeting);
  EXPECT_EQ(d.send(*d.close), "");
  EXPECT_EQ(d.conn.on_timer(d.s), ConnEvent::close);
  // The peer closing during a query is not a response.
  Client e;
  e.login();
  auto q = sql("SELECT 1");
  e.send(*q);
  EXPECT_FALSE(e.conn.on_eof(q.get(), info));
}

TEST(MysqlConnection, ServerMessagesBetweenRequestsAreCounted) {
  Client c;
  c.login();
  // MySQL 8 says why it closes an idle connection (ER_CLIENT_INTERACTION_TIMEOUT) with its own sequence id.
  std::string bye = err_packet(0, 4031, "HY000", "The client was disconnected by the server because of inactivity.");
  ConnResult r = c.feed(nullptr, bye);
  EXPECT_EQ(r.event, ConnEvent::none);
  EXPECT_EQ(r.consumed, bye.size());
  EXPECT_EQ(c.s.errors, std::vector<std::string>{"mysql_4031"});
}

TEST(MysqlConnection, DistinctErrorCodesAreCappedThenCountedAsOther) {
  Client c;
  c.login();
  auto q = sql("SELECT 1");
  auto err_of = [&](std::uint16_t code) {
    c.send(*q);
    EXPECT_EQ(c.feed(q.get(), err_packet(1, code, "HY000", "x")).event, ConnEvent::complete);
    return c.s.errors.back();
  };
  for (std::uint16_t code = 1000; code < 1000 + ErrorCodeNames::kMaxCodes; ++code)
    EXPECT_EQ(err_of(code), "mysql_" + std::to_string(code));
  EXPECT_EQ(err_of(5000), "mysql_other");
  EXPECT_EQ(err_of(5001), "mysql_other");
  EXPECT_EQ(err_of(1000), "mysql_1000");  // a code named before keeps its name
  EXPECT_EQ(err_of(1000 + ErrorCodeNames::kMaxCodes - 1), "mysql_1063");
  // Shared by connections: another connection of the same plugin sees the same names.
  MysqlConnection other(1 << 20, c.codes);
  FakeServices s2;
  EXPECT_FALSE(other.on_open(s2));
  std::string err0 = err_packet(0, 4031, "HY000", "bye");
  ResponseInfo info;
  other.on_data(s2, nullptr, span_of(err0), info);
  EXPECT_EQ(s2.errors, std::vector<std::string>{"mysql_other"});
}

}  // namespace
}  // namespace loadctl::mysql

namespace loadctl::mysql {
namespace {

// Random bytes in every phase: never a read past the data (ASan runs this suite), never more
// consumed than offered, and a packet announcing more than max_frame_size never waited for.
TEST(MysqlConnection, RandomBytesInEveryPhase) {
  std::minstd_rand rng(12345);
  auto q = sql("SELECT 1");
  // The rest of a 16 MiB row packet (skipped, never buffered: the same bytes for every round).
  static const std::string full_row = [] {
    std::string row;
    append_header(row, kMaxPacketLength, 4);
    row.append(kMaxPacketLength, 'x');
    return row;
  }();
  for (int round = 0; round < 3000; ++round) {
    int phase = round % 6;  // 4: a 16 MiB row's continuation due; 5: closing
    std::size_t max_frame = phase == 4 ? 64u << 20 : 256u;
    Client c(max_frame);
    const RequestSpec* pending = c.connect.get();
    c.send(*c.connect);
    if (phase >= 1) {
      c.feed(c.connect.get(), kGreeting);
      c.send(*c.auth);
      pending = c.auth.get();
    }
    if (phase >= 2) {
      c.feed(c.auth.get(), kAuthOk);
      c.send(*q);
      pending = q.get();
    }
    if (phase == 3 || phase == 4) c.feed(q.get(), kSelect1.substr(0, 5 + 27 + 9));  // into the rows
    if (phase == 4) {
      ASSERT_EQ(c.feed(q.get(), full_row).consumed, full_row.size());
    }
    if (phase == 5) {
      c.feed(q.get(), kSelect1);
      c.send(*c.close);
      pending = c.close.get();
    }
    std::string data(rng() % 64, '\0');
    for (char& ch : data) ch = static_cast<char>(rng() % 4 == 0 ? 0xFE + rng() % 2 : rng());
    // Plausible headers now and then: a small length and the expected sequence id.
    if (data.size() >= 4 && rng() % 2) {
      data[0] = static_cast<char>(rng() % 40);
      data[1] = data[2] = 0;
      data[3] = static_cast<char>(phase == 0 ? 0 : phase == 1 ? 2 : phase == 2 ? 1 : phase == 3 ? 4 : 5);
    }
    std::string buffered;
    for (std::size_t pos = 0; pos < data.size(); ++pos) {
      buffered.push_back(data[pos]);
      ResponseInfo info;
      ConnResult r = c.conn.on_data(c.s, pending, span_of(buffered), info);
      ASSERT_LE(r.consumed, buffered.size());
      if (r.event == ConnEvent::fatal || r.event == ConnEvent::fatal_counted || r.event == ConnEvent::complete) break;
      buffered.erase(0, r.consumed);
      ASSERT_LE(buffered.size(), 4u + 256u);  // a packet is waited for only up to max_frame_size (or skipped)
      if (phase == 5) {
        ASSERT_TRUE(buffered.empty());  // closing: whatever comes is dropped
      }
    }
  }
}

}  // namespace
}  // namespace loadctl::mysql
