// The namespaces stage's phases (see namespaces_stage.hpp).
#include "nsrun/namespaces/namespaces_stage.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "nsrun/config.hpp"
#include "nsrun/namespaces/id_mappings.hpp"
#include "nsrun/namespaces/joined_namespaces.hpp"
#include "nsrun/namespaces/subid_store.hpp"

namespace nsrun::namespaces {
namespace {

constexpr const char* config_name = "nsrun.namespaces";
const std::set<std::string> supported_types{"pid",     "mount",  "uts", "ipc",
                                            "network", "cgroup", "user"};

bool host_is_cgroup_v2() {
  struct statfs fs {};
  return ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

std::vector<std::string> flag_strings(const Context& ctx, const char* name) {
  std::vector<std::string> out;
  if (const auto* given = ctx.flag(name); given && given->is_array())
    for (const auto& value : given->as_array())
      if (value.is_string()) out.emplace_back(value.as_string());
  return out;
}

std::vector<IdMapping> parse_flag_mappings(const std::string& flag,
                                           const std::vector<std::string>& values) {
  std::vector<IdMapping> out;
  for (const auto& value : values) out.push_back(parse_id_mapping_flag(flag, value));
  validate_id_mappings(out, {flag, values});
  return out;
}

// process.user must be an id of the namespace, or the security stage's setresuid fails inside.
void check_user_is_mapped(const ContainerSpec& spec) {
  if (!spec.process.user) return;
  const UserSpec& user = *spec.process.user;
  if (!maps_container_id(spec.uid_mappings, user.uid))
    throw StageError("process.user.uid " + std::to_string(user.uid) +
                     " is not mapped by linux.uidMappings (map it, or run as a mapped user)");
  if (!maps_container_id(spec.gid_mappings, user.gid))
    throw StageError("process.user.gid " + std::to_string(user.gid) +
                     " is not mapped by linux.gidMappings (map it, or run as a mapped group)");
  for (auto gid : user.additional_gids)
    if (!maps_container_id(spec.gid_mappings, gid))
      throw StageError("process.user.additionalGids " + std::to_string(gid) +
                       " is not mapped by linux.gidMappings (map it, or drop it)");
}

// The maps of a spec that has them (a bundle's, or a spec the flags completed in prepare).
void validate_spec_mappings(const ContainerSpec& spec) {
  const bool user_namespace = spec.has_namespace("user");
  if (!user_namespace) {
    if (!spec.uid_mappings.empty() || !spec.gid_mappings.empty())
      throw StageError(
          std::string(spec.uid_mappings.empty() ? "linux.gidMappings" : "linux.uidMappings") +
          " is set but linux.namespaces has no user namespace (add {\"type\": "
          "\"user\"}, or remove the mappings)");
    return;
  }
  if (spec.uid_mappings.empty() || spec.gid_mappings.empty())
    throw StageError(
        "a user namespace needs both linux.uidMappings and linux.gidMappings (add the missing "
        "one: without a map the container's root would be an unmapped host root)");
  validate_id_mappings(spec.uid_mappings, {"linux.uidMappings", {}});
  validate_id_mappings(spec.gid_mappings, {"linux.gidMappings", {}});
  check_user_is_mapped(spec);
}

void write_map(pid_t pid, const char* file, const std::vector<IdMapping>& mappings) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  const std::string text = id_map_text(mappings);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    throw StageError("cannot open " + path + ": " + std::strerror(errno) +
                     " (did the container process die?)");
  // The kernel takes a map in one write only.
  ssize_t written = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size()))
    throw StageError("cannot write " + path + " (" + describe(mappings) +
                     "): " + std::strerror(written < 0 ? err : EIO));
}

// The container's root, uid 0 of its namespace, is an unprivileged host user: it could not pass
// through the root-only state directory to bind the files generated there (/etc/hosts, files
// other stages add). Its group (the host gid of container gid 0) may pass through, no more: the
// state root is 0711 and the files are only as readable as their own modes say.
void let_container_root_reach_state(const std::string& state_dir,
                                    const std::vector<IdMapping>& gid_mappings) {
  std::optional<gid_t> group;
  for (const auto& m : gid_mappings)
    if (m.container_id == 0) group = m.host_id;
  if (!group || state_dir.empty()) return;
  for (const std::string& dir : {state_dir, state_dir + "/files"}) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (::chown(dir.c_str(), static_cast<uid_t>(-1), *group) != 0 ||
        ::chmod(dir.c_str(), (st.st_mode & 07777) | S_IXGRP) != 0)
      throw StageError("cannot let the container's root (host gid " + std::to_string(*group) +
                       ") pass through " + dir + ": " + std::strerror(errno));
  }
}

boost::json::object block_record(std::uint32_t uid_start, std::uint32_t gid_start,
                                 std::uint32_t size) {
  return {{"uidStart", uid_start}, {"gidStart", gid_start}, {"size", size}};
}

std::optional<std::uint32_t> uint32_of(const boost::json::object& data, const char* key) {
  const auto* v = data.if_contains(key);
  if (v && v->is_int64() && v->as_int64() >= 0 && v->as_int64() <= INT64_C(4294967295))
    return static_cast<std::uint32_t>(v->as_int64());
  if (v && v->is_uint64() && v->as_uint64() <= 4294967295U)
    return static_cast<std::uint32_t>(v->as_uint64());
  return std::nullopt;
}

}  // namespace

void become_namespace_root() {
  if (::setgroups(0, nullptr) != 0)
    throw StageError(std::string("cannot drop the supplementary groups in the user namespace: ") +
                     std::strerror(errno));
  if (::setresgid(0, 0, 0) != 0)
    throw StageError(std::string("cannot become gid 0 of the user namespace: ") +
                     std::strerror(errno) + " (is gid 0 in linux.gidMappings?)");
  if (::setresuid(0, 0, 0) != 0)
    throw StageError(std::string("cannot become uid 0 of the user namespace: ") +
                     std::strerror(errno) + " (is uid 0 in linux.uidMappings?)");
}

// `--userns auto:size=N` (podman's syntax): the block's size, 1 to 2^32-1 ids. podman's other
// options (uidmapping=, gidmapping=) are refused by name.
static std::uint32_t parse_auto_size(const std::string& mode) {
  const std::string options = mode.substr(std::string("auto:").size());
  const std::string example = " (e.g. --userns auto:size=65536)";
  if (!options.starts_with("size=") || options.find(',') != std::string::npos)
    throw StageError("--userns " + mode + ": the only option of auto is size=N" + example);
  const std::string digits = options.substr(std::string("size=").size());
  std::uint64_t size = 0;
  bool number = !digits.empty() && digits.size() <= 10 &&
                digits.find_first_not_of("0123456789") == std::string::npos;
  if (number) size = std::stoull(digits);
  if (!number || size == 0 || size > 0xffffffffULL)
    throw StageError("--userns " + mode + ": size must be a whole number of ids from 1 to " +
                     "4294967295" + example);
  return static_cast<std::uint32_t>(size);
}

void NamespacesStage::read_flags(Context& ctx) {
  userns_mode_ = UsernsMode::none;
  flag_uid_mappings_.clear();
  flag_gid_mappings_.clear();
  const auto* userns = ctx.flag("userns");
  const auto uidmap = flag_strings(ctx, "uidmap");
  const auto gidmap = flag_strings(ctx, "gidmap");
  const bool any = userns || !uidmap.empty() || !gidmap.empty();
  if (!any) return;
  if (ctx.spec_source == SpecSource::bundle)
    throw StageError(
        "--userns, --uidmap and --gidmap apply to nsrun run FLAGS CMD; a bundle's config.json "
        "decides them (edit its linux.namespaces, linux.uidMappings and linux.gidMappings)");
  std::string mode = userns && userns->is_string() ? std::string(userns->as_string()) : "";
  const bool automatic = mode == "auto" || mode.starts_with("auto:");
  if (userns && !automatic && mode != "host")
    throw StageError("--userns " + mode +
                     " is not a mode (use auto for a free block of subordinate ids, or host for "
                     "no user namespace)");
  userns_size_ = auto_block_size;
  if (mode.starts_with("auto:")) userns_size_ = parse_auto_size(mode);
  if (!uidmap.empty() || !gidmap.empty()) {
    if (mode == "host" || automatic)
      throw StageError("--userns " + mode +
                       " and --uidmap/--gidmap contradict each other (drop one)");
    if (uidmap.empty())
      throw StageError(
          "--gidmap needs --uidmap too (e.g. --uidmap 0:100000:65536): the container's root must "
          "map to an unprivileged host uid");
    flag_uid_mappings_ = parse_flag_mappings("--uidmap", uidmap);
    // As podman: --uidmap alone maps gids the same way.
    flag_gid_mappings_ =
        gidmap.empty() ? flag_uid_mappings_ : parse_flag_mappings("--gidmap", gidmap);
    userns_mode_ = UsernsMode::explicit_maps;
    return;
  }
  if (automatic) {
    // Said now, before anything exists: the pool must be readable and give "containers" ids.
    read_pool(subuid_file_, "--userns auto");
    read_pool(subgid_file_, "--userns auto");
    userns_mode_ = UsernsMode::automatic;
  }
}

void NamespacesStage::validate(Context& ctx) {
  ConfigReader config(ctx.config, config_name);
  cgroup_namespace_ = config.boolean("cgroupNamespace").value_or(true);
  subuid_file_ = config.string("subuidFile").value_or("/etc/subuid");
  subgid_file_ = config.string("subgidFile").value_or("/etc/subgid");
  config.finish();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < ctx.spec.namespaces.size(); ++i) {
    const NamespaceSpec& ns = ctx.spec.namespaces[i];
    if (ns.type == "time")
      throw StageError("a time namespace is not supported yet (remove it from linux.namespaces)");
    if (!supported_types.count(ns.type))
      throw StageError("unknown namespace type \"" + ns.type +
                       "\" (known: pid, mount, uts, ipc, network, cgroup, user)");
    if (!seen.insert(ns.type).second)
      throw StageError("the " + ns.type + " namespace is listed twice in linux.namespaces");
    if (!ns.path.empty()) check_joinable(ns, i);
  }
  const std::string& hostname = ctx.spec.hostname;
  if (!hostname.empty()) {
    if (!seen.count("uts"))
      throw StageError("hostname \"" + hostname +
                       "\" needs a uts namespace (add one, or drop the hostname)");
    if (hostname.size() > 64 || hostname.find('/') != std::string::npos)
      throw StageError("hostname \"" + hostname + "\" must be at most 64 bytes without '/'");
  }
  read_flags(ctx);
  joined_user_maps_.reset();
  if (std::string path = ctx.spec.joined_namespace("user"); !path.empty()) {
    // A joined user namespace has its maps already: a bundle may repeat them (as containerd
    // does for a pod's containers), and then they must be the namespace's.
    auto maps = read_user_namespace_maps(path);
    auto differ = [&](const std::vector<IdMapping>& given, const std::vector<IdMapping>& theirs,
                      const char* field) {
      if (!given.empty() && given != theirs)
        throw StageError(std::string(field) + " (" + describe(given) +
                         ") differs from the maps of the user namespace it joins, " + path + " (" +
                         describe(theirs) + "); remove it, or make it the same");
    };
    differ(ctx.spec.uid_mappings, maps.uid, "linux.uidMappings");
    differ(ctx.spec.gid_mappings, maps.gid, "linux.gidMappings");
    joined_user_maps_ = std::move(maps);
    return;
  }
  // The flags' maps were checked as they were read; they enter the spec in prepare.
  if (userns_mode_ == UsernsMode::none) validate_spec_mappings(ctx.spec);
}

void NamespacesStage::allocate_automatic_maps(Context& ctx) {
  const auto uid_pool = read_pool(subuid_file_, "--userns auto");
  const auto gid_pool = read_pool(subgid_file_, "--userns auto");
  if (ctx.state_root.empty())
    throw StageError("--userns auto needs nsrun's state root (the core did not pass it)");
  SubidSession session = SubidStore(std::string(ctx.state_root)).lock();
  const std::string id(ctx.container_id);
  const std::uint32_t size = userns_size_;
  std::uint32_t uid_start =
      choose_block(session, "uids", uid_pool, size, "--userns auto", subuid_file_);
  std::uint32_t gid_start =
      choose_block(session, "gids", gid_pool, size, "--userns auto", subgid_file_);
  // Journalled first: a crash between the two leaves a record teardown can release.
  ctx.journal.record("userns-block", block_record(uid_start, gid_start, size));
  session.hold("uids", {uid_start, size, id});
  session.hold("gids", {gid_start, size, id});
  flag_uid_mappings_ = {{0, uid_start, size}};
  flag_gid_mappings_ = {{0, gid_start, size}};
}

void NamespacesStage::prepare(Context& ctx) {
  if (userns_mode_ != UsernsMode::none) {
    if (userns_mode_ == UsernsMode::automatic) allocate_automatic_maps(ctx);
    if (!ctx.spec.has_namespace("user")) ctx.spec.namespaces.push_back({"user", ""});
    ctx.spec.uid_mappings = flag_uid_mappings_;
    ctx.spec.gid_mappings = flag_gid_mappings_;
    check_user_is_mapped(ctx.spec);
  }
  if (joined_user_maps_) {
    // Later stages (storage: the idmapped rootfs) read the ids the container's root has here.
    ctx.spec.uid_mappings = joined_user_maps_->uid;
    ctx.spec.gid_mappings = joined_user_maps_->gid;
    check_user_is_mapped(ctx.spec);
  }
  if (ctx.spec.has_namespace("user") && ctx.log.debug_enabled())
    ctx.log.debug(
        "user namespace: uid map " + describe(ctx.spec.uid_mappings) + ", gid map " +
        describe(ctx.spec.gid_mappings) +
        (userns_mode_ == UsernsMode::automatic ? " (--userns auto)" : "") +
        (joined_user_maps_ ? " (joined: " + ctx.spec.joined_namespace("user") + ")" : ""));
  if (ctx.log.debug_enabled())
    for (const auto& ns : ctx.spec.namespaces)
      if (!ns.path.empty()) ctx.log.debug("joining the " + ns.type + " namespace " + ns.path);

  // On cgroup v2 a cgroup namespace hides the host's cgroup paths, as docker does by default.
  bool wanted = ctx.spec.has_namespace("cgroup") || (cgroup_namespace_ && host_is_cgroup_v2());
  // A joined cgroup namespace is joined as it is, by the core.
  if (!wanted || !ctx.spec.joined_namespace("cgroup").empty()) return;
  // A cgroup namespace is rooted where the process is when the namespace is made. Cloned with
  // it, the container would be rooted in nsrun's cgroup and see its own as /nsrun-<id>; so it is
  // not cloned but made in start_container, after the cgroups stage moved the process.
  std::erase_if(ctx.spec.namespaces, [](const NamespaceSpec& ns) { return ns.type == "cgroup"; });
  unshare_cgroup_namespace_ = true;
  ctx.log.debug("nsrun.namespaces: a cgroup namespace, made once the process is in its cgroup");
}

// Host side, while the container process waits: a process may not write its own maps with ids
// it does not hold, but nsrun, root of the parent namespace, may write any. setgroups stays
// allowed (the writer has CAP_SETGID in the parent namespace).
void NamespacesStage::create_runtime(Context& ctx) {
  if (!ctx.spec.has_namespace("user")) return;
  if (ctx.pid <= 0) throw StageError("create_runtime needs the container's pid");
  // Again on the final spec: for `nsrun run`, the security stage sets process.user (--user) in
  // its prepare, after this stage's.
  check_user_is_mapped(ctx.spec);
  // A joined namespace's maps were written by whoever made it; they may be written only once.
  const bool joined = !ctx.spec.joined_namespace("user").empty();
  if (!joined) {
    write_map(ctx.pid, "uid_map", ctx.spec.uid_mappings);
    write_map(ctx.pid, "gid_map", ctx.spec.gid_mappings);
  }
  let_container_root_reach_state(std::string(ctx.state_dir), ctx.spec.gid_mappings);
  if (!joined && ctx.log.debug_enabled())
    ctx.log.debug("wrote /proc/" + std::to_string(ctx.pid) + "/uid_map (" +
                  describe(ctx.spec.uid_mappings) + ") and gid_map (" +
                  describe(ctx.spec.gid_mappings) + ")");
}

void NamespacesStage::create_container(Context& ctx) {
  // First of all (this stage comes first): files the later stages create in the filesystems
  // mounted inside (/dev's tmpfs...) must belong to an id the namespace maps, or the kernel
  // refuses them (EOVERFLOW), as runc knows.
  if (ctx.spec.has_namespace("user")) become_namespace_root();
  const std::string& hostname = ctx.spec.hostname;
  if (!hostname.empty() && ::sethostname(hostname.data(), hostname.size()) != 0)
    throw StageError("cannot set hostname \"" + hostname + "\": " + std::strerror(errno));
}

void NamespacesStage::start_container(Context&) {
  if (unshare_cgroup_namespace_ && ::unshare(CLONE_NEWCGROUP) != 0)
    throw StageError(std::string("cannot create the cgroup namespace: ") + std::strerror(errno));
}

// `nsrun exec` joined the container's user namespace as the (unmapped) host root.
void NamespacesStage::exec_container(Context& ctx) {
  if (ctx.spec.has_namespace("user")) become_namespace_root();
}

// An automatic block goes back to the pool; a block already released (or reclaimed by another
// container after this one's state went) is left alone.
void NamespacesStage::teardown(Context& ctx) {
  auto records = ctx.journal.records();
  bool any = false;
  for (const auto& record : records) any |= record.type == "userns-block";
  if (!any) return;
  SubidSession session = SubidStore(std::string(ctx.state_root)).lock();
  const std::string id(ctx.container_id);
  for (const auto& record : records) {
    if (record.type != "userns-block") continue;
    if (auto start = uint32_of(record.data, "uidStart")) session.release("uids", *start, id);
    if (auto start = uint32_of(record.data, "gidStart")) session.release("gids", *start, id);
  }
}

}  // namespace nsrun::namespaces
