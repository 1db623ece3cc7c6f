#pragma once
#include <string>

#include <boost/system/error_code.hpp>

namespace loadctl::engine {

/// Tsung-style lowercase POSIX name of an error ("econnrefused"), or "unknown".
std::string errno_name(const boost::system::error_code& ec);

}  // namespace loadctl::engine
