// The CLI's subcommands: one file each, registered on the CLI11 app by main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/core/loader.hpp"
#include "nsrun/core/log.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/pipeline.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/core/trace.hpp"

namespace nsrun::cli {

/// Where this nsrun's files live, found relative to the executable so that the build tree and
/// an installation work alike: <prefix>/bin/nsrun, <prefix>/lib/nsrun/plugins,
/// <prefix>/share/nsrun/pipeline.json, <prefix>/lib/nsrun/nsrun-init.
struct Installation {
  std::string plugin_dir;
  std::string default_pipeline;
  std::string default_rootfs;
  std::string init_binary;  ///< the container's PID 1 under `nsrun run --init`
  static Installation locate();
};

/// Options every subcommand shares.
/// When main() started: the trace's first span of nsrun's own (trace.hpp).
extern core::TraceClock::time_point main_started;
/// When the launcher started this nsrun, if it did (core::take_launcher_start_time).
extern std::optional<core::TraceClock::time_point> launched_at;

struct GlobalOptions {
  std::string state_root;
  std::string log_level = "warn";
  std::vector<std::string> plugin_dirs;
  std::string log_file;             ///< --log: messages also go there (engines read it)
  std::string log_format = "text";  ///< --log-format text|json
  bool debug = false;               ///< --debug: the log level debug
  bool systemd_cgroup = false;      ///< --systemd-cgroup: refused where cgroups are made
  char** argv = nullptr;            ///< main's, to re-execute nsrun (read_only_self.hpp)
  /// The arguments after the name of a command that parses its own (run, bench), as given:
  /// CLI11 sees only the global flags and the name. Through CLI11, a `--` before the command's
  /// first word (`nsrun run -- CMD`) ended the command's arguments and left CMD to nsrun's own,
  /// which refused it. Unset when main could not tell where the command's name is.
  std::optional<std::vector<std::string>> command_args;

  /// For the commands that put an nsrun process into a container (run, create, exec): re-executes
  /// nsrun from a read-only mount of its binary, unless it already runs from one.
  void protect_binary() const;

  /// Error when --systemd-cgroup asks for what nsrun cannot do.
  void refuse_systemd_cgroup(std::string_view command) const;

  /// --log-level, raised to debug by DEBUG=1.
  core::LogLevel level() const;
  /// Loads every plugin from --plugin-dir, NSRUN_PLUGIN_PATH and the installed directory.
  core::PluginRegistry load_plugins(const Installation& installation) const;
  /// Loads the plugins a container was created with (its state's plugins.json), or, for a state
  /// without that record, every plugin from the directories.
  core::PluginRegistry load_plugins_for(const core::StateDir& state,
                                        const Installation& installation) const;
  /// Loads only the plugins a pipeline's stages name, from the same directories.
  core::PluginRegistry load_plugins(const Installation& installation,
                                    const core::Pipeline& pipeline) const;
  /// Loads only the plugins named, from the same directories.
  core::PluginRegistry load_plugins(const Installation& installation,
                                    const std::vector<std::string>& names) const;
  /// Error naming `path` unless each selector of the pipeline file `file` is on a flag a plugin
  /// it names declares (Pipeline::check_selector_flags). `loaded` are the plugins the command
  /// loaded already; the file's others are loaded only when those do not settle it.
  void check_selectors(const core::Pipeline& file, const std::string& path,
                       const core::PluginRegistry& loaded, const Installation& installation) const;
};

/// Each add_* registers a subcommand whose callback stores nsrun's exit code in `exit_code`.
void add_run_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_plugins_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_version_command(CLI::App& app, int& exit_code);
void add_rootfs_command(CLI::App& app, int& exit_code);
void add_delete_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_gc_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_bench_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_logs_command(CLI::App& app, GlobalOptions& global, int& exit_code);
// The OCI runtime commands, with runc's syntax and meaning.
void add_create_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_start_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_state_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_kill_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_list_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_ps_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_features_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_spec_command(CLI::App& app, int& exit_code);
void add_exec_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_pause_commands(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_update_command(CLI::App& app, GlobalOptions& global, int& exit_code);

/// A slot of the default pipeline whose plugin may have commands of its own (SDK 2.3).
struct PluginCommandGroup {
  std::string kind;    ///< the slot, and the command's name: "network"
  std::string plugin;  ///< the default pipeline's plugin in it
};
/// The default pipeline's slots whose kind is no built-in command (`taken`); with
/// `only_with_commands`, loads their plugins and keeps those that declare commands (for the help).
std::vector<PluginCommandGroup> plugin_command_groups(const std::vector<std::string_view>& taken,
                                                      bool only_with_commands);
/// The plugin in the default pipeline's `kind` slot; error when it has none.
std::string default_plugin_of(const std::string& kind);
/// Runs `command` of `plugin` (which must fill the `kind` slot) with `args`, loaded from the
/// directories nsrun searches; returns nsrun's exit code.
int run_plugin_command(const GlobalOptions& global, const std::string& kind,
                       const std::string& plugin, const std::string& command,
                       const std::vector<std::string>& args);
/// Registers `nsrun KIND [--plugin NAME] COMMAND ARGS...`.
void add_plugin_command_group(CLI::App& app, GlobalOptions& global, int& exit_code,
                              const PluginCommandGroup& group);

/// `--trace FILE` of run, create, start and exec (core/trace.hpp): the path is checked before
/// anything is done, the trace begins with nsrun's start-up, and the file is written when the
/// command's work ends, failed or not.
class CommandTrace {
 public:
  /// Traces nothing when no `path` was given. Error naming --trace when the path is empty (given
  /// as "") or the file cannot be made. The trace names `global.argv` as the command.
  CommandTrace(const std::optional<std::string>& path, const GlobalOptions& global);
  /// The tracer, or null when nothing is traced.
  core::Tracer* tracer() { return tracer_; }
  /// The span from main() to now, named `what` (reading the flags, the pipeline, the plugins).
  void setup_done(const char* what, boost::json::object args = {});
  /// The span `what` from `start` to now, then the file. A trace that cannot be written is an
  /// error on `log`, not the command's failure.
  void finish(const char* what, core::TraceClock::time_point start, boost::json::object args,
              Logger& log);

 private:
  core::Tracer* tracer_ = nullptr;  ///< the process's (one command a process)
};

/// A container from an OCI bundle, as `nsrun create` makes it (detached) with the installed
/// default pipeline.
struct BundleLaunch {
  std::string bundle;
  std::string id;
  std::string pid_file;
  bool detached = true;
  std::string console_socket;     ///< --console-socket: where process.terminal's master goes
  int preserve_fds = 0;           ///< --preserve-fds: the exec stage's flag of that name
  bool no_new_keyring = false;    ///< --no-new-keyring: the security stage's flag of that name
  CommandTrace* trace = nullptr;  ///< --trace: the create traced into it
};

/// Gives `--preserve-fds N` to the stage that declares that flag (nsrun.exec). Error naming the
/// flag when no stage of the pipeline does.
void set_preserve_fds(std::vector<core::BoundStage>& stages, int count, const std::string& command);
int launch_bundle(const BundleLaunch& launch, const GlobalOptions& global);

/// `--pid-file FILE` of create and run: error naming the flag unless FILE's directory exists.
void check_pid_file(const std::string& path, const std::string& command);
/// `--console-socket PATH` of create and run: error naming the flag unless PATH is a Unix socket.
void check_console_socket(const std::string& path, const std::string& command);

/// The help of `nsrun run` for the default pipeline: the core's flags and each stage's.
std::string run_help(const GlobalOptions& global);

/// Prints "nsrun: <message>" and returns 125 (nsrun's own failure).
int report_error(const std::string& message);

/// Makes every flag of `app` and its commands that takes no value refuse a value other than
/// true or false (1, 0, yes, no, on, off, in any case): CLI11 takes `--rm=2` for true and
/// `--force=-1` for false, where runc and docker refuse a value that is no boolean.
void strict_flag_values(CLI::App& app);

/// A container's command as given after nsrun's flags: less the `--` that may end those flags
/// (`nsrun run -- CMD`, `nsrun exec ID -- CMD`, as docker takes them).
std::vector<std::string> without_end_of_flags(std::vector<std::string> words);

}  // namespace nsrun::cli
