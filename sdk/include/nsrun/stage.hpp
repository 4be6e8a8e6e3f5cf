// nsrun SDK: the stage interface every plugin implements.
//
// A container is started by running an ordered pipeline of stages (namespaces, storage, network,
// cgroups, exec). Each stage sees the same lifecycle, whose phases follow the OCI runtime spec's
// hooks so that config.json bundles and container engines map onto them one to one:
//
//   validate          host, before anything: check config and spec, no side effects.
//                     Every stage validates before any stage acts.
//   prepare           host, before the container process exists: add namespaces or mounts to
//                     the spec, allocate names and addresses, create host-side directories.
//   create_runtime    host, the container process exists (ctx.pid) but waits: join cgroups,
//                     create veth pairs, NAT rules.
//   create_container  inside the new namespaces, in pipeline order, each once the host finished
//                     the create_runtime of this stage and of every stage before it (SDK 2.5: the
//                     host runs the later stages' create_runtime meanwhile). The storage stage
//                     switches to the container's root at the end of its create_container, so
//                     stages after it see the container's filesystem.
//   start_container   inside, after the root switch, right before execve: capabilities,
//                     seccomp, rlimits. The exec stage (last) calls execve here.
//   poststart         host, after the workload started.
//   teardown          host, in reverse pipeline order, after the workload ended or setup failed.
//                     Must be idempotent and work from the journal alone: after a crash nsrun
//                     runs it in a fresh process with a fresh stage object.
//
// Which process runs a phase matters: create_container and start_container run in the forked
// container process, so nothing a stage sets in memory there reaches poststart or teardown, and
// teardown may run in another nsrun process altogether (`nsrun delete`, `nsrun gc`) with a fresh
// stage object. What must outlive a phase goes into the journal. Only prepare may change the spec
// (ctx.spec): changes made in another phase are not seen by other stages. No stage may start a
// thread before the container process is cloned (validate, prepare): clone copies one thread.
//
// Stage methods may throw; the plugin export macro (plugin.hpp) catches everything at the
// plugin boundary and turns it into a status with a message, so no exception crosses it.
//
// Everything in this header is compiled into the plugin: none of it crosses the boundary, which
// is the C of <nsrun/plugin.h>.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/spec.hpp"

namespace nsrun {

/// The lifecycle phases, in the order the core runs them (the values of plugin.h's nsrun_phase).
enum class Phase : int {
  validate = 0,
  prepare = 1,
  create_runtime = 2,
  create_container = 3,
  start_container = 4,
  poststart = 5,
  teardown = 6,
  // Since SDK 2.1 (see plugin.h).
  exec_prepare = 7,
  exec_runtime = 8,
  exec_container = 9,
  pause = 10,
  resume = 11,
  update = 12,
  // Since SDK 2.6: the spec is final (see plugin.h). The C++ face reads it and calls no method.
  spec_final = 13,
};

/// Exit codes shared by every stage, as docker, runc and crun use them.
namespace exit_code {
inline constexpr int runtime_error = 125;      ///< nsrun itself failed
inline constexpr int cannot_execute = 126;     ///< the command exists but cannot be executed
inline constexpr int command_not_found = 127;  ///< the command does not exist
}  // namespace exit_code

/// The error a stage throws. The message is one line saying what failed, why, and the fix;
/// the core prefixes "nsrun: <stage kind>: ", so the message does not name the stage again.
class StageError : public std::runtime_error {
 public:
  explicit StageError(const std::string& message, int exit_code = exit_code::runtime_error)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

/// One resource a stage created, as recorded in the container's journal.
struct JournalRecord {
  std::string type;          ///< stage-defined, e.g. "mountpoint", "veth", "cgroup"
  boost::json::object data;  ///< whatever teardown needs to find the resource again
};

/// The container's persistent journal of resources (implemented by the core).
///
/// Record a resource *before* creating it, so that a crash between the two leaves a record of
/// something that may not exist (teardown tolerates that) rather than a resource nobody knows.
class Journal {
 public:
  /// Appends a record for the calling stage and flushes it to disk. False on I/O failure.
  virtual bool append(std::string_view type, const boost::json::object& data) noexcept = 0;
  /// The calling stage's records, oldest first.
  virtual std::vector<JournalRecord> records() const = 0;

  /// Like append(), but throws StageError when the record cannot be written, so that the
  /// resource is not created unrecorded.
  void record(std::string_view type, const boost::json::object& data) {
    if (!append(type, data))
      throw StageError("cannot write the state journal (is the state directory writable?)");
  }

 protected:
  ~Journal() = default;
};

/// Diagnostics to stderr (implemented by the core). Debug lines show only with DEBUG=1 or
/// --log-level debug, info lines with --log-level info or debug; by default nsrun prints nothing
/// of its own around the workload but warnings and errors.
class Logger {
 public:
  virtual bool debug_enabled() const noexcept = 0;
  virtual void debug(std::string_view message) noexcept = 0;
  /// A normal report the user asked for with --log-level info (e.g. an address chosen). A
  /// logger that shows no such reports (a test's) need not implement it.
  virtual void info(std::string_view) noexcept {}
  virtual void warn(std::string_view message) noexcept = 0;
  /// A line the user must see whatever the log level: "nsrun: <message>" (e.g. an OOM kill).
  virtual void error(std::string_view message) noexcept = 0;

 protected:
  ~Logger() = default;
};

/// What stages exchange through nsrun (implemented by the core; a test kit fake in tests).
/// Every key is declared in the plugin's descriptor: outputs it sets in `provides`, outputs it
/// reads in `needs` (see NSRUN_PLUGIN), and nsrun refuses a pipeline whose order breaks them.
class Services {
 public:
  /// Sets an output of this stage (validate or prepare). Throws StageError when refused.
  virtual void provide(std::string_view key, const boost::json::value& value) = 0;
  /// Another stage's output, or nullopt when no stage set it.
  virtual std::optional<boost::json::value> output(std::string_view key) const = 0;
  /// Puts a file into the container's view (prepare only); the stage that provides "files"
  /// mounts it, nothing is written into the rootfs. Throws StageError when refused.
  virtual void add_file(std::string_view destination, std::string_view content, unsigned mode) = 0;
  /// A span of the stage's own in `nsrun run --trace` (SDK 2.4); nothing when not traced, or
  /// with an older nsrun.
  virtual void trace_span(std::string_view, std::chrono::steady_clock::time_point,
                          std::chrono::steady_clock::time_point) {}

 protected:
  ~Services() = default;
};

/// Where the container's spec came from (SDK 2.2).
enum class SpecSource : int {
  /// A bundle's config.json (`nsrun create`, `nsrun run --bundle`), or a process `nsrun exec`
  /// starts: applied exactly as written, as runc applies it. Also what an older nsrun passes.
  bundle = 0,
  /// Built by `nsrun run FLAGS CMD` from its flags: a stage fills in its defaults for what the
  /// flags leave out (docker's, e.g. the capabilities and seccomp profile a container gets).
  flags = 1,
};

/// What a stage receives in every phase.
struct Context {
  std::string_view container_id;  ///< [a-zA-Z0-9_.-]{1,64}; names derived from it must be unique
  std::string_view state_dir;     ///< host path of the container's private state dir (0700)
  ContainerSpec& spec;            ///< the container; only prepare may change it
  const boost::json::object& config;  ///< this stage's own config from the pipeline
  Journal& journal;
  Logger& log;
  /// The container's pid as seen from the host, from create_runtime on. In exec_prepare, the
  /// container's (an older nsrun gave 0 there: check it); in exec_runtime, the process
  /// `nsrun exec` made.
  pid_t pid = 0;
  /// The directory holding every container's state directory (for stores shared between
  /// containers, such as address leases).
  std::string_view state_root = {};
  /// The plugin's own `nsrun run` flags that were given: {"name": value}. Empty for a bundle.
  const boost::json::object* flags = nullptr;
  Services* services = nullptr;
  SpecSource spec_source = SpecSource::bundle;  ///< since SDK 2.2

  /// The value of flag `name` (without dashes) when it was given, else null.
  const boost::json::value* flag(std::string_view name) const {
    return flags ? flags->if_contains(name) : nullptr;
  }
  void provide(std::string_view key, const boost::json::value& value) const {
    require_services().provide(key, value);
  }
  void provide(std::string_view key, const std::string& text) const {
    require_services().provide(key, boost::json::value(boost::json::string_view(text)));
  }
  /// A string literal is a JSON string (not, by pointer conversion, the boolean true).
  void provide(std::string_view key, const char* text) const { provide(key, std::string(text)); }
  std::optional<boost::json::value> output(std::string_view key) const {
    return require_services().output(key);
  }
  void add_file(std::string_view destination, std::string_view content,
                unsigned mode = 0644) const {
    require_services().add_file(destination, content, mode);
  }
  /// Records a span of the stage's own, inside the current phase's, for `nsrun run --trace`
  /// (SDK 2.4; see TraceScope). Does nothing when the run is not traced.
  void trace(std::string_view name, std::chrono::steady_clock::time_point start,
             std::chrono::steady_clock::time_point end) const {
    if (services) services->trace_span(name, start, end);
  }

 private:
  Services& require_services() const {
    if (!services) throw StageError("no stage services in this context");
    return *services;
  }
};

/// A span of a stage's own from construction to destruction, for `nsrun run --trace` (SDK 2.4):
///   { nsrun::TraceScope step(ctx, "seccomp: load the filter"); load(); }
class TraceScope {
 public:
  TraceScope(const Context& ctx, std::string name)
      : ctx_(ctx), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  ~TraceScope() { ctx_.trace(name_, start_, std::chrono::steady_clock::now()); }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  const Context& ctx_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

/// One call of a plugin command (SDK 2.3): `nsrun network rm web` is name "rm", args {"web"}.
/// The stage class runs it in `static void run_command(nsrun::Command&)`; a StageError it throws
/// becomes nsrun's one-line error and exit code.
struct Command {
  std::string_view name;
  std::vector<std::string> args;
  std::string_view state_root;
  Logger& log;
  int output_fd;

  /// Writes the command's result to nsrun's standard output.
  void print(std::string_view text) const {
    while (!text.empty()) {
      ssize_t written = ::write(output_fd, text.data(), text.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) throw StageError("cannot write the command's output");
      text.remove_prefix(static_cast<std::size_t>(written));
    }
  }
};

/// The interface a plugin implements. Every phase defaults to doing nothing.
class IStage {
 public:
  virtual ~IStage() = default;
  virtual void validate(Context&) {}
  virtual void prepare(Context&) {}
  virtual void create_runtime(Context&) {}
  virtual void create_container(Context&) {}
  virtual void start_container(Context&) {}
  virtual void poststart(Context&) {}
  virtual void teardown(Context&) {}
  // Since SDK 2.1. exec_*: another process joins the running container (`nsrun exec`); the
  // spec's process is that process. A stage that confines the container's process in
  // start_container confines it again in exec_container. pause/resume freeze and thaw the
  // container's processes; they run on fresh objects, from the journal alone, like teardown.
  virtual void exec_prepare(Context&) {}
  virtual void exec_runtime(Context&) {}
  virtual void exec_container(Context&) {}
  virtual void pause(Context&) {}
  virtual void resume(Context&) {}
  /// nsrun update: apply the spec's (new) linux.resources to what the stage made; host, fresh
  /// object, journal only.
  virtual void update(Context&) {}
};

}  // namespace nsrun
