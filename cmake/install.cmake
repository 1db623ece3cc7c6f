# `cmake --install build --prefix P`: the executables, the plugin headers and a CMake package, so
# that a protocol plugin builds outside this tree with find_package(loadctl) (docs/plugins.md).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The executables carry the core and export its symbols (-rdynamic) for the plugins they dlopen:
# one copy of the core per process, single-file executables (docs/plugins.md, "Symbols").
set_target_properties(loadctl loadagent PROPERTIES ENABLE_EXPORTS ON)

install(TARGETS loadctl loadagent loadtarget RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/loadctl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/loadctl/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/loadctl)
install(FILES dtd/loadctl-1.0.dtd DESTINATION ${CMAKE_INSTALL_DATADIR}/loadctl)

set(LOADCTL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/loadctl)
configure_package_config_file(cmake/loadctlConfig.cmake.in ${PROJECT_BINARY_DIR}/loadctlConfig.cmake
  INSTALL_DESTINATION ${LOADCTL_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
# A plugin is tied to the release it was built against (the ABI tag), so only that version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/loadctlConfigVersion.cmake
  COMPATIBILITY ExactVersion)
install(FILES ${PROJECT_BINARY_DIR}/loadctlConfig.cmake ${PROJECT_BINARY_DIR}/loadctlConfigVersion.cmake
        DESTINATION ${LOADCTL_CMAKE_DIR})
