// The copy-on-write root (see overlay_stage.hpp).
#include "nsrun/overlay/overlay_stage.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "nsrun/storage/validation.hpp"

namespace nsrun::overlay {
namespace {

namespace fs = std::filesystem;
using storage::Errno;

constexpr const char* record_type = "overlay";
// --keep-changes, journalled once the workload runs: a run that fails before has no changes to
// keep, and leaves no DIR behind.
constexpr const char* keep_record_type = "keep-changes";

void check(Errno err, const std::string& what) {
  if (err != 0) throw StageError("overlay: cannot " + what + ": " + std::strerror(err));
}

std::string string_of(const boost::json::object& data, const char* key) {
  const auto* value = data.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

std::string overlay_options(const std::string& lower, const std::string& upper,
                            const std::string& work) {
  return "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
}

void OverlayStage::validate(Context& ctx) {
  StorageStage::validate(ctx);
  const std::string base = storage::validate_rootfs(ctx.spec.root);
  if (base.find_first_of(",:") != std::string::npos)
    throw StageError("overlay: the rootfs " + base +
                     " cannot be overlayfs's lower layer: its path has a ',' or ':' (move or "
                     "link it to a path without them)");
  // The upper and work directories go into the same option string, where a ',' would cut it.
  if (std::string_view(ctx.state_dir).find(',') != std::string_view::npos)
    throw StageError("overlay: the state directory " + std::string(ctx.state_dir) +
                     " cannot hold overlayfs's upper layer: its path has a ',' (give --root a "
                     "directory without one)");
  keep_changes_.clear();
  const auto* keep = ctx.flag("keep-changes");
  if (!keep || !keep->is_string() || keep->as_string().empty()) return;
  std::error_code ec;
  fs::path dir = fs::absolute(std::string(keep->as_string()), ec).lexically_normal();
  const std::string shown = "--keep-changes " + std::string(keep->as_string());
  if (fs::exists(fs::symlink_status(dir, ec)))
    throw StageError(shown + ": " + dir.string() +
                     " exists (name a new directory: the container's changes become it)");
  struct stat parent {
  }, root{};
  if (::stat(dir.parent_path().c_str(), &parent) != 0 || !S_ISDIR(parent.st_mode))
    throw StageError(shown + ": the directory " + dir.parent_path().string() +
                     " does not exist (create it first)");
  if (::stat(std::string(ctx.state_root).c_str(), &root) == 0 && parent.st_dev != root.st_dev)
    throw StageError(shown + ": " + dir.parent_path().string() +
                     " is on another filesystem than nsrun's state root " +
                     std::string(ctx.state_root) +
                     " (the changes are moved, not copied: choose a directory on the same one)");
  keep_changes_ = dir.string();
}

void OverlayStage::prepare(Context& ctx) {
  const std::string base = storage::validate_rootfs(ctx.spec.root);
  const std::string dir = std::string(ctx.state_dir) + "/overlay";
  const std::string upper = dir + "/upper", work = dir + "/work", merged = dir + "/merged";
  upper_ = upper;
  ctx.journal.record(record_type, {{"merged", merged}, {"upper", upper}});  // before it exists
  storage::HostFs& host = host_fs();
  for (const auto& path : {dir, upper, work, merged}) {
    Errno err = host.mkdir(path, 0755);
    if (err != 0 && err != EEXIST) check(err, "create " + path);
  }
  check(host.mount("overlay", merged, "overlay", MS_NODEV, overlay_options(base, upper, work)),
        "mount overlayfs on " + merged + " (the kernel needs overlayfs, and " + base +
            " a filesystem it can take as its lower layer)");
  // Private: neither the host's later mounts nor its unmount propagate in or out.
  check(host.mount("", merged, "", MS_PRIVATE, ""), "make " + merged + " private");
  if (ctx.log.debug_enabled())
    ctx.log.debug("overlay: " + base + " is the read-only lower layer of " + merged +
                  "; changes go to " + upper);
  ctx.spec.root.path = merged;
  StorageStage::prepare(ctx);
}

// The workload runs (its execve succeeded): from now on teardown moves its changes to DIR.
void OverlayStage::poststart(Context& ctx) {
  if (keep_changes_.empty()) return;
  // The workload runs already: a journal that cannot be written costs the kept changes, with
  // a warning, not the workload.
  if (!ctx.journal.append(keep_record_type, {{"upper", upper_}, {"keepChanges", keep_changes_}}))
    ctx.log.warn("overlay: cannot write the state journal: --keep-changes " + keep_changes_ +
                 " will not be made when the container is removed");
}

void OverlayStage::teardown(Context& ctx) {
  StorageStage::teardown(ctx);
  for (const auto& record : ctx.journal.records()) {
    if (record.type != record_type && record.type != keep_record_type) continue;
    const std::string merged = string_of(record.data, "merged");
    const std::string upper = string_of(record.data, "upper");
    // An "overlay" record of an older nsrun holds keepChanges too, written at prepare.
    const std::string keep = string_of(record.data, "keepChanges");
    if (!merged.empty()) {
      // EINVAL: not a mount (never made, or unmounted by an earlier try); ENOENT: no directory.
      Errno err = host_fs().umount2(merged, MNT_DETACH);
      if (err != 0 && err != EINVAL && err != ENOENT) check(err, "unmount " + merged);
    }
    if (!keep.empty() && !upper.empty()) {
      std::error_code ec;
      if (!fs::exists(upper, ec)) continue;  // moved by an earlier try
      // Another container given the same directory got there first: these changes are kept
      // beside it, never dropped.
      std::string destination = keep;
      if (fs::exists(fs::symlink_status(keep, ec))) {
        destination = keep + "." + std::string(ctx.container_id);
        ctx.log.warn("overlay: --keep-changes " + keep +
                     " exists (another container's "
                     "changes?): this container's are in " +
                     destination);
      }
      if (::rename(upper.c_str(), destination.c_str()) != 0)
        check(errno, "move the changes in " + upper + " to " + destination);
      if (ctx.log.debug_enabled()) ctx.log.debug("overlay: the changes are in " + destination);
    }
  }
}

}  // namespace nsrun::overlay
