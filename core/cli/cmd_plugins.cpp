// nsrun plugins: every plugin found, loaded or refused and why.
#include <iomanip>
#include <iostream>

#include "commands.hpp"

namespace nsrun::cli {

void add_plugins_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* plugins = app.add_subcommand("plugins", "List the plugins found, with their status");
  plugins->fallthrough();
  plugins->callback([&global, &exit_code] {
    core::PluginRegistry registry = global.load_plugins(Installation::locate());
    std::cout << std::left << std::setw(24) << "NAME" << std::setw(11) << "KIND" << std::setw(9)
              << "VERSION" << std::setw(5) << "API"
              << "STATUS  PATH\n";
    for (const auto& p : registry.plugins()) {
      std::cout << std::setw(24) << (p.name.empty() ? "-" : p.name) << std::setw(11)
                << (p.kind.empty() ? "-" : p.kind) << std::setw(9)
                << (p.version.empty() ? "-" : p.version) << std::setw(5)
                << (p.api_major ? std::to_string(p.api_major) + "." + std::to_string(p.api_minor)
                                : "-")
                << (p.loaded() ? "loaded  " : "refused ") << p.path;
      if (!p.loaded()) std::cout << ": " << p.refusal;
      std::cout << "\n";
      if (p.loaded() && !p.summary.empty()) std::cout << "    " << p.summary << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace nsrun::cli
