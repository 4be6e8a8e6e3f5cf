#include "nsrun/core/loader.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <boost/system/error_code.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <type_traits>

namespace nsrun::core {
namespace {

// Libraries stay loaded until the process exits: this list is deliberately never destroyed.
std::vector<boost::dll::shared_library>& loaded_libraries() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}

// Empty when `st` is safe to load code from; otherwise the reason.
std::string ownership_problem(const struct stat& st, unsigned required_owner) {
  if (st.st_uid != required_owner)
    return "owned by uid " + std::to_string(st.st_uid) + ", not " +
           (required_owner == 0 ? std::string("root") : std::to_string(required_owner)) +
           " (chown root it)";
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others (chmod go-w it)";
  return {};
}

// The descriptor of API 2.0, the smallest this nsrun reads: later minors only add fields.
constexpr std::uint32_t minimum_descriptor_size =
    offsetof(nsrun_plugin, invoke) + sizeof(nsrun_plugin::invoke);

bool has_suffix(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

std::vector<std::string> plugin_search_path(const std::vector<std::string>& explicit_dirs,
                                            const std::string& installed_dir) {
  std::vector<std::string> dirs = explicit_dirs;
  if (const char* env = std::getenv("NSRUN_PLUGIN_PATH")) {
    std::string_view rest(env);
    while (!rest.empty()) {
      auto colon = rest.find(':');
      std::string_view entry = rest.substr(0, colon);
      if (!entry.empty()) dirs.emplace_back(entry);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  dirs.push_back(installed_dir);
  return dirs;
}

std::vector<std::string> PluginRegistry::usable_directories(const LoaderOptions& options) {
  std::vector<std::string> usable;
  std::set<std::string> seen;
  for (const auto& dir : options.directories) {
    std::error_code ec;
    std::string canonical = std::filesystem::weakly_canonical(dir, ec).string();
    if (ec) canonical = dir;
    if (!seen.insert(canonical).second) continue;  // the same directory named twice

    struct stat st {};
    if (::stat(canonical.c_str(), &st) != 0) continue;  // an absent directory holds no plugins
    if (std::string problem = ownership_problem(st, options.required_owner); !problem.empty()) {
      PluginRecord refused;
      refused.path = canonical;
      refused.refusal = "plugin directory " + problem;
      plugins_.push_back(std::move(refused));
      continue;
    }
    usable.push_back(std::move(canonical));
  }
  return usable;
}

PluginRegistry PluginRegistry::discover(const LoaderOptions& options) {
  PluginRegistry registry;
  for (const auto& dir : registry.usable_directories(options)) {
    std::vector<std::string> files;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* entry = ::readdir(d))
        if (has_suffix(entry->d_name, ".so")) files.emplace_back(entry->d_name);
      ::closedir(d);
    }
    std::sort(files.begin(), files.end());  // a stable listing
    for (const auto& file : files)
      registry.load_file(dir + "/" + file, file.substr(0, file.size() - 3), options.required_owner);
  }
  return registry;
}

PluginRegistry PluginRegistry::load_named(const LoaderOptions& options,
                                          const std::vector<std::string>& names) {
  PluginRegistry registry;
  std::vector<std::string> dirs = registry.usable_directories(options);
  for (const auto& name : names) {
    if (name.empty() || name.find('/') != std::string::npos || registry.find(name)) continue;
    for (const auto& dir : dirs) {
      std::string path = dir + "/" + name + ".so";
      if (::access(path.c_str(), F_OK) == 0) registry.load_file(path, name, options.required_owner);
    }
  }
  return registry;
}

PluginRegistry PluginRegistry::load_recorded(const LoaderOptions& options,
                                             const std::map<std::string, std::string>& paths) {
  PluginRegistry registry;
  for (const auto& [name, path] : paths) {
    LoaderOptions one = options;
    one.directories = {std::filesystem::path(path).parent_path().string()};
    auto dirs = registry.usable_directories(one);  // refuses an unsafe directory
    if (dirs.empty() || registry.find(name)) continue;
    if (std::filesystem::path(path).filename() != name + ".so") continue;
    registry.load_file(dirs.front() + "/" + name + ".so", name, options.required_owner);
  }
  return registry;
}

void PluginRegistry::load_file(const std::string& path, const std::string& expected_name,
                               unsigned required_owner) {
  PluginRecord record;
  record.path = path;
  auto refuse = [&](std::string why) {
    record.refusal = std::move(why);
    record.descriptor = nullptr;
    plugins_.push_back(std::move(record));
  };

  // The same name in an earlier directory wins; this one is not even loaded.
  for (const auto& earlier : plugins_)
    if (earlier.loaded() && earlier.name == expected_name) {
      record.name = expected_name;
      return refuse("duplicate name " + expected_name + ", already provided by " + earlier.path);
    }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return refuse(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refuse("not a regular file");
  if (std::string problem = ownership_problem(st, required_owner); !problem.empty())
    return refuse("plugin file " + problem);

  boost::dll::shared_library library;
  boost::system::error_code ec;
  library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    // Boost.DLL keeps only an error code ("Bad file descriptor" for a file that is no shared
    // object); the dynamic loader's own words say what is wrong.
    std::string why = ec.message();
    if (void* handle = ::dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL))
      ::dlclose(handle);
    else if (const char* text = ::dlerror())
      why = text;
    return refuse("cannot load: " + why);
  }
  if (!library.has(NSRUN_PLUGIN_ENTRY_SYMBOL))
    return refuse(std::string("no ") + NSRUN_PLUGIN_ENTRY_SYMBOL +
                  " symbol (not an nsrun plugin?)");
  auto& entry =
      library.get<std::remove_pointer_t<nsrun_plugin_entry_fn>>(NSRUN_PLUGIN_ENTRY_SYMBOL);
  // Moved, not copied: a copy of a shared_library dlopens the file a second time.
  loaded_libraries().push_back(std::move(library));

  const nsrun_plugin* descriptor = entry();
  if (!descriptor)
    return refuse(std::string(NSRUN_PLUGIN_ENTRY_SYMBOL) + " returned no descriptor");
  // api_major, struct_size and name lead the descriptor in every API version (plugin.h), so
  // they are readable whatever the rest looks like: enough to name what is refused.
  record.api_major = descriptor->api_major;
  if (descriptor->name) record.name = descriptor->name;
  const std::string ours = std::to_string(NSRUN_API_MAJOR) + "." + std::to_string(NSRUN_API_MINOR);
  if (descriptor->api_major != NSRUN_API_MAJOR)
    return refuse("built for nsrun plugin API " + std::to_string(descriptor->api_major) +
                  ", this nsrun speaks API " + ours + " (rebuild it against this nsrun's SDK)");
  if (descriptor->struct_size < minimum_descriptor_size)
    return refuse("descriptor is " + std::to_string(descriptor->struct_size) + " bytes, API " +
                  std::to_string(NSRUN_API_MAJOR) + " needs at least " +
                  std::to_string(minimum_descriptor_size));
  record.api_minor = descriptor->api_minor;
  // A newer minor may declare what this nsrun cannot honour (and would silently ignore).
  if (descriptor->api_minor > NSRUN_API_MINOR)
    return refuse("built for nsrun plugin API " + std::to_string(descriptor->api_major) + "." +
                  std::to_string(descriptor->api_minor) + ", newer than this nsrun's API " + ours +
                  " (upgrade nsrun, or build it against SDK " + ours + ")");
  if (!descriptor->name || !*descriptor->name || !descriptor->version || !descriptor->kind ||
      !*descriptor->kind || !descriptor->create || !descriptor->destroy || !descriptor->invoke)
    return refuse("descriptor has an empty name, version, kind or function");
  record.version = descriptor->version;
  record.kind = descriptor->kind;
  record.summary = descriptor->summary ? descriptor->summary : "";
  if (record.name != expected_name)
    return refuse("declares the name " + record.name + ", so its file must be named " +
                  record.name + ".so");
  record.descriptor = descriptor;
  plugins_.push_back(std::move(record));
}

const PluginRecord* PluginRegistry::find(std::string_view name) const {
  for (const auto& plugin : plugins_)
    if (plugin.loaded() && plugin.name == name) return &plugin;
  return nullptr;
}

std::map<std::string, std::vector<std::string>> PluginRegistry::declared_flags() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& plugin : plugins_) {
    if (!plugin.loaded()) continue;
    auto& flags = out[plugin.name];
    for (std::uint32_t k = 0; plugin.descriptor->flags && k < plugin.descriptor->flag_count; ++k)
      if (plugin.descriptor->flags[k].name) flags.push_back(plugin.descriptor->flags[k].name);
  }
  return out;
}

const PluginRecord* PluginRegistry::find_refused(std::string_view name) const {
  for (const auto& plugin : plugins_)
    if (!plugin.loaded() && plugin.name == name) return &plugin;
  return nullptr;
}

}  // namespace nsrun::core
