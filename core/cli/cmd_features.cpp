// nsrun features: what this nsrun implements, as the runtime spec's features document
// (features.md of runtime-spec 1.1). What a bundle may ask for depends on the installed pipeline:
// the config.json fields its stages claim are listed under the annotation nsrun.claims.
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/hooks.hpp"
#include "nsrun/core/orchestrator.hpp"

namespace nsrun::cli {
namespace {

int print_features(const GlobalOptions& global) {
  Installation installation = Installation::locate();
  core::Pipeline pipeline = core::Pipeline::from_file(installation.default_pipeline);
  auto registry = global.load_plugins(installation, pipeline);
  auto stages = core::bind_pipeline(pipeline, registry);
  std::string claims, plugins;
  bool seccomp = false;  // the runtime spec's "seccomp.enabled": some stage applies linux.seccomp
  for (const auto& stage : stages) {
    plugins += (plugins.empty() ? "" : ",") + stage.plugin();
    for (const auto& claim : stage.claims()) {
      claims += (claims.empty() ? "" : ",") + claim;
      seccomp = seccomp || claim == "linux.seccomp";
    }
  }
  boost::json::array hooks;  // the core runs them, whatever the pipeline (hooks.hpp)
  for (core::HookKind kind : core::all_hook_kinds) hooks.emplace_back(core::hook_kind_name(kind));
  boost::json::object features{
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks", std::move(hooks)},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp", {{"enabled", seccomp}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations",
       {{"nsrun.version", NSRUN_VERSION}, {"nsrun.pipeline", plugins}, {"nsrun.claims", claims}}}};
  std::cout << boost::json::serialize(features) << "\n";
  return 0;
}

}  // namespace

void add_features_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* features =
      app.add_subcommand("features", "Print what nsrun implements (OCI features JSON)");
  features->callback([&global, &exit_code] {
    try {
      exit_code = print_features(global);
    } catch (const core::Error& e) {
      exit_code = report_error("features: " + std::string(e.what()));
    }
  });
}

}  // namespace nsrun::cli
