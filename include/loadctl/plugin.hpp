#pragma once
// Run-time protocol plugins: a shared object built against the installed headers (find_package
// (loadctl), loadctl_add_plugin) and loaded with `loadctl -X DIR` or LOADCTL_PLUGIN_PATH. It
// exports one C function, loadctl_plugin_entry, made by LOADCTL_PLUGIN; the loader compares the
// entry's ABI tag with its own before calling anything else in the plugin (docs/plugins.md).

#include "loadctl/protocol.hpp"
#include "loadctl/version.hpp"

namespace loadctl {

/// Bumped whenever a type a plugin sees (protocol.hpp, connection.hpp, template.hpp,
/// xml_reader.hpp, scenario_error.hpp) changes layout or meaning.
#define LOADCTL_PLUGIN_ABI_REVISION "10"

#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
#define LOADCTL_PLUGIN_STDLIB_ABI "/libstdc++-cxx11"
#else
#define LOADCTL_PLUGIN_STDLIB_ABI "/other-stdlib"
#endif

/// What a plugin and the executables loading it must agree on: the interface revision, the
/// loadctl release and the C++ library ABI, compared as a whole string. A literal, so that the
/// plugin's copy cannot be interposed by the executable's (which exports its symbols).
#define LOADCTL_PLUGIN_ABI_TAG \
  "loadctl-plugin-abi-" LOADCTL_PLUGIN_ABI_REVISION "/loadctl-" LOADCTL_VERSION_STRING LOADCTL_PLUGIN_STDLIB_ABI

inline constexpr char kPluginAbiTag[] = LOADCTL_PLUGIN_ABI_TAG;

/// What loadctl_plugin_entry returns. `abi_tag` stays the first member in every revision, so
/// that any loader can read it before trusting the rest.
struct PluginEntry {
  const char* abi_tag;                                    ///< LOADCTL_PLUGIN_ABI_TAG of the plugin's build
  const char* name;                                       ///< for logs and errors, e.g. "qmsg"
  void (*register_protocols)(ProtocolRegistry& registry);  ///< adds the plugin's Protocol(s)
};

}  // namespace loadctl

/// The symbol the loader looks up in each plugin file.
#define LOADCTL_PLUGIN_ENTRY_SYMBOL "loadctl_plugin_entry"

/// Defines the plugin's entry point: LOADCTL_PLUGIN("qmsg", register_qmsg) in one .cpp file.
#define LOADCTL_PLUGIN(NAME, REGISTER_FUNCTION)                                              \
  extern "C" __attribute__((visibility("default"))) const ::loadctl::PluginEntry*           \
  loadctl_plugin_entry() {                                                                    \
    static const ::loadctl::PluginEntry entry{LOADCTL_PLUGIN_ABI_TAG, NAME, REGISTER_FUNCTION};     \
    return &entry;                                                                            \
  }
