// podman 4.3 with conmon driving nsrun as its OCI runtime, end to end: podman run/stop/kill/
// rm/restart (and exec, pause, update, -it where nsrun has them), as a user types them.
//
// The podman here is confined: its storage (--root), run dir (--runroot), tmp dir, runtime state
// (nsrun --root, through a wrapper), events log, network config and locks all live under one temp
// dir, with its configuration in CONTAINERS_CONF / CONTAINERS_STORAGE_CONF /
// CONTAINERS_REGISTRIES_CONF, and the image comes from `podman import` of the busybox rootfs: no
// registry, no machine-wide state. Containers run with `--network none` (the binary also runs in
// a throwaway network namespace, tests/helpers/in-throwaway-netns.sh), and every cgroup goes
// beneath this process's own cgroup (--cgroup-parent). After each test nothing of it may remain:
// no container, no nsrun state, no mount, no cgroup, no conmon.
//
// To see what podman and conmon did: NSRUN_PODMAN_LOG_LEVEL=debug (podman --log-level); a failure
// message also carries the runtime's JSON log (oci-log) of containers not yet removed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "e2e.hpp"

namespace fs = std::filesystem;
using namespace nsrun::test;

namespace {

const char* const image = "localhost/nsrun-busybox:podman-test";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
    text.pop_back();
  std::size_t start = text.find_first_not_of(" \n");
  return start == std::string::npos ? "" : text.substr(start);
}

// The last line of podman's output (run -d prints warnings before the id on some setups).
std::string last_line(const std::string& text) {
  std::string t = trim(text);
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

/// A cgroup hierarchy mounted on this machine: where, and which part of it (mountinfo's root).
struct Hierarchy {
  std::string mount_point;
  std::string root;
};

std::vector<Hierarchy> cgroup_hierarchies() {
  std::vector<Hierarchy> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string type;
    tail >> type;
    if (type != "cgroup" && type != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mount_point;
    head >> id >> parent >> devno >> root >> mount_point;
    out.push_back({mount_point, root});
  }
  return out;
}

/// The host directory of cgroup `path` (absolute, as cgroupsPath) in a hierarchy, or "" when the
/// hierarchy does not show it.
std::string cgroup_dir(const Hierarchy& h, const std::string& path) {
  if (h.root == "/") return h.mount_point + path;
  if (path.rfind(h.root + "/", 0) == 0) return h.mount_point + path.substr(h.root.size());
  return "";
}

/// This process's cgroup in the memory hierarchy (else pids, else the unified one): the
/// containers' cgroups go beneath it.
std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  std::map<std::string, std::string> by_controller;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ',')) by_controller[c] = path;
    if (controllers.empty()) by_controller["unified"] = path;
  }
  for (const char* c : {"memory", "pids", "unified"})
    if (by_controller.count(c)) return by_controller[c] == "/" ? "" : by_controller[c];
  return "";
}

/// Pids of processes whose command line mentions `needle` (conmon's carries the temp dir).
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::string cmdline = read_file(entry.path().string() + "/cmdline");
    for (auto& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find(needle) != std::string::npos) out.push_back(pid);
  }
  return out;
}

void reap_adopted() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

std::string random_suffix() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << device() << device();
  return out.str().substr(0, 10);
}

/// One confined podman for the whole suite (see the top of this file).
struct Podman {
  std::unique_ptr<TempDir> dir;
  std::string root, runroot, tmpdir, cgroup_parent;
  // nsrun's state root, and the runtime podman is given: a script that runs nsrun with
  // `--root <runtime_root>`. Not `--runtime-flag root=...`: podman 4.3 leaves runtime flags out of
  // the exit command conmon runs (`podman container cleanup`), whose `delete --force` would then
  // look in nsrun's default root (/run/nsrun), find nothing, and strand the container's state.
  std::string runtime_root, runtime;
  std::vector<Hierarchy> hierarchies;
  // The cgroup directories on the way to cgroup_parent that did not exist before the suite: a
  // runtime that makes them with `mkdir -p` leaves them to whoever made the parent, i.e. us.
  std::vector<std::string> made_cgroup_dirs;
  bool var_lib_containers_existed = false;
  std::string setup_error;

  std::vector<std::string> argv(const std::vector<std::string>& args) const {
    // TMPDIR: podman writes some files there (`update --resources=$TMPDIR/podmanN`, image
    // blobs), /var/tmp otherwise.
    std::vector<std::string> out{"env",      "TMPDIR=" + tmpdir, "podman", "--root",
                                 root,       "--runroot",        runroot,  "--tmpdir",
                                 tmpdir,     "--runtime",        runtime,  "--cgroup-manager",
                                 "cgroupfs", "--events-backend", "file"};
    if (const char* level = std::getenv("NSRUN_PODMAN_LOG_LEVEL"))
      out.insert(out.end(), {"--log-level", level});
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  CommandResult operator()(const std::vector<std::string>& args, int timeout_seconds = 60) const {
    auto r = run(argv(args), "", timeout_seconds);
    reap_adopted();
    return r;
  }
};

Podman* podman = nullptr;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// The runtime's JSON logs (oci-log), conmon's exit files and container logs: what explains a
// failure. Those of a container removed with --rm are gone; run again without it to see them.
std::string runtime_logs() {
  std::string out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(podman->root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name == "oci-log" || name == "ctr.log")
      out += "\n--- " + it->path().string() + ":\n" + read_file(it->path());
  }
  return out;
}

std::string explain(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err +
         runtime_logs();
}

class Podman43 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // conmon double-forks: adopt it, so it is reaped here
    podman = new Podman;
    auto& p = *podman;
    if (!in_throwaway_netns()) {
      p.setup_error =
          "not inside a throwaway network namespace (run through ctest, or "
          "tests/helpers/in-throwaway-netns.sh)";
      return;
    }
    if (run({"podman", "--version"}).exit_code != 0) {
      p.setup_error = "podman is not installed (scripts/install-deps.sh installs it)";
      return;
    }
    p.var_lib_containers_existed = fs::exists("/var/lib/containers");
    p.dir = std::make_unique<TempDir>("nsrun-pm-");
    const std::string& d = p.dir->path();
    p.root = d + "/root";
    p.runroot = d + "/runroot";
    p.tmpdir = d + "/tmp";
    p.runtime_root = d + "/nsrun";
    p.runtime = d + "/bin/nsrun";
    for (const auto& sub :
         {p.root, p.runroot, p.tmpdir, p.runtime_root, d + "/conf", d + "/net", d + "/bin"})
      fs::create_directories(sub);
    write(p.runtime,
          "#!/bin/sh\nexec '" + nsrun_binary() + "' --root '" + p.runtime_root + "' \"$@\"\n");
    fs::permissions(p.runtime, fs::perms::owner_all, fs::perm_options::add);

    // Hard limits this machine allows (no CAP_SYS_RESOURCE: a limit above them cannot be set).
    rlimit nofile{}, nproc{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    ::getrlimit(RLIMIT_NPROC, &nproc);
    auto limit = [](rlim_t hard, rlim_t wanted) {
      return std::to_string(hard == RLIM_INFINITY ? wanted : std::min<rlim_t>(hard, wanted));
    };
    std::string files = limit(nofile.rlim_max, 20000), procs = limit(nproc.rlim_max, 32768);
    write(d + "/conf/containers.conf",
          "[containers]\n"
          "default_ulimits = [\"nofile=" +
              files + ":" + files + "\", \"nproc=" + procs + ":" + procs +
              "\"]\n"
              // conmon stays in this process's cgroup: only the runtime makes cgroups.
              "cgroups = \"no-conmon\"\n"
              "[engine]\n"
              "cgroup_manager = \"cgroupfs\"\n"
              "events_logger = \"file\"\n"
              "events_logfile_path = \"" +
              d + "/events.log\"\n" + "runtime = \"nsrun\"\n" +
              "runtime_supports_json = [\"nsrun\", \"crun\", \"runc\"]\n" + "tmp_dir = \"" +
              p.tmpdir + "\"\n" + "volume_path = \"" + d + "/volumes\"\n" + "static_dir = \"" +
              p.root + "/libpod\"\n" + "lock_type = \"file\"\n" + "[network]\n" +
              "network_config_dir = \"" + d + "/net\"\n" + "[engine.runtimes]\n" + "nsrun = [\"" +
              nsrun_binary() + "\"]\n");
    write(d + "/conf/storage.conf", "[storage]\ndriver = \"vfs\"\ngraphroot = \"" + p.root +
                                        "\"\nrunroot = \"" + p.runroot + "\"\n");
    write(d + "/conf/registries.conf", "");
    ::setenv("CONTAINERS_CONF", (d + "/conf/containers.conf").c_str(), 1);
    ::setenv("CONTAINERS_STORAGE_CONF", (d + "/conf/storage.conf").c_str(), 1);
    ::setenv("CONTAINERS_REGISTRIES_CONF", (d + "/conf/registries.conf").c_str(), 1);

    // Every cgroup beneath ours; note which directories on the way exist already.
    p.cgroup_parent = own_cgroup() + "/nsrun-podman-" + random_suffix();
    p.hierarchies = cgroup_hierarchies();
    for (const auto& h : p.hierarchies) {
      std::string dir = cgroup_dir(h, p.cgroup_parent);
      if (dir.empty()) continue;
      std::vector<std::string> missing;
      for (fs::path at = dir; at.string().size() > h.mount_point.size() && !fs::exists(at);
           at = at.parent_path())
        missing.push_back(at);
      p.made_cgroup_dirs.insert(p.made_cgroup_dirs.end(), missing.begin(), missing.end());
    }

    std::string tarball = d + "/busybox.tar";
    auto tar = run({"tar", "-C", busybox_rootfs(), "-cf", tarball, "."});
    if (tar.exit_code != 0) {
      p.setup_error = "tar: " + tar.err;
      return;
    }
    auto imported = p({"import", "--change", "CMD [\"/bin/sh\"]", tarball, image});
    if (imported.exit_code != 0) p.setup_error = "podman import: " + explain(imported);
    fs::remove(tarball);
  }

  static void TearDownTestSuite() {
    auto& p = *podman;
    if (p.dir) {
      p({"rm", "--all", "--force", "--time", "0"});
      p({"rmi", "--all", "--force"});
      // Whatever podman left running (by pid: only processes that name our temp dir).
      for (pid_t pid : processes_mentioning(p.dir->path())) ::kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      reap_adopted();
      // vfs mounts nothing, but a container's /dev/shm and the like are mounts podman makes.
      auto left = mounts_containing(p.dir->path());
      for (auto it = left.rbegin(); it != left.rend(); ++it) {
        std::istringstream fields(*it);
        std::string id, parent, devno, root, mount_point;
        fields >> id >> parent >> devno >> root >> mount_point;
        run({"umount", "-l", mount_point});
      }
      EXPECT_TRUE(left.empty()) << "podman left mounts, first: " << left.front();
      // Deepest first per hierarchy; rmdir takes only empty cgroups, so the shared ancestors
      // (another test's cgroups may live beside ours) stay while in use.
      for (const auto& dir : p.made_cgroup_dirs) ::rmdir(dir.c_str());
      for (const auto& h : p.hierarchies) {
        std::string dir = cgroup_dir(h, p.cgroup_parent);
        EXPECT_TRUE(dir.empty() || !fs::exists(dir)) << "a cgroup is left: " << dir;
      }
      p.dir.reset();
    }
    // Image copies record blob digests in /var/lib/containers/cache whatever --root says.
    if (!p.var_lib_containers_existed) fs::remove_all("/var/lib/containers");
    for (const char* v :
         {"CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF"})
      ::unsetenv(v);
    delete podman;
    podman = nullptr;
    reap_adopted();
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  void SetUp() override {
    // Outside a throwaway network namespace, or without podman (scripts/install-deps.sh
    // installs it), every test fails rather than skip: a suite that cannot run is a failure.
    if (!podman->setup_error.empty()) FAIL() << podman->setup_error;
  }

  void TearDown() override {
    auto& p = *podman;
    if (!p.dir) return;
    auto removed = p({"rm", "--all", "--force", "--time", "1"});
    EXPECT_EQ(removed.exit_code, 0) << "podman rm -af: " << explain(removed);
    auto listed = p({"ps", "--all", "--quiet"});
    EXPECT_EQ(trim(listed.out), "") << "containers left";

    std::vector<std::string> state;
    for (const auto& entry : fs::directory_iterator(p.runtime_root))
      if (entry.path().filename().string().front() != '_') state.push_back(entry.path().filename());
    EXPECT_TRUE(state.empty()) << "nsrun state left: " << state.front();

    auto mounts = mounts_containing(p.dir->path());
    EXPECT_TRUE(mounts.empty()) << "mount left: " << mounts.front();

    for (const auto& h : p.hierarchies) {
      std::string dir = cgroup_dir(h, p.cgroup_parent);
      if (dir.empty() || !fs::exists(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_directory()) ADD_FAILURE() << "cgroup left: " << entry.path();
    }

    // conmon exits once the container is gone and podman has its exit code.
    std::vector<pid_t> left;
    for (int i = 0; i < 50; ++i) {
      reap_adopted();
      left = processes_mentioning(p.dir->path());
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (pid_t pid : left) {
      ADD_FAILURE() << "process left: " << pid << " "
                    << read_file("/proc/" + std::to_string(pid) + "/cmdline");
      ::kill(pid, SIGKILL);
    }
    reap_adopted();
  }

  // `podman run` with what every test uses: nsrun, no network, no seccomp (nsrun has none yet),
  // cgroups beneath ours.
  static std::vector<std::string> run_args(std::vector<std::string> options,
                                           const std::vector<std::string>& command) {
    std::vector<std::string> args{"run",
                                  "--network",
                                  "none",
                                  "--security-opt",
                                  "seccomp=unconfined",
                                  "--cgroup-parent",
                                  podman->cgroup_parent,
                                  "--pull",
                                  "never"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(image);
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }

  static CommandResult podman_run(std::vector<std::string> options,
                                  const std::vector<std::string>& command, int timeout = 60) {
    return (*podman)(run_args(std::move(options), command), timeout);
  }

  // run -d: the container's id, or "" (with a failure) when it did not start.
  static std::string run_detached(std::vector<std::string> options,
                                  const std::vector<std::string>& command) {
    options.insert(options.begin(), "--detach");
    auto r = podman_run(std::move(options), command);
    EXPECT_EQ(r.exit_code, 0) << explain(r);
    return r.exit_code == 0 ? last_line(r.out) : "";
  }

  static std::string inspect(const std::string& id, const std::string& format) {
    auto r = (*podman)({"inspect", "--type", "container", "--format", format, id});
    EXPECT_EQ(r.exit_code, 0) << explain(r);
    return trim(r.out);
  }

  // Waits (at most ~10 s) for podman to report `status` (running, exited, paused, ...).
  static bool wait_status(const std::string& id, const std::string& status) {
    for (int i = 0; i < 100; ++i) {
      if (inspect(id, "{{.State.Status}}") == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // The container's cgroup directory on the host for a controller's hierarchy, from its cgroup
  // parent; "" when there is none.
  static std::string container_cgroup(const std::string& id, const std::string& controller) {
    for (const auto& h : podman->hierarchies) {
      std::string base = fs::path(h.mount_point).filename();
      std::istringstream list(base);
      std::string c;
      bool match = false;
      while (std::getline(list, c, ','))
        if (c == controller) match = true;
      if (!match) continue;
      std::string dir = cgroup_dir(h, podman->cgroup_parent + "/libpod-" + id);
      if (!dir.empty() && fs::exists(dir)) return dir;
    }
    return "";
  }
};

TEST_F(Podman43, RunTrueExitsZero) {
  auto r = podman_run({"--rm"}, {"/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
}

TEST_F(Podman43, RunPassesTheExitCode) {
  auto r = podman_run({"--rm"}, {"sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << explain(r);
}

// podman answers 127 for a command that is not there, and 126 for one that cannot run, as it
// does with runc: it reads the runtime's error from `create`.
TEST_F(Podman43, AMissingCommandIs127AndOneThatCannotRunIs126) {
  auto r = podman_run({"--rm"}, {"/no/such/command"});
  EXPECT_EQ(r.exit_code, 127) << explain(r);
  r = podman_run({"--rm"}, {"no-such-command"});
  EXPECT_EQ(r.exit_code, 127) << explain(r);
  r = podman_run({"--rm"}, {"/etc/passwd"});
  EXPECT_EQ(r.exit_code, 126) << explain(r);
}

TEST_F(Podman43, RunPrintsTheWorkloadsStdout) {
  auto r = podman_run({"--rm"}, {"echo", "hello"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "hello\n") << explain(r);
}

TEST_F(Podman43, RunPassesStderrSeparately) {
  auto r = podman_run({"--rm"}, {"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "out\n") << explain(r);
  EXPECT_NE(r.err.find("err\n"), std::string::npos) << explain(r);
}

TEST_F(Podman43, EnvironmentVariable) {
  auto r = podman_run({"--rm", "-e", "K=V"}, {"sh", "-c", "echo \"$K\""});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "V\n") << explain(r);
}

TEST_F(Podman43, WorkingDirectory) {
  auto r = podman_run({"--rm", "-w", "/tmp"}, {"pwd"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "/tmp\n") << explain(r);
}

TEST_F(Podman43, Hostname) {
  auto r = podman_run({"--rm", "--hostname", "h"}, {"hostname"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "h\n") << explain(r);
}

// --read-only without podman's tmpfs mounts leaves no writable /tmp (nsrun added a tmpfs of its
// own there); --shm-size reaches the one /dev/shm, as podman's bind or as a tmpfs's size.
TEST_F(Podman43, ReadOnlyRootHasNoWritableTmpAndShmSizeIsTheOnlyShm) {
  auto r = podman_run({"--rm", "--read-only", "--read-only-tmpfs=false"},
                      {"sh", "-c", "echo x > /tmp/x"});
  EXPECT_NE(r.exit_code, 0) << explain(r);
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << explain(r);
  r = podman_run({"--rm", "--shm-size", "1m"}, {"grep", " /dev/shm ", "/proc/mounts"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << explain(r);
  EXPECT_NE(r.out.find("size=1024k"), std::string::npos) << explain(r);
}

// podman's tmpfs mounts carry tmpcopyup, and its devices a fileMode with the type bits: both
// were refused before.
TEST_F(Podman43, TmpfsMountsAndDevicesAsPodmanWritesThem) {
  auto r = podman_run({"--rm", "--tmpfs", "/x:size=1m"},
                      {"sh", "-c", "echo y > /x/y && grep ' /x ' /proc/mounts"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_NE(r.out.find("size=1024k"), std::string::npos) << explain(r);
  r = podman_run({"--rm", "--read-only"}, {"sh", "-c", "echo z > /run/z && echo run-ok"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "run-ok\n") << explain(r);
  r = podman_run({"--rm", "--device", "/dev/null:/dev/xnull"},
                 {"sh", "-c", "echo x > /dev/xnull && ls -l /dev/xnull"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_TRUE(r.out.starts_with("crw-rw-rw-")) << explain(r);
}

TEST_F(Podman43, ReadOnlyVolume) {
  TempDir host("nsrun-pm-vol-");
  write(host.path() + "/file", "from the host\n");
  std::string volume = host.path() + ":/data:ro";
  auto r = podman_run({"--rm", "-v", volume}, {"cat", "/data/file"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, "from the host\n") << explain(r);

  r = podman_run({"--rm", "-v", volume}, {"sh", "-c", "echo x > /data/new"});
  EXPECT_NE(r.exit_code, 0) << "writing to a :ro volume must fail\n" << explain(r);
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << explain(r);
  EXPECT_FALSE(fs::exists(host.path() + "/new"));
}

TEST_F(Podman43, ReadWriteVolume) {
  TempDir host("nsrun-pm-vol-");
  auto r = podman_run({"--rm", "-v", host.path() + ":/data"}, {"sh", "-c", "echo x > /data/new"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(read_file(host.path() + "/new"), "x\n");
}

TEST_F(Podman43, MemoryLimit) {
  std::string id = run_detached({"--memory", "64m"}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  std::string dir = container_cgroup(id, "memory");
  ASSERT_FALSE(dir.empty()) << "no memory cgroup for the container beneath "
                            << podman->cgroup_parent;
  EXPECT_EQ(trim(read_file(dir + "/memory.limit_in_bytes")), "67108864");
  // Inside, when the runtime mounts the cgroup filesystem podman asks for.
  auto inside = podman_run({"--rm", "--memory", "64m"},
                           {"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"});
  EXPECT_EQ(inside.exit_code, 0) << explain(inside);
  EXPECT_EQ(inside.out, "67108864\n") << explain(inside);
  auto stopped = (*podman)({"stop", "--time", "1", id});
  EXPECT_EQ(stopped.exit_code, 0) << explain(stopped);
}

TEST_F(Podman43, PidsLimit) {
  std::string id = run_detached({"--pids-limit", "50"}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  std::string dir = container_cgroup(id, "pids");
  ASSERT_FALSE(dir.empty()) << "no pids cgroup for the container beneath " << podman->cgroup_parent;
  EXPECT_EQ(trim(read_file(dir + "/pids.max")), "50");
  auto inside =
      podman_run({"--rm", "--pids-limit", "50"}, {"sh", "-c", "cat /sys/fs/cgroup/pids/pids.max"});
  EXPECT_EQ(inside.exit_code, 0) << explain(inside);
  EXPECT_EQ(inside.out, "50\n") << explain(inside);
  auto stopped = (*podman)({"stop", "--time", "1", id});
  EXPECT_EQ(stopped.exit_code, 0) << explain(stopped);
}

TEST_F(Podman43, DetachedThenStop) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  std::string pid = inspect(id, "{{.State.Pid}}");
  EXPECT_NE(pid, "0");
  auto ps = (*podman)({"ps", "--quiet", "--no-trunc"});
  EXPECT_NE(ps.out.find(id), std::string::npos) << explain(ps);

  // sleep as pid 1 ignores SIGTERM: stop -t 1 kills it after one second.
  auto stopped = (*podman)({"stop", "--time", "1", id});
  EXPECT_EQ(stopped.exit_code, 0) << explain(stopped);
  EXPECT_TRUE(wait_status(id, "exited"));
  EXPECT_EQ(inspect(id, "{{.State.ExitCode}}"), "137");
  EXPECT_NE(::kill(std::stoi(pid), 0), 0) << "the workload is gone";
  auto removed = (*podman)({"rm", id});
  EXPECT_EQ(removed.exit_code, 0) << explain(removed);
}

TEST_F(Podman43, StopAWorkloadThatHandlesSigterm) {
  std::string id =
      run_detached({}, {"sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto stopped = (*podman)({"stop", "--time", "10", id});
  EXPECT_EQ(stopped.exit_code, 0) << explain(stopped);
  EXPECT_EQ(inspect(id, "{{.State.ExitCode}}"), "5");
}

TEST_F(Podman43, Kill) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto killed = (*podman)({"kill", id});
  EXPECT_EQ(killed.exit_code, 0) << explain(killed);
  auto waited = (*podman)({"wait", id});
  EXPECT_EQ(trim(waited.out), "137") << explain(waited);
  EXPECT_EQ(inspect(id, "{{.State.Status}}"), "exited");
}

TEST_F(Podman43, KillWithASignal) {
  std::string id = run_detached(
      {}, {"sh", "-c", "trap 'echo got-hup; exit 7' HUP; echo ready; while :; do sleep 0.1; done"});
  ASSERT_FALSE(id.empty());
  for (int i = 0; i < 100 && (*podman)({"logs", id}).out.find("ready") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto killed = (*podman)({"kill", "--signal", "HUP", id});
  EXPECT_EQ(killed.exit_code, 0) << explain(killed);
  auto waited = (*podman)({"wait", id});
  EXPECT_EQ(trim(waited.out), "7") << explain(waited);
  auto logs = (*podman)({"logs", id});
  EXPECT_EQ(logs.out, "ready\ngot-hup\n") << explain(logs);
}

TEST_F(Podman43, RmForce) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto removed = (*podman)({"rm", "--force", "--time", "1", id});
  EXPECT_EQ(removed.exit_code, 0) << explain(removed);
  auto listed = (*podman)({"ps", "--all", "--quiet"});
  EXPECT_EQ(trim(listed.out), "");
}

TEST_F(Podman43, Restart) {
  std::string id = run_detached({}, {"sh", "-c", "echo started; exec sleep 1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  std::string first_pid = inspect(id, "{{.State.Pid}}");
  auto restarted = (*podman)({"restart", "--time", "1", id});
  EXPECT_EQ(restarted.exit_code, 0) << explain(restarted);
  EXPECT_TRUE(wait_status(id, "running"));
  std::string second_pid = inspect(id, "{{.State.Pid}}");
  EXPECT_NE(second_pid, first_pid);
  EXPECT_NE(second_pid, "0");
  for (int i = 0; i < 50 && (*podman)({"logs", id}).out != "started\nstarted\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto logs = (*podman)({"logs", id});
  EXPECT_EQ(logs.out, "started\nstarted\n") << explain(logs);
}

TEST_F(Podman43, StartAnExitedContainerAgain) {
  auto created = (*podman)({"create", "--network", "none", "--security-opt", "seccomp=unconfined",
                            "--cgroup-parent", podman->cgroup_parent, "--pull", "never", image,
                            "sh", "-c", "echo once"});
  ASSERT_EQ(created.exit_code, 0) << explain(created);
  std::string id = last_line(created.out);
  auto started = (*podman)({"start", "--attach", id});
  EXPECT_EQ(started.exit_code, 0) << explain(started);
  EXPECT_EQ(started.out, "once\n") << explain(started);
  started = (*podman)({"start", "--attach", id});
  EXPECT_EQ(started.exit_code, 0) << explain(started);
  EXPECT_EQ(started.out, "once\n") << explain(started);
}

TEST_F(Podman43, Exec) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto r = (*podman)({"exec", id, "sh", "-c", "echo in-$HOSTNAME; exit 4"});
  EXPECT_EQ(r.exit_code, 4) << explain(r);
  EXPECT_EQ(r.out.rfind("in-", 0), 0u) << explain(r);
}

// `--ipc/--pid/--uts container:ID`: podman gives nsrun /proc/PID/ns/... paths to join, as it does
// for the containers of a pod.
TEST_F(Podman43, JoinsAnotherContainersNamespaces) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto theirs = (*podman)(
      {"exec", id, "sh", "-c", "for n in ipc pid uts; do readlink /proc/self/ns/$n; done"});
  ASSERT_EQ(theirs.exit_code, 0) << explain(theirs);
  // --rm: podman removes a container only after those that joined it.
  auto r = podman_run(
      {"--rm", "--ipc", "container:" + id, "--pid", "container:" + id, "--uts", "container:" + id},
      {"sh", "-c", "for n in ipc pid uts; do readlink /proc/self/ns/$n; done; cat /proc/1/comm"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(r.out, theirs.out + "sleep\n")
      << "the first container's namespaces; its sleep is pid 1";
}

TEST_F(Podman43, PauseUnpause) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto r = (*podman)({"pause", id});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(inspect(id, "{{.State.Status}}"), "paused");
  r = (*podman)({"unpause", id});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(inspect(id, "{{.State.Status}}"), "running");
}

TEST_F(Podman43, Update) {
  std::string id = run_detached({"--memory", "64m"}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto r = (*podman)({"update", "--memory", "128m", id});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  std::string dir = container_cgroup(id, "memory");
  ASSERT_FALSE(dir.empty());
  EXPECT_EQ(trim(read_file(dir + "/memory.limit_in_bytes")), "134217728");
}

// Without any limit the container still has its cgroups, as runc makes them: `podman stats` reads
// its use there, and `podman update` gives it a limit it was made without.
TEST_F(Podman43, StatsAndUpdateWorkWithoutLimits) {
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  for (const char* hierarchy : {"memory", "cpuacct", "pids", "blkio"})
    EXPECT_FALSE(container_cgroup(id, hierarchy).empty()) << "no " << hierarchy << " cgroup";
  auto stats = (*podman)({"stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}", id});
  EXPECT_EQ(stats.exit_code, 0) << explain(stats);
  EXPECT_FALSE(stats.out.starts_with("0B")) << "no memory use read: " << stats.out;
  EXPECT_TRUE(stats.out.ends_with(" 1\n")) << "one process, sleep: " << stats.out;
  auto r = (*podman)({"update", "--memory", "128m", id});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(trim(read_file(container_cgroup(id, "memory") + "/memory.limit_in_bytes")),
            "134217728");
  r = (*podman)({"stop", "--time", "1", id});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
}

TEST_F(Podman43, Terminal) {
  // -t: conmon passes --console-socket and the runtime must hand back the pty's master.
  auto r = podman_run({"--rm", "--tty"}, {"sh", "-c", "test -t 1 && echo tty"});
  EXPECT_EQ(r.exit_code, 0) << explain(r);
  EXPECT_EQ(trim(r.out), "tty") << explain(r);
}

TEST_F(Podman43, ExecWithTerminal) {
  // exec -t: `exec --detach --tty --console-socket`, the master to conmon.
  std::string id = run_detached({}, {"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(wait_status(id, "running"));
  auto r = (*podman)({"exec", "--tty", id, "sh", "-c", "test -t 0 && tty; exit 6"});
  EXPECT_EQ(r.exit_code, 6) << explain(r);
  EXPECT_NE(r.out.find("/dev/pts/"), std::string::npos) << explain(r);
}

}  // namespace
