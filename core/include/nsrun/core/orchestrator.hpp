// The orchestrator: runs a container's pipeline through the lifecycle phases.
//
// The core knows no subsystem. It validates every stage before any acts, runs prepare on the
// host, clones the container process into the namespaces the spec asks for, runs
// create_runtime on the host while the container process waits, releases it (it runs
// create_container and start_container inside, and the exec stage calls execve), runs
// poststart, forwards signals, waits, and tears down in reverse order with fresh stage objects
// that see only the persisted state: the same path `nsrun delete` takes after a crash. It runs
// config.json's hooks at their points (hooks.hpp says where).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/loader.hpp"
#include "nsrun/core/log.hpp"
#include "nsrun/core/pipeline.hpp"
#include "nsrun/core/spec_json.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/core/trace.hpp"
#include "nsrun/plugin.h"
#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::core {

class Hooks;

/// Why a stage call failed.
struct StageFailure {
  std::string message;  ///< "<kind>: <what failed>"
  int exit_code = exit_code::runtime_error;
};

/// The container's spec as the stages see it: the whole config.json document, its text (what
/// crosses the plugin boundary), a revision that changes whenever the text does, and the
/// modelled view the core itself reads (namespaces for clone).
class SpecDocument {
 public:
  SpecDocument() = default;
  explicit SpecDocument(boost::json::object document);
  /// Replaces the document (a stage's prepare); Error naming the field when it is malformed.
  void replace(std::string_view text);
  const boost::json::object& document() const { return document_; }
  const std::string& text() const { return text_; }
  std::uint64_t revision() const { return revision_; }
  const ContainerSpec& spec() const { return spec_; }

 private:
  boost::json::object document_;
  std::string text_ = "{}";
  std::uint64_t revision_ = 0;
  ContainerSpec spec_;
};

/// Which process runs a phase call.
enum class ProcessSide { host, container };

/// One phase call of one stage, as the instrumentation hook sees it.
struct PhaseEvent {
  std::string_view plugin;
  std::string_view kind;
  Phase phase;
  ProcessSide side;
  std::chrono::steady_clock::time_point start;
  double duration_ms;
  bool succeeded;
};

/// Sees every phase call of every stage, on the host and in the container process: the one
/// place through which all of them pass (as LLVM's pass instrumentation). DEBUG=1 output is an
/// observer; tracing will be another. Called in the process that made the call.
class PhaseObserver {
 public:
  virtual ~PhaseObserver() = default;
  virtual void on_phase(const PhaseEvent& event) noexcept = 0;
};

/// The observer behind DEBUG=1: "nsrun: debug: <plugin>: <phase> <ms> ms".
class DebugLogObserver final : public PhaseObserver {
 public:
  explicit DebugLogObserver(Logger& log) : log_(log) {}
  void on_phase(const PhaseEvent& event) noexcept override;

 private:
  Logger& log_;
};

/// What the stages of one container exchange through the core: declared outputs (JSON text by
/// key) and the files stages add to the container's view ("files", which the stage providing it
/// mounts). Set on the host before the container process is cloned, so that process has them.
struct StageExchange {
  std::map<std::string, std::string> outputs;
  boost::json::array files;  ///< {"destination", "source", "mode"} each
  std::string files_text = "[]";
};

/// What the core gives one phase call: the C services of plugin.h, with the state they need.
struct CallSite {
  std::string_view container_id;
  std::string state_dir;
  std::string state_root;
  SpecDocument* spec = nullptr;
  JournalFile* journal = nullptr;
  StderrLogger* log = nullptr;
  pid_t pid = 0;
  StageExchange* exchange = nullptr;
  Tracer* tracer = nullptr;  ///< `nsrun run --trace`: a stage's own spans (SDK 2.4)
};

/// One pipeline stage bound to the plugin that implements it.
class BoundStage {
 public:
  BoundStage(PipelineStage stage, const nsrun_plugin* descriptor);
  ~BoundStage();
  BoundStage(BoundStage&& other) noexcept;
  BoundStage& operator=(BoundStage&&) = delete;
  BoundStage(const BoundStage&) = delete;

  const std::string& kind() const { return stage_.kind; }
  const std::string& plugin() const { return stage_.plugin; }
  const boost::json::object& config() const { return stage_.config; }
  const nsrun_plugin& descriptor() const { return *descriptor_; }
  /// The outputs it declares it sets, and those it reads (with NSRUN_NEED_* flags).
  std::vector<std::string> provides() const;
  std::vector<std::pair<std::string, std::uint32_t>> needs() const;
  std::vector<std::string> claims() const;
  bool provides_key(std::string_view key) const;
  bool needs_key(std::string_view key) const;
  /// The values of the plugin's flags that were given ({"name": value}).
  void set_flags(const boost::json::object& flags);
  /// The spec was built from `nsrun run`'s flags (stages then fill in their defaults).
  void set_spec_from_flags(bool from_flags) { spec_from_flags_ = from_flags; }
  bool spec_from_flags() const { return spec_from_flags_; }

  /// Creates the plugin's stage object (again, if one exists: teardown wants a fresh one).
  std::optional<StageFailure> instantiate(const CallSite& site);
  /// Runs one phase through the plugin's C entry; nullopt on success.
  std::optional<StageFailure> invoke(Phase phase, const CallSite& site);
  /// The spec revision of the last call that succeeded on this stage object (0: none yet).
  std::uint64_t spec_revision_seen() const { return spec_revision_seen_; }

 private:
  void release();
  PipelineStage stage_;
  std::string config_text_;
  std::string flags_text_ = "{}";
  bool spec_from_flags_ = false;
  const nsrun_plugin* descriptor_;
  void* instance_ = nullptr;
  std::uint64_t spec_revision_seen_ = 0;
};

/// Binds each pipeline stage to a loaded plugin. Error when a plugin is unknown, refused, or of
/// another kind than its slot, or when the stages' declared contracts do not hold: an output
/// needed but provided by no stage, or by a stage after the one that needs it; an output two
/// stages provide; a stage that must be last followed by another.
std::vector<BoundStage> bind_pipeline(const Pipeline& pipeline, const PluginRegistry& registry);

/// Checks the declared contracts of bound stages (what bind_pipeline checks after binding).
void check_contracts(const std::vector<BoundStage>& stages);

/// Error naming the first config.json field the spec sets that no stage claims: nothing asked
/// for is silently ignored. Fields outside the OCI runtime spec are ignored, as it requires. A
/// spec `nsrun run` built from its flags is named as such: the user wrote no config.json.
void check_claims(const std::vector<BoundStage>& stages, const boost::json::object& spec,
                  bool spec_from_flags = false);

/// Hears how a run goes, in the process that runs Orchestrator::run: what the supervisor of
/// `nsrun run -d` (detach.hpp) passes on to the nsrun that waits for the workload to start, and
/// how it knows when the workload's output has ended. Each is called at most once; a run calls
/// either started (and later exited) or failed.
class RunListener {
 public:
  virtual ~RunListener() = default;
  /// The workload runs: it exec'd and every stage's poststart succeeded. `pid` is its host pid.
  virtual void started(pid_t pid) noexcept = 0;
  /// The container could not be set up: what failed and nsrun's exit code for it (125, 126,
  /// 127). Called after the unwind, once nothing of the container is left (or, when a cleanup
  /// failed too, its state is kept for `nsrun delete --force`).
  virtual void failed(const StageFailure& failure) noexcept = 0;
  /// The workload exited (`exit_code`: its code, 128+N for signal N), before the teardown.
  virtual void exited(int exit_code) noexcept = 0;
};

/// What teardown leaves of the state directory once every stage's teardown succeeded.
enum class StateAfterTeardown {
  removed,      ///< nothing: a foreground run, `--rm`, `delete`
  record_kept,  ///< the record of a stopped container (state.json, logs; see state.hpp)
};

struct ContainerRequest {
  std::string id;
  std::string state_root = default_state_root;
  std::string bundle;        ///< recorded in state.json; the working directory for flag-built specs
  boost::json::object spec;  ///< the container's config.json, root.path absolute
  Pipeline pipeline;         ///< persisted so teardown can find the same stages after a crash
  std::map<std::string, std::string> plugin_paths;  ///< name -> .so, persisted likewise
  /// `nsrun create`: leave the container created, its process waiting for `nsrun start`, and
  /// return; it outlives this nsrun. Otherwise a foreground run to the workload's exit.
  bool detached = false;
  /// Written with the container process's pid once it is created (detached), or once the
  /// workload runs (a run to its exit: `run --pid-file`).
  std::string pid_file;
  /// With process.terminal: the engine's console socket (connected) that receives the pty's
  /// master. Empty under a foreground run, where this nsrun relays the terminal itself.
  support::UniqueFd console_socket;
  /// Told when the workload started, or why the container could not be set up, and when the
  /// workload exited (see RunListener). Optional; kept by reference.
  RunListener* listener = nullptr;
  /// A run to the workload's exit that keeps the container's record: once the workload exited,
  /// the stages tear everything down but state.json (status stopped, with the exit code and
  /// finish time) and the logs stay until `nsrun delete` (`nsrun run -d` without --rm).
  bool keep_record = false;
};

/// `nsrun exec`: another process in a running container.
struct ExecRequest {
  boost::json::object spec;  ///< the container's config.json with `process` replaced
  bool detached = false;     ///< return once the command runs, instead of waiting for it
  std::string pid_file;      ///< written with the process's host pid (detached)
  /// With process.terminal: as ContainerRequest::console_socket.
  support::UniqueFd console_socket;
  /// The process fields exec's flags filled: a stage's failure names those flags instead.
  std::vector<FieldFromFlag> fields_from_flags;
};

class Orchestrator {
 public:
  Orchestrator(std::vector<BoundStage> stages, StderrLogger& log);

  /// Adds an observer of every phase call (kept by reference; it must outlive the orchestrator).
  void observe(PhaseObserver& observer) { observers_.push_back(&observer); }

  /// Traces `run` into `tracer` (trace.hpp): every phase call, on both sides, and the core's own
  /// steps. Kept by reference; it must outlive the orchestrator.
  void trace(Tracer& tracer) { set_tracer(&tracer); }

  /// Runs the container in the foreground and returns nsrun's exit code: the workload's, 128+N
  /// when a signal ended it, 125/126/127 when nsrun or the exec failed. Errors are printed.
  /// With request.detached, returns 0 once the container is created (see lifecycle.hpp).
  int run(ContainerRequest& request);

  /// Runs every stage's teardown in reverse order with fresh stage objects, then removes the
  /// state directory (or all of it but the record, see StateAfterTeardown) when all succeeded.
  /// Returns the failures; the directory is then kept whole, for `nsrun delete --force`.
  std::vector<StageFailure> teardown(const StateDir& state, SpecDocument& spec,
                                     StateAfterTeardown after = StateAfterTeardown::removed);

  /// Runs `request.spec`'s process in the running container whose first process is
  /// `container_pid` (`container_pidfd`, checked by the caller): exec_prepare on the host, a
  /// process that joins the container's namespaces, exec_runtime, then exec_container inside it
  /// (the exec stage execs). Returns the command's exit code, or 0 once it runs when detached.
  int exec(const StateDir& state, int container_pidfd, pid_t container_pid, ExecRequest& request);

  /// Runs a host phase that works from the journal alone (pause, resume) on fresh stage objects,
  /// in pipeline order. Returns the failures.
  std::vector<StageFailure> run_on_state(Phase phase, const StateDir& state, SpecDocument& spec);

 private:
  void set_tracer(Tracer* tracer) {
    tracer_ = tracer;
    log_.set_debug_sink(tracer);
  }
  std::optional<StageFailure> run_phase(Phase phase, const CallSite& site, ProcessSide side);
  /// Whether the container process may run a stage's create_container as soon as the host
  /// finished the create_runtime of that stage and of every stage before it, rather than of all
  /// stages: when no OCI hook runs between the two phases and every stage was built against SDK
  /// 2.5 or later (docs/plugin-authors.md).
  bool releases_stage_by_stage(const Hooks& hooks) const;
  /// NSRUN_PHASE_SPEC_FINAL to each stage whose last call carried an older spec (SDK 2.6 and
  /// later), between prepare and the clone.
  std::optional<StageFailure> hand_out_final_spec(const CallSite& site);
  /// In the container process: create_container of every stage in order, each once the host has
  /// released it on `sync_fd` (`released` stages are already). A failure is reported on
  /// `sync_fd` and the process exits.
  void create_container_as_released(const CallSite& site, int sync_fd, std::uint32_t released);
  /// In the container process: `phase` of every stage, the last (exec) stage announced on
  /// `sync_fd` first; that stage execs. Never returns: a failure, or `none_ran` when no stage
  /// exec'd, is reported on `sync_fd` and the process exits.
  [[noreturn]] void run_to_exec(Phase phase, const CallSite& site, int sync_fd,
                                const char* none_ran);
  /// In the container process: reports `failure` on `sync_fd` and exits, after the spans it
  /// traced since its last report, so that a trace shows where the container failed.
  [[noreturn]] void fail_in_container(int sync_fd, const StageFailure& failure);
  std::optional<StageFailure> run_stage(std::size_t index, Phase phase, const CallSite& site,
                                        ProcessSide side);
  std::vector<BoundStage> stages_;
  StderrLogger& log_;
  DebugLogObserver debug_log_;
  std::vector<PhaseObserver*> observers_;
  Tracer* tracer_ = nullptr;
};

/// Tears down a container from its state directory alone (after a crash, or `nsrun delete`):
/// reads the pipeline and spec it persisted, runs each stage's teardown in reverse order, then
/// removes the directory. A directory without pipeline.json (a container already torn down
/// whose record was kept, or one whose nsrun died before any stage ran) has nothing for a stage
/// to undo: it is only removed. Returns the teardown errors (empty on success).
std::vector<std::string> teardown_from_state(const StateDir& state, const PluginRegistry& registry,
                                             StderrLogger& log);

/// The SDK minor from which a plugin's stage accepts being released stage by stage
/// (Orchestrator::releases_stage_by_stage).
inline constexpr std::uint32_t stage_by_stage_release_minor = 5;
/// The SDK minor from which a plugin's stage is handed the final spec before the clone
/// (NSRUN_PHASE_SPEC_FINAL; Orchestrator::hand_out_final_spec).
inline constexpr std::uint32_t spec_final_minor = 6;

/// The byte the container process sends right before the last (exec) stage's start_container:
/// an end-of-file after it means execve ran; an end-of-file before it, that the process died.
inline constexpr char exec_announcement_byte = 'X';
/// The byte a created container's process sends once create_container is done and it waits.
inline constexpr char created_byte = 'C';

/// A failure the container process reported on its sync channel ("<exit code> <message>").
StageFailure parse_failure_report(std::string_view datagram);

/// Receives one datagram of a sync channel into `out`, whatever its length (a trace report can
/// be longer than a page; the rest are a byte or a line). Returns recv's result: its length, 0
/// at end-of-file, -1 with errno (EINTR included) on error.
ssize_t receive_datagram(int fd, std::string& out);

/// The CLONE_NEW* flags for the namespaces the spec asks to create.
int clone_flags_for(const ContainerSpec& spec);

/// A phase's name, as traces and messages say it. Inline: the container process names each phase
/// it traces, and this function's own page of code, which a cloned process faults in again, cost
/// a traced run a page fault (docs/tracing.md).
inline const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::validate:
      return "validate";
    case Phase::prepare:
      return "prepare";
    case Phase::create_runtime:
      return "create_runtime";
    case Phase::create_container:
      return "create_container";
    case Phase::start_container:
      return "start_container";
    case Phase::poststart:
      return "poststart";
    case Phase::teardown:
      return "teardown";
    case Phase::exec_prepare:
      return "exec_prepare";
    case Phase::exec_runtime:
      return "exec_runtime";
    case Phase::exec_container:
      return "exec_container";
    case Phase::pause:
      return "pause";
    case Phase::resume:
      return "resume";
    case Phase::update:
      return "update";
    case Phase::spec_final:
      return "spec_final";
  }
  return "unknown";
}

}  // namespace nsrun::core
