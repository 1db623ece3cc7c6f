#include "jabber_encode.hpp"

#include <unistd.h>

#include <chrono>
#include <random>

#include <openssl/evp.h>

#include "loadctl/connection.hpp"
#include "report/html_escape.hpp"

namespace loadctl::jabber {
namespace {

std::string hex(const unsigned char* p, unsigned n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

std::string digest_hex(std::string_view in, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(in.data(), in.size(), out, &n, md, nullptr);
  return hex(out, n);
}

std::uint64_t node_hash() {
  static const std::uint64_t hash = static_cast<std::uint64_t>(::getpid()) * 2654435761u % 4294967291u;
  return hash;
}

void append_random(std::string& out, std::size_t n) {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> letter(0, 25);
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char>('a' + letter(rng));
}

/// maybe_stamp(Stamped, Size): the stamp, then random characters up to `size`.
void append_body(std::string& out, bool stamped, std::size_t size) {
  std::size_t before = out.size();
  if (stamped) append_stamp(out);
  std::size_t used = out.size() - before;
  if (size > used) append_random(out, size - used);
}

/// The template's value, escaped for XML (variables may hold any text).
void render(const Template& t, const VariableSource* vars, unsigned* missing, std::string& out) {
  std::string s;
  t.render(vars, s, missing);
  append_escaped(out, s);
}

/// The template's value, raw (escape it where it goes into XML).
std::string rendered(const std::optional<Template>& t, const VariableSource* vars, unsigned* missing) {
  std::string s;
  if (t) t->render(vars, s, missing);
  return s;
}

std::string escaped(std::string_view in) {
  std::string s;
  append_escaped(s, in);
  return s;
}

std::string next_id(UserState& st) { return std::to_string(++st.next_id); }

std::string dest_name(const JabberOptions& o, const UserKey& key) {
  return key.id == UserKey::kNamed ? key.name : o.user_name(key.id);
}

void count(ConnectionServices* services, std::string_view name) {
  if (services) services->error(name);
}

// ts_user_server:get_online / get_offline / get_id / get_first -> the destination's username.
std::optional<std::string> choose_dest(UserState& st, Dest dest, ConnectionServices* services) {
  const JabberOptions& o = *st.options;
  JabberSession& user = *st.session;
  UserPool& pool = o.pool_of(user.vhost);
  switch (dest) {
    case Dest::online:
      if (auto k = pool.online_other(user.key)) return dest_name(o, *k);
      count(services, "no_online");
      return std::nullopt;
    case Dest::offline:
      if (auto id = pool.next_offline()) return o.user_name(*id);
      count(services, "no_offline");
      return std::nullopt;
    case Dest::random:
      if (!o.random_users.empty()) return o.random_users[pool.random_index(o.random_users.size())];
      if (auto id = pool.random_id()) return o.user_name(*id);
      return std::nullopt;  // Tsung logs "Can't find a random user" and sends nothing
    case Dest::unique:
      if (auto k = pool.first()) return dest_name(o, *k);
      return std::nullopt;
    case Dest::previous:
      if (user.previous) return user.previous;
      count(services, "no_previous");
      return std::nullopt;
  }
  return std::nullopt;
}

void iq_open(UserState& st, std::string& out, std::string_view type, std::string_view to = {}) {
  st.iq_id = next_id(st);
  out += "<iq ";
  if (!to.empty()) {
    out += "to='";
    append_escaped(out, to);
    out += "' ";
  }
  out.append("type='").append(type).append("' id='").append(st.iq_id).append("'>");
}

void pubsub_node_attr(const JabberRequest& r, std::string_view domain_name, std::string_view user,
                      const VariableSource* vars, unsigned* missing, std::string& out) {
  std::string domain = escaped(domain_name), user_escaped = escaped(user);
  if (r.node_user_root) {
    out.append(" node='/home/").append(domain).append("/").append(user_escaped).append("'");
    return;
  }
  if (!r.node) {
    if (r.type == Type::pubsub_subscribe)  // Tsung: node='/home/Domain/User/' without a node
      out.append(" node='/home/").append(domain).append("/").append(user_escaped).append("/'");
    else
      out += ' ';
    return;
  }
  std::string node = escaped(rendered(r.node, vars, missing));
  if (node.starts_with('/')) out.append(" node='").append(node).append("'");
  else out.append(" node='/home/").append(domain).append("/").append(user_escaped).append("/").append(node).append("'");
}

// <iq to='pubsub service' type='set' id=..><pubsub xmlns=..><ELEMENT node='..'
void pubsub_open(UserState& st, const JabberRequest& r, std::string_view ns, std::string_view element,
                 std::string_view user, const VariableSource* vars, unsigned* missing, std::string& out) {
  iq_open(st, out, "set", *st.options->pubsub_service);
  out.append("<pubsub xmlns='").append(ns).append("'><").append(element);
  pubsub_node_attr(r, st.options->domain_of(st.session->vhost), user, vars, missing, out);
}

constexpr std::string_view kPubsub = "http://jabber.org/protocol/pubsub";

// The user's identity, chosen at its first request (Tsung's get_message when id is undefined).
bool ensure_user(UserState& st, const JabberRequest& r, const VariableSource* vars, unsigned* missing,
                 ConnectionServices* services) {
  JabberSession& user = *st.session;
  if (user.have_user) return true;
  if (st.no_free_userid) return false;
  const JabberOptions& o = *st.options;
  if (!user.have_domain) {  // Tsung's choose_domain, before the id: a random line of vhost_file
    user.have_domain = true;
    if (!o.vhosts.empty()) user.vhost = UserPool::random_index(o.vhosts.size());
  }
  user.options = st.options;
  if (r.auth_username) {
    user.username = rendered(r.auth_username, vars, missing);
    user.passwd = rendered(r.auth_passwd, vars, missing);
    user.key = UserKey{UserKey::kNamed, user.username};
  } else {
    auto id = o.pool_of(user.vhost).take_idle();
    if (!id) {  // counted once, as error_no_free_userid, by JabberConnection::encode
      st.no_free_userid = true;
      return false;
    }
    user.key = UserKey{*id, {}};
    user.username = o.user_name(*id);
    user.passwd = o.user_passwd(*id);
  }
  user.have_user = true;
  user.in_pool = !r.auth_username;
  return true;
}

}  // namespace

JabberSession::~JabberSession() {
  if (in_pool && options && options->users) options->pool_of(vhost).remove_connected(key);
}

void UserState::attach(UserSession* slot) {
  if (auto* mine = dynamic_cast<JabberSession*>(slot)) {
    session = mine;
    owned.reset();  // (a copy the slot already took, or none)
    return;
  }
  if (!owned) owned = std::make_unique<JabberSession>();
  session = owned.get();
}

void append_escaped(std::string& out, std::string_view s) { out += report::html_escape(s); }

void append_stamp(std::string& out) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  out += "@@@" + std::to_string(node_hash()) + "," + std::to_string(us / 1'000'000'000'000) + ";" +
         std::to_string(us / 1'000'000 % 1'000'000) + ";" + std::to_string(us % 1'000'000) + "@@@";
}

std::optional<double> stamp_latency_ms(std::string_view text) {
  auto start = text.find("@@@");
  if (start == std::string_view::npos) return std::nullopt;
  auto end = text.find("@@@", start + 3);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view stamp = text.substr(start + 3, end - start - 3);
  auto comma = stamp.find(',');
  if (comma == std::string_view::npos || stamp.substr(0, comma) != std::to_string(node_hash())) return std::nullopt;
  std::uint64_t parts[3] = {0, 0, 0};
  int k = 0;
  for (char c : stamp.substr(comma + 1)) {
    if (c == ';') {
      if (++k > 2) return std::nullopt;
    } else if (c >= '0' && c <= '9') {
      parts[k] = parts[k] * 10 + static_cast<std::uint64_t>(c - '0');
    } else {
      return std::nullopt;
    }
  }
  if (k != 2) return std::nullopt;
  std::int64_t sent = static_cast<std::int64_t>((parts[0] * 1'000'000 + parts[1]) * 1'000'000 + parts[2]);
  std::int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  return static_cast<double>(now - sent) / 1000.0;
}

std::string sha1_hex(std::string_view in) { return digest_hex(in, EVP_sha1()); }
std::string md5_hex(std::string_view in) { return digest_hex(in, EVP_md5()); }

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

void encode_request(UserState& st, const JabberRequest& r, const VariableSource* vars, unsigned* missing,
                    ConnectionServices* services, std::string& out) {
  st.iq_id.clear();
  st.sent_chat = false;
  if (!st.session) st.attach(nullptr);
  if (!ensure_user(st, r, vars, missing, services)) return;
  const JabberOptions& o = *st.options;
  JabberSession& user = *st.session;
  const std::string domain = escaped(o.domain_of(user.vhost));
  const std::string username = escaped(user.username), passwd = escaped(user.passwd);
  auto resource = [&] {
    std::string s;
    render(r.resource, vars, missing, s);
    return s;
  };
  auto room = [&] { return escaped(rendered(r.room, vars, missing)); };
  auto nick = [&] { return escaped(rendered(r.nick, vars, missing)); };
  const std::string muc_service = o.muc_service ? escaped(*o.muc_service) : std::string();
  switch (r.type) {
    case Type::connect:
      if (r.auth_username) {
        o.pool_of(user.vhost).add_connected(user.key);
        user.in_pool = true;
      }
      if (r.version == "websocket") {  // Tsung 1.8: RFC 7395's framing element
        out.append("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='").append(domain).append("' version='1.0'/>");
        return;
      }
      out.append("<?xml version='1.0'?><stream:stream  id='").append(next_id(st)).append("' to='").append(domain);
      out.append("' xmlns='jabber:client' ");
      if (r.version != "legacy") out.append("version='").append(r.version).append("' ");
      out += "xmlns:stream='http://etherx.jabber.org/streams'>";
      return;
    case Type::close:
      o.pool_of(user.vhost).remove_connected(user.key);
      user.in_pool = false;
      out += r.version == "websocket" ? "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>" : "</stream:stream>";
      return;
    case Type::starttls:
      out += "<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>";
      return;
    case Type::wait:
      return;
    case Type::raw:
      if (r.data) r.data->render(vars, out, missing);  // raw: sent as given
      return;
    case Type::auth_get:
      iq_open(st, out, "get");
      out.append("<query xmlns='jabber:iq:auth'><username>").append(username).append("</username></query></iq>");
      return;
    case Type::auth_set_plain:
    case Type::registration:
      iq_open(st, out, "set");
      out.append("<query xmlns='jabber:iq:").append(r.type == Type::registration ? "register" : "auth").append("'>");
      out.append("<username>").append(username).append("</username><resource>").append(resource());
      out.append("</resource><password>").append(passwd).append("</password></query></iq>");
      return;
    case Type::auth_set_digest: {
      std::string sid;
      if (vars && !vars->append("sid", sid) && missing) ++*missing;
      iq_open(st, out, "set");
      out.append("<query xmlns='jabber:iq:auth'><username>").append(username).append("</username><resource>");
      out.append(resource()).append("</resource><digest>").append(sha1_hex(sid + user.passwd)).append("</digest></query></iq>");
      return;
    }
    case Type::auth_set_sip: {
      std::string nonce;
      if (vars && !vars->append("nonce", nonce) && missing) ++*missing;
      std::string raw_jid = user.username + "@" + o.domain_of(user.vhost);
      std::string ha1 = md5_hex(raw_jid + ":" + o.domain_of(user.vhost) + ":" + user.passwd);
      std::string integrity = md5_hex(nonce + ":" + md5_hex("REGISTER:" + raw_jid));
      std::string jid = escaped(raw_jid);
      nonce = escaped(nonce);
      std::string sip = md5_hex(ha1 + ":" + integrity);
      iq_open(st, out, "set");
      out.append("<query xmlns='jabber:iq:auth'><username>").append(jid).append("</username><resource>").append(resource());
      out.append("</resource><x xmlns='xmpp:assert' version='1.0'><ContextInfo><ServiceValue><Realm>").append(domain);
      out.append("</Realm></ServiceValue></ContextInfo><TokenInfo><SubjectValue><Username>").append(jid);
      out.append("</Username><Password type='sip-digest' encoding='hex'>").append(sip);
      out.append("</Password><Nonce encoding='hex'>").append(nonce).append("</Nonce><Integrity encoding='hex'>");
      out.append(integrity).append("</Integrity></SubjectValue></TokenInfo></x></query></iq>");
      return;
    }
    case Type::auth_sasl: {
      std::string plain;
      plain.append(1, '\0').append(user.username).append(1, '\0').append(user.passwd);
      out.append("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN' >").append(base64(plain)).append("</auth>");
      return;
    }
    case Type::auth_sasl_anonymous:
      out += "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>";
      return;
    case Type::auth_sasl_external:
      out += "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>";
      return;
    case Type::auth_sasl_bind:
      iq_open(st, out, "set");
      out.append("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>").append(resource()).append("</resource></bind></iq>");
      return;
    case Type::auth_sasl_session:
      iq_open(st, out, "set");
      out += "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>";
      return;
    case Type::presence:
      out.append("<presence id='").append(next_id(st)).append("' />");
      return;
    case Type::presence_initial:
      o.pool_of(user.vhost).add_to_online(user.key);
      out.append("<presence id='").append(next_id(st)).append("' />");
      return;
    case Type::presence_final:
      o.pool_of(user.vhost).remove_from_online(user.key);
      out += "<presence type='unavailable'/>";
      return;
    case Type::presence_broadcast:
      out.append("<presence id='").append(next_id(st)).append("'><show>").append(r.show).append("</show><status>");
      append_escaped(out, r.status);
      out += "</status></presence>";
      return;
    case Type::presence_directed: {
      auto dest = choose_dest(st, Dest::online, services);
      if (!dest) return;
      out.append("<presence id='").append(next_id(st)).append("' to='").append(escaped(*dest)).append("@").append(domain);
      out.append("'><show>").append(r.show).append("</show><status>");
      append_escaped(out, r.status);
      out += "</status></presence>";
      return;
    }
    case Type::presence_roster: {
      // Tsung's presence(roster, ..): a 'subscribed' presence to <destination>@<domain>, the
      // destination's name as written (default random), not a user it stands for.
      static constexpr std::string_view names[] = {"random", "online", "offline", "unique", "previous"};
      out.append("<presence id='").append(next_id(st)).append("' to='").append(names[static_cast<int>(r.dest)]);
      out.append("@").append(domain).append("' type='subscribed'/>");
      return;
    }
    case Type::presence_subscribe:
      if (!user.rosterjid) return;  // Tsung: "no jid set for presence subscribe, skip"
      out.append("<presence id='").append(next_id(st)).append("' to='").append(escaped(*user.rosterjid)).append("' type='subscribe'/>");
      return;
    case Type::chat: {
      auto dest = choose_dest(st, r.dest, services);
      if (!dest) return;
      user.previous = *dest;
      st.sent_chat = true;
      out.append("<message id='").append(next_id(st)).append("' to='").append(escaped(*dest)).append("@").append(domain);
      out += "' type='chat'><body>";
      if (r.data) render(*r.data, vars, missing, out);
      else append_body(out, r.stamped, r.size);
      out += "</body></message>";
      return;
    }
    case Type::roster_add: {
      auto dest = choose_dest(st, r.dest, services);
      if (!dest) return;
      user.rosterjid = *dest + "@" + o.domain_of(user.vhost);
      std::string jid = escaped(*user.rosterjid);
      iq_open(st, out, "set");
      out.append("<query xmlns='jabber:iq:roster'><item jid='").append(jid).append("' name='");
      out.append(jid).append("'><group>").append(escaped(r.group)).append("</group></item></query></iq>");
      return;
    }
    case Type::roster_rename:
      if (!user.rosterjid) return;
      iq_open(st, out, "set");
      out.append("<query xmlns='jabber:iq:roster'><item jid='").append(escaped(*user.rosterjid));
      out.append("' name='Tsung Testuser'><group>").append(escaped(r.group)).append("</group></item></query></iq>");
      return;
    case Type::roster_remove:
      if (!user.rosterjid) return;
      iq_open(st, out, "set");
      out.append("<query xmlns='jabber:iq:roster'><item jid='").append(escaped(*user.rosterjid));
      out += "' subscription='remove'/></query></iq>";
      return;
    case Type::roster_get:
      iq_open(st, out, "get");
      out += "<query xmlns='jabber:iq:roster'></query></iq>";
      return;
    case Type::muc_join:
      out.append("<presence to='").append(room()).append("@").append(muc_service);
      out.append("/").append(nick()).append("'><x xmlns='http://jabber.org/protocol/muc'/> </presence>");
      return;
    case Type::muc_chat:
      out.append("<message type='groupchat' to ='").append(room()).append("@");
      out.append(muc_service).append("'><body>");
      append_body(out, r.stamped, r.size);
      out += "</body></message>";
      return;
    case Type::muc_nick:
    case Type::muc_exit:
      out.append("<presence to='").append(room()).append("@").append(muc_service);
      out.append("/").append(nick()).append(r.type == Type::muc_exit ? "' type='unavailable'/>" : "'/>");
      return;
    case Type::pubsub_create:
      pubsub_open(st, r, kPubsub, "create", user.username, vars, missing, out);
      if (r.node_type) out.append(" type='").append(escaped(*r.node_type)).append("' ");
      out += "/><configure> <x xmlns='jabber:x:data' type='submit'>";
      if (r.data) r.data->render(vars, out, missing);  // the <field> elements, made (escaped) at load
      out += "</x></configure></pubsub></iq>";
      return;
    case Type::pubsub_delete:
      pubsub_open(st, r, "http://jabber.org/protocol/pubsub#owner", "delete", user.username, vars, missing, out);
      out += "/></pubsub></iq>";
      return;
    case Type::pubsub_subscribe:
    case Type::pubsub_unsubscribe: {
      auto to = choose_dest(st, r.dest, services);
      if (!to) return;
      pubsub_open(st, r, kPubsub, r.type == Type::pubsub_subscribe ? "subscribe" : "unsubscribe", *to, vars, missing, out);
      out.append(" jid='").append(username).append("@").append(domain).append("'");
      if (r.subid) out.append(" subid='").append(escaped(rendered(r.subid, vars, missing))).append("' ");
      out += "/></pubsub></iq>";
      return;
    }
    case Type::pubsub_publish:
      pubsub_open(st, r, kPubsub, "publish", user.username, vars, missing, out);
      out += "><item><entry>";
      append_body(out, r.stamped, r.size);
      out += "</entry></item></publish></pubsub></iq>";
      return;
    case Type::privacy_get_names:
      st.iq_id = "getlist";
      out.append("<iq from='").append(username).append("@").append(domain).append("/tsung' type='get' id='getlist'>");
      out += "<query xmlns='jabber:iq:privacy'/></iq>";
      return;
    case Type::privacy_set_active:
      st.iq_id = "active1";
      out.append("<iq from='").append(username).append("@").append(domain).append("/tsung' type='set' id='active1'>");
      out.append("<query xmlns='jabber:iq:privacy'><active name='").append(username).append("@").append(domain);
      out += "_list'/></query></iq>";
      return;
    case Type::ping: {
      std::string to = o.domain_of(user.vhost);
      if (r.dest == Dest::online) {
        auto dest = choose_dest(st, Dest::online, services);
        if (!dest) return;
        to = *dest + "@" + o.domain_of(user.vhost);
      }
      st.iq_id = r.data ? rendered(r.data, vars, missing) : "ping1";
      out.append("<iq xml:lang='en' to='").append(escaped(to)).append("' from='").append(username).append("@").append(domain);
      out.append("' type='get' id='").append(escaped(st.iq_id)).append("'><ping xmlns='urn:xmpp:ping'/></iq>");
      return;
    }
  }
}

}  // namespace loadctl::jabber
