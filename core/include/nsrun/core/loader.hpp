// Finding and loading plugins (Boost.DLL).
//
// A plugin file is named after the plugin it holds: nsrun.network.bridge lives in
// nsrun.network.bridge.so, so a run loads only the plugins its pipeline names (a plugin pulls in
// libraries such as libnl whose start-up is not free) and two files can never claim one name
// unnoticed. Search order: each --plugin-dir, then each entry of NSRUN_PLUGIN_PATH
// (colon-separated), then the installed plugin directory. The first directory holding a name
// provides it; the same name in a later directory is refused as a duplicate. nsrun runs as root and
// executes what it loads, so a directory or file not owned by root, or writable by group or others,
// is refused (Sarus checks its hooks so). Plugins are never unloaded: unloading would break
// exceptions, type_info and deleters that came from the plugin, and the process is short-lived
// anyway.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nsrun/plugin.h"

namespace nsrun::core {

struct PluginRecord {
  std::string path;
  std::string name;  ///< empty when the descriptor could not be read
  std::string version;
  std::string kind;
  std::string summary;
  std::uint32_t api_major = 0;
  std::uint32_t api_minor = 0;
  const nsrun_plugin* descriptor = nullptr;  ///< null when refused
  std::string refusal;                       ///< why it was refused; empty when loaded

  bool loaded() const { return descriptor != nullptr; }
};

struct LoaderOptions {
  std::vector<std::string> directories;  ///< in search order
  /// Owner uid a plugin file and directory must have. Root in production; tests that run
  /// without root pass their own uid.
  unsigned required_owner = 0;
};

/// The directories to search: explicit ones, NSRUN_PLUGIN_PATH, then the installed directory.
std::vector<std::string> plugin_search_path(const std::vector<std::string>& explicit_dirs,
                                            const std::string& installed_dir);

class PluginRegistry {
 public:
  /// Loads every *.so in the directories (for `nsrun plugins`). Never throws for a bad plugin:
  /// it is recorded refused.
  static PluginRegistry discover(const LoaderOptions& options);
  /// Loads only the plugins named (for a run): <dir>/<name>.so in search order. A name found in
  /// no directory is simply absent from the registry.
  static PluginRegistry load_named(const LoaderOptions& options,
                                   const std::vector<std::string>& names);

  /// Loads the plugins a container was created with, from the files recorded in its state
  /// (name -> path), with the same checks as any load: `delete` and `gc` then find a plugin that
  /// came from a --plugin-dir without being told the directory again.
  static PluginRegistry load_recorded(const LoaderOptions& options,
                                      const std::map<std::string, std::string>& paths);

  const std::vector<PluginRecord>& plugins() const { return plugins_; }
  /// The loaded plugin with that name, or null.
  const PluginRecord* find(std::string_view name) const;
  /// By loaded plugin name, the `nsrun run` flags it declares (names without dashes).
  std::map<std::string, std::vector<std::string>> declared_flags() const;
  /// The refused record with that name (to explain why a requested plugin is unusable), or null.
  const PluginRecord* find_refused(std::string_view name) const;

 private:
  void load_file(const std::string& path, const std::string& expected_name,
                 unsigned required_owner);
  /// The search directories that exist, canonical and without repeats; unsafe ones are recorded
  /// refused and left out.
  std::vector<std::string> usable_directories(const LoaderOptions& options);
  std::vector<PluginRecord> plugins_;
};

}  // namespace nsrun::core
