// The run-time plugin loader's refusals and the shipping of plugin files in Setup. Loading a real
// plugin is tests/integration/test_plugin_qmsg.sh (it needs an out-of-tree build).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "control/messages.hpp"
#include "plugin_host/plugin_loader.hpp"

namespace fs = std::filesystem;
using namespace loadctl;

namespace {

fs::path temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "plugin_loader_test.XXXXXX").string();
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

std::string plugin_load_error(const std::string& path) {
  ProtocolRegistry registry;
  try {
    load_plugin(path, registry);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PluginLoader, PathFromEnvironment) {
  setenv("LOADCTL_PLUGIN_PATH", "/a::/b/c:", 1);
  EXPECT_EQ(plugin_dirs_from_env(), (std::vector<std::string>{"/a", "/b/c"}));
  unsetenv("LOADCTL_PLUGIN_PATH");
  EXPECT_TRUE(plugin_dirs_from_env().empty());
}

TEST(PluginLoader, FindsSharedObjectsInNameOrder) {
  fs::path dir = temp_dir();
  for (const char* name : {"b.so", "a.so", "notes.txt", "c.so.1"}) std::ofstream(dir / name) << "x";
  fs::create_directory(dir / "d.so");
  EXPECT_EQ(find_plugin_files({dir.string()}),
            (std::vector<std::string>{(dir / "a.so").string(), (dir / "b.so").string()}));
  EXPECT_THROW(find_plugin_files({(dir / "missing").string()}), PluginError);
  fs::remove_all(dir);
}

TEST(PluginLoader, RefusalsNameTheFile) {
  fs::path dir = temp_dir();
  std::ofstream(dir / "junk.so") << "not an ELF file";
  std::string error = plugin_load_error((dir / "junk.so").string());
  EXPECT_NE(error.find("plugin " + (dir / "junk.so").string() + ": cannot load it"), std::string::npos) << error;
  fs::remove_all(dir);
}

TEST(PluginLoader, SharedObjectWithoutEntryIsNotAPlugin) {
  for (const char* lib : {"/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6"}) {
    if (!fs::exists(lib)) continue;
    std::string error = plugin_load_error(lib);
    EXPECT_NE(error.find("not a loadctl plugin (no loadctl_plugin_entry symbol"), std::string::npos) << error;
    return;
  }
  GTEST_SKIP() << "no libm.so.6 found";
}

TEST(PluginLoader, ShippedNamesMustBePlainFileNames) {
  EXPECT_THROW(load_shipped_plugins({{"../evil.so", "x"}}), PluginError);
  EXPECT_THROW(load_shipped_plugins({{"", "x"}}), PluginError);
}

TEST(PluginLoader, SetupCarriesPluginFiles) {
  control::Setup s;
  s.plugins = {{"qmsg.so", std::string("\x7f" "ELF\0\1", 6)}, {"other.so", ""}};
  auto back = control::Setup::decode(s.encode());
  ASSERT_TRUE(back);
  ASSERT_EQ(back->plugins.size(), 2u);
  EXPECT_EQ(back->plugins[0].name, "qmsg.so");
  EXPECT_EQ(back->plugins[0].bytes, s.plugins[0].bytes);
  EXPECT_EQ(back->plugins[1].name, "other.so");
}
