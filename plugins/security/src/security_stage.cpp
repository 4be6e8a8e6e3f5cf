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

const boost::json::object& given_flags(const Context& ctx) {
  static const boost::json::object none;
  return ctx.flags ? *ctx.flags : none;
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
        log.debug("masked path " + path + " does not exist here; skipped");
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
      log.debug("read-only path " + path + " does not exist here; skipped");
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

void load_seccomp(const Plan& plan, Host& host) {
  int error = plan.compiled_seccomp ? host.load_seccomp_program(*plan.compiled_seccomp)
                                    : host.load_seccomp(*plan.seccomp);
  if (error)
    throw StageError("linux.seccomp: cannot load the filter: " + why(error) +
                     (error == EACCES ? " (without noNewPrivileges it needs CAP_SYS_ADMIN)" : ""));
}

}  // namespace

void apply_container_plan(const Plan& plan, Host& host, Logger& log) {
  write_sysctls(plan, host);
  mask_paths(plan, host, log);
  make_paths_readonly(plan, host, log);
}

void apply_plan(const Plan& plan, Host& host, Logger& log) {
  apply_container_plan(plan, host, log);
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
  const bool seccomp = plan.seccomp || plan.compiled_seccomp;
  if (seccomp && !plan.no_new_privileges) load_seccomp(plan, host);

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
  if (seccomp && plan.no_new_privileges) load_seccomp(plan, host);
}

namespace {

void warn_unknown_to_kernel(const Plan& plan, Logger& log) {
  for (const auto& unknown : plan.unknown_to_kernel)
    log.warn(unknown + " is unknown to this kernel; ignored");
  if (plan.seccomp) log_seccomp_plan(*plan.seccomp, log);
}

}  // namespace

namespace {

// The filter `nsrun run` gives: --security-opt seccomp=FILE, none with seccomp=unconfined or
// --privileged, else the default profile. FILE's includes/excludes are read against the
// container's bounding set.
// Written into the spec (linux.seccomp) when it is a FILE's; the default profile is named
// instead (see seccomp_annotation).
struct RunSeccomp {
  SeccompSource source;
  std::optional<SeccompSpec> written;  ///< the FILE's profile; nullopt for the default one
};

std::optional<RunSeccomp> run_seccomp(const RunOptions& options, Host& host) {
  if (options.seccomp == "unconfined") return std::nullopt;
  if (!options.seccomp.empty()) {
    SeccompSpec file = load_seccomp_profile_file(
        options.seccomp, run_capabilities(options, host.permitted_capabilities()));
    return RunSeccomp{seccomp_source(file), file};
  }
  if (options.privileged) return std::nullopt;
  return RunSeccomp{default_seccomp_source(), std::nullopt};
}

// `nsrun run`'s default profile is named in the spec, not written out: its 466 rules would make
// every later phase of every stage parse a spec ten times the size (milliseconds per run). The
// annotation says what the container runs under (nsrun state shows it), and is what `nsrun exec`
// finds there.
constexpr const char* seccomp_annotation = "org.nsrun.security.seccomp";

// The filter a container runs under: linux.seccomp, or the default profile the annotation names.
std::optional<SeccompSource> container_seccomp(const ContainerSpec& spec) {
  if (spec.seccomp) return seccomp_source(*spec.seccomp);
  auto named = spec.annotations.find(seccomp_annotation);
  if (named != spec.annotations.end() && named->second == "default")
    return default_seccomp_source();
  return std::nullopt;
}

std::string seccomp_cache_dir(const Context& ctx) {
  return ctx.state_root.empty() ? "" : std::string(ctx.state_root) + "/_seccomp";
}

}  // namespace

void SecurityStage::validate(Context& ctx) {
  ConfigReader(ctx.config, "nsrun.security").finish();
  const RunOptions options = parse_run_options(given_flags(ctx), host_->last_capability());
  if (ctx.spec_source == SpecSource::bundle && options.any)
    throw StageError(
        "--privileged, --cap-add, --cap-drop, --security-opt, --user, --ulimit, --oom-score-adj, "
        "--sysctl and --no-new-keyring apply to nsrun run FLAGS CMD; a bundle's config.json "
        "decides them (edit its process and linux sections instead)");
  warn_unknown_to_kernel(make_plan(ctx.spec, host_->last_capability(), false), ctx.log);
  // The filter is built here, once, on the host: what libseccomp refuses is said before anything
  // exists, and the container process (a copy of this one) loads the BPF without building it.
  run_seccomp_.reset();
  written_seccomp_.reset();
  if (ctx.spec_source == SpecSource::flags) {
    if (auto chosen = run_seccomp(options, *host_)) {
      run_seccomp_ = std::move(chosen->source);
      written_seccomp_ = std::move(chosen->written);
    }
  } else if (ctx.spec.seccomp) {
    run_seccomp_ = seccomp_source(*ctx.spec.seccomp);
  }
  compiled_seccomp_ = nullptr;
  if (run_seccomp_) {
    ctx.log.debug(std::string("seccomp profile ") + (ctx.spec_source == SpecSource::bundle
                                                         ? "of the bundle"
                                                     : options.seccomp.empty() ? "default"
                                                                               : options.seccomp));
    compiled_seccomp_ = compile_seccomp(*run_seccomp_, seccomp_cache_dir(ctx), ctx.log);
  }
}

void SecurityStage::prepare(Context& ctx) {
  // Every stage validated: what validate built may now be kept for the next run.
  if (run_seccomp_ && compiled_seccomp_)
    cache_compiled_seccomp(*run_seccomp_, *compiled_seccomp_, seccomp_cache_dir(ctx));
  if (ctx.spec_source != SpecSource::flags) return;
  const int last = host_->last_capability();
  const RunOptions options = parse_run_options(given_flags(ctx), last);
  apply_run_options(ctx.spec, options, host_->permitted_capabilities());
  // Recorded in the spec: state's config.json says what the container runs under, and
  // `nsrun exec` gives a joining process the same filter.
  if (run_seccomp_ && !written_seccomp_)
    ctx.spec.annotations[seccomp_annotation] = "default";
  else
    ctx.spec.seccomp = written_seccomp_;
  // Checked again now that every stage before this one added what it adds (the network
  // namespace a --sysctl net.* key needs, say), before anything of the container exists.
  make_plan(ctx.spec, last, false);
}

namespace {

// What a container process does first: a session keyring of its own (runc's default), so that
// keys the caller's session holds are not the container's. The user keyring is the uid's
// whatever the session; the seccomp profile's refusal of keyctl(2) is what keeps it out of reach.
void join_new_keyring(Context& ctx, Host& host) {
  if (const auto* flag = ctx.flag("no-new-keyring"); flag && flag->is_bool() && flag->as_bool())
    return;
  const std::string name = "_ses.nsrun." + std::string(ctx.container_id);
  if (int error = host.join_session_keyring(name)) {
    // Kernels without keyrings (CONFIG_KEYS=n) have nothing to leak.
    if (error == ENOSYS) return;
    throw StageError("cannot join a new session keyring " + name + ": " + why(error) +
                     " (or run with --no-new-keyring)");
  }
}

void log_applied(const Plan& plan, Logger& log) {
  if (!log.debug_enabled()) return;
  std::string caps;
  if (plan.capabilities)
    for (int cap : plan.capabilities->bounding)
      caps += (caps.empty() ? "" : ",") + capability_name(cap);
  log.debug("capabilities " + (plan.capabilities ? "[" + caps + "]" : std::string("unchanged")) +
            ", no_new_privs " + (plan.no_new_privileges ? "on" : "off") + ", " +
            std::to_string(plan.masked_paths.size()) + " masked and " +
            std::to_string(plan.readonly_paths.size()) + " read-only paths");
}

}  // namespace

void SecurityStage::start_container(Context& ctx) {
  // Planned again from the spec the container process has (after every stage's prepare), so
  // that what is applied is what the spec says, whatever the stage kept in memory.
  // The filter validate compiled is this object's when the container process is the copy of the
  // nsrun that ran validate (always, with nsrun's core); a fresh object builds it here.
  Plan plan = make_plan(ctx.spec, host_->last_capability(), false);
  plan.compiled_seccomp = compiled_seccomp_;
  if (!compiled_seccomp_)
    if (auto seccomp = container_seccomp(ctx.spec))
      plan.seccomp = make_seccomp_plan(seccomp->build());
  log_applied(plan, ctx.log);
  {
    TraceScope step(ctx, "security: a new session keyring");
    join_new_keyring(ctx, *host_);
  }
  {
    TraceScope step(ctx, "security: sysctls, masked and read-only paths");
    apply_container_plan(plan, *host_, ctx.log);
  }
  TraceScope step(ctx, "security: rlimits, capabilities, no_new_privs, seccomp");
  apply_process_plan(plan, *host_);
}

void SecurityStage::exec_prepare(Context& ctx) {
  ConfigReader(ctx.config, "nsrun.security").finish();
  // The process-level fields only: linux.sysctl, maskedPaths and readonlyPaths were checked and
  // applied when the container started, and they hold in its mount namespace, which the new
  // process joins.
  exec_plan_ = make_process_plan(ctx.spec.process, host_->last_capability());
  // The container's filter, which the new process must not escape by joining.
  if (auto seccomp = container_seccomp(ctx.spec))
    exec_plan_->compiled_seccomp = compile_seccomp(*seccomp, seccomp_cache_dir(ctx), ctx.log);
  warn_unknown_to_kernel(*exec_plan_, ctx.log);
}

void SecurityStage::exec_container(Context& ctx) {
  // exec_container runs in the process forked after exec_prepare, which planned on this object.
  // Should a core ever call it on a fresh object, the plan is made again from the same spec (no
  // phase but prepare changes it) rather than leaving the process unconfined.
  Plan plan =
      exec_plan_ ? *exec_plan_ : make_process_plan(ctx.spec.process, host_->last_capability());
  join_new_keyring(ctx, *host_);
  if (!exec_plan_)
    if (auto seccomp = container_seccomp(ctx.spec))
      plan.seccomp = make_seccomp_plan(seccomp->build());
  apply_process_plan(plan, *host_);
}

}  // namespace nsrun::security
