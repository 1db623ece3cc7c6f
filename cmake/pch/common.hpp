// Precompiled once per build (LOADCTL_PCH, cmake/build_speed.cmake) and force-included in every
// core, plugin and executable translation unit: the heavy headers most of them include anyway.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <pugixml.hpp>
#include <spdlog/spdlog.h>
