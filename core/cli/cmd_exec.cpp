// nsrun exec [--process FILE | ARGS...] [--detach] [--tty] [--console-socket PATH] [--pid-file
// FILE] [-e K=V] [--cwd DIR]
//            [--user UID[:GID]] [--cap CAP] [--no-new-privs] [--trace FILE] ID: runc's exec
// (--trace is nsrun's, see docs/tracing.md). The process joins
// the container's namespaces and cgroups and gets the confinement its stages give the
// container's process (SDK 2.1's exec phases). Without --process it is the container's process
// with other arguments and the changes the flags ask for.
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/spec_json.hpp"
#include "nsrun/core/terminal.hpp"

namespace nsrun::cli {
namespace {

struct ExecOptions {
  std::string id;
  std::vector<std::string> args;
  std::string process_file;
  bool detach = false;
  bool tty = false;
  std::string console_socket;
  std::string pid_file;
  std::vector<std::string> env;
  std::string cwd;
  std::string user;
  std::vector<std::string> caps;
  bool no_new_privs = false;
  int preserve_fds = 0;
  std::optional<std::string> trace;
};

// Parses "UID[:GID]" into process.user; Error naming the flag.
void apply_user(boost::json::object& process, const std::string& text) {
  auto number = [&](const std::string& part) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
        part.size() > 10)
      throw core::Error("exec: --user " + text + " is not UID[:GID] (numbers, e.g. 1000:1000)");
    return std::stoll(part);
  };
  auto colon = text.find(':');
  boost::json::object user;
  if (const auto* old = process.if_contains("user"); old && old->is_object())
    user = old->as_object();
  user["uid"] = number(text.substr(0, colon));
  user["gid"] = colon == std::string::npos ? 0 : number(text.substr(colon + 1));
  user.erase("additionalGids");
  process["user"] = user;
}

// The process fields the flags filled, and the flag each came from, for a stage's message about
// one of them (core::naming_flags): the stage judges a capability or a user id and names the
// field, as it must for --process FILE, where the user wrote the fields.
std::vector<core::FieldFromFlag> fields_from_flags(const ExecOptions& options,
                                                   const boost::json::object& process) {
  std::vector<core::FieldFromFlag> fields;
  if (!options.process_file.empty()) return fields;
  if (!options.user.empty())
    if (const auto* user = process.if_contains("user"); user && user->is_object())
      for (const char* id : {"uid", "gid"})
        if (const auto* number = user->as_object().if_contains(id))
          fields.push_back({std::string("process.user.") + id, "--user " + options.user,
                            boost::json::serialize(*number)});
  if (!options.caps.empty())
    for (const char* set : {"bounding", "effective", "permitted"})
      fields.push_back({std::string("process.capabilities.") + set, "--cap", ""});
  return fields;
}

boost::json::object exec_process(const ExecOptions& options, const boost::json::object& spec) {
  if (!options.process_file.empty()) {
    if (!options.args.empty())
      throw core::Error("exec: give either --process FILE or a command, not both");
    auto value = core::read_json_file(options.process_file, "--process");
    if (!value.is_object())
      throw core::Error("exec: --process " + options.process_file + " is not a JSON object");
    return value.as_object();
  }
  if (options.args.empty())
    throw core::Error("exec: no command given (nsrun exec ID CMD [ARG...], or --process FILE)");
  boost::json::object process;
  if (const auto* p = spec.if_contains("process"); p && p->is_object()) process = p->as_object();
  process["args"] = boost::json::array(options.args.begin(), options.args.end());
  process["terminal"] = options.tty;
  boost::json::array env;
  if (const auto* e = process.if_contains("env"); e && e->is_array()) env = e->as_array();
  for (const auto& entry : options.env) {
    auto eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos)
      throw core::Error("exec: -e " + entry + " is not KEY=VALUE");
    std::string prefix = entry.substr(0, eq + 1);
    boost::json::array kept;
    for (const auto& old : env)
      if (!old.is_string() || !std::string_view(old.as_string()).starts_with(prefix))
        kept.push_back(old);
    kept.push_back(boost::json::string(entry));
    env = std::move(kept);
  }
  process["env"] = env;
  if (!options.cwd.empty()) process["cwd"] = options.cwd;
  if (!options.user.empty()) apply_user(process, options.user);
  if (options.no_new_privs) process["noNewPrivileges"] = true;
  if (!options.caps.empty()) {
    boost::json::object caps;
    if (const auto* c = process.if_contains("capabilities"); c && c->is_object())
      caps = c->as_object();
    for (const char* set : {"bounding", "effective", "permitted"}) {
      boost::json::array list;
      if (const auto* l = caps.if_contains(set); l && l->is_array()) list = l->as_array();
      for (const auto& cap : options.caps) list.push_back(boost::json::string(cap));
      caps[set] = list;
    }
    process["capabilities"] = caps;
  }
  return process;
}

int exec_in_container(const ExecOptions& options, const GlobalOptions& global) {
  if (options.preserve_fds < 0)
    throw core::Error("exec: --preserve-fds " + std::to_string(options.preserve_fds) +
                      " is negative (give a count of descriptors after 2)");
  CommandTrace trace(options.trace, global);
  core::StateDir state(global.state_root, options.id);
  core::ContainerView view = core::inspect(state);
  if (view.status != core::Status::running && view.status != core::Status::created)
    throw core::Error("exec: container \"" + options.id + "\" is " +
                      core::status_name(view.status) + " (exec needs a running container)");
  auto document = core::read_json_file(state.path() + "/config.json", "state");
  if (!document.is_object()) throw core::Error("exec: the container's config.json is broken");
  core::ExecRequest request;
  request.spec = document.as_object();
  request.spec["process"] = exec_process(options, request.spec);
  // --tty asks for a terminal whatever --process says, as with runc.
  if (options.tty) request.spec["process"].as_object()["terminal"] = true;
  core::spec_from_json(request.spec, "");  // every modelled field well-formed, or its name
  request.fields_from_flags = fields_from_flags(options, request.spec["process"].as_object());
  request.detached = options.detach;
  request.pid_file = options.pid_file;
  if (!options.console_socket.empty())
    request.console_socket =
        core::connect_console_socket(options.console_socket, "exec: --console-socket");

  core::StderrLogger log(global.level());
  auto registry = global.load_plugins_for(state, Installation::locate());
  core::Pipeline pipeline =
      core::Pipeline::from_json(state.read_pipeline(), state.path() + "/pipeline.json");
  auto stages = core::bind_pipeline(pipeline, registry);
  if (options.preserve_fds > 0) set_preserve_fds(stages, options.preserve_fds, "exec");
  core::Orchestrator orchestrator(std::move(stages), log);
  auto pidfd = core::open_container_process(view);
  if (!pidfd) throw core::Error("exec: container \"" + options.id + "\" stopped meanwhile");
  auto* tracer = trace.tracer();
  if (!tracer) return orchestrator.exec(state, pidfd.get(), view.record->pid, request);
  trace.setup_done("core: parse the flags, read the container's state, load its plugins",
                   {{"plugins", registry.plugins().size()}});
  orchestrator.trace(*tracer);
  const auto exec_start = core::TraceClock::now();
  int code = orchestrator.exec(state, pidfd.get(), view.record->pid, request);
  trace.finish("core: exec", exec_start, {{"container", options.id}, {"exit code", code}}, log);
  return code;
}

}  // namespace

void add_exec_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* exec = app.add_subcommand("exec", "Run another process in a running container");
  auto options = std::make_shared<ExecOptions>();
  exec->add_option("id", options->id, "Container id")->required();
  exec->add_option("command", options->args, "Command and arguments");
  exec->add_option("--process,-p", options->process_file, "The process as OCI process JSON");
  exec->add_flag("--detach,-d", options->detach, "Return once the command runs");
  exec->add_flag("--tty,-t", options->tty, "Give the command a pseudo-terminal");
  exec->add_option("--console-socket", options->console_socket,
                   "Unix socket that receives the terminal's master (with --tty)");
  exec->add_option("--pid-file", options->pid_file, "Write the process's host pid there");
  exec->add_option("--env,-e", options->env, "Set KEY=VALUE (repeatable)")->allow_extra_args(false);
  exec->add_option("--cwd", options->cwd, "Working directory in the container");
  exec->add_option("--user,-u", options->user, "UID[:GID]");
  exec->add_option("--cap,-c", options->caps, "Add a capability (repeatable)")
      ->allow_extra_args(false);
  exec->add_flag("--no-new-privs", options->no_new_privs, "Set no_new_privs");
  exec->add_option("--preserve-fds", options->preserve_fds, "Pass N more descriptors");
  exec->add_option("--trace", options->trace,
                   "Write what each step of the exec cost to FILE, as Chrome trace-event JSON");
  exec->positionals_at_end();
  exec->prefix_command(false);
  exec->callback([options, &global, &exit_code] {
    // Past the id every word is the command's (positionals_at_end), a `--` too.
    options->args = without_end_of_flags(std::move(options->args));
    try {
      global.protect_binary();
      exit_code = exec_in_container(*options, global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
