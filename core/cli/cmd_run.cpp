// nsrun run [FLAGS] CMD [ARG...] | nsrun run --bundle DIR [ID]
//
// In the foreground (the default) nsrun lives as long as its container: stdin, stdout and
// stderr are the workload's, signals are forwarded, and everything is removed when the workload
// exits. With -d a supervisor takes that role and nsrun returns once the workload runs, printing
// its id (see nsrun/core/detach.hpp); --rm then removes everything at the exit as a foreground
// run does, and without it the record and the logs stay for `nsrun state`, `list` and `logs`
// until `nsrun delete`. --init puts nsrun-init in front of the workload as the container's
// PID 1. runc's own run flags are taken as well (--pid-file, --console-socket, --keep, --no-pivot,
// --no-subreaper; --no-new-keyring and --preserve-fds are stages' flags), so that what drives
// `runc run -b DIR ID` can drive nsrun.
//
// The flags that describe the container itself (OCI fields: --hostname, --rootfs, --mount, -e,
// -w, --read-only, --bundle) and the pipeline (--pipeline, --stage, --name) are the core's. Every
// other flag belongs to the plugin that declares it (nsrun_plugin.flags): nsrun parses it and
// hands the value to that plugin, which alone decides what is valid. So which flags exist depends
// on the pipeline, which flags choose: the arguments are parsed against the default pipeline,
// and again whenever what was parsed (--pipeline, --stage, or a selector such as --network none)
// picks other plugins, until the pipeline no longer changes.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "nsrun/core/detach.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/run_flags.hpp"
#include "nsrun/core/spec_json.hpp"
#include "nsrun/core/terminal.hpp"

namespace nsrun::cli {
namespace {

struct RunOptions {
  core::RunFlags flags;
  std::string bundle;
  std::string pipeline_file;
  std::vector<std::string> stage_overrides;
  std::string name;
  bool detach = false;
  bool remove = false;
  bool init = false;
  bool interactive = false;
  std::string log_max_size;
  std::optional<std::string> trace;  ///< given, even empty (refused), or not
  bool help = false;
  // runc run's own flags (engines and scripts drive `run --bundle DIR ID` as runc's).
  std::string pid_file;
  std::string console_socket;
  bool keep = false;
  bool no_pivot = false;
  bool no_subreaper = false;
};

// The core's own flags of `nsrun run`.
void add_core_options(CLI::App& run, RunOptions& options) {
  core::RunFlags& f = options.flags;
  run.add_flag("--help,-h", options.help, "Show this help (with the flags of each stage)");
  run.add_option("--hostname", f.hostname, "Container hostname")->capture_default_str();
  run.add_option("--rootfs", f.rootfs,
                 "Root filesystem (default: ./namespace_fs if present, else " NSRUN_DEFAULT_ROOTFS
                 ")");
  run.add_option("--mount,-v", f.mounts,
                 "Bind mount HOST:CONTAINER[:ro|:rw], repeatable (default: the current "
                 "directory at /app)")
      ->allow_extra_args(false);
  run.add_option("--env,-e", f.env, "Set KEY=VALUE (or pass the host's KEY), repeatable")
      ->allow_extra_args(false);
  run.add_option("--workdir,-w", f.workdir, "Working directory inside the container");
  run.add_flag("--read-only", f.read_only, "Mount the container's root read-only");
  run.add_flag("--tty,-t", f.tty,
               "Give the workload a pseudo-terminal, relayed to this one (raw mode, window size)");
  run.add_option("--bundle,-b", options.bundle,
                 "Run the OCI bundle DIR (DIR/config.json); a word after the flags is the "
                 "container's id, as in runc run -b DIR ID");
  run.add_option("--pipeline", options.pipeline_file, "Pipeline JSON replacing the default");
  run.add_option("--stage", options.stage_overrides,
                 "Swap one stage: KIND=PLUGIN, e.g. network=nsrun.network.none (repeatable)")
      ->allow_extra_args(false);
  run.add_option("--name", options.name, "Container id (default: 12 random hex digits)");
  run.add_option("--trace", options.trace,
                 "Write what each step of the run cost to FILE, as Chrome trace-event JSON (open "
                 "it in ui.perfetto.dev)");
  run.add_flag("--detach,-d", options.detach,
               "Run in the background: print the container id once the workload runs; its "
               "output goes to nsrun logs ID");
  run.add_flag("--rm", options.remove,
               "Remove the container when it exits (a foreground run always does; with -d, "
               "without --rm its record and logs stay until nsrun delete)");
  run.add_flag("--init", options.init,
               "Run nsrun-init as PID 1: it forwards signals to the command and reaps orphans");
  run.add_flag("--interactive,-i", options.interactive,
               "Keep stdin attached (a foreground run always does; not with -d)");
  run.add_option("--log-max-size", options.log_max_size,
                 "With -d: rotate the log at SIZE (bytes, or with k, m, g; default 1m), keeping "
                 "two files")
      ->type_name("SIZE");
  run.add_option("--pid-file", options.pid_file,
                 "Write the container process's pid to FILE once the workload runs (as runc)")
      ->type_name("FILE");
  run.add_option("--console-socket", options.console_socket,
                 "Send the terminal's master (process.terminal, -t) to the Unix socket SOCK "
                 "instead of relaying it here (as runc)")
      ->type_name("SOCK");
  run.add_flag("--keep", options.keep,
               "Keep the container's record (state, exit code) after it exits, until nsrun "
               "delete (as runc; -d keeps it unless --rm)");
  run.add_flag("--no-pivot", options.no_pivot,
               "Accepted for runc's callers: nsrun always switches root with pivot_root");
  run.add_flag("--no-subreaper", options.no_subreaper,
               "Accepted for runc's callers: nsrun never makes itself a subreaper");
  run.prefix_command();  // everything from the command on belongs to the workload
}

// The values of one stage's flags, as CLI11 fills them.
struct StageFlags {
  std::size_t stage;  // index in the pipeline
  std::vector<std::pair<const nsrun_flag*, CLI::Option*>> options;
  std::map<std::string, std::string> strings;
  std::map<std::string, std::vector<std::string>> lists;
  std::map<std::string, bool> switches;

  boost::json::object given() const {
    boost::json::object out;
    for (const auto& [flag, option] : options) {
      if (option->count() == 0) continue;
      if (flag->type == NSRUN_FLAG_STRINGS) {
        const auto& values = lists.at(flag->name);
        out[flag->name] = boost::json::array(values.begin(), values.end());
      } else if (flag->type == NSRUN_FLAG_SWITCH) {
        out[flag->name] = switches.at(flag->name);
      } else {
        out[flag->name] = strings.at(flag->name);
      }
    }
    return out;
  }
};

// `nsrun run` with the core's flags and those of every stage of `bound`, grouped by stage.
class RunCommandLine {
 public:
  RunCommandLine(const std::vector<core::BoundStage>& bound, const core::Pipeline& pipeline)
      : app_("Run a command in a new container", "nsrun run") {
    app_.set_help_flag();  // ours, so that it shows the plugins' flags
    add_core_options(app_, options_);
    for (std::size_t i = 0; i < bound.size(); ++i) {
      const nsrun_plugin& plugin = bound[i].descriptor();
      if (!plugin.flags || plugin.flag_count == 0) continue;
      auto& stage = stages_.emplace_back(std::make_unique<StageFlags>());
      stage->stage = i;
      const std::string group =
          "Flags of the " + pipeline.stages[i].kind + " stage (" + pipeline.stages[i].plugin + ")";
      for (std::uint32_t k = 0; k < plugin.flag_count; ++k) {
        const nsrun_flag& flag = plugin.flags[k];
        if (!flag.name || !*flag.name) continue;
        std::string names = std::string("--") + flag.name;
        if (flag.short_name && *flag.short_name) names += std::string(",-") + flag.short_name;
        const std::string help = flag.help ? flag.help : "";
        CLI::Option* option = nullptr;
        try {
          if (flag.type == NSRUN_FLAG_SWITCH) {
            option = app_.add_flag(names, stage->switches[flag.name], help);
          } else if (flag.type == NSRUN_FLAG_STRINGS) {
            option = app_.add_option(names, stage->lists[flag.name], help)->allow_extra_args(false);
          } else {
            option = app_.add_option(names, stage->strings[flag.name], help);
          }
        } catch (const CLI::OptionAlreadyAdded&) {
          throw core::Error("pipeline: --" + std::string(flag.name) + " of " +
                            pipeline.stages[i].plugin +
                            " is already a flag of nsrun or of another stage (rename one)");
        }
        if (flag.value_name) option->type_name(flag.value_name);
        option->group(group);
        stage->options.emplace_back(&flag, option);
      }
    }
    strict_flag_values(app_);
  }

  /// Parses the arguments of `nsrun run` (CLI11's ParseError on a malformed one).
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    app_.parse(args);
  }
  RunOptions& options() { return options_; }
  /// What follows nsrun's flags: the workload's command, a `--` that ends the flags before it,
  /// or a flag nsrun does not know.
  std::vector<std::string> remaining() { return app_.remaining(); }
  /// The workload's command: what follows nsrun's flags, less the `--` that may end them.
  std::vector<std::string> command() { return without_end_of_flags(app_.remaining()); }
  std::string help() { return app_.help(); }
  /// The given flags of each stage.
  std::map<std::size_t, boost::json::object> stage_flags() const {
    std::map<std::size_t, boost::json::object> out;
    for (const auto& stage : stages_) out[stage->stage] = stage->given();
    return out;
  }

 private:
  CLI::App app_;
  RunOptions options_;
  std::vector<std::unique_ptr<StageFlags>> stages_;
};

// A pipeline file, read once per process: parse_run asks for it again on every attempt.
const core::Pipeline& pipeline_file(const std::string& path) {
  static std::map<std::string, core::Pipeline> read;
  auto it = read.find(path);
  if (it == read.end()) it = read.emplace(path, core::Pipeline::from_file(path)).first;
  return it->second;
}

// The pipeline that the parsed options ask for: the file, then each selector whose flag was
// given with its value, then each --stage.
core::Pipeline wanted_pipeline(const RunOptions& options, const Installation& installation,
                               const std::map<std::size_t, boost::json::object>& flags) {
  core::Pipeline pipeline = pipeline_file(
      options.pipeline_file.empty() ? installation.default_pipeline : options.pipeline_file);
  std::vector<std::string> selected;
  for (const auto& selector : pipeline.selectors)
    for (const auto& [stage, given] : flags)
      if (const auto* v = given.if_contains(selector.flag);
          v && v->is_string() && v->as_string() == selector.value)
        selected.push_back(selector.stage);
  for (const auto& assignment : selected) pipeline.override_stage(assignment);
  for (const auto& assignment : options.stage_overrides) pipeline.override_stage(assignment);
  return pipeline;
}

// The arguments up to the workload's command, looked at without knowing every flag: enough to
// see a --pipeline or --stage after a flag that only another pipeline's plugins know.
// The values given to `name` (`--name VALUE` or `--name=VALUE`) anywhere in the arguments.
std::vector<std::string> values_of(const std::vector<std::string>& args, const std::string& name) {
  std::vector<std::string> values;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size())
      values.push_back(args[++i]);
    else if (args[i].starts_with(name + "="))
      values.push_back(args[i].substr(name.size() + 1));
  }
  return values;
}

RunOptions scan_leniently(const std::vector<std::string>& args) {
  RunOptions found;
  if (auto files = values_of(args, "--pipeline"); !files.empty())
    found.pipeline_file = files.back();
  found.stage_overrides = values_of(args, "--stage");
  return found;
}

// The pipeline the arguments most likely choose, guessed before any plugin is loaded (a stage's
// flags are only known once its plugin is): --pipeline, --stage, and each selector whose flag
// appears with its value (`--network none`). parse_run parses the arguments against the guess and
// loads again when the parse says otherwise, so a wrong guess costs a load, never a wrong
// pipeline. A right one saves loading a plugin (and its libraries) only to swap it out: with
// `--network none`, the bridge stage with libnl and libiptc.
core::Pipeline guessed_pipeline(const RunOptions& lenient, const std::vector<std::string>& args,
                                const Installation& installation) {
  const core::Pipeline& base = pipeline_file(
      lenient.pipeline_file.empty() ? installation.default_pipeline : lenient.pipeline_file);
  boost::json::object given;
  for (const auto& selector : base.selectors)
    if (auto values = values_of(args, "--" + selector.flag); !values.empty())
      given[selector.flag] = values.back();
  return wanted_pipeline(lenient, installation, {{0, std::move(given)}});
}

core::Pipeline guessed_pipeline(const std::vector<std::string>& args,
                                const Installation& installation) {
  // What the scan takes for --pipeline or --stage may be the workload's own argument: a guess
  // that cannot be read or applied falls back to the installed pipeline, as parse_run's first
  // attempt always did.
  try {
    return guessed_pipeline(scan_leniently(args), args, installation);
  } catch (const core::Error&) {
    return wanted_pipeline(RunOptions{}, installation, {});
  }
}

struct ParsedRun {
  core::Pipeline pipeline;
  core::PluginRegistry registry;
  std::vector<core::BoundStage> stages;
  std::unique_ptr<RunCommandLine> command_line;
  int loads = 1;  ///< pipelines loaded before the arguments and the plugins agreed
};

// The installed plugins that declare `flag` ("--publish", "--publish=80:80", "-p"), joined,
// for the error of a flag the chosen pipeline lacks. Every plugin is loaded, on that error only.
std::string plugins_declaring(std::string_view flag, const GlobalOptions& global,
                              const Installation& installation) {
  std::string long_name, short_name;
  if (flag.starts_with("--"))
    long_name =
        flag.substr(2, flag.find('=') == std::string_view::npos ? flag.npos : flag.find('=') - 2);
  else if (flag.size() >= 2)
    short_name = flag.substr(1, 1);
  std::string names;
  try {
    const core::PluginRegistry registry = global.load_plugins(installation);
    for (const auto& record : registry.plugins()) {
      if (!record.loaded() || !record.descriptor->flags) continue;
      for (std::uint32_t k = 0; k < record.descriptor->flag_count; ++k) {
        const nsrun_flag& declared = record.descriptor->flags[k];
        if ((!long_name.empty() && declared.name && long_name == declared.name) ||
            (!short_name.empty() && declared.short_name && short_name == declared.short_name)) {
          names += (names.empty() ? "" : ", ") + record.name;
          break;
        }
      }
    }
  } catch (const core::Error&) {
    return {};  // the plain message then
  }
  return names;
}

// Parses `args` against the pipeline they choose (see the top of this file).
ParsedRun parse_run(const std::vector<std::string>& args, const GlobalOptions& global,
                    const Installation& installation) {
  core::Pipeline pipeline = guessed_pipeline(args, installation);
  for (int attempt = 0;; ++attempt) {
    ParsedRun parsed;
    parsed.registry = global.load_plugins(installation, pipeline);
    parsed.stages = core::bind_pipeline(pipeline, parsed.registry);
    parsed.command_line = std::make_unique<RunCommandLine>(parsed.stages, pipeline);
    RunCommandLine& line = *parsed.command_line;
    std::optional<CLI::ParseError> error;
    try {
      line.parse(args);
    } catch (const CLI::ParseError& e) {
      error = e;
    }
    std::vector<std::string> rest = line.remaining();
    bool unknown_flag = !rest.empty() && rest.front().starts_with("-") && rest.front() != "-" &&
                        rest.front() != "--";
    // A parse that stopped at a flag this pipeline does not know says little about the pipeline
    // wanted (the --pipeline or --stage after that flag went unread): the guess from the raw
    // arguments does, and it is the same on every attempt, so the attempts settle.
    core::Pipeline wanted = error || unknown_flag
                                ? guessed_pipeline(args, installation)
                                : wanted_pipeline(line.options(), installation, line.stage_flags());
    if (wanted.plugin_names() == pipeline.plugin_names() || attempt == 3) {
      if (error) throw *error;
      if (unknown_flag) {
        std::string plugins;
        for (const auto& stage : pipeline.stages)
          plugins += (plugins.empty() ? "" : ", ") + stage.plugin;
        const std::string others = plugins_declaring(rest.front(), global, installation);
        if (!others.empty())
          throw core::Error("run: " + rest.front().substr(0, rest.front().find('=')) +
                            " is a flag of " + others +
                            ", which this pipeline does not use (it has " + plugins +
                            "; choose one with --stage KIND=PLUGIN, see nsrun run --help)");
        throw core::Error("run: unknown flag " + rest.front() +
                          " (not a flag of nsrun or of this pipeline's plugins: " + plugins +
                          "; see nsrun run --help)");
      }
      // The file's selectors, once the arguments say which file it is and its chosen plugins
      // are loaded.
      const std::string& path = line.options().pipeline_file.empty() ? installation.default_pipeline
                                                                     : line.options().pipeline_file;
      global.check_selectors(pipeline_file(path), path, parsed.registry, installation);
      parsed.pipeline = std::move(pipeline);
      parsed.loads = attempt + 1;
      for (auto& [index, given] : line.stage_flags()) parsed.stages[index].set_flags(given);
      return parsed;
    }
    pipeline = std::move(wanted);
  }
}

// The index of the stage that declares the flag `name`, if one does.
std::optional<std::size_t> stage_declaring(const std::vector<core::BoundStage>& stages,
                                           std::string_view name) {
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const nsrun_plugin& plugin = stages[i].descriptor();
    for (std::uint32_t k = 0; plugin.flags && k < plugin.flag_count; ++k)
      if (plugin.flags[k].name && std::string_view(plugin.flags[k].name) == name) return i;
  }
  return std::nullopt;
}

std::size_t stage_declaring_preserve_fds(const std::vector<core::BoundStage>& stages, int count,
                                         const std::string& command) {
  if (auto stage = stage_declaring(stages, "preserve-fds")) return *stage;
  throw core::Error(command + ": --preserve-fds " + std::to_string(count) +
                    ": no stage of the pipeline passes descriptors on (nsrun.exec does; use 0)");
}

int run_container(const std::vector<std::string>& args, const GlobalOptions& global) {
  core::StderrLogger log(global.level());
  auto start = std::chrono::steady_clock::now();
  std::string cwd = std::filesystem::current_path().string();
  Installation installation = Installation::locate();

  // First: without root nothing below can work, and its files may not even be readable. Only
  // asking for help works without it.
  bool help_asked = std::find_if(args.begin(), args.end(), [](const std::string& a) {
                      return a == "--help" || a == "-h";
                    }) != args.end();
  if (::geteuid() != 0 && !help_asked)
    throw core::Error("nsrun run needs root to create namespaces and mounts (run it with sudo)");

  ParsedRun parsed = parse_run(args, global, installation);
  RunOptions& options = parsed.command_line->options();
  if (options.help) {
    std::cout << parsed.command_line->help();
    return 0;
  }
  if (::geteuid() != 0)
    throw core::Error("nsrun run needs root to create namespaces and mounts (run it with sudo)");
  global.refuse_systemd_cgroup("run");
  CommandTrace trace(options.trace, global);
  trace.setup_done("core: parse the flags, read the pipeline, load its plugins",
                   {{"plugins", parsed.registry.plugins().size()}, {"loads", parsed.loads}});
  options.flags.command = parsed.command_line->command();
  if (log.debug_enabled()) {
    std::string names;
    for (const auto& plugin : parsed.registry.plugins())
      names += (names.empty() ? "" : ", ") + plugin.name;
    log.debug("core: pipeline read and " + std::to_string(parsed.registry.plugins().size()) +
              " plugins loaded in " + std::to_string(core::elapsed_ms(start)) + " ms (" +
              (parsed.loads == 1 ? "first guess" : std::to_string(parsed.loads) + " loads") +
              "): " + names);
  }

  if (options.detach && options.interactive)
    throw core::Error(
        "run: -i keeps stdin attached, but -d detaches it and nsrun has no attach (drop -i, or "
        "run a command in the container with nsrun exec ID CMD)");
  if (options.detach && options.flags.tty && options.console_socket.empty())
    throw core::Error(
        "run: -t gives the workload a terminal relayed to yours, but -d detaches it and nsrun has "
        "no attach (drop -t, or open one later with nsrun exec -t ID sh)");
  if (options.keep && options.remove)
    throw core::Error(
        "run: --keep keeps the container's record after it exits and --rm removes it (give one)");
  if (!options.pid_file.empty()) check_pid_file(options.pid_file, "run");
  if (!options.console_socket.empty()) check_console_socket(options.console_socket, "run");
  // What runc does instead with these, nsrun does not do at all: it has nothing to turn off.
  if (options.no_pivot)
    log.debug("run: --no-pivot ignored: nsrun always switches root with pivot_root");
  if (options.no_subreaper)
    log.debug("run: --no-subreaper ignored: nsrun never makes itself a subreaper");
  core::DetachOptions detach_options;
  if (!options.log_max_size.empty()) {
    if (!options.detach)
      throw core::Error(
          "run: --log-max-size applies to -d (a foreground run's output is not logged; add -d "
          "or drop the flag)");
    detach_options.log_max_size = core::parse_log_size(options.log_max_size);
  }

  core::ContainerRequest request;
  std::string id_source = "--name";
  if (!options.bundle.empty()) {
    // `runc run --bundle DIR ID`: the one word after the flags is the container's id; the
    // command is the bundle's process.args.
    if (!options.flags.command.empty()) {
      if (options.flags.command.size() > 1 || !options.name.empty())
        throw core::Error(
            "run: with --bundle the command is the bundle's process.args; after the flags give "
            "only the container's id, as in runc run --bundle DIR ID (or --name ID)");
      options.name = options.flags.command.front();
      options.flags.command.clear();
      id_source = "container id";
    }
    request.bundle = std::filesystem::absolute(options.bundle).lexically_normal().string();
    request.spec = core::read_bundle_config(request.bundle);
    const ContainerSpec spec = core::spec_from_json(request.spec, request.bundle);
    if (spec.process.args.empty())
      throw core::Error("bundle: config.json process.args is empty (name the command to run)");
    // As runc: a detached terminal has nowhere to go but a console socket.
    if (options.detach && spec.process.terminal && options.console_socket.empty())
      throw core::Error(
          "run: process.terminal is true but -d detaches the container and no --console-socket "
          "was given (give the socket that receives the terminal, or set process.terminal to "
          "false)");
  } else {
    if (!options.console_socket.empty() && !options.flags.tty)
      throw core::Error(
          "run: --console-socket receives the workload's terminal, but no -t asks for one (add "
          "-t, or drop --console-socket)");
    request.bundle = cwd;
    request.spec =
        core::spec_to_json(core::spec_from_flags(options.flags, cwd, installation.default_rootfs));
    if (options.flags.mounts.empty() && core::shares_the_host_root(cwd))
      log.warn(
          "run: the current directory is /, the host's root: not mounted at /app (run nsrun "
          "from the directory to share, or give --mount HOST:CONTAINER)");
    for (auto& stage : parsed.stages) stage.set_spec_from_flags(true);
  }
  if (options.init) core::add_init_process(request.spec, installation.init_binary);
  request.id = options.name.empty() ? core::generate_container_id() : options.name;
  if (!core::is_valid_container_id(request.id))
    throw core::Error(id_source + " \"" + options.name +
                      "\" must be 1-64 letters, digits, '_', '.' or '-', starting with a letter "
                      "or digit");
  request.state_root = global.state_root;
  if (!options.pid_file.empty())  // the supervisor of -d leaves the caller's directory
    request.pid_file = std::filesystem::absolute(options.pid_file).string();
  if (!options.console_socket.empty())
    request.console_socket =
        core::connect_console_socket(options.console_socket, "run: --console-socket");
  for (const auto& name : parsed.pipeline.plugin_names())
    if (const auto* plugin = parsed.registry.find(name)) request.plugin_paths[name] = plugin->path;
  request.pipeline = std::move(parsed.pipeline);
  core::Orchestrator orchestrator(std::move(parsed.stages), log);
  if (auto* tracer = trace.tracer()) orchestrator.trace(*tracer);
  const auto run_start = core::TraceClock::now();
  auto finish_trace = [&](int code) {
    trace.finish("core: the container's lifecycle", run_start,
                 {{"container", request.id}, {"exit code", code}}, log);
  };
  if (!options.detach) {  // --rm: what a foreground run does, unless --keep
    request.keep_record = options.keep;
    int code = orchestrator.run(request);
    finish_trace(code);
    return code;
  }
  request.keep_record = !options.remove;
  // Detached, the supervisor runs the container, to its end: it writes the trace.
  if (trace.tracer()) detach_options.finished = finish_trace;
  int code = core::run_detached(orchestrator, request, detach_options, log);
  if (code == 0) std::cout << request.id << std::endl;
  return code;
}

}  // namespace

int launch_bundle(const BundleLaunch& launch, const GlobalOptions& global) {
  core::StderrLogger log(global.level());
  if (::geteuid() != 0)
    throw core::Error("nsrun create needs root to create namespaces and mounts (run it as root)");
  Installation installation = Installation::locate();
  core::ContainerRequest request;
  request.id = launch.id;
  request.bundle = std::filesystem::absolute(launch.bundle).lexically_normal().string();
  request.spec = core::read_bundle_config(request.bundle);
  if (core::spec_from_json(request.spec, request.bundle).process.args.empty())
    throw core::Error("bundle: config.json process.args is empty (name the command to run)");
  request.state_root = global.state_root;
  request.detached = launch.detached;
  request.pid_file = launch.pid_file;
  if (!launch.console_socket.empty())
    request.console_socket =
        core::connect_console_socket(launch.console_socket, "--console-socket");
  // An engine owns its containers' network (CNI, netavark, or a namespace path in the bundle):
  // as runc, nsrun gives a new network namespace its loopback and nothing else. That is the
  // installed pipeline's `--network none` choice (its selector), so a pipeline that names
  // another network plugin for "none" is obeyed.
  core::Pipeline pipeline = core::Pipeline::from_file(installation.default_pipeline);
  const core::Pipeline file = pipeline;
  for (const auto& selector : pipeline.selectors)
    if (selector.flag == "network" && selector.value == "none")
      pipeline.override_stage(selector.stage);
  core::PluginRegistry registry = global.load_plugins(installation, pipeline);
  global.check_selectors(file, installation.default_pipeline, registry, installation);
  std::vector<core::BoundStage> stages = core::bind_pipeline(pipeline, registry);
  // Each stage's flags are given at once: set_flags replaces what a stage was given before.
  std::map<std::size_t, boost::json::object> flags;
  if (launch.preserve_fds > 0)
    flags[stage_declaring_preserve_fds(stages, launch.preserve_fds, "create")]["preserve-fds"] =
        std::to_string(launch.preserve_fds);
  // A pipeline with no stage that makes a session keyring keeps the caller's: what is asked.
  if (launch.no_new_keyring)
    if (auto stage = stage_declaring(stages, "no-new-keyring"))
      flags[*stage]["no-new-keyring"] = true;
  for (const auto& [stage, given] : flags) stages[stage].set_flags(given);
  for (const auto& name : pipeline.plugin_names())
    if (const auto* plugin = registry.find(name)) request.plugin_paths[name] = plugin->path;
  request.pipeline = std::move(pipeline);
  core::Orchestrator orchestrator(std::move(stages), log);
  core::Tracer* tracer = launch.trace ? launch.trace->tracer() : nullptr;
  if (!tracer) return orchestrator.run(request);
  launch.trace->setup_done("core: parse the flags, read the bundle, load the plugins",
                           {{"plugins", registry.plugins().size()}});
  orchestrator.trace(*tracer);
  const auto create_start = core::TraceClock::now();
  int code = orchestrator.run(request);
  launch.trace->finish("core: create", create_start,
                       {{"container", request.id}, {"exit code", code}}, log);
  return code;
}

void set_preserve_fds(std::vector<core::BoundStage>& stages, int count,
                      const std::string& command) {
  stages[stage_declaring_preserve_fds(stages, count, command)].set_flags(
      {{"preserve-fds", std::to_string(count)}});
}

std::string run_help(const GlobalOptions& global) {
  Installation installation = Installation::locate();
  ParsedRun parsed = parse_run({"--help"}, global, installation);
  return parsed.command_line->help();
}

void add_run_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* run = app.add_subcommand("run", "Run a command in a new container");
  // Everything after `run` is parsed in the callback, once the pipeline's plugins (and so their
  // flags) are known.
  run->set_help_flag();
  run->prefix_command();
  run->allow_extras();
  run->callback([run, &global, &exit_code] {
    try {
      global.protect_binary();
      exit_code = run_container(global.command_args.value_or(run->remaining()), global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    } catch (const CLI::ParseError& e) {
      exit_code = report_error("run: " + std::string(e.what()) + " (see: nsrun run --help)");
    }
  });
}

}  // namespace nsrun::cli
