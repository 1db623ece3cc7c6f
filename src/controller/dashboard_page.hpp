#pragma once
// The live dashboard page served at `/`: one self-contained document (HTML, CSS, JS inline; no
// external asset, works offline) that polls /api/status and /api/stats every second.

#include <string_view>

namespace loadctl::controller {

extern const std::string_view kDashboardPage;

}  // namespace loadctl::controller
