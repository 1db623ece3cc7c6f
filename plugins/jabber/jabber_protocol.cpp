// The jabber plugin (Tsung's ts_jabber): <jabber type=".." ack=".."/> requests and the
// ts_jabber options, over a connection-level XMPP client (jabber_connection.cpp).
#include <fmt/format.h>

#include <map>
#include <set>
#include <stdexcept>

#include "jabber_connection.hpp"
#include "jabber_request.hpp"
#include "loadctl/data_files.hpp"
#include "loadctl/dynamics.hpp"
#include "jabber_bosh.hpp"
#include "jabber_ws.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::jabber {
namespace {

struct TypeName {
  std::string_view name;
  Type type;
};

constexpr TypeName kTypes[] = {
    {"connect", Type::connect}, {"close", Type::close}, {"starttls", Type::starttls}, {"wait", Type::wait},
    {"raw", Type::raw}, {"auth_get", Type::auth_get}, {"auth_set_plain", Type::auth_set_plain},
    {"auth_set_digest", Type::auth_set_digest}, {"auth_set_sip", Type::auth_set_sip}, {"auth_sasl", Type::auth_sasl},
    {"auth_sasl_anonymous", Type::auth_sasl_anonymous}, {"auth_sasl_external", Type::auth_sasl_external},
    {"auth_sasl_bind", Type::auth_sasl_bind}, {"auth_sasl_session", Type::auth_sasl_session},
    {"register", Type::registration}, {"presence", Type::presence}, {"presence:initial", Type::presence_initial},
    {"presence:final", Type::presence_final}, {"presence:broadcast", Type::presence_broadcast},
    {"presence:directed", Type::presence_directed}, {"presence:subscribe", Type::presence_subscribe},
    {"presence:roster", Type::presence_roster},
    {"chat", Type::chat}, {"iq:roster:add", Type::roster_add}, {"iq:roster:rename", Type::roster_rename},
    {"iq:roster:remove", Type::roster_remove}, {"iq:roster:get", Type::roster_get}, {"muc:join", Type::muc_join},
    {"muc:chat", Type::muc_chat}, {"muc:nick", Type::muc_nick}, {"muc:exit", Type::muc_exit},
    {"pubsub:create", Type::pubsub_create}, {"pubsub:delete", Type::pubsub_delete},
    {"pubsub:subscribe", Type::pubsub_subscribe}, {"pubsub:unsubscribe", Type::pubsub_unsubscribe},
    {"pubsub:publish", Type::pubsub_publish}, {"privacy:get_names", Type::privacy_get_names},
    {"privacy:set_active", Type::privacy_set_active}, {"ping", Type::ping},
};

bool is_muc(Type t) { return t == Type::muc_join || t == Type::muc_chat || t == Type::muc_nick || t == Type::muc_exit; }
bool is_pubsub(Type t) {
  return t == Type::pubsub_create || t == Type::pubsub_delete || t == Type::pubsub_subscribe ||
         t == Type::pubsub_unsubscribe || t == Type::pubsub_publish;
}

// pubsub:create data: Tsung reads an Erlang term, [{'pubsub#access_model','open'}, ...], and
// makes one <field var='..'><value>..</value></field> per pair (a list value gives several).
class ErlangFields {
 public:
  explicit ErlangFields(std::string_view text) : s_(text) {}
  std::string parse() {
    std::string out;
    expect('[');
    if (!peek(']')) {
      do {
        expect('{');
        std::string var = atom();
        expect(',');
        out += "<field var='" + var + "'>";
        if (peek('[')) {
          expect('[');
          if (!peek(']')) {
            do out += "<value>" + atom() + "</value>";
            while (accept(','));
          }
          expect(']');
        } else {
          out += "<value>" + atom() + "</value>";
        }
        expect('}');
        out += "</field>";
      } while (accept(','));
    }
    expect(']');
    expect('.');
    skip();
    if (i_ != s_.size()) throw std::invalid_argument("text after the term");
    return out;
  }

 private:
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool peek(char c) {
    skip();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool accept(char c) {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) throw std::invalid_argument(fmt::format("expected '{}' at offset {}", c, i_));
  }
  std::string atom() {
    skip();
    std::string a;
    if (i_ < s_.size() && s_[i_] == '\'') {
      auto end = s_.find('\'', i_ + 1);
      if (end == std::string_view::npos) throw std::invalid_argument("unterminated quoted atom");
      a = s_.substr(i_ + 1, end - i_ - 1);
      i_ = end + 1;
    } else {
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '@')) a += s_[i_++];
      if (a.empty() || !std::islower(static_cast<unsigned char>(a[0])))
        throw std::invalid_argument(fmt::format("expected an atom at offset {}", i_));
    }
    if (a.find_first_of("<&'\"") != std::string::npos) throw std::invalid_argument("atom '" + a + "' needs XML escaping");
    return a;
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

class JabberProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "jabber"; }
  std::string_view session_type() const override { return "ts_jabber"; }
  bool connection_level() const override { return true; }

  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    // The loader gives every scenario its options (parse_options({}) when it sets none); without
    // them (tools, tests) the connection gets defaults of its own.
    std::shared_ptr<const JabberOptions> own = ctx.options ? nullptr : defaults();
    const JabberOptions* options = own ? own.get() : static_cast<const JabberOptions*>(ctx.options);
    options->users->set_slice(ctx.agent_index, ctx.agent_count);
    for (const auto& pool : options->vhost_pools) pool->set_slice(ctx.agent_index, ctx.agent_count);
    auto conn = std::make_unique<JabberConnection>(options, ctx.max_frame_size, ctx.bidi);
    conn->keep(std::move(own));
    if (ctx.server_type == "websocket") return make_ws_connection(std::move(conn), ctx);
    if (ctx.server_type == "bosh") return make_bosh_connection(std::move(conn), ctx);
    return conn;
  }

  std::span<const std::string_view> server_types() const override {
    static constexpr std::string_view types[] = {"websocket", "bosh"};
    return types;
  }

  std::shared_ptr<const JabberOptions> defaults() const {
    return std::static_pointer_cast<const JabberOptions>(parse_options({}));
  }

  std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node> nodes) const override {
    return parse_options_with_files(nodes, {});
  }

  std::shared_ptr<const ProtocolOptions> parse_options_with_files(std::span<const pugi::xml_node> nodes,
                                                                  const std::vector<DataFile>& files) const override {
    auto o = std::make_shared<JabberOptions>();
    std::string delimiter = ";";
    const DataFile *random_file = nullptr, *offline_file = nullptr, *vhost_file = nullptr;
    pugi::xml_node offline_node, vhost_node;
    auto file = [&](XmlElement& el) -> const DataFile* {
      std::string id = el.required("value");
      if (const DataFile* f = find_data_file(files, id)) return f;
      el.fail("value", fmt::format("no <option name=\"file_server\" id=\"{}\"> in this scenario", id));
      return nullptr;
    };
    for (pugi::xml_node node : nodes) {
      XmlElement el(node);
      el.ignore({"type"});
      std::string name = el.required("name");
      if (name == "username") o->username = el.required("value");
      else if (name == "passwd") o->passwd = el.required("value");
      else if (name == "domain") o->domain = el.required("value"), o->domain_set = true;
      else if (name == "userid_max") o->userid_max = static_cast<std::uint64_t>(el.integer("value", std::nullopt, 0, 100'000'000));
      else if (name == "muc_service") o->muc_service = el.optional("value", "conference.localhost");
      else if (name == "pubsub_service") o->pubsub_service = el.optional("value", "pubsub.localhost");
      else if (name == "random_from_fileid") random_file = file(el);
      else if (name == "offline_from_fileid") offline_file = file(el), offline_node = node;
      else if (name == "fileid_delimiter") {
        delimiter = el.optional("value", ";");
        if (delimiter.empty()) el.fail("value", "empty fileid_delimiter");
      }
      else if (name == "vhost_file") vhost_file = file(el), vhost_node = node;
      else
        el.fail("name", fmt::format("unknown ts_jabber option '{}' (expected username, passwd, domain, "
                                    "userid_max, muc_service, pubsub_service, random_from_fileid, "
                                    "offline_from_fileid, fileid_delimiter or global_number)", name));
      el.finish();
      el.children({});
    }
    // Tsung's ts_user_server: a random user is a line's first field; an offline one its first
    // two (a line with fewer is refused: Tsung's user server crashes on it); a name on several
    // lines is one user (its first line's password).
    if (random_file)
      for (std::string_view line : random_file->lines) o->random_users.emplace_back(take_field(line, delimiter));
    if (offline_file) {
      std::map<std::string, std::string> users;
      for (const std::string& line : offline_file->lines) {
        std::string_view rest = line;
        std::string_view name = take_field(rest, delimiter);
        if (line.find(delimiter) == std::string::npos)
          fail_at(offline_node, fmt::format("file_server '{}': line '{}' has no password field (offline_from_fileid "
                                            "reads user{}password)", offline_file->id, line, delimiter));
        users.emplace(std::string(name), std::string(take_field(rest, delimiter)));
      }
      o->file_users.assign(users.begin(), users.end());
    }
    std::vector<std::string> names;
    for (const auto& user : o->file_users) names.push_back(user.first);
    o->users = std::make_unique<UserPool>(o->userid_max, names);
    // Tsung's vhost_file: a user server per line (domain), each with ids 1..userid_max; a domain
    // option, wherever it is, wins for the users' domain (Tsung keeps the first of the two).
    if (vhost_file && !o->domain_set) {
      if (offline_file)
        fail_at(vhost_node, "not supported yet: vhost_file with offline_from_fileid (Tsung: \"FIXME: handle vhost\")");
      std::map<std::string_view, std::size_t> pools;  // domain -> its pool
      for (const std::string& line : vhost_file->lines) {
        if (line.empty()) continue;
        auto [it, added] = pools.emplace(line, o->vhost_pools.size());
        if (added) o->vhost_pools.push_back(std::make_unique<UserPool>(o->userid_max));
        o->vhosts.push_back(line);
        o->vhost_pool.push_back(it->second);
      }
      if (o->vhosts.empty()) fail_at(vhost_node, fmt::format("file_server '{}' has no domain for vhost_file", vhost_file->id));
    }
    return o;
  }

  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node node, const RequestParseContext& ctx) const override {
    auto r = std::make_shared<JabberRequest>();
    if (!ctx.options) r->own_options = defaults();
    r->options = ctx.options ? static_cast<const JabberOptions*>(ctx.options) : r->own_options.get();
    XmlElement el(node);
    r->type_name = el.optional("type", "chat");
    const TypeName* found = nullptr;
    for (const TypeName& t : kTypes)
      if (t.name == r->type_name) found = &t;
    if (!found) {
      el.fail("type", fmt::format("unknown jabber type '{}'", r->type_name));
    }
    r->type = found->type;
    std::string ack = el.choice("ack", {"local", "no_ack", "global", "parse", "bidi_ack"}, "");
    if (!el.has("ack")) fail_at(node, "missing attribute ack (local | no_ack | global | parse | bidi_ack)");
    r->ack = ack == "local" ? Ack::local : ack == "no_ack" ? Ack::no_ack : ack == "global" ? Ack::global
             : ack == "parse" ? Ack::parse : Ack::bidi_ack;
    if (r->ack == Ack::bidi_ack && r->type != Type::starttls)
      el.fail("ack", "not supported yet: ack=\"bidi_ack\" other than for type=\"starttls\"");
    if (r->type == Type::starttls && r->ack != Ack::local && r->ack != Ack::bidi_ack)
      el.fail("ack", fmt::format("not supported yet: starttls with ack=\"{}\" (use local or bidi_ack)", ack));
    // Attributes only some types read: refused on the others (Tsung ignores them there).
    auto only_for = [&](std::initializer_list<const char*> attrs, bool used) {
      for (const char* a : attrs)
        if (!used && el.has(a))
          el.fail(a, fmt::format("not supported yet: attribute {} for jabber type '{}'", a, r->type_name));
    };
    Type t = r->type;
    only_for({"size", "stamped"}, t == Type::chat || t == Type::muc_chat || t == Type::pubsub_publish);
    only_for({"show", "status"}, t == Type::presence_broadcast || t == Type::presence_directed);
    only_for({"group"}, t == Type::roster_add || t == Type::roster_rename);
    only_for({"room", "nick"}, is_muc(t));
    only_for({"node", "subid", "node_type"}, is_pubsub(t));
    only_for({"subid"}, t == Type::pubsub_subscribe || t == Type::pubsub_unsubscribe);
    only_for({"node_type"}, t == Type::pubsub_create);
    only_for({"version"}, t == Type::connect || t == Type::close);
    std::string dest = el.choice("destination", {"random", "online", "offline", "unique", "previous"}, "random");
    r->dest = dest == "online" ? Dest::online : dest == "offline" ? Dest::offline : dest == "unique" ? Dest::unique
              : dest == "previous" ? Dest::previous : Dest::random;
    if (el.has("destination")) {
      bool ok = r->type == Type::chat || r->type == Type::presence_roster || (r->type == Type::ping && r->dest == Dest::online) ||
                ((r->type == Type::roster_add) && (r->dest == Dest::online || r->dest == Dest::offline)) ||
                ((r->type == Type::pubsub_subscribe || r->type == Type::pubsub_unsubscribe) &&
                 r->dest != Dest::unique && r->dest != Dest::previous);
      if (!ok) el.fail("destination", fmt::format("not supported yet: destination=\"{}\" for type '{}'", dest, r->type_name));
    } else if (r->type == Type::roster_add) {
      el.fail("destination", "iq:roster:add needs destination=\"online\" or \"offline\"");
    }
    r->size = static_cast<std::size_t>(el.integer("size", 0, 0, 16 << 20));
    r->stamped = el.boolean("stamped", false);
    if (el.has("data")) r->data = el.template_attr("data", ctx.subst);
    r->show = el.choice("show", {"away", "chat", "dnd", "xa"}, "chat");
    r->status = el.optional("status", "Available");
    r->resource = el.template_attr("resource", ctx.subst, "tsung");
    if (el.has("room")) r->room = el.template_attr("room", ctx.subst);
    if (el.has("nick")) r->nick = el.template_attr("nick", ctx.subst);
    r->group = el.optional("group", "Tsung Group");
    if (el.has("node")) {
      std::string node_text = el.optional("node");
      if (node_text.empty()) r->node_user_root = true;
      else r->node = el.template_attr("node", ctx.subst);
    }
    r->node_type = el.maybe("node_type");
    if (el.has("subid")) r->subid = el.template_attr("subid", ctx.subst);
    r->version = el.optional("version", "1.0");
    if (auto re = el.maybe("regexp")) {
      try {
        r->regexp = std::make_shared<Regex>(*re);
      } catch (const std::invalid_argument& e) {
        el.fail("regexp", std::string("bad regexp: ") + e.what());
      }
      if (r->ack == Ack::global) el.fail("regexp", "not supported yet: regexp with ack=\"global\"");
    }
    // starttls client certificates (Tsung passes them to ssl:connect)
    el.unsupported({"cacertfile", "keyfile", "keypass", "certfile"});
    // DTD attributes Tsung's ts_config_jabber never reads: no effect in Tsung either.
    el.ignore({"id", "send_version"});
    el.finish();

    if (is_muc(r->type)) {
      if (!r->options->muc_service)
        fail_at(node, fmt::format("jabber type '{}' needs <option type=\"ts_jabber\" name=\"muc_service\" value=\"..\"/>", r->type_name));
      if (!r->room) fail_at(node, fmt::format("jabber type '{}' needs attribute room", r->type_name));
      if (r->type != Type::muc_chat && !r->nick) fail_at(node, fmt::format("jabber type '{}' needs attribute nick", r->type_name));
    }
    if (is_pubsub(r->type) && !r->options->pubsub_service)
      fail_at(node, fmt::format("jabber type '{}' needs <option type=\"ts_jabber\" name=\"pubsub_service\" value=\"..\"/>", r->type_name));
    if (r->type == Type::pubsub_create && r->data) {
      if (!r->data->is_literal()) el.fail("data", "not supported yet: %%_variables%% in pubsub:create data");
      try {
        r->data = Template(ErlangFields(r->data->literal()).parse(), false);
      } catch (const std::invalid_argument& e) {
        el.fail("data", std::string("pubsub:create data: expected an Erlang list of {field, value} tuples: ") + e.what());
      }
    }
    if (r->data && r->type != Type::chat && r->type != Type::raw && r->type != Type::ping && r->type != Type::pubsub_create)
      el.fail("data", fmt::format("not supported yet: attribute data for jabber type '{}'", r->type_name));

    for (pugi::xml_node auth : el.children({"xmpp_authenticate"})) {
      XmlElement a(auth);
      r->auth_username = a.template_attr("username", ctx.subst);
      r->auth_passwd = a.template_attr("passwd", ctx.subst);
      if (!a.has("username") || !a.has("passwd")) fail_at(auth, "xmpp_authenticate needs username and passwd");
      a.finish();
    }
    return r;
  }
};

}  // namespace

Awaits JabberRequest::awaits() const {
  switch (type) {
    case Type::connect: return Awaits::stream;
    case Type::close: return Awaits::stream_end;
    case Type::starttls: return Awaits::proceed;
    case Type::auth_sasl: case Type::auth_sasl_anonymous: case Type::auth_sasl_external: return Awaits::sasl;
    case Type::auth_get: case Type::auth_set_plain: case Type::auth_set_digest: case Type::auth_set_sip:
    case Type::auth_sasl_bind: case Type::auth_sasl_session: case Type::registration:
    case Type::roster_add: case Type::roster_rename: case Type::roster_remove: case Type::roster_get:
    case Type::pubsub_create: case Type::pubsub_delete: case Type::pubsub_subscribe: case Type::pubsub_unsubscribe:
    case Type::pubsub_publish: case Type::privacy_get_names: case Type::privacy_set_active: case Type::ping:
      return Awaits::iq;
    default: return Awaits::any;
  }
}

bool JabberRequest::is_auth() const {
  return type == Type::auth_set_plain || type == Type::auth_set_digest || type == Type::auth_set_sip;
}

void JabberRequest::encode(const EncodeContext& ctx, std::string& out) const {
  UserState state;
  state.options = options;
  encode_request(state, *this, ctx.vars, ctx.missing_vars, nullptr, out);
}

}  // namespace loadctl::jabber

void loadctl_register_jabber(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::jabber::JabberProtocol>());
}
