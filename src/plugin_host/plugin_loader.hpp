#pragma once
// Loads run-time protocol plugins (loadctl/plugin.hpp) into the process registry: from the
// directories of `-X DIR` and LOADCTL_PLUGIN_PATH on the controller, from the files the
// controller ships in Setup on an agent.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/protocol.hpp"

namespace loadctl {

/// A plugin that cannot be used; the message names the file and the reason.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A plugin file as shipped to remote agents: its file name and its bytes.
struct PluginFile {
  std::string name;
  std::string bytes;
};

/// The registry scenarios are loaded with: the built-in plugins plus those loaded at run time
/// (ProtocolRegistry::builtin() returns the same object). Defined in builtin_plugins.cpp.
ProtocolRegistry& process_registry();

/// Directories of LOADCTL_PLUGIN_PATH (colon-separated), empty when unset.
std::vector<std::string> plugin_dirs_from_env();

/// The `*.so` files of each directory, sorted by name within a directory. Throws PluginError
/// for a directory that cannot be read.
std::vector<std::string> find_plugin_files(const std::vector<std::string>& dirs);

/// dlopens `path`, checks its ABI tag and adds its protocols to `registry`. Loading the same
/// path twice is a no-op. Throws PluginError naming the file.
void load_plugin(const std::string& path, ProtocolRegistry& registry);

/// Loads every plugin of `dirs` into process_registry() and returns the files, for shipping.
std::vector<PluginFile> load_plugin_dirs(const std::vector<std::string>& dirs);

/// Agent side: writes `files` into a private (0700) temporary directory, loads them and removes
/// the copies. A file already loaded by this process with the same bytes is skipped (a listening
/// agent serves many runs).
void load_shipped_plugins(const std::vector<PluginFile>& files);

}  // namespace loadctl
