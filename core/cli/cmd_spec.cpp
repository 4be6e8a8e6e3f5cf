// nsrun spec [--bundle DIR]: writes a default config.json, as runc spec does, for the installed
// default pipeline: the namespaces, mounts and confinement runc's default asks for, with a
// rootfs directory named "rootfs" beside it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"

namespace nsrun::cli {
namespace {

boost::json::array capability_list() {
  return {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
}

boost::json::object default_spec() {
  auto mount = [](const char* destination, const char* type, const char* source,
                  boost::json::array options) {
    return boost::json::object{{"destination", destination},
                               {"type", type},
                               {"source", source},
                               {"options", std::move(options)}};
  };
  return {{"ociVersion", "1.0.2"},
          {"process",
           {{"terminal", false},
            {"user", {{"uid", 0}, {"gid", 0}}},
            {"args", {"sh"}},
            {"env",
             {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
            {"cwd", "/"},
            {"capabilities",
             {{"bounding", capability_list()},
              {"effective", capability_list()},
              {"permitted", capability_list()}}},
            {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
            {"noNewPrivileges", true}}},
          {"root", {{"path", "rootfs"}, {"readonly", true}}},
          {"hostname", "nsrun"},
          {"mounts",
           {mount("/proc", "proc", "proc", {}),
            mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
            mount("/dev/pts", "devpts", "devpts",
                  {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
            mount("/dev/shm", "tmpfs", "shm",
                  {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
            mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
            mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
            mount("/sys/fs/cgroup", "cgroup", "cgroup",
                  {"nosuid", "noexec", "nodev", "relatime", "ro"})}},
          {"linux",
           {{"namespaces",
             {{{"type", "pid"}},
              {{"type", "network"}},
              {{"type", "ipc"}},
              {{"type", "uts"}},
              {{"type", "mount"}},
              {{"type", "cgroup"}}}},
            {"maskedPaths",
             {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
              "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
              "/proc/scsi"}},
            {"readonlyPaths",
             {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

int write_spec(const std::string& bundle) {
  std::string path = bundle + "/config.json";
  // O_EXCL: never overwrite a bundle's config (runc refuses likewise).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST)
      throw core::Error("spec: " + path + " exists (remove it first, or give another --bundle)");
    throw core::Error("spec: cannot create " + path + ": " + std::strerror(errno) +
                      " (give an existing directory with --bundle)");
  }
  std::string text = boost::json::serialize(default_spec()) + "\n";
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    throw core::Error("spec: cannot write " + path);
  }
  return 0;
}

}  // namespace

void add_spec_command(CLI::App& app, int& exit_code) {
  auto* spec = app.add_subcommand("spec", "Write a default config.json for a new bundle");
  auto bundle = std::make_shared<std::string>(".");
  spec->add_option("--bundle,-b", *bundle, "Bundle directory (default: .)");
  spec->callback([bundle, &exit_code] {
    try {
      exit_code = write_spec(*bundle);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
