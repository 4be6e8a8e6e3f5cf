#include "nsrun/security/security_stage.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nsrun/config.hpp"

namespace nsrun::security {

namespace {

std::string why(int error) {
  return std::strerror(error);
}

std::string list(const std::vector<gid_t>& ids) {
  std::string out;
  for (gid_t id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return out.empty() ? "none" : out;
}

void write_sysctls(const Plan& plan, Host& host) {
  for (const auto& s : plan.sysctls)
    if (int error = host.write_file(s.path, s.value))
      throw StageError("linux.sysctl: cannot set " + s.key + " to \"" + s.value + "\" (" + s.path +
                       "): " + why(error) +
                       (error == ENOENT ? " (this kernel has no such sysctl; remove it)" : ""));
}

void mask_paths(const Plan& plan, Host& host, Logger& log) {
  for (const auto& path : plan.masked_paths) {
    PathKind kind{};
    if (int error = host.path_kind(path, kind))
      throw StageError("linux.maskedPaths: cannot look at " + path + ": " + why(error));
    int error = 0;
    switch (kind) {
      case PathKind::missing:
        log.debug("security: masked path " + path + " does not exist here; skipped");
        continue;
      case PathKind::directory:  // an empty read-only tmpfs hides what is beneath
        error = host.mount_readonly_tmpfs(path);
        break;
      case PathKind::file:  // reads give nothing, writes go nowhere
        error = host.bind_mount("/dev/null", path, false);
        break;
    }
    if (error)
      throw StageError("linux.maskedPaths: cannot mask " + path + ": " + why(error) +
                       (kind == PathKind::file && error == ENOENT
                            ? " (the container has no /dev/null to mask it with)"
                            : ""));
  }
}

void make_paths_readonly(const Plan& plan, Host& host, Logger& log) {
  for (const auto& path : plan.readonly_paths) {
    PathKind kind{};
    if (int error = host.path_kind(path, kind))
      throw StageError("linux.readonlyPaths: cannot look at " + path + ": " + why(error));
    if (kind == PathKind::missing) {
      log.debug("security: read-only path " + path + " does not exist here; skipped");
      continue;
    }
    // A bind onto itself makes the path a mount of its own, which can then be made read-only
    // without touching the rest of its filesystem.
    if (int error = host.bind_mount(path, path, true))
      throw StageError("linux.readonlyPaths: cannot bind " + path + " onto itself: " + why(error));
    if (int error = host.make_readonly(path))
      throw StageError("linux.readonlyPaths: cannot make " + path + " read-only: " + why(error));
  }
}

void set_rlimits(const Plan& plan, Host& host) {
  for (const auto& r : plan.rlimits) {
    int error = host.set_rlimit(r.resource, r.soft, r.hard);
    if (!error) continue;
    std::string hint;
    if (error == EPERM)
      hint = std::string(" (raising a hard limit above the current one needs CAP_SYS_RESOURCE") +
             (r.type == "RLIMIT_NOFILE" ? ", and RLIMIT_NOFILE cannot exceed fs.nr_open" : "") +
             "; lower the limit)";
    throw StageError("process.rlimits: cannot set " + r.type + " to soft " +
                     std::to_string(r.soft) + ", hard " + std::to_string(r.hard) + ": " +
                     why(error) + hint);
  }
}

void switch_user(const UserPlan& user, Host& host) {
  // Groups first, then the gid, then the uid: after setresuid(2) away from root nothing else
  // could be changed.
  if (int error = host.set_groups(user.additional_gids))
    throw StageError("process.user.additionalGids: cannot set the supplementary groups to " +
                     list(user.additional_gids) + ": " + why(error));
  if (int error = host.set_gid(user.gid))
    throw StageError("process.user.gid: cannot switch to group " + std::to_string(user.gid) + ": " +
                     why(error));
  if (int error = host.set_uid(user.uid))
    throw StageError("process.user.uid: cannot switch to user " + std::to_string(user.uid) + ": " +
                     why(error));
  if (user.umask) host.set_umask(*user.umask);
}

void load_seccomp(const SeccompPlan& seccomp, Host& host) {
  if (int error = host.load_seccomp(seccomp))
    throw StageError("linux.seccomp: cannot load the filter: " + why(error) +
                     (error == EACCES ? " (without noNewPrivileges it needs CAP_SYS_ADMIN)" : ""));
}

}  // namespace

void apply_plan(const Plan& plan, Host& host, Logger& log) {
  write_sysctls(plan, host);
  mask_paths(plan, host, log);
  make_paths_readonly(plan, host, log);
  apply_process_plan(plan, host);
}

void apply_process_plan(const Plan& plan, Host& host) {
  set_rlimits(plan, host);
  if (plan.oom_score_adj)
    if (int error =
            host.write_file("/proc/self/oom_score_adj", std::to_string(*plan.oom_score_adj)))
      throw StageError("process.oomScoreAdj: cannot set it to " +
                       std::to_string(*plan.oom_score_adj) + ": " + why(error));

  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the capabilities go (as
  // runc does). The filter then also governs the calls below, which a profile must allow.
  if (plan.seccomp && !plan.no_new_privileges) load_seccomp(*plan.seccomp, host);

  const CapabilityPlan* caps = plan.capabilities ? &*plan.capabilities : nullptr;
  if (caps) {
    for (int cap = 0; cap <= host.last_capability(); ++cap) {
      bool kept =
          std::find(caps->bounding.begin(), caps->bounding.end(), cap) != caps->bounding.end();
      if (kept) continue;
      if (int error = host.drop_bounding(cap))
        throw StageError("process.capabilities.bounding: cannot drop " + capability_name(cap) +
                         " from the bounding set: " + why(error));
    }
    // Without it, setresuid(2) away from uid 0 would empty the permitted set. execve(2) resets it.
    if (int error = host.set_keep_capabilities())
      throw StageError("process.capabilities: cannot keep capabilities across the user switch: " +
                       why(error));
  }
  if (plan.user) switch_user(*plan.user, host);
  if (caps) {
    if (int error = host.set_capabilities({caps->effective, caps->permitted, caps->inheritable}))
      throw StageError(
          "process.capabilities: cannot set the effective, permitted and inheritable sets: " +
          why(error) +
          (error == EPERM ? " (nsrun itself lacks one of the permitted capabilities)" : ""));
    // The ambient set is replaced, not added to: it starts from nothing, as the spec lists it.
    if (int error = host.reset_ambient())
      throw StageError("process.capabilities.ambient: cannot clear the ambient set: " + why(error));
    for (int cap : caps->ambient)
      if (int error = host.raise_ambient(cap))
        throw StageError("process.capabilities.ambient: cannot raise " + capability_name(cap) +
                         ": " + why(error));
  }
  // Last: it must not stop anything above, and nothing after it but execve.
  if (plan.no_new_privileges)
    if (int error = host.set_no_new_privileges())
      throw StageError("process.noNewPrivileges: cannot set no_new_privs: " + why(error));
  // With no_new_privs, the filter comes last, so that it need allow nothing but execve and what
  // the stages after this one do.
  if (plan.seccomp && plan.no_new_privileges) load_seccomp(*plan.seccomp, host);
}

namespace {

void warn_unknown_to_kernel(const Plan& plan, Logger& log) {
  for (const auto& unknown : plan.unknown_to_kernel)
    log.warn("security: " + unknown + " is unknown to this kernel; ignored");
  if (plan.seccomp) log_seccomp_plan(*plan.seccomp, log);
}

}  // namespace

void SecurityStage::validate(Context& ctx) {
  ConfigReader(ctx.config, "nsrun.security").finish();
  warn_unknown_to_kernel(make_plan(ctx.spec, host_->last_capability()), ctx.log);
}

void SecurityStage::start_container(Context& ctx) {
  // Planned again from the spec the container process has (after every stage's prepare), so
  // that what is applied is what the spec says, whatever the stage kept in memory.
  apply_plan(make_plan(ctx.spec, host_->last_capability()), *host_, ctx.log);
}

void SecurityStage::exec_prepare(Context& ctx) {
  ConfigReader(ctx.config, "nsrun.security").finish();
  // The process-level fields only: linux.sysctl, maskedPaths and readonlyPaths were checked and
  // applied when the container started, and they hold in its mount namespace, which the new
  // process joins.
  exec_plan_ = make_process_plan(ctx.spec.process, host_->last_capability());
  // The container's filter, which the new process must not escape by joining.
  exec_plan_->seccomp = seccomp_plan(ctx.spec);
  warn_unknown_to_kernel(*exec_plan_, ctx.log);
}

void SecurityStage::exec_container(Context& ctx) {
  // exec_container runs in the process forked after exec_prepare, which planned on this object.
  // Should a core ever call it on a fresh object, the plan is made again from the same spec (no
  // phase but prepare changes it) rather than leaving the process unconfined.
  Plan plan =
      exec_plan_ ? *exec_plan_ : make_process_plan(ctx.spec.process, host_->last_capability());
  if (!exec_plan_) plan.seccomp = seccomp_plan(ctx.spec);
  apply_process_plan(plan, *host_);
}

}  // namespace nsrun::security
