// config.json `hooks` (OCI runtime spec 1.1, "POSIX-platform Hooks"): programs the runtime runs
// at fixed points of a container's life, each given the container's state on stdin. They are the
// core's, not a stage's (runc's libcontainer runs them itself): the core validates them before
// anything exists and runs each kind at its point.
//
// Where each kind runs, on nsrun's phases (docs/architecture.md, "Hooks"):
//
//   prestart,       host (runtime namespaces), after every stage's create_runtime, before the
//   createRuntime   container process is released; prestart (deprecated) first. A failure kills
//                   the container process and fails create/run (125), which tears down.
//   createContainer the container process, in the container's namespaces, once released and
//                   before any stage's create_container: the path resolves in the runtime's
//                   mount view (nothing is mounted yet, no pivot_root). A failure is reported on
//                   the sync socket like a stage's and fails create/run.
//   startContainer  the container process, once `nsrun start` released it (at once under a
//                   foreground `nsrun run`), before any stage's start_container: after
//                   pivot_root, so the path resolves in the container; before the workload execs.
//                   A failure fails start (or run) like a stage's start_container.
//   poststart       host, once the workload has exec'd: in `nsrun start` and, for a foreground
//                   run, where the poststart phase runs. A failure is a warning only.
//   poststop        host, once the container is deleted: whenever nsrun removes the state
//                   directory (`nsrun delete`, `nsrun gc`, the end of a foreground run, or a
//                   failed create/run, as runc's destroy runs them); after a teardown that failed
//                   and kept the state, only once a later delete removes it. A warning only.
//
// Status on stdin: creating (prestart, createRuntime, createContainer), created (startContainer),
// running (poststart), stopped (poststop); pid is the container process's host pid, 0 once it
// is stopped.
#pragma once

#include <sys/types.h>

#include <array>
#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/core/lifecycle.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::core {

enum class HookKind {
  prestart,
  create_runtime,
  create_container,
  start_container,
  poststart,
  poststop
};
inline constexpr HookKind all_hook_kinds[] = {HookKind::prestart,         HookKind::create_runtime,
                                              HookKind::create_container, HookKind::start_container,
                                              HookKind::poststart,        HookKind::poststop};

/// The kind's name in config.json: "prestart", "createRuntime", ...
const char* hook_kind_name(HookKind kind);

/// One hook entry.
struct Hook {
  std::string path;               ///< absolute
  std::vector<std::string> args;  ///< argv, args[0] included; empty: {path}
  /// The hook's whole environment; nullopt (no `env` in config.json): nsrun's own, as runc's
  /// hooks get runc's.
  std::optional<std::vector<std::string>> env;
  std::optional<int> timeout_seconds;  ///< > 0; nullopt: no limit
};

/// Every hook of a config.json, by kind, in the listed order.
class Hooks {
 public:
  const std::vector<Hook>& of(HookKind kind) const {
    return lists_[static_cast<std::size_t>(kind)];
  }
  std::vector<Hook>& of(HookKind kind) { return lists_[static_cast<std::size_t>(kind)]; }
  bool empty() const;

 private:
  std::array<std::vector<Hook>, std::size(all_hook_kinds)> lists_;
};

/// Reads config.json's `hooks` (absent or null: none). Error naming the first malformed field,
/// e.g. `config.json: hooks.poststart[1].path "x" must be an absolute path`. Kinds and fields
/// the spec does not define are ignored, as it says.
Hooks parse_hooks(const boost::json::object& config);

/// What a hook reads on stdin: the container's OCI state at that point.
struct HookState {
  std::string id;
  Status status = Status::creating;
  pid_t pid = 0;
  std::string bundle;
  boost::json::object annotations;
};

/// The state document: ociVersion, id, status, pid, bundle, annotations.
std::string hook_state_json(const HookState& state);

/// Runs one hook and waits for it: `path` exec'd with `args` and `env`, `state_json` on its
/// stdin (a hook need not read it), stdout and stderr captured, default signal dispositions and
/// an empty signal mask, descriptors above 2 closed, in a process group of its own. Past its
/// timeout the group is killed. nullopt when it exited 0; otherwise the one-line failure
/// "hook <kind>[<index>] <path>: <why>[: <its output, trimmed and capped>]".
std::optional<std::string> run_hook(const Hook& hook, HookKind kind, std::size_t index,
                                    std::string_view state_json);

/// Runs the hooks of `kind` in order; the first failure stops them and is returned. With `log`,
/// each hook's duration is a debug line ("core: hook createRuntime[0] /x: 3.1 ms").
std::optional<std::string> run_hooks(const Hooks& hooks, HookKind kind, const HookState& state,
                                     Logger* log = nullptr);

/// Runs every hook of `kind` in order; a failure is logged as a warning and the next runs
/// (poststart, poststop: the spec continues the lifecycle as if it had succeeded). Durations are
/// debug lines, as with run_hooks.
void run_hooks_warning_only(const Hooks& hooks, HookKind kind, const HookState& state, Logger& log);

}  // namespace nsrun::core
