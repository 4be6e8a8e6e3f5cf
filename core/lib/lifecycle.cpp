#include "nsrun/core/lifecycle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nsrun/core/hooks.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/loader.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/pipeline.hpp"
#include "nsrun/core/process.hpp"

namespace nsrun::core {
namespace {

std::string quoted(const StateDir& state) {
  return "container \"" + state.id() + "\"";
}

// Connects to the created container's start socket. The path goes through /proc/self/fd, so a
// state root of any length fits sun_path's 108 bytes.
support::UniqueFd connect_start_socket(const StateDir& state) {
  support::UniqueFd dir(::open(state.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw Error(quoted(state) + " does not exist");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "/proc/self/fd/%d/%s", dir.get(),
                start_socket_name);
  support::UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!socket) throw Error(std::string("start: cannot create a socket: ") + std::strerror(errno));
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno == ECONNREFUSED || errno == ENOENT)
      throw Error("start: the process of " + quoted(state) +
                  " no longer waits to be started (it died; remove it with nsrun delete " +
                  state.id() + ")");
    throw Error("start: cannot reach the process of " + quoted(state) + ": " +
                std::strerror(errno));
  }
  return socket;
}

}  // namespace

const char* status_name(Status status) {
  switch (status) {
    case Status::creating:
      return "creating";
    case Status::created:
      return "created";
    case Status::running:
      return "running";
    case Status::paused:
      return "paused";
    case Status::stopped:
      return "stopped";
  }
  return "stopped";
}

ContainerView inspect(const StateDir& state) {
  if (!is_valid_container_id(state.id()) || !state.exists())
    throw Error(quoted(state) + " does not exist");
  if (!state.is_nsruns())
    throw Error(quoted(state) + " does not exist (" + state.path() +
                " holds files nsrun never keeps there; it is not nsrun's, and left as it is)");
  ContainerView view;
  view.record = state.read_record();
  try {
    view.held = !state.try_lock().has_value();
  } catch (const Error&) {
    throw Error(quoted(state) + " does not exist");  // removed meanwhile
  }
  if (!view.record) {
    view.status = view.held ? Status::creating : Status::stopped;
    return view;
  }
  if (!open_container_process(view)) {
    view.status = Status::stopped;
    return view;
  }
  const std::string& recorded = view.record->status;
  view.status = recorded == "creating"  ? Status::creating
                : recorded == "created" ? Status::created
                : recorded == "paused"  ? Status::paused
                                        : Status::running;
  return view;
}

std::vector<support::UniqueFd> processes_of_lock_holder(const StateDir& state) {
  std::vector<support::UniqueFd> out;
  struct stat dir {};
  if (::stat(state.path().c_str(), &dir) != 0) return out;
  // /proc/locks: "1: FLOCK  ADVISORY  WRITE 5910 fe:00:11018335 0 EOF"; the device is in hex.
  char wanted[64];
  std::snprintf(wanted, sizeof wanted, "%02x:%02x:%llu", major(dir.st_dev), minor(dir.st_dev),
                static_cast<unsigned long long>(dir.st_ino));
  std::ifstream locks("/proc/locks");
  std::string line;
  pid_t holder = 0;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, device;
    long pid = 0;
    if (!(fields >> number >> kind >> mode >> access >> pid >> device)) continue;
    if (kind == "FLOCK" && device == wanted) holder = static_cast<pid_t>(pid);
  }
  if (holder <= 0) return out;
  // Only an nsrun's children: never a process of whatever else might hold a lock there.
  // Compared by inode: an nsrun that re-executed itself from a read-only bind mount of its
  // binary (read_only_self.hpp) has an exe path of its own, but the same file.
  struct stat holder_exe {};
  struct stat own_exe {};
  if (::stat(("/proc/" + std::to_string(holder) + "/exe").c_str(), &holder_exe) != 0 ||
      ::stat("/proc/self/exe", &own_exe) != 0 || holder_exe.st_dev != own_exe.st_dev ||
      holder_exe.st_ino != own_exe.st_ino)
    return out;
  std::ifstream children("/proc/" + std::to_string(holder) + "/task/" + std::to_string(holder) +
                         "/children");
  long child = 0;
  while (children >> child) {
    auto stat = read_process_stat(static_cast<pid_t>(child));
    if (!stat) continue;
    if (auto fd = open_process(static_cast<pid_t>(child), stat->start_time))
      out.push_back(std::move(fd));
  }
  return out;
}

support::UniqueFd open_container_process(const ContainerView& view) {
  if (!view.record || view.record->pid <= 0) return support::UniqueFd();
  return open_process(view.record->pid, view.record->pid_start_time);
}

boost::json::object oci_state(const StateDir& state, const ContainerView& view) {
  bool has_process = view.status != Status::stopped && view.record;
  boost::json::object out{{"ociVersion", oci_state_version},
                          {"id", state.id()},
                          {"status", status_name(view.status)},
                          {"pid", has_process ? view.record->pid : 0},
                          {"bundle", view.record ? view.record->bundle : ""}};
  if (view.record) {
    out["created"] = view.record->created;
    out["annotations"] = view.record->annotations;
    // A detached container's exit (nsrun run -d): what `docker inspect` calls its State.
    if (view.status == Status::stopped && view.record->exit_code)
      out["nsrun"] = {{"exitCode", *view.record->exit_code}, {"finished", view.record->finished}};
  } else {
    out["annotations"] = boost::json::object{};
  }
  return out;
}

void start_container(const StateDir& state, Logger& log, Tracer* tracer) {
  const auto begun = TraceClock::now();
  if (!is_valid_container_id(state.id()) || !state.exists())
    throw Error(quoted(state) + " does not exist");
  auto lock = state.lock_within(10000);
  if (!lock)
    throw Error("start: " + quoted(state) +
                " is held by another nsrun (it is being created, started or removed)");
  ContainerView view = inspect(state);
  if (view.status != Status::created)
    throw Error("start: " + quoted(state) + " is " + status_name(view.status) +
                ", not created (only a created container can be started)");
  support::UniqueFd channel = connect_start_socket(state);
  const auto released = TraceClock::now();
  if (tracer)
    tracer->add("core: read the state, connect to the container process", begun, released,
                TraceProcess::host);
  const char go = tracer ? start_traced_byte : 1;
  if (::send(channel.get(), &go, 1, MSG_NOSIGNAL) != 1)
    throw Error("start: cannot release the process of " + quoted(state) + ": " +
                std::strerror(errno));
  // The socket is the process's only listener; nobody may connect to it again.
  ::unlink((state.path() + "/" + start_socket_name).c_str());
  bool announced = false;
  while (true) {
    std::string datagram;
    ssize_t len = receive_datagram(channel.get(), datagram);
    if (len < 0 && errno == EINTR) continue;
    if (datagram.size() == 1 && datagram[0] == exec_announcement_byte) {
      announced = true;
      continue;
    }
    if (len > 0 && tracer && tracer->merge(datagram)) continue;
    if (len > 0) {
      if (tracer) tracer->close_open_span(TraceClock::now(), /*failed=*/true);
      StageFailure failure = parse_failure_report(datagram);
      throw StartError(failure.message, failure.exit_code);
    }
    if (!announced)
      throw StartError(
          "start: the process of " + quoted(state) + " died before it ran the workload",
          exit_code::runtime_error);
    break;  // end-of-file after the announcement: execve closed the connection
  }
  const auto started = TraceClock::now();
  if (tracer) {
    tracer->close_open_span(started);
    tracer->add("core: release the container process, wait for its exec", released, started,
                TraceProcess::host);
  }
  ContainerRecord record = *view.record;
  record.status = "running";
  state.write_state(record);
  // The workload runs: its poststart hooks, from the spec saved at create. They cannot stop it
  // (the spec says a failure is a warning), and neither can a spec that no longer reads.
  try {
    auto config = read_json_file(state.path() + "/config.json", "state");
    if (config.is_object())
      run_hooks_warning_only(
          parse_hooks(config.as_object()), HookKind::poststart,
          {state.id(), Status::running, record.pid, record.bundle, record.annotations}, log);
  } catch (const Error& e) {
    log.warn(std::string("poststart hooks: ") + e.what());
  }
  if (tracer)
    tracer->add("core: record the container running, run its poststart hooks", started,
                TraceClock::now(), TraceProcess::host);
}

void kill_container(const StateDir& state, int signal, bool all) {
  ContainerView view = inspect(state);
  support::UniqueFd pidfd = open_container_process(view);
  // runc's kill --all of a stopped container succeeds: its processes are all gone already, and
  // an engine calls it after the workload exited.
  if (all && view.status == Status::stopped) return;
  if (view.status == Status::stopped || !pidfd)
    throw Error("kill: " + quoted(state) + " is not running");
  if (all) {
    for (const ProcessId& process : container_processes(view.record->pid))
      if (auto member = open_process(process.pid, process.start_time))
        signal_process(member.get(), signal);
    return;
  }
  if (!signal_process(pidfd.get(), signal))
    throw Error("kill: cannot signal " + quoted(state) + ": " + std::strerror(errno));
}

namespace {

// The locks pause, resume and update hold while they change a container.
struct ChangeLocks {
  std::optional<StateLock> changes;
  std::optional<StateLock> state;  ///< none while the nsrun that runs the container holds it
};

// A container made the OCI way (create, start) has no nsrun holding its state: it is locked as
// for any lifecycle command. One that `nsrun run` runs, in the foreground or with -d, is held by
// that nsrun until its teardown; it is changed without that lock, as `runc update` changes a
// container `runc run` supervises, under the changes lock, which that nsrun takes before its
// teardown: a change is never half done when the teardown begins.
ChangeLocks lock_for_change(const StateDir& state, std::string_view verb) {
  ChangeLocks locks;
  auto held = [&] {
    return Error(std::string(verb) + ": " + quoted(state) + " is held by another nsrun");
  };
  try {
    locks.changes = state.lock_changes_within(10000);
  } catch (const Error&) {
    if (!state.exists()) throw Error(quoted(state) + " does not exist");
    // No pipeline.json: it is written once the container's stages are chosen, and removed first
    // when the container is deleted.
    const ContainerView view = inspect(state);
    if (view.status == Status::creating)
      throw Error(std::string(verb) + ": " + quoted(state) +
                  " is creating (try again once it is created)");
    if (view.status == Status::stopped)
      throw Error(std::string(verb) + ": " + quoted(state) + " is stopped");
    throw;
  }
  if (!locks.changes) throw held();
  locks.state = state.try_lock();
  if (locks.state) return locks;
  const ContainerView view = inspect(state);
  if (view.status == Status::running || view.status == Status::paused) return locks;
  // Being created, started or removed: that takes milliseconds.
  locks.state = state.lock_within(10000);
  if (!locks.state) throw held();
  return locks;
}

void switch_frozen(const StateDir& state, const PluginRegistry& registry, StderrLogger& log,
                   bool pause) {
  const char* verb = pause ? "pause" : "resume";
  const ChangeLocks locks = lock_for_change(state, verb);
  ContainerView view = inspect(state);
  Status wanted = pause ? Status::running : Status::paused;
  if (view.status != wanted)
    throw Error(std::string(verb) + ": " + quoted(state) + " is " + status_name(view.status) +
                (pause ? " (only a running container can be paused)"
                       : " (only a paused container can be resumed)"));
  Pipeline pipeline = Pipeline::from_json(state.read_pipeline(), state.path() + "/pipeline.json");
  SpecDocument spec;
  auto document = read_json_file(state.path() + "/config.json", "state");
  if (document.is_object()) spec = SpecDocument(std::move(document.as_object()));
  Orchestrator orchestrator(bind_pipeline(pipeline, registry), log);
  auto failures = orchestrator.run_on_state(pause ? Phase::pause : Phase::resume, state, spec);
  if (!failures.empty()) throw Error(std::string(verb) + ": " + failures.front().message);
  ContainerRecord record = *view.record;
  record.status = pause ? "paused" : "running";
  state.write_state(record);
}

}  // namespace

void pause_container(const StateDir& state, const PluginRegistry& registry, StderrLogger& log) {
  switch_frozen(state, registry, log, true);
}

void resume_container(const StateDir& state, const PluginRegistry& registry, StderrLogger& log) {
  switch_frozen(state, registry, log, false);
}

namespace {

// Objects merge key by key; anything else replaces.
void merge_into(boost::json::object& target, const boost::json::object& changes) {
  for (const auto& change : changes) {
    auto* existing = target.if_contains(change.key());
    if (existing && existing->is_object() && change.value().is_object())
      merge_into(existing->as_object(), change.value().as_object());
    else
      target[change.key()] = change.value();
  }
}

}  // namespace

void update_container(const StateDir& state, const PluginRegistry& registry, StderrLogger& log,
                      const boost::json::object& resources) {
  const ChangeLocks locks = lock_for_change(state, "update");
  ContainerView view = inspect(state);
  if (view.status == Status::stopped || view.status == Status::creating)
    throw Error("update: " + quoted(state) + " is " + status_name(view.status) +
                " (only a created, running or paused container can be updated)");
  auto document = read_json_file(state.path() + "/config.json", "state");
  if (!document.is_object()) throw Error("update: the container's config.json is not an object");
  auto& config = document.as_object();
  if (!config.contains("linux") || !config["linux"].is_object())
    config["linux"] = boost::json::object{};
  auto& linux_section = config["linux"].as_object();
  if (!linux_section.contains("resources") || !linux_section["resources"].is_object())
    linux_section["resources"] = boost::json::object{};
  merge_into(linux_section["resources"].as_object(), resources);
  SpecDocument spec(config);  // a malformed field is an Error naming it
  Pipeline pipeline = Pipeline::from_json(state.read_pipeline(), state.path() + "/pipeline.json");
  Orchestrator orchestrator(bind_pipeline(pipeline, registry), log);
  auto failures = orchestrator.run_on_state(Phase::update, state, spec);
  if (!failures.empty()) throw Error("update: " + failures.front().message);
  write_file_atomically(state.path() + "/config.json", spec.text());
}

}  // namespace nsrun::core
