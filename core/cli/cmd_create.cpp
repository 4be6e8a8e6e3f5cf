// nsrun create [--bundle DIR] [--pid-file FILE] [--console-socket PATH] ... ID: runc's create
// (and nsrun's --trace FILE, docs/tracing.md).
// Sets the container up with the installed default pipeline and leaves its process waiting for
// `nsrun start`; exits 0 once it waits. Everything checkable is checked before anything exists.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::cli {
namespace {

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  std::optional<std::string> trace;
};

void check_id(const std::string& id) {
  if (!core::is_valid_container_id(id))
    throw core::Error("create: container id \"" + id +
                      "\" is invalid (1-64 letters, digits, '_', '.' or '-', starting with a "
                      "letter or digit)");
}

int create_container(const CreateOptions& options, const GlobalOptions& global) {
  check_id(options.id);
  CommandTrace trace(options.trace, global);
  global.refuse_systemd_cgroup("create");
  if (options.preserve_fds < 0)
    throw core::Error("create: --preserve-fds " + std::to_string(options.preserve_fds) +
                      " is negative (give a count of descriptors after 2)");
  if (!options.pid_file.empty()) check_pid_file(options.pid_file, "create");
  if (!options.console_socket.empty()) check_console_socket(options.console_socket, "create");
  if (::access((options.bundle + "/config.json").c_str(), F_OK) != 0)
    throw core::Error("create: bundle " + options.bundle +
                      " has no config.json (give the bundle directory with --bundle)");
  core::StateDir state(global.state_root, options.id);
  if (state.exists())
    throw core::Error("create: container \"" + options.id + "\" already exists in " +
                      global.state_root + " (delete it first: nsrun delete " + options.id + ")");
  BundleLaunch launch{options.bundle,         options.id,           options.pid_file,       true,
                      options.console_socket, options.preserve_fds, options.no_new_keyring, &trace};
  return launch_bundle(launch, global);
}

}  // namespace

void check_pid_file(const std::string& path, const std::string& command) {
  auto dir = std::filesystem::absolute(path).parent_path();
  if (!std::filesystem::is_directory(dir))
    throw core::Error(command + ": --pid-file " + path + ": directory " + dir.string() +
                      " does not exist (create it first)");
}

void check_console_socket(const std::string& path, const std::string& command) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
    throw core::Error(command + ": --console-socket " + path +
                      " is not a Unix socket (give the path the engine listens on)");
}

void add_create_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* create = app.add_subcommand(
      "create", "Create a container from an OCI bundle; its process waits for nsrun start");
  auto options = std::make_shared<CreateOptions>();
  create->add_option("id", options->id, "Container id")->required();
  create->add_option("--bundle,-b", options->bundle, "Bundle directory (default: .)");
  create->add_option("--pid-file", options->pid_file, "Write the container process's pid there");
  create->add_option("--console-socket", options->console_socket,
                     "Unix socket that receives the terminal's master (process.terminal)");
  create->add_flag("--no-pivot", options->no_pivot,
                   "Accepted for engines; nsrun always uses pivot_root");
  create->add_flag("--no-new-keyring", options->no_new_keyring,
                   "Keep the caller's session keyring (the security stage's flag)");
  create->add_option("--preserve-fds", options->preserve_fds,
                     "Pass N descriptors after stderr to the workload");
  create->add_option("--trace", options->trace,
                     "Write what each step of the create cost to FILE, as Chrome trace-event JSON");
  create->callback([options, &global, &exit_code] {
    try {
      global.protect_binary();
      exit_code = create_container(*options, global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
