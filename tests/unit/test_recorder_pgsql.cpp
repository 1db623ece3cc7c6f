// The PostgreSQL recorder's decoding half (src/recorder/pgsql_record.*): the frontend message
// reader (split reads, the size cap, bad lengths), the startup packet, and the <pgsql> requests
// each frontend message becomes (the integration test test_record_pgsql.sh checks and replays them).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pgsql_auth.hpp"
#include "recorder/pgsql_proxy_auth.hpp"
#include "recorder/pgsql_record.hpp"

namespace loadctl::recorder {
namespace {

std::string pgrec_u32(std::uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
std::string pgrec_u16(std::uint16_t v) { return {char(v >> 8), char(v)}; }
std::string pgrec_msg(char type, const std::string& body) { return type + pgrec_u32(body.size() + 4) + body; }
std::string pgrec_cstr(const std::string& s) { return s + '\0'; }
std::string pgrec_startup(const std::string& params) {
  std::string body = pgrec_u32(196608) + params + '\0';
  return pgrec_u32(body.size() + 4) + body;
}

TEST(RecorderPgsqlReader, StartupThenTypedMessagesAcrossSplitReads) {
  std::string stream = pgrec_startup(pgrec_cstr("user") + pgrec_cstr("bob") + pgrec_cstr("database") + pgrec_cstr("shop")) +
                       pgrec_msg('Q', pgrec_cstr("SELECT 1")) + pgrec_msg('S', "");
  FrontendReader reader;
  std::vector<std::pair<char, std::string>> seen;
  // One byte at a time: every split point of every header and body.
  for (char c : stream) {
    reader.append(std::string_view(&c, 1));
    while (auto m = reader.next()) {
      seen.emplace_back(m->type, std::string(m->body));
      if (m->type == 0) {
        StartupPacket p = parse_startup(m->body);
        EXPECT_EQ(p.kind, StartupPacket::Kind::startup);
        EXPECT_EQ(p.user, "bob");
        EXPECT_EQ(p.database, "shop");
        EXPECT_EQ(m->raw.size(), m->body.size() + 4);
        reader.expect_startup(false);
      }
    }
  }
  EXPECT_TRUE(reader.error().empty());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1], (std::pair<char, std::string>{'Q', pgrec_cstr("SELECT 1")}));
  EXPECT_EQ(seen[2], (std::pair<char, std::string>{'S', ""}));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(RecorderPgsqlReader, RawIsTheMessageAsReceived) {
  FrontendReader reader;
  reader.expect_startup(false);
  std::string two = pgrec_msg('Q', pgrec_cstr("SELECT 2")) + pgrec_msg('X', "");
  reader.append(two);
  auto a = reader.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(std::string(a->raw), pgrec_msg('Q', pgrec_cstr("SELECT 2")));
  auto b = reader.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(std::string(b->raw), pgrec_msg('X', ""));
  EXPECT_FALSE(reader.next());
}

TEST(RecorderPgsqlReader, OversizeLengthRefusedFromTheHeader) {
  FrontendReader reader(1024);
  reader.expect_startup(false);
  reader.append(std::string("Q") + pgrec_u32(0x7FFFFFF0u));  // announces ~2 GiB, sends 5 bytes
  EXPECT_FALSE(reader.next());
  EXPECT_NE(reader.error().find("2147483632 bytes"), std::string::npos) << reader.error();
  EXPECT_EQ(reader.buffered(), 5u);  // nothing allocated for the body
  // Exactly the cap is fine, one byte more is not.
  FrontendReader exact(8);
  exact.expect_startup(false);
  exact.append(pgrec_msg('d', "12345678"));
  EXPECT_TRUE(exact.next());
  FrontendReader over(8);
  over.expect_startup(false);
  over.append(pgrec_msg('d', "123456789"));
  EXPECT_FALSE(over.next());
  EXPECT_FALSE(over.error().empty());
}

TEST(RecorderPgsqlReader, OversizePassedThroughInPieces) {
  FrontendReader reader(8);
  reader.expect_startup(false);
  reader.pass_oversize(true);
  std::string big = pgrec_msg('d', std::string(20, 'x')), stream = big + pgrec_msg('S', "");
  std::string passed;
  reader.append(stream.substr(0, 10));
  auto first = reader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->part, FrontendMessage::Part::first_piece);
  EXPECT_EQ(first->type, 'd');
  EXPECT_EQ(first->size, big.size());
  passed += first->raw;
  EXPECT_FALSE(reader.next());
  reader.append(stream.substr(10));
  auto rest = reader.next();
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->part, FrontendMessage::Part::piece);
  passed += rest->raw;
  EXPECT_EQ(passed, big);  // every byte forwarded, in order
  auto sync = reader.next();  // the message after it is read as usual
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->part, FrontendMessage::Part::whole);
  EXPECT_EQ(sync->type, 'S');
  EXPECT_TRUE(reader.error().empty());
}

TEST(RecorderPgsqlReader, StartupPacketOverTheCapAndBadLengths) {
  FrontendReader reader;  // the default cap, 16 MiB
  reader.append(pgrec_u32(kMaxPgsqlMessage + 5));
  EXPECT_FALSE(reader.next());
  EXPECT_NE(reader.error().find("startup packet"), std::string::npos);
  FrontendReader low;
  low.expect_startup(false);
  low.append(std::string("Q") + pgrec_u32(3));
  EXPECT_FALSE(low.next());
  EXPECT_NE(low.error().find("below 4"), std::string::npos);
  EXPECT_FALSE(low.next());  // stays failed
}

TEST(RecorderPgsqlReader, StartupKinds) {
  EXPECT_EQ(parse_startup(pgrec_u32(80877103)).kind, StartupPacket::Kind::ssl_request);
  EXPECT_EQ(parse_startup(pgrec_u32(80877104)).kind, StartupPacket::Kind::gssenc_request);
  EXPECT_EQ(parse_startup(pgrec_u32(80877102) + pgrec_u32(1) + pgrec_u32(2)).kind, StartupPacket::Kind::cancel);
  EXPECT_EQ(parse_startup(pgrec_u32(131072) + pgrec_cstr("user") + pgrec_cstr("x")).kind, StartupPacket::Kind::unknown);
  // No database: the user's name, as the server does; no user: refused.
  StartupPacket p = parse_startup(pgrec_u32(196608) + pgrec_cstr("user") + pgrec_cstr("ann") + '\0');
  EXPECT_EQ(p.kind, StartupPacket::Kind::startup);
  EXPECT_EQ(p.database, "ann");
  EXPECT_EQ(parse_startup(pgrec_u32(196608) + pgrec_cstr("database") + pgrec_cstr("d") + '\0').kind,
            StartupPacket::Kind::unknown);
  EXPECT_EQ(parse_startup(pgrec_u32(196608) + "user").kind, StartupPacket::Kind::unknown);  // truncated
}

TEST(RecorderPgsqlFormatter, ConnectAuthenticateSqlClose) {
  PgsqlRecordFormatter f;
  EXPECT_EQ(f.connect("bob", "shop").xml, R"(<request><pgsql type="connect" database="shop" username="bob"/></request>)");
  EXPECT_EQ(f.authenticate("se\"s<a>me").xml,
            R"(<request><pgsql type="authenticate" password="se&quot;s&lt;a&gt;me"/></request>)");
  EXPECT_EQ(f.opened("LOGIN"), "LOGIN");  // the server accepted it
  EXPECT_EQ(f.message('Q', pgrec_cstr("SELECT ']]>' AS x"), nullptr).xml,
            R"(<request><pgsql type="sql"><![CDATA[SELECT ']]]]><![CDATA[>' AS x]]></pgsql></request>)");
  EXPECT_EQ(f.message('X', "", nullptr).xml, R"(<request><pgsql type="close"/></request>)");
  EXPECT_EQ(f.client_closed().xml, "");  // already closed by the Terminate
  // A login the server refused never reaches opened(): the next one records no forced close.
  f.connect("a", "b");
  EXPECT_FALSE(f.connected());
  EXPECT_EQ(f.opened("LOGIN"), "LOGIN");
  EXPECT_TRUE(f.connected());
  // A second connection while one is open: a close first, as Tsung.
  std::string second = f.opened("LOGIN2");
  EXPECT_NE(second.find(R"(<request><pgsql type="close"/></request>)"), std::string::npos);
  EXPECT_TRUE(second.ends_with("LOGIN2"));
  EXPECT_EQ(f.client_closed().xml, R"(<request><pgsql type="close"/></request>)");
}

TEST(RecorderPgsqlFormatter, CarriageReturnOutsideCdata) {
  PgsqlRecordFormatter f;
  EXPECT_EQ(f.message('Q', pgrec_cstr("SELECT 1\r\n"), nullptr).xml,
            "<request><pgsql type=\"sql\"><![CDATA[SELECT 1]]>&#13;<![CDATA[\n]]></pgsql></request>");
}

TEST(RecorderPgsqlFormatter, DroppedBindLeavesItsPortalOutUntilSync) {
  PgsqlRecordFormatter f;
  std::string bad_bind = pgrec_cstr("") + pgrec_cstr("S1") + pgrec_u16(0) + pgrec_u16(1) + pgrec_u32(3) + "a,b" + pgrec_u16(0);
  PgsqlRecord bind = f.message('B', bad_bind, nullptr);
  EXPECT_EQ(bind.xml, "");
  EXPECT_NE(bind.problem.find("statement is missing"), std::string::npos) << bind.problem;
  PgsqlRecord describe = f.message('D', "P" + pgrec_cstr(""), nullptr);
  EXPECT_EQ(describe.xml, "");
  EXPECT_NE(describe.problem.find("left out"), std::string::npos);
  EXPECT_EQ(f.message('E', pgrec_cstr("") + pgrec_u32(0), nullptr).xml, "");
  // Another portal, and the statement's Describe, are recorded.
  EXPECT_NE(f.message('E', pgrec_cstr("other") + pgrec_u32(0), nullptr).xml, "");
  EXPECT_NE(f.message('D', "S" + pgrec_cstr("S1"), nullptr).xml, "");
  EXPECT_EQ(f.message('S', "", nullptr).xml, R"(<request><pgsql type="sync"/></request>)");
  EXPECT_EQ(f.message('E', pgrec_cstr("") + pgrec_u32(0), nullptr).xml, R"(<request><pgsql type="execute"/></request>)");
  // A recorded Bind of the same portal before the Sync brings it back.
  f.message('B', bad_bind, nullptr);
  std::string good_bind = pgrec_cstr("") + pgrec_cstr("S1") + pgrec_u16(0) + pgrec_u16(0) + pgrec_u16(0);
  EXPECT_NE(f.message('B', good_bind, nullptr).xml, "");
  EXPECT_NE(f.message('E', pgrec_cstr("") + pgrec_u32(0), nullptr).xml, "");
  EXPECT_NE(f.message('C', "S" + pgrec_cstr("S1"), nullptr).problem.find("later Parse of the same name may fail"),
            std::string::npos);
}

// --- ProxyAuth: the proxy's side of md5 and SCRAM (and what it passes through) ---------------

std::string pgrec_auth(std::uint32_t code, const std::string& data = "") { return pgrec_u32(code) + data; }

// Feeds a backend 'R' (or other) message to `auth`.
AuthStep pgrec_backend(ProxyAuth& auth, char type, const std::string& body) {
  std::string raw = pgrec_msg(type, body);
  return auth.on_backend(type, body, raw);
}

constexpr const char* kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

// RFC 7677's exchange up to (and without) the server-final-message.
void pgrec_scram_until_final(ProxyAuth& auth) {
  AuthStep sasl = pgrec_backend(auth, 'R', pgrec_auth(10, pgrec_cstr("SCRAM-SHA-256") + '\0'));
  ASSERT_EQ(sasl.error, "");
  EXPECT_EQ(sasl.to_client, pgrec_msg('R', pgrec_u32(3)));  // the client is asked for the cleartext password
  ASSERT_TRUE(auth.wants_password());
  AuthStep initial = auth.on_password("pencil");
  std::string first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
  EXPECT_EQ(initial.to_server, pgrec_msg('p', pgrec_cstr("SCRAM-SHA-256") + pgrec_u32(first.size()) + first));
  AuthStep cont = pgrec_backend(auth, 'R', pgrec_auth(11, kRfcServerFirst));
  ASSERT_EQ(cont.error, "");
  EXPECT_EQ(cont.to_server,
            pgrec_msg('p', "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
}

TEST(RecorderPgsqlProxyAuth, ScramAnsweredAndVerified) {
  ProxyAuth auth("user", "rOprNGfwEbeRWgbNEkqO", "user");
  pgrec_scram_until_final(auth);
  AuthStep final_step = pgrec_backend(auth, 'R', pgrec_auth(12, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  EXPECT_EQ(final_step.error, "");
  EXPECT_EQ(final_step.to_client + final_step.to_server, "");
  AuthStep ok = pgrec_backend(auth, 'R', pgrec_auth(0));
  EXPECT_TRUE(ok.ready);
  EXPECT_EQ(ok.to_client, pgrec_msg('R', pgrec_u32(0)));
}

TEST(RecorderPgsqlProxyAuth, WrongServerSignatureOrServerError) {
  for (std::string final_message : {"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "e=invalid-proof"}) {
    ProxyAuth auth("user", "rOprNGfwEbeRWgbNEkqO", "user");
    pgrec_scram_until_final(auth);
    AuthStep step = pgrec_backend(auth, 'R', pgrec_auth(12, final_message));
    EXPECT_NE(step.error.find("does not prove"), std::string::npos) << step.error;
    EXPECT_NE(step.error.find(final_message), std::string::npos) << step.error;
    EXPECT_FALSE(auth.ready());
  }
}

TEST(RecorderPgsqlProxyAuth, ScramOutOfOrder) {
  {  // AuthenticationOk without the SASLFinal
    ProxyAuth auth("user", "rOprNGfwEbeRWgbNEkqO", "user");
    pgrec_scram_until_final(auth);
    AuthStep ok = pgrec_backend(auth, 'R', pgrec_auth(0));
    EXPECT_FALSE(ok.ready);
    EXPECT_NE(ok.error.find("without SCRAM's SASLFinal"), std::string::npos) << ok.error;
    EXPECT_EQ(ok.to_client, "");
  }
  {  // SASLContinue before the initial response: with nothing sent, and while the password is awaited
    ProxyAuth fresh("user");
    EXPECT_NE(pgrec_backend(fresh, 'R', pgrec_auth(11, kRfcServerFirst)).error, "");
    ProxyAuth waiting("user");
    pgrec_backend(waiting, 'R', pgrec_auth(10, pgrec_cstr("SCRAM-SHA-256") + '\0'));
    EXPECT_NE(pgrec_backend(waiting, 'R', pgrec_auth(11, kRfcServerFirst)).error, "");
  }
  {  // SASLFinal before SASLContinue
    ProxyAuth auth("user", "rOprNGfwEbeRWgbNEkqO", "user");
    pgrec_backend(auth, 'R', pgrec_auth(10, pgrec_cstr("SCRAM-SHA-256") + '\0'));
    auth.on_password("pencil");
    AuthStep step = pgrec_backend(auth, 'R', pgrec_auth(12, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    EXPECT_NE(step.error.find("SASLFinal before SASLContinue"), std::string::npos) << step.error;
  }
  {  // only mechanisms the proxy cannot answer
    ProxyAuth auth("user");
    AuthStep step = pgrec_backend(auth, 'R', pgrec_auth(10, pgrec_cstr("SCRAM-SHA-256-PLUS") + '\0'));
    EXPECT_NE(step.error.find("SASL without SCRAM-SHA-256 (mechanisms: SCRAM-SHA-256-PLUS)"), std::string::npos)
        << step.error;
    EXPECT_FALSE(auth.wants_password());
  }
}

TEST(RecorderPgsqlProxyAuth, Md5AnsweredWrongPasswordPassesTheErrorThrough) {
  ProxyAuth short_salt("bench");
  EXPECT_NE(pgrec_backend(short_salt, 'R', pgrec_auth(5, "\x01\x02\x03")).error.find("3-byte salt"), std::string::npos);
  ProxyAuth long_salt("bench");
  EXPECT_NE(pgrec_backend(long_salt, 'R', pgrec_auth(5, "12345")).error, "");

  ProxyAuth auth("bench");
  AuthStep asked = pgrec_backend(auth, 'R', pgrec_auth(5, "\x01\x02\x03\x04"));
  EXPECT_EQ(asked.to_client, pgrec_msg('R', pgrec_u32(3)));
  AuthStep answer = auth.on_password("sesame");
  EXPECT_EQ(answer.to_server, pgrec_msg('p', pgrec_cstr("md5df09a93e58779a341a48986eae905bd1")));
  std::string error_body = "SFATAL" + std::string(1, '\0') + "C28P01" + '\0' + "Mpassword authentication failed" + '\0' + '\0';
  AuthStep refused = pgrec_backend(auth, 'E', error_body);
  EXPECT_EQ(refused.error, "");
  EXPECT_EQ(refused.to_client, pgrec_msg('E', error_body));  // the client sees PostgreSQL's 28P01
  EXPECT_FALSE(auth.ready());
}

TEST(RecorderPgsqlProxyAuth, CleartextAndGssPassThrough) {
  ProxyAuth clear("u");
  EXPECT_EQ(pgrec_backend(clear, 'R', pgrec_auth(3)).to_client, pgrec_msg('R', pgrec_u32(3)));
  EXPECT_EQ(clear.on_password("pw").to_server, pgrec_msg('p', pgrec_cstr("pw")));
  EXPECT_TRUE(pgrec_backend(clear, 'R', pgrec_auth(0)).ready);

  ProxyAuth gss("u");
  AuthStep first = pgrec_backend(gss, 'R', pgrec_auth(7));
  EXPECT_EQ(first.to_client, pgrec_msg('R', pgrec_u32(7)));
  EXPECT_NE(first.note.find("method 7 passed through"), std::string::npos);
  EXPECT_FALSE(gss.wants_password());  // the client's GSS token goes to the server unread
  AuthStep next = pgrec_backend(gss, 'R', pgrec_auth(8, "token"));
  EXPECT_EQ(next.to_client, pgrec_msg('R', pgrec_auth(8, "token")));
  EXPECT_EQ(next.note, "");  // one note per connection
  EXPECT_TRUE(pgrec_backend(gss, 'R', pgrec_auth(0)).ready);

  ProxyAuth scram("u");  // a non-ASCII SCRAM password is used unnormalized: said on the console
  pgrec_backend(scram, 'R', pgrec_auth(10, pgrec_cstr("SCRAM-SHA-256") + '\0'));
  EXPECT_NE(scram.on_password("p\xc3\xa4ss").note.find("SASLprep"), std::string::npos);
}

TEST(RecorderPgsqlFormatter, ExtendedProtocol) {
  PgsqlRecordFormatter f;
  std::string parse = pgrec_cstr("P_1") + pgrec_cstr("INSERT INTO t VALUES ($1, $2)") + pgrec_u16(2) + pgrec_u32(23) + pgrec_u32(25);
  EXPECT_EQ(f.message('P', parse, nullptr).xml,
            R"(<request><pgsql type="parse" name_prepared="P_1" parameters="23,25"><![CDATA[INSERT INTO t VALUES ($1, $2)]]></pgsql></request>)");
  std::string bind = pgrec_cstr("") + pgrec_cstr("P_1") + pgrec_u16(0) + pgrec_u16(3) + pgrec_u32(2) + "42" +
                     pgrec_u32(0xFFFFFFFFu) + pgrec_u32(3) + "a b" + pgrec_u16(1) + pgrec_u16(1);
  EXPECT_EQ(f.message('B', bind, nullptr).xml,
            R"(<request><pgsql type="bind" name_prepared="P_1" formats_results="binary" parameters="42,null,a b"/></request>)");
  std::string bind_text = pgrec_cstr("por") + pgrec_cstr("") + pgrec_u16(2) + pgrec_u16(0) + pgrec_u16(0) + pgrec_u16(2) +
                          pgrec_u32(1) + "1" + pgrec_u32(1) + "2" + pgrec_u16(0);
  EXPECT_EQ(f.message('B', bind_text, nullptr).xml,
            R"(<request><pgsql type="bind" name_portal="por" formats="auto" parameters="1,2"/></request>)");
  EXPECT_EQ(f.message('D', "P" + pgrec_cstr(""), nullptr).xml, R"(<request><pgsql type="describe" name_portal=""/></request>)");
  EXPECT_EQ(f.message('D', "S" + pgrec_cstr("P_1"), nullptr).xml,
            R"(<request><pgsql type="describe" name_prepared="P_1"/></request>)");
  EXPECT_EQ(f.message('E', pgrec_cstr("") + pgrec_u32(0), nullptr).xml, R"(<request><pgsql type="execute"/></request>)");
  EXPECT_EQ(f.message('E', pgrec_cstr("por") + pgrec_u32(10), nullptr).xml,
            R"(<request><pgsql type="execute" name_portal="por" max_rows="10"/></request>)");
  EXPECT_EQ(f.message('S', "", nullptr).xml, R"(<request><pgsql type="sync"/></request>)");
  EXPECT_EQ(f.message('H', "", nullptr).xml, R"(<request><pgsql type="flush"/></request>)");
  EXPECT_EQ(f.message('d', "AB", nullptr).xml, R"(<request><pgsql type="copy">65,66</pgsql></request>)");
  EXPECT_EQ(f.message('c', "", nullptr).xml, R"(<request><pgsql type="copydone"/></request>)");
  EXPECT_EQ(f.message('f', pgrec_cstr("no"), nullptr).xml, R"(<request><pgsql type="copyfail" equery="no"/></request>)");
}

TEST(RecorderPgsqlFormatter, WhatTsungsRequestsCannotSay) {
  PgsqlRecordFormatter f;
  auto bind_of = [](const std::string& value) {
    return pgrec_cstr("") + pgrec_cstr("") + pgrec_u16(0) + pgrec_u16(1) + pgrec_u32(value.size()) + value + pgrec_u16(0);
  };
  for (std::string value : {std::string("a,b"), std::string("null"), std::string(""), std::string("\x01")}) {
    PgsqlRecord r = f.message('B', bind_of(value), nullptr);
    EXPECT_EQ(r.xml, "") << value;
    EXPECT_FALSE(r.problem.empty()) << value;
  }
  PgsqlRecord unknown = f.message('z', "", nullptr);
  EXPECT_EQ(unknown.xml, "");
  EXPECT_NE(unknown.problem.find("unknown frontend message 'z'"), std::string::npos);
  EXPECT_NE(f.message('\x01', "", nullptr).problem.find("0x01"), std::string::npos);
  EXPECT_FALSE(f.message('C', "S" + pgrec_cstr("P_1"), nullptr).problem.empty());
  EXPECT_FALSE(f.message('Q', "SELECT 1", nullptr).problem.empty());  // no terminating NUL
  EXPECT_FALSE(f.message('Q', pgrec_cstr("SELECT '\x02'"), nullptr).problem.empty());
  EXPECT_FALSE(f.message('E', pgrec_cstr(""), nullptr).problem.empty());  // truncated
  EXPECT_FALSE(f.message('P', pgrec_cstr("x") + pgrec_cstr("q") + pgrec_u16(3) + pgrec_u32(23), nullptr).problem.empty());
}

TEST(RecorderPgsqlFormatter, LargeCopyDataGoesToAFile) {
  std::string pattern = (std::filesystem::temp_directory_path() / "pgrec-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  std::filesystem::path dir = pattern;
  {
    SessionWriter writer({(dir / "rec.xml").string(), "ts_pgsql", "t"});
    PgsqlRecordFormatter f;
    std::string data(2000, 'x');
    PgsqlRecord r = f.message('d', data, &writer);
    std::string file = (dir / "rec-1.bin").string();
    EXPECT_EQ(r.xml, "<request><pgsql type=\"copy\" contents_from_file=\"" + file + "\"/></request>");
    std::ifstream in(file, std::ios::binary);
    std::stringstream got;
    got << in.rdbuf();
    EXPECT_EQ(got.str(), data);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace loadctl::recorder
