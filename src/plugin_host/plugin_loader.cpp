#include "plugin_host/plugin_loader.hpp"

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "loadctl/plugin.hpp"

namespace fs = std::filesystem;

namespace loadctl {
namespace {

using EntryFunction = const PluginEntry* (*)();

std::set<std::string>& loaded_paths() {
  static std::set<std::string> paths;
  return paths;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PluginError("plugin " + path + ": cannot read it");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::vector<std::string> plugin_dirs_from_env() {
  std::vector<std::string> dirs;
  const char* env = std::getenv("LOADCTL_PLUGIN_PATH");
  if (!env) return dirs;
  std::string_view rest(env);
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    if (!dir.empty()) dirs.emplace_back(dir);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return dirs;
}

std::vector<std::string> find_plugin_files(const std::vector<std::string>& dirs) {
  std::vector<std::string> files;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::vector<std::string> here;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".so" && it->is_regular_file()) here.push_back(it->path().string());
    if (ec) throw PluginError("plugin directory " + dir + ": " + ec.message());
    std::sort(here.begin(), here.end());
    files.insert(files.end(), here.begin(), here.end());
  }
  return files;
}

void load_plugin(const std::string& path, ProtocolRegistry& registry) {
  std::error_code ec;
  std::string key = fs::weakly_canonical(path, ec).string();
  if (ec) key = path;
  if (loaded_paths().count(key)) return;
  // RTLD_NOW: a symbol the plugin needs but this loadctl lacks is an error here, not a crash later.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw PluginError("plugin " + path + ": cannot load it: " + dlerror());
  auto entry_fn = reinterpret_cast<EntryFunction>(dlsym(handle, LOADCTL_PLUGIN_ENTRY_SYMBOL));
  if (!entry_fn) {
    dlclose(handle);
    throw PluginError("plugin " + path + ": not a loadctl plugin (no " LOADCTL_PLUGIN_ENTRY_SYMBOL
                      " symbol; define one with LOADCTL_PLUGIN, see docs/plugins.md)");
  }
  const PluginEntry* entry = entry_fn();
  if (!entry || !entry->abi_tag || std::strcmp(entry->abi_tag, kPluginAbiTag) != 0) {
    std::string theirs = entry && entry->abi_tag ? entry->abi_tag : "(none)";
    dlclose(handle);
    throw PluginError("plugin " + path + ": ABI mismatch: built for " + theirs + ", this loadctl is " +
                      kPluginAbiTag + "; rebuild the plugin against this loadctl's installed headers");
  }
  if (!entry->register_protocols) throw PluginError("plugin " + path + ": no registration function");
  try {
    entry->register_protocols(registry);
  } catch (const std::exception& e) {
    throw PluginError("plugin " + path + " (" + (entry->name ? entry->name : "?") + "): " + e.what());
  }
  loaded_paths().insert(key);  // the handle stays open for the life of the process
}

std::vector<PluginFile> load_plugin_dirs(const std::vector<std::string>& dirs) {
  std::vector<PluginFile> files;
  for (const std::string& path : find_plugin_files(dirs)) {
    load_plugin(path, process_registry());
    files.push_back({fs::path(path).filename().string(), read_file(path)});
  }
  return files;
}

void load_shipped_plugins(const std::vector<PluginFile>& files) {
  static std::map<std::string, std::size_t> loaded;  // file name -> hash of its bytes
  std::vector<const PluginFile*> todo;
  for (const PluginFile& f : files) {
    std::size_t hash = std::hash<std::string>{}(f.bytes);
    auto it = loaded.find(f.name);
    if (it != loaded.end()) {
      if (it->second != hash)
        throw PluginError("plugin " + f.name + ": a different version was loaded by an earlier run of this "
                          "agent; restart the agent to use the new one");
      continue;
    }
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name == "." || f.name == "..")
      throw PluginError("plugin file name '" + f.name + "' refused");
    todo.push_back(&f);
  }
  if (todo.empty()) return;
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/loadctl-plugins-XXXXXX";
  if (!mkdtemp(pattern.data()))  // mode 0700: only this user can replace what we dlopen
    throw PluginError("cannot create a private directory for shipped plugins: " + std::string(std::strerror(errno)));
  fs::path dir(pattern);
  std::string failure;
  for (const PluginFile* f : todo) {
    fs::path path = dir / f->name;
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(f->bytes.data(), static_cast<std::streamsize>(f->bytes.size()));
      if (!out) {
        failure = "plugin " + f->name + ": cannot write " + path.string();
        break;
      }
    }
    try {
      load_plugin(path.string(), process_registry());
      loaded[f->name] = std::hash<std::string>{}(f->bytes);
    } catch (const PluginError& e) {
      failure = e.what();
      break;
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);  // mapped copies stay valid after the files are unlinked
  if (!failure.empty()) throw PluginError(failure);
}

}  // namespace loadctl
