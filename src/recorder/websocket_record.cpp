#include "recorder/websocket_record.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

namespace loadctl::recorder {

bool WsFrameScanner::feed(std::string_view bytes, std::vector<Message>& out) {
  std::size_t i = 0;
  while (!broken_ && i < bytes.size()) {
    if (!in_payload_) {
      header_.push_back(bytes[i++]);
      std::size_t need = 2;
      if (header_.size() >= 2) {
        unsigned len7 = static_cast<unsigned char>(header_[1]) & 0x7f;
        need += (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
      }
      if (header_.size() < need) continue;
      auto b0 = static_cast<unsigned char>(header_[0]), b1 = static_cast<unsigned char>(header_[1]);
      fin_ = b0 & 0x80;
      frame_opcode_ = b0 & 0x0f;
      masked_ = b1 & 0x80;
      std::uint64_t len = b1 & 0x7f;
      std::size_t at = 2;
      if (len >= 126) {
        std::size_t n = len == 126 ? 2 : 8;
        len = 0;
        for (std::size_t k = 0; k < n; ++k) len = len << 8 | static_cast<unsigned char>(header_[at++]);
      }
      if (masked_) std::copy_n(header_.data() + at, 4, reinterpret_cast<char*>(mask_));
      header_.clear();
      mask_at_ = 0;
      bool control = frame_opcode_ >= 8;
      // RSV bits (an extension: none is let through), masking on the wrong side, bad opcodes.
      if ((b0 & 0x70) || masked_ != keep_ || (control && (!fin_ || len > 125)) || (frame_opcode_ > 2 && frame_opcode_ < 8) ||
          frame_opcode_ > 10 || (frame_opcode_ == 0 && !in_message_) || ((frame_opcode_ == 1 || frame_opcode_ == 2) && in_message_)) {
        broken_ = true;
        break;
      }
      if (frame_opcode_ == 1 || frame_opcode_ == 2) {
        message_ = Message{frame_opcode_, {}, 0, false};
        in_message_ = true;
      }
      remaining_ = len;
      in_payload_ = true;
    } else {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size() - i));
      if (frame_opcode_ < 8) {
        message_.size += n;
        if (keep_ && !message_.too_large && message_.size > kMaxRecordedMessage) {
          message_.too_large = true;
          std::string().swap(message_.payload);
        }
        if (keep_ && !message_.too_large)
          for (std::size_t k = 0; k < n; ++k) message_.payload.push_back(static_cast<char>(bytes[i + k] ^ mask_[mask_at_++ % 4]));
      }
      i += n;
      remaining_ -= n;
    }
    if (in_payload_ && remaining_ == 0) {  // the frame ended
      in_payload_ = false;
      if (frame_opcode_ == 8) {
        out.push_back(Message{8, {}, 0, false});
      } else if (frame_opcode_ < 8 && fin_) {
        out.push_back(std::move(message_));
        message_ = {};
        in_message_ = false;
      }
    }
  }
  return !broken_;
}

namespace {

std::string attribute(const std::string& value) {
  if (auto escaped = xml_escape(value)) return *escaped;
  throw std::runtime_error("not XML text: " + value);
}

}  // namespace

WebSocketRecorder::WebSocketRecorder(SessionWriter& main, const std::string& origin, const std::string& path,
                                     const std::string& subprotocol) {
  namespace fs = std::filesystem;
  if (main.path() == "-") throw std::runtime_error("the recording goes to standard output: no file next to it");
  std::string base = fs::absolute(main.path()).string();
  if (base.ends_with(".xml")) base.resize(base.size() - 4);
  SessionWriter::Options options;
  options.session_type = "ts_websocket";
  options.thinktime_low = main.options().thinktime_low;
  for (unsigned n = 1; !writer_; ++n) {  // the next -wsN free (neither the file nor its .tmp)
    options.path = fmt::format("{}-ws{}.xml", base, n);
    options.session_name = fmt::format("{}-ws{}", main.options().session_name, n);
    std::error_code ec;
    if (fs::exists(fs::symlink_status(options.path, ec)) || fs::exists(fs::symlink_status(options.path + ".tmp", ec))) {
      if (n >= 100000) throw std::runtime_error("no free name for " + options.path);
      continue;
    }
    writer_ = std::make_unique<SessionWriter>(options);
  }
  writer_->record(fmt::format("<request><websocket type=\"connect\" path=\"{}\"{}></websocket></request>", attribute(path),
                              subprotocol.empty() ? "" : fmt::format(" subprotocols=\"{}\"", attribute(subprotocol))));
  main.comment(fmt::format("WebSocket {}{} recorded as a ts_websocket session (a Tsung session has one type) in {}",
                           origin, path, writer_->path()));
}

WebSocketRecorder::~WebSocketRecorder() { finish(); }

void WebSocketRecorder::from_server(std::string_view bytes) {
  std::vector<WsFrameScanner::Message> messages;
  server_.feed(bytes, messages);
  for (const auto& m : messages)
    if (m.opcode != 8) ++server_messages_;
}

void WebSocketRecorder::from_client(std::string_view bytes, Clock::time_point at) {
  if (finished_ || closed_ || broken_) return;
  std::vector<WsFrameScanner::Message> messages;
  if (!client_.feed(bytes, messages)) {
    broken_ = true;
    writer_->comment("the client's frames could not be read (not RFC 6455 as expected): what follows is not recorded");
  }
  for (auto& m : messages) {
    flush_pending(server_messages_ > server_messages_at_pending_);
    if (m.opcode == 8) {
      writer_->record("<request><websocket type=\"close\"></websocket></request>", at);
      closed_ = true;
      return;
    }
    const char* frame = m.opcode == 1 ? "text" : "binary";
    std::optional<std::string> text = m.too_large ? std::nullopt : xml_escape(m.payload);
    if (!text) {
      writer_->comment(fmt::format("a {} message of {} bytes from the client is not recorded ({})", frame, m.size,
                                   m.too_large ? fmt::format("over {} KiB", kMaxRecordedMessage / 1024) : "not XML text"));
      continue;
    }
    pending_ = Pending{fmt::format("<request><websocket type=\"message\" frame=\"{}\"", frame),
                       fmt::format(">{}</websocket></request>", *text), at};
    server_messages_at_pending_ = server_messages_;
  }
}

void WebSocketRecorder::flush_pending(bool answered) {
  if (!pending_) return;
  writer_->record(pending_->head + (answered ? "" : " ack=\"no_ack\"") + pending_->tail, pending_->at);
  pending_.reset();
}

void WebSocketRecorder::finish() noexcept {
  if (finished_ || !writer_) return;
  finished_ = true;
  try {
    flush_pending(server_messages_ > server_messages_at_pending_);
    if (!closed_) writer_->record("<request><websocket type=\"close\"></websocket></request>");
    writer_->close();
  } catch (const std::exception&) {
    writer_->abandon();
  }
}

}  // namespace loadctl::recorder
