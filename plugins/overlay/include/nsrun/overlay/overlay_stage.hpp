// nsrun.storage.overlay: the storage stage over a copy-on-write root. The base rootfs
// (root.path) is overlayfs's read-only lower layer; what the workload writes, deletes or renames
// goes to an upper directory in the container's state directory, which goes with the container
// (or, with --keep-changes DIR, becomes DIR). The base is never changed, whatever the workload
// does, and containers sharing a base never see each other's files. docker's overlay2 driver
// does the same, mounting on the host and handing the runtime the merged directory.
//
//   validate   the storage stage's checks; the base path must be usable as an overlayfs
//              lowerdir (no ',' or ':'); --keep-changes DIR must not exist, in an existing
//              directory on the state root's filesystem (the upper directory is renamed there).
//   prepare    journalled first ("overlay": the merged and upper paths), then upper/,
//              work/ and merged/ made in <state dir>/overlay, overlayfs mounted on merged/ in
//              nsrun's mount namespace (private), root.path set to merged/; then the storage
//              stage's prepare on that root.
//   poststart  the workload runs: DIR is journalled ("keep-changes"). A run that fails before
//              (a later stage's prepare, a command not found) has no changes to keep, and
//              leaves no DIR.
//   teardown   from the journal alone: merged/ unmounted (lazily: the container's copy of the
//              mount is its own), the upper directory renamed to DIR when journalled; the core
//              then removes the state directory with what is left.
#pragma once

#include "nsrun/storage/storage_stage.hpp"

namespace nsrun::overlay {

class OverlayStage final : public storage::StorageStage {
 public:
  static constexpr nsrun_flag flags[] = {
      {"device", nullptr, NSRUN_FLAG_STRINGS, "HOST[:CONTAINER][:PERMS]",
       "Give the container a host device, e.g. /dev/fuse or /dev/sdb:/dev/xvdb:r (PERMS: rwm)"},
      {"keep-changes", nullptr, NSRUN_FLAG_STRING, "DIR",
       "Keep what the container wrote (overlayfs's upper directory) in DIR, a new directory on "
       "the state root's filesystem"},
  };

  using StorageStage::StorageStage;

  void validate(Context& ctx) override;
  void prepare(Context& ctx) override;
  void poststart(Context& ctx) override;
  void teardown(Context& ctx) override;

 private:
  std::string keep_changes_;  ///< --keep-changes, absolute; empty: discarded
  std::string upper_;         ///< the upper directory prepare made
};

/// The overlayfs mount data for these directories: "lowerdir=...,upperdir=...,workdir=...".
std::string overlay_options(const std::string& lower, const std::string& upper,
                            const std::string& work);

}  // namespace nsrun::overlay
