// nsrun: a small container runtime whose subsystems are plugins.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/read_only_self.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::cli {

core::TraceClock::time_point main_started;
std::optional<core::TraceClock::time_point> launched_at;

int report_error(const std::string& message) {
  core::StderrLogger(false).error(message);
  return exit_code::runtime_error;
}

void strict_flag_values(CLI::App& app) {
  static const CLI::Validator boolean(
      [](std::string& value) -> std::string {
        std::string lower;
        for (char c : value)
          lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const char* word : {"true", "false", "1", "0", "yes", "no", "on", "off"})
          if (lower == word) return {};
        return "takes no value, or true or false (not \"" + value + "\")";
      },
      "", "boolean");
  for (CLI::Option* option : app.get_options())
    if (option->get_expected_max() == 0) option->check(boolean);
  for (CLI::App* command : app.get_subcommands({})) strict_flag_values(*command);
}

std::vector<std::string> without_end_of_flags(std::vector<std::string> words) {
  if (!words.empty() && words.front() == "--") words.erase(words.begin());
  return words;
}

core::LogLevel GlobalOptions::level() const {
  if (debug || core::debug_requested_by_environment()) return core::LogLevel::debug;
  return core::parse_log_level(log_level).value_or(core::LogLevel::warn);
}

void GlobalOptions::refuse_systemd_cgroup(std::string_view command) const {
  if (systemd_cgroup)
    throw core::Error(std::string(command) +
                      ": --systemd-cgroup: nsrun manages cgroups through cgroupfs, not systemd "
                      "(configure the engine with cgroup_manager = \"cgroupfs\")");
}

core::PluginRegistry GlobalOptions::load_plugins(const Installation& installation) const {
  core::LoaderOptions options;
  options.directories = core::plugin_search_path(plugin_dirs, installation.plugin_dir);
  return core::PluginRegistry::discover(options);
}

core::PluginRegistry GlobalOptions::load_plugins(const Installation& installation,
                                                 const core::Pipeline& pipeline) const {
  return load_plugins(installation, pipeline.plugin_names());
}

core::PluginRegistry GlobalOptions::load_plugins(const Installation& installation,
                                                 const std::vector<std::string>& names) const {
  core::LoaderOptions options;
  options.directories = core::plugin_search_path(plugin_dirs, installation.plugin_dir);
  return core::PluginRegistry::load_named(options, names);
}

void GlobalOptions::check_selectors(const core::Pipeline& file, const std::string& path,
                                    const core::PluginRegistry& loaded,
                                    const Installation& installation) const {
  // The loaded plugins are those the command chose, and one of them declares the flag of every
  // selector of a sound pipeline: the others, which a run does not need, are loaded only to
  // judge a selector none of the chosen ones explains.
  if (file.selector_flags_declared(loaded.declared_flags())) return;
  file.check_selector_flags(path,
                            load_plugins(installation, file.named_plugins()).declared_flags());
}

core::PluginRegistry GlobalOptions::load_plugins_for(const core::StateDir& state,
                                                     const Installation& installation) const {
  auto recorded = state.read_plugin_paths();
  if (recorded.empty()) return load_plugins(installation);
  core::LoaderOptions options;
  return core::PluginRegistry::load_recorded(options, recorded);
}

void GlobalOptions::protect_binary() const {
  // Not root: the command refuses to run a container anyway, and says why in its own words.
  if (!argv || ::geteuid() != 0) return;
  // A trace of the command starts at the launcher's start, or at this first exec, whichever
  // came first: the re-executed nsrun takes it over.
  if (launched_at)
    ::setenv(core::launched_at_variable,
             std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                launched_at->time_since_epoch())
                                .count())
                 .c_str(),
             1);
  core::reexec_from_read_only_binary(argv);  // returns when nsrun runs from a read-only mount
  ::unsetenv(core::launched_at_variable);
}

Installation Installation::locate() {
  // <prefix>/bin/nsrun, the launcher, whose path it passes on; or the program itself,
  // <prefix>/lib/nsrun/nsrun, when started directly.
  std::string exe = core::installed_binary_path();
  if (exe.empty()) exe = "/usr/bin/nsrun";
  const std::string program_suffix = "/" NSRUN_PROGRAM_SUBPATH;
  std::string prefix;
  if (exe.size() > program_suffix.size() && exe.ends_with(program_suffix)) {
    prefix = exe.substr(0, exe.size() - program_suffix.size());
  } else {
    prefix = exe.substr(0, exe.rfind('/'));        // .../bin
    prefix = prefix.substr(0, prefix.rfind('/'));  // ...
  }
  return Installation{prefix + "/" NSRUN_PLUGIN_SUBDIR,
                      prefix + "/" NSRUN_DATA_SUBDIR "/pipeline.json", NSRUN_DEFAULT_ROOTFS,
                      prefix + "/" NSRUN_INIT_SUBPATH};
}

namespace {

// The command the arguments name, found as CLI11 will find it: past the global options and
// their values (--plugin-dir takes every value up to an option or a command). Empty when they
// name none, ask for help first, or hold what only CLI11 can judge: then every command is built.
// `first_word` gets the word in the command's place, known or not, and `at` its index in argv.
std::string_view command_named(int argc, char** argv, const std::vector<std::string_view>& known,
                               std::string_view& first_word, int& at) {
  auto is_known = [&](std::string_view arg) {
    return std::find(known.begin(), known.end(), arg) != known.end();
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--root" || arg == "--log-level" || arg == "--log" || arg == "--log-format") {
      ++i;
      continue;
    }
    if (arg == "--plugin-dir") {
      while (i + 1 < argc && argv[i + 1][0] != '-' && !is_known(argv[i + 1])) ++i;
      continue;
    }
    if (arg.starts_with("--root=") || arg.starts_with("--log-level=") ||
        arg.starts_with("--log=") || arg.starts_with("--log-format=") ||
        arg.starts_with("--plugin-dir=") || arg == "--debug" || arg == "--systemd-cgroup")
      continue;
    if (!arg.starts_with("-")) first_word = arg;
    at = i;
    return is_known(arg) ? arg : std::string_view();
  }
  return {};
}

// One line for a CLI11 parse error: the (sub)command it is about, CLI11's text, and where to
// read that command's usage.
std::string parse_error_line(const CLI::App& app, std::string message) {
  std::string command;
  // "--root: ..." is about a global flag, even with a command parsed after it.
  const std::string flag = message.starts_with("-") ? message.substr(0, message.find(':')) : "";
  const bool global_flag = !flag.empty() && app.get_option_no_throw(flag) != nullptr;
  for (const CLI::App* at = &app; !global_flag && !at->get_subcommands().empty();) {
    at = at->get_subcommands().front();
    command += (command.empty() ? "" : " ") + at->get_name();
  }
  // CLI11 starts its sentences with a capital; nsrun's messages continue a "nsrun: " prefix.
  if (!message.empty() && message.front() >= 'A' && message.front() <= 'Z')
    message.front() = static_cast<char>(message.front() - 'A' + 'a');
  if (command.empty()) return message + " (see: nsrun help)";
  return command + ": " + message + " (see: nsrun " + command + " --help)";
}

// The first word of the command line that no command or option took and that reads as a flag
// (`-x`, `--bogus`, `--bogus=1`, named without its value), or empty. CLI11 calls such a word "not
// expected", and reports it only after the command's requirements: `state -x` said "id is
// required", which sends the user after the wrong word.
std::string unknown_flag(const CLI::App& app) {
  for (const auto& word : app.remaining(true))
    if (word.size() > 1 && word.starts_with("-") && word != "--")
      return word.substr(0, word.find('='));
  return {};
}

// Ends nsrun once its command is done, without the C++ runtime's exit. That exit would run
// every loaded library's destructors (libstdc++'s streams, libnl-route's seventy unregistrations,
// each plugin's) from code mapped only to run them, for nothing the system keeps: 17 page faults
// and 0.6 ms of a `run --network none`, 32 and 0.7 ms of the default pipeline's (paired runs,
// docs/benchmarks.md). What must reach the system is flushed first; descriptors, locks and memory
// go with the process. A sanitizer build exits normally, so that its leak check runs.
[[noreturn]] void end_process(int exit_code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
  std::exit(exit_code);
#else
  ::_exit(exit_code);
#endif
}

}  // namespace

}  // namespace nsrun::cli

int main(int argc, char** argv) {
  using namespace nsrun;
  cli::main_started = core::TraceClock::now();
  cli::launched_at = core::take_launcher_start_time();
  // A reader that goes away (`DEBUG=1 nsrun run ... 2>&1 | head`) must not kill nsrun between
  // two setup steps and strand what it created: writes to a closed pipe fail with EPIPE, which
  // the diagnostics ignore. The container process restores the default before the workload runs.
  ::signal(SIGPIPE, SIG_IGN);
  core::take_reexec_environment();
  CLI::App app{"nsrun: a small container runtime built from plugins", "nsrun"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  cli::GlobalOptions global;
  global.argv = argv;
  global.state_root = core::default_state_root;
  app.add_option("--root", global.state_root, "State directory root")->capture_default_str();
  app.add_option("--log-level", global.log_level,
                 "Log level: error, warn, info or debug (DEBUG=1: debug)")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  app.add_option("--plugin-dir", global.plugin_dirs,
                 "Extra plugin directory, searched before NSRUN_PLUGIN_PATH and the installed one")
      ->take_all()
      ->check(CLI::ExistingDirectory);  // a mistyped one would show later as "unknown plugin"

  // The global flags container engines pass to every runtime call, as they do to runc.
  app.add_option("--log", global.log_file,
                 "Also write messages to FILE (engines read errors there)");
  app.add_option("--log-format", global.log_format, "Format of --log: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--debug", global.debug, "Log at debug level (as --log-level debug)");
  app.add_flag("--systemd-cgroup", global.systemd_cgroup,
               "Accepted for engines; refused by commands that make cgroups (nsrun uses cgroupfs)");
  app.parse_complete_callback([&global] {
    if (global.log_file.empty()) return;
    // Before any command runs, so that every message of it reaches the file.
    core::send_log_to_file(global.log_file, global.log_format == "json" ? core::LogFormat::json
                                                                        : core::LogFormat::text);
  });

  int exit_code = 0;
  // Every command, by the names it registers. Only the one the arguments name is built: building
  // all of them (CLI11 options, validators, help texts) took 0.7 ms of every call, and engines
  // call nsrun several times per container. Help, and arguments naming no command, build all.
  const struct {
    std::vector<std::string_view> names;
    std::function<void()> add;
  } commands[] = {
      {{"run"}, [&] { cli::add_run_command(app, global, exit_code); }},
      {{"create"}, [&] { cli::add_create_command(app, global, exit_code); }},
      {{"start"}, [&] { cli::add_start_command(app, global, exit_code); }},
      {{"state"}, [&] { cli::add_state_command(app, global, exit_code); }},
      {{"kill"}, [&] { cli::add_kill_command(app, global, exit_code); }},
      {{"list"}, [&] { cli::add_list_command(app, global, exit_code); }},
      {{"ps"}, [&] { cli::add_ps_command(app, global, exit_code); }},
      {{"features"}, [&] { cli::add_features_command(app, global, exit_code); }},
      {{"spec"}, [&] { cli::add_spec_command(app, exit_code); }},
      {{"exec"}, [&] { cli::add_exec_command(app, global, exit_code); }},
      {{"pause", "resume"}, [&] { cli::add_pause_commands(app, global, exit_code); }},
      {{"update"}, [&] { cli::add_update_command(app, global, exit_code); }},
      {{"plugins"}, [&] { cli::add_plugins_command(app, global, exit_code); }},
      {{"version"}, [&] { cli::add_version_command(app, exit_code); }},
      {{"rootfs"}, [&] { cli::add_rootfs_command(app, exit_code); }},
      {{"logs"}, [&] { cli::add_logs_command(app, global, exit_code); }},
      {{"delete"}, [&] { cli::add_delete_command(app, global, exit_code); }},
      {{"gc"}, [&] { cli::add_gc_command(app, global, exit_code); }},
      {{"bench"}, [&] { cli::add_bench_command(app, global, exit_code); }},
  };
  std::vector<std::string_view> known;
  for (const auto& command : commands)
    known.insert(known.end(), command.names.begin(), command.names.end());
  std::string_view first_word;
  int named_at = 0;
  const std::string_view named = cli::command_named(argc, argv, known, first_word, named_at);
  // Commands that parse their own arguments get them as given (GlobalOptions::command_args).
  int parsed_argc = argc;
  if (named == "run" || named == "bench") {
    global.command_args.emplace(argv + named_at + 1, argv + argc);
    parsed_argc = named_at + 1;
  }
  for (const auto& command : commands)
    if (named.empty() ||
        std::find(command.names.begin(), command.names.end(), named) != command.names.end())
      command.add();
  // The plugins' own commands (`nsrun network ls`): looked for only when the arguments name no
  // built-in command, so that no other call pays for reading the pipeline.
  if (named.empty()) {
    known.push_back("help");
    const bool for_help = first_word.empty() || first_word == "help";
    for (const auto& group : cli::plugin_command_groups(known, for_help))
      if (for_help || group.kind == first_word)
        cli::add_plugin_command_group(app, global, exit_code, group);
  }
  // `nsrun help [COMMAND]` is `nsrun [COMMAND] --help`, as the original program's help was.
  auto* help = app.add_subcommand("help", "Show this help, or a command's: nsrun help COMMAND");
  auto help_topic = std::make_shared<std::string>();
  help->add_option("command", *help_topic, "The command to explain");
  help->callback([&app, help_topic, &global, &exit_code] {
    exit_code = 0;
    // Not app.help(): once a subcommand (this one) was parsed, CLI11 shows that one's help.
    if (help_topic->empty()) {
      std::cout << app.get_formatter()->make_help(&app, "nsrun", CLI::AppFormatMode::Normal);
      return;
    }
    if (*help_topic == "run") {
      try {
        std::cout << cli::run_help(global);
      } catch (const core::Error& e) {
        exit_code = cli::report_error(e.what());
      }
      return;
    }
    for (const CLI::App* command : app.get_subcommands({}))
      if (command->get_name() == *help_topic) {
        std::cout << command->help("nsrun");
        return;
      }
    exit_code = cli::report_error("help: no command \"" + *help_topic + "\" (see: nsrun help)");
  });
  cli::strict_flag_values(app);
  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::RequiredError& e) {
    if (app.get_subcommands().empty()) {
      // CLI11 reports an unknown command as a missing one: name it, for engines that call a
      // command this nsrun lacks.
      for (const auto& arg : app.remaining()) {
        if (!arg.starts_with("-"))
          return cli::report_error("unknown command \"" + arg + "\" (see: nsrun help)");
        return cli::report_error("unknown flag " + arg + " (see: nsrun help)");
      }
      return cli::report_error("no command given (e.g. nsrun run CMD; see: nsrun help)");
    }
    if (const std::string flag = cli::unknown_flag(app); !flag.empty())
      return cli::report_error(cli::parse_error_line(app, "unknown flag " + flag));
    return cli::report_error(cli::parse_error_line(app, e.what()));
  } catch (const CLI::ParseError& e) {
    // CLI11's own two-line report becomes one line, with nsrun's error exit code, naming the
    // command it is about ("gc: unknown flag --bogus").
    if (const std::string flag = cli::unknown_flag(app);
        !flag.empty() && !app.get_subcommands().empty())
      return cli::report_error(cli::parse_error_line(app, "unknown flag " + flag));
    return cli::report_error(cli::parse_error_line(app, e.what()));
  } catch (const core::Error& e) {
    return cli::report_error(e.what());  // --log could not be opened
  }
  cli::end_process(exit_code);
}
