// The orchestrator: runs a container's pipeline through the lifecycle phases.
//
// The core knows no subsystem. It validates every stage before any acts, runs prepare on the
// host, clones the container process into the namespaces the spec asks for, runs
// create_runtime on the host while the container process waits, releases it (it runs
// create_container and start_container inside, and the exec stage calls execve), runs
// poststart, forwards signals, waits, and tears down in reverse order with fresh stage objects
// that see only the persisted state: the same path `nsrun delete` takes after a crash.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/loader.hpp"
#include "nsrun/core/log.hpp"
#include "nsrun/core/pipeline.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/plugin.hpp"

namespace nsrun::core {

/// Why a stage call failed.
struct StageFailure {
  std::string message;  ///< "<kind>: <what failed>"
  int exit_code = exit_code::runtime_error;
};

/// One pipeline stage bound to the plugin that implements it.
class BoundStage {
 public:
  BoundStage(PipelineStage stage, const PluginDescriptor* descriptor);
  ~BoundStage();
  BoundStage(BoundStage&& other) noexcept;
  BoundStage& operator=(BoundStage&&) = delete;
  BoundStage(const BoundStage&) = delete;

  const std::string& kind() const { return stage_.kind; }
  const std::string& plugin() const { return stage_.plugin; }
  const boost::json::object& config() const { return stage_.config; }

  /// Creates the plugin's stage object (again, if one exists: teardown wants a fresh one).
  std::optional<StageFailure> instantiate();
  /// Runs one phase; nullopt on success.
  std::optional<StageFailure> invoke(Phase phase, Context& ctx);

 private:
  void release();
  PipelineStage stage_;
  const PluginDescriptor* descriptor_;
  IStage* instance_ = nullptr;
};

/// Binds each pipeline stage to a loaded plugin. Error when a plugin is unknown, refused, or of
/// another kind than its slot.
std::vector<BoundStage> bind_pipeline(const Pipeline& pipeline, const PluginRegistry& registry);

struct ContainerRequest {
  std::string id;
  std::string state_root = default_state_root;
  std::string bundle;  ///< recorded in state.json; the working directory for flag-built specs
  ContainerSpec spec;
  Pipeline pipeline;  ///< persisted so teardown can find the same stages after a crash
};

class Orchestrator {
 public:
  Orchestrator(std::vector<BoundStage> stages, StderrLogger& log)
      : stages_(std::move(stages)), log_(log) {}

  /// Runs the container in the foreground and returns nsrun's exit code: the workload's, 128+N
  /// when a signal ended it, 125/126/127 when nsrun or the exec failed. Errors are printed.
  int run(ContainerRequest& request);

  /// Runs every stage's teardown in reverse order with fresh stage objects, then removes the
  /// state directory when all succeeded. Returns the failures.
  std::vector<StageFailure> teardown(const StateDir& state, ContainerSpec& spec);

 private:
  std::optional<StageFailure> run_phase(Phase phase, Context* contexts_by_stage);
  std::optional<StageFailure> run_stage(std::size_t index, Phase phase, Context& ctx);
  std::vector<BoundStage> stages_;
  StderrLogger& log_;
};

/// Tears down a container from its state directory alone (after a crash, or `nsrun delete`):
/// reads the pipeline and spec it persisted, runs each stage's teardown in reverse order, then
/// removes the directory. Returns the teardown errors (empty on success).
std::vector<std::string> teardown_from_state(const StateDir& state, const PluginRegistry& registry,
                                             StderrLogger& log);

/// The CLONE_NEW* flags for the namespaces the spec asks to create.
int clone_flags_for(const ContainerSpec& spec);

const char* phase_name(Phase phase);

}  // namespace nsrun::core
