// Drives one built plugin through the public ABI, as the core does: load the .so by name, bind
// it to a stage, invoke phases with a spec and config, and read back the failure message.
#pragma once

#include <unistd.h>

#include <optional>
#include <string>

#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/spec_json.hpp"

namespace nsrun::test {

class PluginHarness {
 public:
  PluginHarness(const std::string& plugin, const std::string& kind) {
    core::LoaderOptions options;
    options.directories = {NSRUN_PLUGIN_BUILD_DIR};
    options.required_owner = ::getuid();
    registry_ = core::PluginRegistry::load_named(options, {plugin});
    core::Pipeline pipeline;
    pipeline.stages = {{kind, plugin, {}}};
    pipeline_ = pipeline;
  }

  /// Runs `phase` with a fresh stage object; the failure's message, or nullopt on success.
  /// What prepare changed comes back in `spec`.
  std::optional<std::string> run(Phase phase, ContainerSpec& spec,
                                 const boost::json::object& config = {}) {
    pipeline_.stages[0].config = config;
    auto stages = core::bind_pipeline(pipeline_, registry_);
    core::JournalFile file("/dev/null");
    core::StderrLogger log(false);
    core::SpecDocument document(core::spec_to_json(spec));
    core::CallSite site{"test", "/nonexistent-state", "/nonexistent", &document, &file, &log, 0};
    std::optional<std::string> result;
    if (phase != Phase::validate)
      if (auto failure = stages[0].invoke(Phase::validate, site)) return failure->message;
    if (auto failure = stages[0].invoke(phase, site)) result = failure->message;
    spec = document.spec();
    return result;
  }

 private:
  core::PluginRegistry registry_;
  core::Pipeline pipeline_;
};

}  // namespace nsrun::test
