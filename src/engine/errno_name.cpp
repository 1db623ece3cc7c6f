#include "engine/errno_name.hpp"

#include <cerrno>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace loadctl::engine {

std::string errno_name(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::eof) return "closed";
  if (ec.category() == boost::asio::error::get_ssl_category() ||
      ec.category() == boost::asio::ssl::error::get_stream_category())
    return "ssl";
  if (ec.category() != boost::system::system_category()) return "unknown";
  switch (ec.value()) {
    case ECONNREFUSED: return "econnrefused";
    case ECONNRESET: return "econnreset";
    case ECONNABORTED: return "econnaborted";
    case ETIMEDOUT: return "etimedout";
    case EHOSTUNREACH: return "ehostunreach";
    case ENETUNREACH: return "enetunreach";
    case ENETDOWN: return "enetdown";
    case EADDRNOTAVAIL: return "eaddrnotavail";
    case EADDRINUSE: return "eaddrinuse";
    case EMFILE: return "emfile";
    case ENFILE: return "enfile";
    case ENOBUFS: return "enobufs";
    case EPIPE: return "epipe";
    case EACCES: return "eacces";
    case EPERM: return "eperm";
    case EINVAL: return "einval";
    case ENOTCONN: return "enotconn";
    case ECANCELED: return "ecanceled";
    default: return "errno" + std::to_string(ec.value());
  }
}

}  // namespace loadctl::engine
