// The jabber plugin: stream splitting, request parsing and refusals, encoding, the user pool
// (Tsung's ts_user_server) and a connection fed by hand (split stanzas, pushes, iq matching).
#include "support/map_vars.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <pugixml.hpp>

#include "jabber_connection.hpp"
#include "jabber_encode.hpp"
#include "jabber_stream.hpp"
#include "jabber_test_support.hpp"
#include "loadctl/dynamics.hpp"
#include "loadctl/scenario_error.hpp"
#include "support/parse_request.hpp"

namespace loadctl::jabber {
namespace {

using loadctl::test::MapVars;
using test::FakeServices;
using test::protocol;

std::shared_ptr<const ProtocolOptions> options(const char* xml = "<options/>") {
  return protocol().parse_options(loadctl::test::kept_options(xml));
}

std::shared_ptr<const JabberRequest> parse(const char* xml, const ProtocolOptions* opts, bool subst = false) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml));
  RequestParseContext ctx;
  ctx.subst = subst;
  ctx.options = opts;
  return std::static_pointer_cast<const JabberRequest>(protocol().parse_request(doc.first_child(), ctx));
}


// Feeds `bytes` as the engine does: on_data until nothing is consumed; returns the events.
struct Feed {
  JabberConnection& conn;
  FakeServices& s;
  std::string buffer;
  std::vector<ConnEvent> events;
  std::vector<std::string> errors;
  void operator()(std::string_view bytes, const RequestSpec* pending) {
    buffer += bytes;
    std::size_t offset = 0;
    while (offset < buffer.size()) {
      ResponseInfo info;
      ConnResult r = conn.on_data(s, pending, {buffer.data() + offset, buffer.size() - offset}, info);
      offset += r.consumed;
      if (r.event != ConnEvent::none) {
        events.push_back(r.event);
        if (info.error) errors.emplace_back(info.error);
        if (r.event == ConnEvent::complete || r.event == ConnEvent::failed) pending = nullptr;
      }
      if (r.consumed == 0) break;
    }
    buffer.erase(0, offset);
  }
};

std::string encode(JabberConnection& conn, FakeServices& s, const JabberRequest& r, const VariableSource* vars = nullptr) {
  EncodeContext ctx;
  ctx.vars = vars;
  std::string out;
  conn.encode(s, r, ctx, out);
  return out;
}

TEST(JabberStream, SplitsUnitsAcrossReads) {
  std::string stream =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='a>b'>"
      "<stream:features><mechanisms><mechanism>PLAIN</mechanism></mechanisms></stream:features>\n"
      "<iq type='result' id='1'/><message to=\"x\"><body>a &lt; b<![CDATA[</message>]]></body></message>"
      "</stream:stream>";
  std::vector<std::pair<StreamUnit::Kind, std::string>> units;
  // Every split point: the first part, then the rest appended.
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamScanner sc;
    std::string buf = stream.substr(0, cut);
    std::vector<std::pair<StreamUnit::Kind, std::string>> got;
    bool appended = false;
    for (;;) {
      StreamUnit u;
      auto st = sc.next(buf, u);
      ASSERT_NE(st, StreamScanner::Status::error) << "cut " << cut;
      if (st == StreamScanner::Status::need_more) {
        if (appended) break;
        buf += stream.substr(cut);
        appended = true;
        continue;
      }
      got.emplace_back(u.kind, std::string(u.name));
      buf.erase(0, u.length);
      sc.reset();
    }
    if (cut == 0) units = got;
    ASSERT_EQ(got, units) << "cut " << cut;
  }
  using K = StreamUnit::Kind;
  std::vector<std::pair<K, std::string>> want = {{K::declaration, ""}, {K::stream_open, "stream:stream"},
                                                 {K::element, "stream:features"}, {K::element, "iq"},
                                                 {K::element, "message"}, {K::stream_close, "stream:stream"}};
  EXPECT_EQ(units, want);
}

TEST(JabberStream, Attributes) {
  EXPECT_EQ(attribute("<iq type='result' id=\"7\">", "id"), "7");
  EXPECT_EQ(attribute("<iq type='result' id=\"7\">", "type"), "result");
  EXPECT_EQ(attribute("<iq xml:id='x' id = '3'/>", "id"), "3");
  EXPECT_EQ(attribute("<iq to='a id=b'/>", "id"), "");
  StreamScanner sc;
  StreamUnit u;
  EXPECT_EQ(sc.next("junk<iq/>", u), StreamScanner::Status::error);
}

TEST(JabberOptions, DefaultsAndRefusals) {
  auto o = std::static_pointer_cast<const JabberOptions>(options());
  EXPECT_EQ(o->username, "tsunguser");
  EXPECT_EQ(o->passwd, "sesame");
  EXPECT_EQ(o->domain, "erlang-projects.org");
  EXPECT_EQ(o->userid_max, 10000u);
  o = std::static_pointer_cast<const JabberOptions>(options(
      R"(<o><option type="ts_jabber" name="domain" value="d.org"/><option type="ts_jabber" name="userid_max" value="3"/></o>)"));
  EXPECT_EQ(o->domain, "d.org");
  EXPECT_EQ(o->userid_max, 3u);
  EXPECT_THROW(options(R"(<o><option type="ts_jabber" name="nonsense" value="v"/></o>)"), ScenarioError);
  try {  // vhost_file names a file_server file
    options(R"(<o><option type="ts_jabber" name="vhost_file" value="v"/></o>)");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("no <option name=\"file_server\" id=\"v\">"), std::string::npos) << e.what();
  }
  try {  // a file id no file_server option names
    options(R"(<o><option type="ts_jabber" name="offline_from_fileid" value="v"/></o>)");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("no <option name=\"file_server\" id=\"v\">"), std::string::npos) << e.what();
  }
}

std::shared_ptr<const JabberOptions> options_with_files(const char* xml, const std::vector<DataFile>& files) {
  return std::static_pointer_cast<const JabberOptions>(protocol().parse_options_with_files(loadctl::test::kept_options(xml), files));
}

// Tsung's ts_user_server with random_from_fileid / offline_from_fileid / fileid_delimiter: the
// file's users follow the ids in the offline pool (sorted), are taken by users without
// xmpp_authenticate after the ids, leave it while logged in by name, and random destinations
// are a random line's first field.
TEST(JabberOptions, UsersFromFiles) {
  std::vector<DataFile> files = {{"users", "u.csv", {"zed,zpw,x", "amy,apw", "bob,bpw", "amy,again"}},
                                 {"dests", "d.csv", {"carol,1", "dave"}}};
  // the delimiter comes after the options naming the files, as in jabber_starttls.xml
  auto o = options_with_files(R"(<o><option type="ts_jabber" name="userid_max" value="1"/>
      <option type="ts_jabber" name="username" value="u"/><option type="ts_jabber" name="passwd" value="p"/>
      <option type="ts_jabber" name="offline_from_fileid" value="users"/>
      <option type="ts_jabber" name="random_from_fileid" value="dests"/>
      <option type="ts_jabber" name="fileid_delimiter" value=","/></o>)", files);
  ASSERT_EQ(o->file_users.size(), 3u) << "amy twice: one user, her first line's password";
  EXPECT_EQ(o->file_users[0], std::make_pair(std::string("amy"), std::string("apw")));
  EXPECT_THROW(options_with_files(R"(<o><option type="ts_jabber" name="offline_from_fileid" value="users"/>
      <option type="ts_jabber" name="fileid_delimiter" value=""/></o>)", files), ScenarioError) << "empty delimiter";
  EXPECT_EQ(o->file_users[2], std::make_pair(std::string("zed"), std::string("zpw")));
  EXPECT_EQ(o->random_users, (std::vector<std::string>{"carol", "dave"}));
  FakeServices s;
  auto connect = parse(R"(<jabber type="connect" ack="local"/>)", o.get());
  auto auth = parse(R"(<jabber type="auth_set_plain" ack="local"/>)", o.get());
  auto offline = parse(R"(<jabber type="chat" ack="no_ack" data="hi" destination="offline"/>)", o.get());
  auto random = parse(R"(<jabber type="chat" ack="no_ack" data="hi" destination="random"/>)", o.get());
  // bob logs in by name: no longer an offline destination
  auto as_bob = parse(R"(<jabber type="connect" ack="local"><xmpp_authenticate username="bob" passwd="bpw"/></jabber>)", o.get());
  JabberConnection b(o.get(), 1 << 20);
  b.on_open(s);
  encode(b, s, *as_bob);
  std::set<std::string> offline_dests;
  for (int i = 0; i < 8; ++i) {
    std::string out = encode(b, s, *offline);
    auto at = out.find("to='");
    ASSERT_NE(at, std::string::npos) << out;
    offline_dests.insert(out.substr(at + 4, out.find('@', at) - at - 4));
  }
  EXPECT_EQ(offline_dests, (std::set<std::string>{"u1", "amy", "zed"}));
  std::set<std::string> random_dests;
  for (int i = 0; i < 64; ++i) {
    std::string out = encode(b, s, *random);
    auto at = out.find("to='");
    random_dests.insert(out.substr(at + 4, out.find('@', at) - at - 4));
  }
  EXPECT_EQ(random_dests, (std::set<std::string>{"carol", "dave"}));
  // users without xmpp_authenticate take the offline ones, ids and file users, with their passwords
  JabberConnection c1(o.get(), 1 << 20), c2(o.get(), 1 << 20), c3(o.get(), 1 << 20), c4(o.get(), 1 << 20);
  for (JabberConnection* c : {&c1, &c2, &c3, &c4}) c->on_open(s);
  std::set<std::string> logins;
  for (JabberConnection* c : {&c1, &c2, &c3}) {
    encode(*c, s, *connect);
    std::string out = encode(*c, s, *auth);
    auto field = [&](const std::string& tag) {
      auto at = out.find("<" + tag + ">");
      return at == std::string::npos ? std::string("?") : out.substr(at + tag.size() + 2, out.find("</" + tag + ">") - at - tag.size() - 2);
    };
    logins.insert(field("username") + "/" + field("password"));
  }
  EXPECT_EQ(logins, (std::set<std::string>{"u1/p1", "amy/apw", "zed/zpw"}));
  EXPECT_EQ(encode(c4, s, *connect), "") << "bob is logged in: none free";
  EXPECT_EQ(s.counts["error_no_free_userid"], 1u);
  // a file line without the password field is refused, naming the option
  files[0].lines.push_back("nopassword");
  try {
    options_with_files(R"(<o><option type="ts_jabber" name="offline_from_fileid" value="users"/>
        <option type="ts_jabber" name="fileid_delimiter" value=","/></o>)", files);
    FAIL() << "a line without password accepted";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("'nopassword' has no password field"), std::string::npos) << e.what();
  }
}

TEST(JabberRequest, Refusals) {
  auto o = options();
  auto refused = [&](const char* xml) {
    try {
      parse(xml, o.get());
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(refused(R"(<jabber type="starttls" ack="parse"/>)").find("not supported yet"), std::string::npos);
  EXPECT_EQ(refused(R"(<jabber type="chat" ack="parse"/>)"), "accepted");
  EXPECT_EQ(refused(R"(<jabber type="connect" ack="local" version="bosh"/>)"), "accepted");  // any version, as Tsung
  EXPECT_EQ(refused(R"(<jabber type="presence:roster" ack="no_ack" destination="online"/>)"), "accepted");
  EXPECT_NE(refused(R"(<jabber type="starttls" ack="local" certfile="c.pem"/>)").find("not supported yet"), std::string::npos);
  EXPECT_NE(refused(R"(<jabber type="chat" ack="bidi_ack"/>)").find("not supported yet"), std::string::npos);
  EXPECT_NE(refused(R"(<jabber type="muc:join" ack="local" room="r" nick="n"/>)").find("muc_service"), std::string::npos);
  EXPECT_NE(refused(R"(<jabber type="pubsub:publish" ack="local"/>)").find("pubsub_service"), std::string::npos);
  EXPECT_NE(refused(R"(<jabber type="nosuch" ack="local"/>)").find("unknown jabber type"), std::string::npos);
  EXPECT_NE(refused(R"(<jabber type="chat"/>)").find("missing attribute ack"), std::string::npos);
  EXPECT_NE(refused(R"(<jabber type="chat" ack="local" colour="red"/>)"), "accepted");
  EXPECT_EQ(refused(R"(<jabber type="register" ack="local" id="new"/>)"), "accepted");
}

TEST(JabberEncode, ChatBetweenOnlineUsersAndAuth) {
  auto o = options(R"(<o><option type="ts_jabber" name="domain" value="d"/><option type="ts_jabber" name="username" value="u"/>
                      <option type="ts_jabber" name="passwd" value="p"/><option type="ts_jabber" name="userid_max" value="3"/></o>)");
  const auto* jo = static_cast<const JabberOptions*>(o.get());
  FakeServices s;
  JabberConnection a(jo, 1 << 20), b(jo, 1 << 20);
  a.on_open(s);
  auto connect = parse(R"(<jabber type="connect" ack="local"/>)", o.get());
  EXPECT_NE(encode(a, s, *connect).find("to='d' xmlns='jabber:client' version='1.0' "), std::string::npos);
  encode(b, s, *connect);
  auto sasl = parse(R"(<jabber type="auth_sasl" ack="local"/>)", o.get());
  EXPECT_EQ(encode(a, s, *sasl), "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN' >" + base64(std::string("\0u1\0p1", 6)) + "</auth>");
  EXPECT_EQ(base64(std::string("\0u1\0p1", 6)), "AHUxAHAx");
  auto chat = parse(R"(<jabber type="chat" ack="no_ack" size="16" destination="online"/>)", o.get());
  EXPECT_EQ(encode(a, s, *chat), "");  // nobody online yet
  EXPECT_EQ(s.counts["error_no_online"], 1u);
  auto initial = parse(R"(<jabber type="presence:initial" ack="no_ack"/>)", o.get());
  encode(a, s, *initial);
  // alone online: Tsung's get_online gives the user itself
  EXPECT_NE(encode(a, s, *chat).find("to='u1@d' type='chat'"), std::string::npos);
  encode(b, s, *initial);
  std::string msg = encode(a, s, *chat);
  EXPECT_NE(msg.find("to='u2@d' type='chat'><body>"), std::string::npos) << msg;
  EXPECT_EQ(msg.size() - msg.find("<body>") - 6 - 17, 16u) << msg;  // 16 characters then </body></message>
  EXPECT_EQ(s.counts["xmpp_chat_sent"], 2u);
  auto offline = parse(R"(<jabber type="chat" ack="no_ack" data="hi" destination="offline"/>)", o.get());
  EXPECT_NE(encode(a, s, *offline).find("to='u3@d' type='chat'><body>hi</body>"), std::string::npos);
  auto previous = parse(R"(<jabber type="chat" ack="no_ack" data="again" destination="previous"/>)", o.get());
  EXPECT_NE(encode(a, s, *previous).find("to='u3@d'"), std::string::npos);
  // digest: sha1(sid ++ password), sid from the user's variables
  MapVars vars;
  vars.values["sid"] = "abc";
  auto digest = parse(R"(<jabber type="auth_set_digest" ack="local"/>)", o.get(), true);
  EXPECT_NE(encode(a, s, *digest, &vars).find("<digest>" + sha1_hex("abcp1") + "</digest>"), std::string::npos);
  // a third user takes id 3 (the only one left); a fourth finds none and ends
  JabberConnection c(jo, 1 << 20), d(jo, 1 << 20);
  encode(c, s, *connect);
  EXPECT_EQ(encode(d, s, *connect), "");
  EXPECT_TRUE(s.timer);
  // counted by the plugin, once (also when another request follows), then the timer ends the
  // user without a second error (fatal_counted: no error_protocol)
  EXPECT_EQ(s.counts["error_no_free_userid"], 1u);
  encode(d, s, *connect);
  EXPECT_EQ(s.counts["error_no_free_userid"], 1u);
  EXPECT_EQ(d.on_timer(s), ConnEvent::fatal_counted);
}

TEST(JabberConnection, AnswersPushesAndLimits) {
  auto o = options(R"(<o><option type="ts_jabber" name="userid_max" value="5"/></o>)");
  const auto* jo = static_cast<const JabberOptions*>(o.get());
  FakeServices s;
  JabberConnection conn(jo, 256, true);
  conn.on_open(s);
  Feed feed{conn, s};
  auto connect = parse(R"(<jabber type="connect" ack="local"/>)", o.get());
  encode(conn, s, *connect);
  feed("<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='s1' version='1.0'>", connect.get());
  EXPECT_TRUE(feed.events.empty());  // version 1.0: the features are part of the answer
  feed("<stream:features><mechanisms/></stream:featu", connect.get());
  EXPECT_TRUE(feed.events.empty());
  feed("res>", connect.get());
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete});
  feed.events.clear();
  // an iq waits for its own id; a message pushed meanwhile is counted, not taken as the answer
  auto roster = parse(R"(<jabber type="iq:roster:get" ack="local"/>)", o.get());
  std::string sent = encode(conn, s, *roster);
  std::string id(attribute(sent, "id"));
  ASSERT_FALSE(id.empty());
  feed("<message from='x@y'><body>hello</body></message><iq type='result' id='nope'/>", roster.get());
  EXPECT_TRUE(feed.events.empty());
  EXPECT_EQ(s.counts["xmpp_chat_received"], 1u);
  feed("<iq type='result' id='" + id + "'><query xmlns='jabber:iq:roster'/></iq>", roster.get());
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete});
  feed.events.clear();
  // while the user thinks: a subscription request is accepted, a ping answered
  feed("<presence from='a@b' type='subscribe'/><iq type='get' from='b' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>", nullptr);
  EXPECT_EQ(s.sent, "<presence to='a@b' type='subscribed'/><iq id='p1' to='b' type='result'></iq>");
  EXPECT_TRUE(feed.events.empty());
  // stamped messages of this process give a latency sample
  std::string stamped = "<message><body>";
  append_stamp(stamped);
  feed(stamped + "</body></message>", nullptr);
  EXPECT_EQ(s.counts["xmpp_msg_latency.samples"], 1u);
  // an auth error is counted and completes the request on its data (Tsung), the user goes on
  auto plain = parse(R"(<jabber type="auth_set_plain" ack="local"/>)", o.get());
  sent = encode(conn, s, *plain);
  feed("<iq type='error' id='" + std::string(attribute(sent, "id")) + "'><error type='auth'/></iq>", plain.get());
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(s.counts["error_xmpp_auth_failed"], 1u);
  feed.events.clear();
  auto sasl = parse(R"(<jabber type="auth_sasl" ack="local"/>)", o.get());
  encode(conn, s, *sasl);
  feed("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>", sasl.get());
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(s.counts["error_xmpp_auth_failed"], 2u);
  feed.events.clear();
  // an element larger than max_frame_size ends the connection
  feed("<message><body>" + std::string(300, 'x'), nullptr);
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::fatal});
  EXPECT_EQ(feed.errors.back(), "xmpp_element_too_large");
}

TEST(JabberConnection, CloseAndStarttls) {
  auto o = options();
  const auto* jo = static_cast<const JabberOptions*>(o.get());
  FakeServices s;
  JabberConnection conn(jo, 4096);
  conn.on_open(s);
  Feed feed{conn, s};
  auto tls = parse(R"(<jabber type="starttls" ack="bidi_ack"/>)", o.get());
  encode(conn, s, *tls);
  feed("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", tls.get());
  EXPECT_TRUE(s.tls);
  EXPECT_TRUE(feed.events.empty());
  EXPECT_EQ(conn.on_tls_ready(s), ConnEvent::complete);
  auto close = parse(R"(<jabber type="close" ack="local"/>)", o.get());
  EXPECT_EQ(encode(conn, s, *close), "</stream:stream>");
  feed("</stream:stream>", close.get());
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::close});
}

TEST(JabberRequest, NoOptionsGivesTsungDefaults) {
  auto r = parse(R"(<jabber type="connect" ack="local"/>)", nullptr);
  ASSERT_NE(r->options, nullptr);
  EXPECT_EQ(r->options->domain, "erlang-projects.org");
  EXPECT_NE(protocol().open_connection(ConnectionContext{}), nullptr);
}

TEST(JabberEncode, Pubsub) {
  auto o = options(R"(<o><option type="ts_jabber" name="domain" value="d"/><option type="ts_jabber" name="username" value="u"/>
                      <option type="ts_jabber" name="pubsub_service" value="ps.d"/></o>)");
  const auto* jo = static_cast<const JabberOptions*>(o.get());
  FakeServices s;
  JabberConnection conn(jo, 4096);
  auto publish = parse(R"(<jabber type="pubsub:publish" ack="local" node="" size="4"/>)", o.get());
  std::string out = encode(conn, s, *publish);
  EXPECT_TRUE(out.starts_with("<iq to='ps.d' type='set' id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                              "<publish node='/home/d/u1'><item><entry>")) << out;
  EXPECT_TRUE(out.ends_with("</entry></item></publish></pubsub></iq>")) << out;
  EXPECT_EQ(out.size(), std::string_view("<iq to='ps.d' type='set' id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                                         "<publish node='/home/d/u1'><item><entry>"
                                         "</entry></item></publish></pubsub></iq>").size() + 4);
  auto create = parse(R"(<jabber type="pubsub:create" ack="local" node="/test" node_type="flat"
                        data="[{'pubsub#access_model','open'}, {x, [a, 'b']}]."/>)", o.get());
  EXPECT_EQ(encode(conn, s, *create),
            "<iq to='ps.d' type='set' id='2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='/test' "
            "type='flat' /><configure> <x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'>"
            "<value>open</value></field><field var='x'><value>a</value><value>b</value></field></x></configure></pubsub></iq>");
  auto del = parse(R"(<jabber type="pubsub:delete" ack="local" node="n"/>)", o.get());
  EXPECT_EQ(encode(conn, s, *del), "<iq to='ps.d' type='set' id='3'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>"
                                   "<delete node='/home/d/u1/n'/></pubsub></iq>");
  EXPECT_THROW(parse(R"(<jabber type="pubsub:create" ack="local" data="[{a}]."/>)", o.get()), ScenarioError);
}

TEST(JabberPool, TsungUserServerOrder) {
  UserPool pool(4);
  EXPECT_EQ(pool.take_idle(), 1u);
  EXPECT_EQ(pool.take_idle(), 2u);
  EXPECT_EQ(pool.next_offline(), 3u);  // moves the cursor: the next idle user is 4
  EXPECT_EQ(pool.take_idle(), 4u);
  pool.remove_connected({1, {}});
  EXPECT_EQ(pool.take_idle(), 1u);  // wraps to the freed id
  EXPECT_EQ(pool.take_idle(), 3u);
  EXPECT_FALSE(pool.take_idle());
  pool.add_to_online({1, {}});
  pool.add_to_online({2, {}});
  EXPECT_EQ(pool.online_other({1, {}})->id, 2u);
  EXPECT_EQ(pool.online_other({2, {}})->id, 1u);
  pool.remove_from_online({1, {}});
  EXPECT_EQ(pool.online_other({2, {}})->id, 2u);  // alone online: itself, as Tsung
  pool.remove_from_online({2, {}});
  EXPECT_FALSE(pool.online_other({2, {}}));
  EXPECT_EQ(pool.first()->id, 1u);
}

TEST(JabberExamples, TsungExamplesParseOrAreRefusedByName) {
  // The examples' requests parse with their own options (jabber_muc.xml, jabber_node.xml need
  // muc_service / pubsub_service, which they set).
  const std::string dir = "/usr/share/doc/tsung/examples/";  // Tsung's package (scripts/deps.sh)
  if (!std::filesystem::exists(dir + "jabber_muc.xml")) GTEST_SKIP() << "Tsung's examples are not installed";
  for (const char* name : {"jabber_register.xml", "jabber_roster.xml", "jabber_muc.xml", "jabber_privacy.xml",
                           "jabber_node.xml"}) {
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_file((dir + name).c_str())) << name;
    std::vector<pugi::xml_node> nodes;
    for (auto x : doc.select_nodes("//options/option[@type='ts_jabber' and @name!='global_number']")) nodes.push_back(x.node());
    auto o = protocol().parse_options(nodes);
    int count = 0;
    for (auto x : doc.select_nodes("//request/jabber")) {
      RequestParseContext ctx;
      ctx.options = o.get();
      ctx.subst = x.node().parent().attribute("subst").as_bool();
      EXPECT_NO_THROW(protocol().parse_request(x.node(), ctx)) << name;
      ++count;
    }
    EXPECT_GT(count, 2) << name;
  }
  // jabber_starttls.xml takes its users from a file_server (userdb): parsed with that file.
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir + "jabber_starttls.xml").c_str()));
  std::vector<pugi::xml_node> nodes;
  for (auto x : doc.select_nodes("//options/option[@type='ts_jabber']")) nodes.push_back(x.node());
  std::vector<DataFile> files = {{"userdb", "usernames.csv", {"alice,secret"}}};
  auto o = std::static_pointer_cast<const JabberOptions>(protocol().parse_options_with_files(nodes, files));
  EXPECT_EQ(o->userid_max, 0u);
  EXPECT_EQ(o->random_users, std::vector<std::string>{"alice"});
  ASSERT_EQ(o->file_users.size(), 1u);
  EXPECT_EQ(o->file_users[0].second, "secret");
}

// ack="parse" (Tsung's parse/2): the first element received completes the request, whatever it
// is; with regexp, the first one matching it.
TEST(JabberConnection, AckParseAndGlobal) {
  auto o = options();
  FakeServices s;
  JabberConnection c(static_cast<const JabberOptions*>(o.get()), 1 << 20);
  c.on_open(s);
  Feed feed{c, s};
  auto get = parse(R"(<jabber type="iq:roster:get" ack="parse"/>)", o.get());
  encode(c, s, *get);
  feed("<presence from='x@d'/>", get.get());
  EXPECT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete}) << "not the iq's answer, but the first element";
  auto matching = parse(R"(<jabber type="chat" ack="parse" data="hi" regexp="ok"/>)", o.get());
  encode(c, s, *matching);
  feed.events.clear();
  feed("<message><body>no</body></message>", matching.get());
  EXPECT_TRUE(feed.events.empty());
  feed("<message><body>ok</body></message>", matching.get());
  EXPECT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete});
  // ack="global": the engine completes it at the rendezvous' release; its iq answer and
  // anything else received meanwhile are pushes (a message counted as received)
  auto global = parse(R"(<jabber type="iq:roster:get" ack="global"/>)", o.get());
  EXPECT_TRUE(global->global_ack());
  EXPECT_FALSE(get->global_ack());
  std::string sent = encode(c, s, *global);
  auto id_at = sent.find("id='");
  ASSERT_NE(id_at, std::string::npos);
  std::string id = sent.substr(id_at + 4, sent.find('\'', id_at + 4) - id_at - 4);
  feed.events.clear();
  std::uint64_t received = s.counts["xmpp_chat_received"];
  feed("<iq type='result' id='" + id + "'/><message from='a@d'><body>x</body></message>", global.get());
  EXPECT_TRUE(feed.events.empty());
  EXPECT_EQ(s.counts["xmpp_chat_received"], received + 1);
  feed("</stream:stream>", global.get());
  EXPECT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::close}) << "the server's close ends the wait";
  // a skipped ack="global" request (nobody online) is not completed by the plugin's timer
  auto skipped = parse(R"(<jabber type="chat" ack="global" destination="online"/>)", o.get());
  s.timer = false;
  EXPECT_EQ(encode(c, s, *skipped), "");
  EXPECT_FALSE(s.timer);
  EXPECT_EQ(c.on_timer(s), ConnEvent::none);
}


// Finding 1: agent k of n hands out only the ids i with (i - 1) mod n = k.
TEST(JabberPool, AgentsTakeDisjointIds) {
  UserPool pool(7);
  pool.set_slice(1, 3);
  EXPECT_EQ(pool.take_idle(), 2u);
  EXPECT_EQ(pool.take_idle(), 5u);
  EXPECT_FALSE(pool.take_idle());
  EXPECT_FALSE(pool.next_offline());
  pool.remove_connected({2, {}});
  EXPECT_EQ(pool.next_offline(), 2u);
  // through the protocol: the connection context's agent place reaches the pool
  auto o = options(R"(<o><option type="ts_jabber" name="username" value="u"/></o>)");
  ConnectionContext ctx;
  ctx.options = o.get();
  ctx.agent_index = 2;
  ctx.agent_count = 4;
  auto conn = protocol().open_connection(ctx);
  FakeServices s;
  auto connect = parse(R"(<jabber type="connect" ack="local"/>)", o.get());
  auto sasl = parse(R"(<jabber type="auth_sasl" ack="local"/>)", o.get());
  std::string out;
  EncodeContext ec;
  conn->encode(s, *connect, ec, out);
  out.clear();
  conn->encode(s, *sasl, ec, out);
  EXPECT_NE(out.find(base64(std::string("\0u3\0", 4) + "sesame3")), std::string::npos) << out;
}

// Finding 2: the identity lives in the user's session slot: a new connection keeps the id and
// `previous`; the id goes back to the pool when the session ends.
TEST(JabberSession, IdentityOutlivesTheConnection) {
  auto o = options(R"(<o><option type="ts_jabber" name="username" value="u"/><option type="ts_jabber" name="userid_max" value="2"/></o>)");
  const auto* jo = static_cast<const JabberOptions*>(o.get());
  std::unique_ptr<UserSession> slot;
  FakeServices s;
  auto connect = parse(R"(<jabber type="connect" ack="local" version="legacy"/>)", o.get());
  auto chat = parse(R"(<jabber type="chat" ack="no_ack" data="x" destination="offline"/>)", o.get());
  auto again = parse(R"(<jabber type="chat" ack="no_ack" data="y" destination="previous"/>)", o.get());
  auto sasl = parse(R"(<jabber type="auth_sasl" ack="local"/>)", o.get());
  auto with_slot = [&](JabberConnection& c, const JabberRequest& r) {
    EncodeContext ec;
    ec.session = slot.get();
    std::string out;
    c.encode(s, r, ec, out);
    return out;
  };
  {
    JabberConnection a(jo, 4096);
    a.on_open(s);
    with_slot(a, *connect);
    std::string stream = "<stream:stream xmlns='jabber:client' id='1'>";
    ResponseInfo info;
    info.session = &slot;
    EXPECT_EQ(a.on_data(s, connect.get(), stream, info).event, ConnEvent::complete);
    ASSERT_NE(slot, nullptr);
    EXPECT_NE(with_slot(a, *chat).find("to='u2@"), std::string::npos);
  }
  JabberConnection b(jo, 4096);
  b.on_open(s);
  EXPECT_NE(with_slot(b, *again).find("to='u2@"), std::string::npos);  // previous kept
  EXPECT_NE(with_slot(b, *sasl).find(base64(std::string("\0u1\0sesame1", 11))), std::string::npos);  // same id
  UserPool& pool = *jo->users;
  EXPECT_EQ(pool.take_idle(), 2u);
  EXPECT_FALSE(pool.take_idle());  // id 1 is still the session's
  slot.reset();
  EXPECT_EQ(pool.take_idle(), 1u);  // given back when the session ended
}

// Finding 4: an iq Tsung skips (no roster jid, nobody online) completes at once.
TEST(JabberConnection, SkippedRequestsCompleteAtOnce) {
  auto o = options();
  FakeServices s;
  JabberConnection conn(static_cast<const JabberOptions*>(o.get()), 4096);
  for (const char* xml : {R"(<jabber type="iq:roster:rename" ack="local"/>)", R"(<jabber type="iq:roster:remove" ack="local"/>)",
                          R"(<jabber type="iq:roster:add" ack="local" destination="online"/>)",
                          R"(<jabber type="ping" ack="local" destination="online"/>)"}) {
    auto r = parse(xml, o.get());
    s.timer = false;
    EXPECT_EQ(encode(conn, s, *r), "") << xml;
    EXPECT_TRUE(s.timer) << xml;
    EXPECT_EQ(conn.on_timer(s), ConnEvent::complete) << xml;
    EXPECT_EQ(conn.on_timer(s), ConnEvent::none) << xml;  // once
  }
  auto get = parse(R"(<jabber type="iq:roster:get" ack="local"/>)", o.get());
  s.timer = false;
  EXPECT_NE(encode(conn, s, *get), "");
  EXPECT_FALSE(s.timer);
}

// Finding 6: a stanza matching a regexp wait is also handled as received.
TEST(JabberConnection, RegexpMatchIsAlsoAPush) {
  auto o = options();
  FakeServices s;
  JabberConnection conn(static_cast<const JabberOptions*>(o.get()), 4096, true);
  conn.on_open(s);
  Feed feed{conn, s};
  auto wait = parse(R"(<jabber type="raw" ack="local" regexp="hello" data=" "/>)", o.get());
  encode(conn, s, *wait);
  std::string stamped = "<message><body>hello ";
  append_stamp(stamped);
  feed(stamped + "</body></message>", wait.get());
  ASSERT_EQ(feed.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(s.counts["xmpp_chat_received"], 1u);
  EXPECT_EQ(s.counts["xmpp_msg_latency.samples"], 1u);
}

// Finding 7: values from variables, xmpp_authenticate and pushes are escaped; raw is not.
TEST(JabberEncode, EscapesValues) {
  auto o = options(R"(<o><option type="ts_jabber" name="muc_service" value="m"/></o>)");
  FakeServices s;
  JabberConnection conn(static_cast<const JabberOptions*>(o.get()), 4096, true);
  Feed feed{conn, s};
  MapVars vars;
  vars.values["u"] = "a'b";
  vars.values["p"] = "<&>";
  vars.values["v"] = "x\"<y";
  auto plain = parse(R"(<jabber type="auth_set_plain" ack="local" resource="%%_v%%"><xmpp_authenticate username="%%_u%%" passwd="%%_p%%"/></jabber>)",
                     o.get(), true);
  std::string out = encode(conn, s, *plain, &vars);
  EXPECT_NE(out.find("<username>a&#39;b</username><resource>x&quot;&lt;y</resource><password>&lt;&amp;&gt;</password>"),
            std::string::npos) << out;
  auto join = parse(R"(<jabber type="muc:join" ack="local" room="%%_v%%" nick="%%_u%%"/>)", o.get(), true);
  EXPECT_NE(encode(conn, s, *join, &vars).find("to='x&quot;&lt;y@m/a&#39;b'"), std::string::npos);
  auto raw = parse(R"(<jabber type="raw" ack="no_ack" data="%%_p%%"/>)", o.get(), true);
  EXPECT_EQ(encode(conn, s, *raw, &vars), "<&>");
  feed("<presence from=\"a'b\" type='subscribe'/>", nullptr);
  EXPECT_EQ(s.sent, "<presence to='a&#39;b' type='subscribed'/>");
}

// Finding 8: outside bidi sessions, no automatic replies and no latency samples.
TEST(JabberConnection, NoBidiNoReplies) {
  auto o = options();
  FakeServices s;
  JabberConnection conn(static_cast<const JabberOptions*>(o.get()), 4096, false);
  conn.on_open(s);
  Feed feed{conn, s};
  std::string stamped = "<message><body>";
  append_stamp(stamped);
  feed("<presence from='a@b' type='subscribe'/><iq type='get' from='b' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>" + stamped +
           "</body></message>",
       nullptr);
  EXPECT_EQ(s.sent, "");
  EXPECT_EQ(s.counts["xmpp_msg_latency.samples"], 0u);
  EXPECT_EQ(s.counts["xmpp_chat_received"], 1u);
  // Finding 11: a bounced message is not a received chat
  feed("<message type='error' from='x@y'><body>mine</body><error type='cancel'/></message>", nullptr);
  EXPECT_EQ(s.counts["xmpp_chat_received"], 1u);
}

// Finding 9: defaults are per scenario (parse_options({})), each with its own pool.
TEST(JabberOptions, DefaultsArePerScenario) {
  auto first = std::static_pointer_cast<const JabberOptions>(protocol().parse_options({}));
  auto second = std::static_pointer_cast<const JabberOptions>(protocol().parse_options({}));
  EXPECT_EQ(first->users->take_idle(), 1u);
  EXPECT_EQ(second->users->take_idle(), 1u);  // a second run starts again at 1
  auto a = parse(R"(<jabber type="connect" ack="local"/>)", nullptr);
  auto b = parse(R"(<jabber type="connect" ack="local"/>)", nullptr);
  EXPECT_NE(a->options, b->options);
}

// Finding 10: attributes a type does not read are refused, naming the attribute.
TEST(JabberRequest, AttributesOfOtherTypesAreRefused) {
  auto o = options(R"(<o><option type="ts_jabber" name="muc_service" value="m"/><option type="ts_jabber" name="pubsub_service" value="p"/></o>)");
  auto refused = [&](const char* xml) {
    try {
      parse(xml, o.get());
    } catch (const ScenarioError& e) {
      return std::string(e.what()).find("not supported yet") != std::string::npos;
    }
    return false;
  };
  EXPECT_TRUE(refused(R"(<jabber type="presence:initial" ack="no_ack" size="3"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="iq:roster:get" ack="local" stamped="true"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="chat" ack="no_ack" show="away"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="presence" ack="no_ack" status="x"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="chat" ack="no_ack" group="g"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="chat" ack="no_ack" room="r"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="chat" ack="no_ack" nick="n"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="chat" ack="no_ack" node="n"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="pubsub:delete" ack="local" node="n" subid="s"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="pubsub:publish" ack="local" node_type="flat"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="presence" ack="local" version="legacy"/>)"));
  EXPECT_TRUE(refused(R"(<jabber type="ping" ack="local" destination="random"/>)"));
  EXPECT_FALSE(refused(R"(<jabber type="ping" ack="local" destination="online"/>)"));
  EXPECT_FALSE(refused(R"(<jabber type="muc:chat" ack="no_ack" room="r" size="5" stamped="true"/>)"));
  EXPECT_FALSE(refused(R"(<jabber type="presence:directed" ack="no_ack" show="away" status="s"/>)"));
  EXPECT_FALSE(refused(R"(<jabber type="pubsub:subscribe" ack="local" node="n" subid="s"/>)"));
}

// Finding 11: pubsub:subscribe without node subscribes to the destination's home.
TEST(JabberEncode, PubsubSubscribeWithoutNode) {
  auto o = options(R"(<o><option type="ts_jabber" name="domain" value="d"/><option type="ts_jabber" name="username" value="u"/>
                      <option type="ts_jabber" name="userid_max" value="2"/><option type="ts_jabber" name="pubsub_service" value="ps.d"/></o>)");
  FakeServices s;
  JabberConnection conn(static_cast<const JabberOptions*>(o.get()), 4096);
  auto sub = parse(R"(<jabber type="pubsub:subscribe" ack="local" destination="offline"/>)", o.get());
  std::string out = encode(conn, s, *sub);
  EXPECT_NE(out.find("<subscribe node='/home/d/u2/' jid='u1@d'"), std::string::npos) << out;
}

// presence:roster as Tsung 1.7.0 sends it (ts_jabber_common presence(roster, ..)): a
// 'subscribed' presence to <destination>@<domain>, the destination's name as written.
TEST(JabberEncode, PresenceRosterAsTsung) {
  auto o = options(R"(<o><option type="ts_jabber" name="domain" value="d"/><option type="ts_jabber" name="userid_max" value="2"/></o>)");
  FakeServices s;
  JabberConnection conn(static_cast<const JabberOptions*>(o.get()), 4096);
  auto roster = parse(R"(<jabber type="presence:roster" ack="no_ack"/>)", o.get());
  std::string out = encode(conn, s, *roster);
  EXPECT_TRUE(out.starts_with("<presence id='")) << out;
  EXPECT_TRUE(out.ends_with("' to='random@d' type='subscribed'/>")) << out;
  auto online = parse(R"(<jabber type="presence:roster" ack="no_ack" destination="online"/>)", o.get());
  EXPECT_TRUE(encode(conn, s, *online).ends_with("' to='online@d' type='subscribed'/>"));
  EXPECT_EQ(s.counts["error_no_online"], 0u);  // no user looked up
}

// `n` users connect and log in with `o`'s vhost_file: the usernames given out per domain (a
// user whose domain's pool is empty counts error_no_free_userid).
std::map<std::string, std::set<std::string>> log_in_vhosts(const JabberOptions& o, FakeServices& s, int n) {
  auto connect = parse(R"(<jabber type="connect" ack="local"/>)", &o);
  auto plain = parse(R"(<jabber type="auth_set_plain" ack="local"/>)", &o);
  std::map<std::string, std::set<std::string>> users;  // domain -> usernames given out
  std::vector<std::unique_ptr<JabberConnection>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<JabberConnection>(&o, 4096));
    std::string header = encode(*conns.back(), s, *connect);
    if (header.empty()) continue;  // its domain's pool is empty: error_no_free_userid
    std::string domain = std::string(attribute(header.substr(header.find("<stream:stream")), "to"));
    std::string auth = encode(*conns.back(), s, *plain);
    auto at = auth.find("<username>");
    EXPECT_NE(at, std::string::npos) << auth;
    if (at == std::string::npos) continue;
    std::string name = auth.substr(at + 10, auth.find("</username>") - at - 10);
    EXPECT_TRUE(users[domain].insert(name).second) << name << " twice in " << domain;
  }
  return users;
}

// vhost_file (Tsung's choose_domain): each user's domain is a random line of the file, chosen at
// its first request, and its id comes from that domain's own pool of 1..userid_max; a domain
// option wins over it, wherever it is.
TEST(JabberOptions, VhostFileGivesEachUserADomainAndItsPool) {
  std::vector<DataFile> files = {{"hosts", "v.csv", {"a.test", "b.test"}}, {"users", "u.csv", {"x,y"}}};
  auto o = options_with_files(R"(<o><option type="ts_jabber" name="vhost_file" value="hosts"/>
      <option type="ts_jabber" name="userid_max" value="2"/><option type="ts_jabber" name="username" value="u"/></o>)", files);
  ASSERT_EQ(o->vhosts, (std::vector<std::string>{"a.test", "b.test"}));
  FakeServices s;
  auto users = log_in_vhosts(*o, s, 40);
  int ended = static_cast<int>(s.counts["error_no_free_userid"]);
  // 2 ids per domain: 4 users log in (a domain never chosen in 40 tries: 2^-39), the others find
  // their domain's pool empty
  EXPECT_EQ(ended, 36);
  EXPECT_EQ(s.counts["error_no_free_userid"], 36u);
  const std::set<std::string> ids = {"u1", "u2"};
  EXPECT_EQ(users, (std::map<std::string, std::set<std::string>>{{"a.test", ids}, {"b.test", ids}}));
  // a domain option wins, before or after
  auto d = options_with_files(R"(<o><option type="ts_jabber" name="vhost_file" value="hosts"/>
      <option type="ts_jabber" name="domain" value="d.test"/></o>)", files);
  EXPECT_TRUE(d->vhosts.empty());
  EXPECT_EQ(d->domain, "d.test");
  // file users would have no place in the domains' pools: refused
  EXPECT_THROW(options_with_files(R"(<o><option type="ts_jabber" name="vhost_file" value="hosts"/>
      <option type="ts_jabber" name="offline_from_fileid" value="users"/></o>)", files), ScenarioError);
  EXPECT_THROW(options_with_files(R"(<o><option type="ts_jabber" name="offline_from_fileid" value="users"/>
      <option type="ts_jabber" name="vhost_file" value="hosts"/></o>)", files), ScenarioError);
}

// A domain on several lines of vhost_file is one domain with one pool (chosen as often as it
// appears, as Tsung's random line): its ids are not given out twice.
TEST(JabberOptions, VhostFileDuplicateDomainHasOnePool) {
  std::vector<DataFile> files = {{"hosts", "v.csv", {"a.test", "a.test", "b.test", "a.test"}}};
  auto o = options_with_files(R"(<o><option type="ts_jabber" name="vhost_file" value="hosts"/>
      <option type="ts_jabber" name="userid_max" value="2"/><option type="ts_jabber" name="username" value="u"/></o>)", files);
  ASSERT_EQ(o->vhost_pools.size(), 2u);
  EXPECT_EQ(&o->pool_of(0), &o->pool_of(1));
  EXPECT_EQ(&o->pool_of(0), &o->pool_of(3));
  EXPECT_NE(&o->pool_of(0), &o->pool_of(2));
  FakeServices s;
  auto users = log_in_vhosts(*o, s, 60);
  // 2 ids per domain, 2 domains: 4 users in all (with a pool per line, a.test would give 6)
  EXPECT_EQ(s.counts["error_no_free_userid"], 56u);
  EXPECT_EQ(users["a.test"].size(), 2u);
}

}  // namespace
}  // namespace loadctl::jabber
