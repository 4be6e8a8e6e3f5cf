// `nsrun run -d`: a container that outlives the nsrun that started it, watched by a supervisor.
//
// The nsrun that is asked to detach forks twice: the middle process calls setsid and forks the
// supervisor, then exits, so the supervisor is nobody's child but init's (or the nearest
// subreaper's), leads no session and can never get a controlling terminal. The supervisor runs
// the foreground path, Orchestrator::run, unchanged: the container process gets PDEATHSIG from
// it as it would from a foreground nsrun, it forwards the signals it gets, waits, and tears down.
// Its stdin is /dev/null; its stdout and stderr, which the workload inherits, are a pipe read by
// the logger, a process of its own (container_log.hpp).
//
// The waiting nsrun learns the outcome through a pipe the supervisor writes one line to, from a
// RunListener (orchestrator.hpp): "started" once the workload exec'd and poststart ran, or
// "failed <exit code> <message>" when setup failed and was unwound. It then prints the id and
// exits 0, or prints the message and exits with the code a foreground run would have (125, 126,
// 127), leaving nothing behind. An end-of-file before either means the supervisor died.
//
// When the workload exits, the supervisor lets the logger drain the pipe to its end before the
// teardown. Without --rm the teardown keeps the container's record (state.json, now stopped
// with the exit code, and the logs; see state.hpp) for `nsrun state`, `list` and `logs`, until
// `nsrun delete`. With --rm everything goes, as after a foreground run.
#pragma once

#include <cstdint>
#include <functional>

#include "nsrun/core/container_log.hpp"
#include "nsrun/core/log.hpp"
#include "nsrun/core/orchestrator.hpp"

namespace nsrun::core {

struct DetachOptions {
  std::uint64_t log_max_size = default_log_max_size;  ///< container.log's rotation size
  /// Called in the supervisor with the run's exit code once the run ended and was torn down
  /// (`run -d --trace` writes its trace then). Its working directory is then /, and its stderr
  /// the container's log.
  std::function<void(int exit_code)> finished;
};

/// How long the supervisor waits, once the workload exited, for the last writers of its output
/// pipe to go (processes of a container without a pid namespace of its own may outlive its first
/// process) before it stops the logger and tears down.
inline constexpr int log_drain_timeout_ms = 5000;

/// Starts `request` (run to the workload's exit; request.keep_record chooses what the teardown
/// keeps) under a supervisor, as described at the top. Returns the exit code of `nsrun run -d`:
/// 0 once the workload runs; otherwise the setup failure's code, its message logged to `log`.
/// Only the supervisor uses `orchestrator` and `request`; this process merely waits.
int run_detached(Orchestrator& orchestrator, ContainerRequest& request,
                 const DetachOptions& options, StderrLogger& log);

}  // namespace nsrun::core
