#include "jabber_connection.hpp"

namespace loadctl::jabber {

JabberConnection::JabberConnection(const JabberOptions* options, std::size_t max_frame_size, bool bidi)
    : max_frame_size_(max_frame_size), bidi_(bidi) {
  user_.options = options;
}

bool JabberConnection::on_open(ConnectionServices& s) {
  // Tsung's own: xmpp_msg_latency (stamped messages), xmpp_starttls. loadctl's: chat messages
  // sent and received, iq errors.
  latency_ = s.metric("xmpp_msg_latency", ConnMetricKind::sample);
  starttls_ = s.metric("xmpp_starttls", ConnMetricKind::sample);
  msg_sent_ = s.metric("xmpp_chat_sent", ConnMetricKind::counter);
  msg_received_ = s.metric("xmpp_chat_received", ConnMetricKind::counter);
  iq_error_ = s.metric("xmpp_iq_error", ConnMetricKind::counter);
  return false;
}

void JabberConnection::encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx,
                              std::string& out) {
  const auto& request = static_cast<const JabberRequest&>(spec);
  user_.attach(ctx.session);
  std::size_t before = out.size();
  bool had_no_free_userid = user_.no_free_userid;
  encode_request(user_, request, ctx.vars, ctx.missing_vars, &s, out);
  sent_nothing_ = false;
  if (user_.no_free_userid) {
    // Tsung: exit(no_free_userid); counted now, once (a no_ack request's user may end before
    // the timer fires), and the timer ends the user.
    if (!had_no_free_userid) s.error("no_free_userid");
    s.set_timer(0);
    return;
  }
  // Tsung skips some requests (no roster jid, nobody online, ...): nothing to wait for.
  // (ack="global": the controller's release completes it.)
  if (out.size() == before && request.awaits_response() && request.type != Type::wait && request.type != Type::raw &&
      request.ack != Ack::global) {
    sent_nothing_ = true;
    s.set_timer(0);
  }
  if (user_.sent_chat) s.count(msg_sent_);
  sent_at_ = std::chrono::steady_clock::now();
  header_len_ = 0;
}

ConnEvent JabberConnection::on_timer(ConnectionServices&) {
  if (user_.no_free_userid) return ConnEvent::fatal_counted;  // error_no_free_userid, counted at encode
  if (sent_nothing_) {
    sent_nothing_ = false;
    return ConnEvent::complete;
  }
  return ConnEvent::none;
}

void JabberConnection::give_session(ResponseInfo& info) {
  if (user_.owned && info.session && !*info.session) {
    user_.session = user_.owned.get();
    *info.session = std::move(user_.owned);
  }
}

ConnEvent JabberConnection::on_tls_ready(ConnectionServices& s) {
  s.sample(starttls_, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent_at_).count());
  return ConnEvent::complete;
}

bool JabberConnection::on_eof(const RequestSpec* pending, ResponseInfo&) {
  return pending && static_cast<const JabberRequest*>(pending)->type == Type::close;
}

void JabberConnection::pushed(ConnectionServices& s, const StreamUnit& unit) {
  if (unit.name == "message") {
    // A bounced message (type='error') carries our own body back: not a received chat.
    if (unit.text.find("<body") != std::string_view::npos && attribute(unit.start_tag, "type") != "error")
      s.count(msg_received_);
    if (!bidi_) return;  // Tsung samples latency in bidi sessions only (parse_bidi)
    if (auto ms = stamp_latency_ms(unit.text)) s.sample(latency_, *ms);
  } else if (!bidi_) {
    return;  // Tsung answers subscriptions and pings in bidi sessions only
  } else if (unit.name == "presence") {
    if (attribute(unit.start_tag, "type") == "subscribe") {  // Tsung's presence_bidi
      std::string_view from = attribute(unit.start_tag, "from");
      if (from.empty()) return;
      std::string reply = "<presence to='";
      append_escaped(reply, from);
      s.send(reply + "' type='subscribed'/>");
    }
  } else if (unit.name == "iq") {
    if (attribute(unit.start_tag, "type") == "get" && unit.text.find("<ping") != std::string_view::npos) {
      std::string_view from = attribute(unit.start_tag, "from"), id = attribute(unit.start_tag, "id");
      if (from.empty() || id.empty()) return;  // Tsung's ping_bidi
      std::string reply = "<iq id='";
      append_escaped(reply, id);
      reply += "' to='";
      append_escaped(reply, from);
      s.send(reply + "' type='result'></iq>");
    }
  }
}

ConnResult JabberConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                     ResponseInfo& info) {
  give_session(info);
  std::string_view bytes(data.data(), data.size());
  for (;;) {
    std::size_t held = header_len_;
    ConnResult r = next_unit(s, pending, bytes, info);
    // A connect's stream header was just seen: its features may be in the same bytes.
    if (r.consumed != 0 || r.event != ConnEvent::none || header_len_ == held) return r;
  }
}

ConnResult JabberConnection::next_unit(ConnectionServices& s, const RequestSpec* pending, std::string_view bytes,
                                       ResponseInfo& info) {
  std::string_view rest = bytes.substr(header_len_);
  StreamUnit unit;
  StreamScanner::Status status = scanner_.next(rest, unit);
  if (status == StreamScanner::Status::error) {
    info.error = "xmpp_bad_stream";
    return {0, ConnEvent::fatal};
  }
  if (status == StreamScanner::Status::need_more) {
    if (rest.size() > max_frame_size_) {
      info.error = "xmpp_element_too_large";
      return {0, ConnEvent::fatal};
    }
    return {0, ConnEvent::none};
  }
  scanner_.reset();
  std::size_t consumed = header_len_ + unit.length;
  if (unit.kind == StreamUnit::Kind::element && unit.name == "stream:error") {
    header_len_ = 0;
    info.error = "xmpp_stream_error";
    return {consumed, ConnEvent::fatal};
  }
  if (pending) return unit_for(s, *static_cast<const JabberRequest*>(pending), unit, consumed, info);
  header_len_ = 0;
  if (unit.kind == StreamUnit::Kind::stream_close) return {consumed, ConnEvent::close};
  pushed(s, unit);
  return {consumed, ConnEvent::none};
}

ConnResult JabberConnection::unit_for(ConnectionServices& s, const JabberRequest& r, const StreamUnit& unit,
                                      std::size_t consumed, ResponseInfo& info) {
  using Kind = StreamUnit::Kind;
  auto done = [&](ConnEvent e) {
    header_len_ = 0;
    return ConnResult{consumed, e};
  };
  if (unit.kind == Kind::declaration) return done(ConnEvent::none);
  if (r.ack == Ack::global) {  // the engine completes it at the controller's release: all is pushed
    if (unit.kind == Kind::stream_close) return done(ConnEvent::close);
    if (unit.kind == Kind::element) pushed(s, unit);
    return done(ConnEvent::none);
  }
  if (r.regexp) {  // <jabber regexp="..">: the first element matching it is the answer
    if (r.regexp->search(unit.text)) {
      if (unit.kind == Kind::element) pushed(s, unit);  // as Tsung: also handled as received
      return done(ConnEvent::complete);
    }
    if (unit.kind == Kind::stream_close) return done(ConnEvent::close);
    pushed(s, unit);
    return done(ConnEvent::none);
  }
  // ack="parse" without regexp: Tsung's parse/2 takes the first data received as the answer.
  Awaits awaits = r.ack == Ack::parse ? Awaits::any : r.awaits();
  if (unit.kind == Kind::stream_close) return done(ConnEvent::close);
  switch (awaits) {
    case Awaits::any:
      pushed(s, unit);
      return done(ConnEvent::complete);
    case Awaits::stream_end:
      break;
    case Awaits::stream:
      if (unit.kind == Kind::stream_open) {
        if (r.version == "legacy") return done(ConnEvent::complete);
        header_len_ = consumed;  // keep it unconsumed: header and features are the answer
        return {0, ConnEvent::none};
      }
      if (header_len_ && unit.name == "stream:features") return done(ConnEvent::complete);
      break;
    case Awaits::iq:
      if (unit.name == "iq" && !user_.iq_id.empty() && attribute(unit.start_tag, "id") == user_.iq_id) {
        std::string_view type = attribute(unit.start_tag, "type");
        if (type == "error") {
          if (r.is_auth()) {
            // Tsung completes the request on this data (matches and dyn_variables see it).
            s.error("xmpp_auth_failed");
            return done(ConnEvent::complete);
          }
          s.count(iq_error_);
        }
        if (type == "result" || type == "error") return done(ConnEvent::complete);
      }
      break;
    case Awaits::sasl:
      if (unit.name == "success") return done(ConnEvent::complete);
      if (unit.name == "failure") {
        s.error("xmpp_auth_failed");
        return done(ConnEvent::complete);
      }
      break;
    case Awaits::proceed:
      if (unit.name == "proceed") {
        s.start_tls();
        return done(ConnEvent::none);  // on_tls_ready completes the request
      }
      if (unit.name == "failure") {
        info.error = "xmpp_starttls_failed";
        return done(ConnEvent::failed);
      }
      break;
  }
  if (header_len_) {  // a header, then something else than features: the header answers
    pushed(s, unit);
    return done(ConnEvent::complete);
  }
  pushed(s, unit);
  return done(ConnEvent::none);
}

}  // namespace loadctl::jabber
