// nsrun.namespaces: which namespaces the container gets, and its hostname.
//
// The core clones the container process with a CLONE_NEW* flag for every entry of
// spec.namespaces; this stage checks that list, completes it (a cgroup namespace on cgroup v2
// hosts, as docker does) and sets the hostname inside the new UTS namespace.
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <set>

#include "nsrun/config.hpp"
#include "nsrun/plugin.hpp"

namespace {

const std::set<std::string> supported_types{"pid", "mount", "uts", "ipc", "network", "cgroup"};

bool host_is_cgroup_v2() {
  struct statfs fs {};
  return ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

class NamespacesStage final : public nsrun::IStage {
 public:
  static constexpr const char* claims[] = {"linux.namespaces", "hostname"};

  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader config(ctx.config, "nsrun.namespaces");
    cgroup_namespace_ = config.boolean("cgroupNamespace").value_or(true);
    config.finish();
    std::set<std::string> seen;
    for (const auto& ns : ctx.spec.namespaces) {
      if (ns.type == "user" || ns.type == "time")
        throw nsrun::StageError(
            "a " + ns.type + " namespace is not supported yet (remove it from linux.namespaces)");
      if (!supported_types.count(ns.type))
        throw nsrun::StageError("unknown namespace type \"" + ns.type +
                                "\" (known: pid, mount, uts, ipc, network, cgroup)");
      if (!ns.path.empty())
        throw nsrun::StageError("joining the existing " + ns.type + " namespace " + ns.path +
                                " is not supported yet (remove its path to create a new one)");
      if (!seen.insert(ns.type).second)
        throw nsrun::StageError("the " + ns.type +
                                " namespace is listed twice in linux.namespaces");
    }
    const std::string& hostname = ctx.spec.hostname;
    if (!hostname.empty()) {
      if (!seen.count("uts"))
        throw nsrun::StageError("hostname \"" + hostname +
                                "\" needs a uts namespace (add one, or drop the hostname)");
      if (hostname.size() > 64 || hostname.find('/') != std::string::npos)
        throw nsrun::StageError("hostname \"" + hostname +
                                "\" must be at most 64 bytes without '/'");
    }
  }

  void prepare(nsrun::Context& ctx) override {
    // On cgroup v2 a cgroup namespace hides the host's cgroup paths, as docker does by default.
    bool wanted = ctx.spec.has_namespace("cgroup") || (cgroup_namespace_ && host_is_cgroup_v2());
    if (!wanted) return;
    // A cgroup namespace is rooted where the process is when the namespace is made. Cloned with
    // it, the container would be rooted in nsrun's cgroup and see its own as /nsrun-<id>; so it is
    // not cloned but made in start_container, after the cgroups stage moved the process.
    std::erase_if(ctx.spec.namespaces,
                  [](const nsrun::NamespaceSpec& ns) { return ns.type == "cgroup"; });
    unshare_cgroup_namespace_ = true;
    ctx.log.debug("nsrun.namespaces: a cgroup namespace, made once the process is in its cgroup");
  }

  void start_container(nsrun::Context&) override {
    if (unshare_cgroup_namespace_ && ::unshare(CLONE_NEWCGROUP) != 0)
      throw nsrun::StageError(std::string("cannot create the cgroup namespace: ") +
                              std::strerror(errno));
  }

  void create_container(nsrun::Context& ctx) override {
    const std::string& hostname = ctx.spec.hostname;
    if (!hostname.empty() && ::sethostname(hostname.data(), hostname.size()) != 0)
      throw nsrun::StageError("cannot set hostname \"" + hostname + "\": " + std::strerror(errno));
  }

 private:
  bool cgroup_namespace_ = true;
  bool unshare_cgroup_namespace_ = false;  // decided in prepare, acted on in the container
};

}  // namespace

NSRUN_PLUGIN(NamespacesStage, "nsrun.namespaces", "1.0.0", "namespaces",
             "pid, mount, uts, ipc (+network, +cgroup on v2) namespaces and the hostname")
