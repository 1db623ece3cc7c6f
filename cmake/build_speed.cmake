# Build time (docs/performance.md, "Build time"): precompiled headers for the heavy Boost.Asio,
# spdlog, fmt and pugixml headers, built once for the core and reused by every target linking it.
# Off by default: measured with -g, a clean build took more CPU with them (a 174 MB .gch read by
# every translation unit) than without.
option(LOADCTL_PCH "Precompile the heavy third-party headers (slower with -g, see docs/performance.md)" OFF)

# loadctl_use_pch(TARGET...): TARGETs reuse the core's precompiled header (same flags).
function(loadctl_use_pch)
  if(LOADCTL_PCH)
    foreach(t ${ARGN})
      target_precompile_headers(${t} REUSE_FROM loadctl_core)
    endforeach()
  endif()
endfunction()

if(LOADCTL_PCH)
  target_precompile_headers(loadctl_core PRIVATE ${PROJECT_SOURCE_DIR}/cmake/pch/common.hpp)
endif()
