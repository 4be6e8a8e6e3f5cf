// nsrun version
#include <iostream>

#include "commands.hpp"
#include "nsrun/plugin.h"

namespace nsrun::cli {

void add_version_command(CLI::App& app, int& exit_code) {
  auto* version = app.add_subcommand("version", "Show the version of nsrun and its plugin API");
  version->callback([&exit_code] {
    std::cout << "nsrun " NSRUN_VERSION "\n"
              << "plugin API " << NSRUN_API_MAJOR << "." << NSRUN_API_MINOR << "\n"
              << "spec 1.0.2\n";
    exit_code = 0;
  });
}

}  // namespace nsrun::cli
