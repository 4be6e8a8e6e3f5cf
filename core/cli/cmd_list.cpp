// nsrun list [--format table|json] [-q]: the containers of the state root, as runc lists them.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {
namespace {

std::vector<std::string> container_ids(const std::string& root) {
  std::vector<std::string> ids;
  if (DIR* dir = ::opendir(root.c_str())) {
    while (dirent* entry = ::readdir(dir))
      if (core::is_valid_container_id(entry->d_name)) ids.emplace_back(entry->d_name);
    ::closedir(dir);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int list_containers(const GlobalOptions& global, const std::string& format, bool quiet) {
  boost::json::array states;
  for (const auto& id : container_ids(global.state_root)) {
    core::StateDir dir(global.state_root, id);
    try {
      states.push_back(core::oci_state(dir, core::inspect(dir)));
    } catch (const core::Error&) {
      // removed while listing
    }
  }
  if (quiet) {
    for (const auto& state : states) std::cout << state.at("id").as_string().c_str() << "\n";
  } else if (format == "json") {
    std::cout << boost::json::serialize(states) << "\n";
  } else {
    std::printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
    for (const auto& value : states) {
      const auto& state = value.as_object();
      const auto* created = state.if_contains("created");
      std::printf("%-20s %-8lld %-10s %-40s %s\n", state.at("id").as_string().c_str(),
                  static_cast<long long>(state.at("pid").as_int64()),
                  state.at("status").as_string().c_str(), state.at("bundle").as_string().c_str(),
                  created && created->is_string() ? created->as_string().c_str() : "");
    }
  }
  return 0;
}

}  // namespace

void add_list_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* list = app.add_subcommand("list", "List the containers of the state root");
  auto format = std::make_shared<std::string>("table");
  auto quiet = std::make_shared<bool>(false);
  list->add_option("--format,-f", *format, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  list->add_flag("--quiet,-q", *quiet, "Print the ids only");
  list->callback([format, quiet, &global, &exit_code] {
    exit_code = list_containers(global, *format, *quiet);
  });
}

}  // namespace nsrun::cli
