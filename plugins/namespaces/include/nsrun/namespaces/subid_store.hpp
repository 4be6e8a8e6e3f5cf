// nsrun.namespaces: --userns auto, a free block of subordinate ids per container.
//
// The pool is what /etc/subuid and /etc/subgid give the user "containers" (podman's convention;
// lines "containers:START:COUNT"). Blocks handed out are recorded under <state root>/_userns/
// (root-only, 0700; "_userns" is no valid container id, so no state directory clashes with it),
// every read and change under one flock on <state root>/_userns/lock, so that concurrent runs never
// get the same block:
//   uids/<start>   {"id", "size"}   a block of host uids and the container holding it
//   gids/<start>   {"id", "size"}   the same for gids
// A block whose holder has no state directory (<state root>/<id>) any more is stale and free
// again; normal teardown releases blocks explicitly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nsrun::namespaces {

/// podman's default size of an automatic user namespace.
inline constexpr std::uint32_t auto_block_size = 65536;
/// The user whose subordinate ids are the pool (podman's).
inline constexpr const char* pool_user = "containers";

/// A range of host ids: [start, start + count).
struct IdRange {
  std::uint64_t start = 0;
  std::uint64_t count = 0;
  bool operator==(const IdRange&) const = default;
};

/// The ranges /etc/subuid-style `text` gives `user`, in file order. Lines that are blank, start
/// with '#', or are not NAME:START:COUNT with whole numbers are skipped, as shadow-utils does.
std::vector<IdRange> subordinate_ranges(const std::string& text, const std::string& user);

/// Reads `path` and returns the ranges of pool_user; throws StageError (naming `flag`, the file
/// and the fix) when the file cannot be read or gives the user nothing.
std::vector<IdRange> read_pool(const std::string& path, const std::string& flag);

/// The lowest start of `size` ids inside one range of `pool` that overlaps none of `taken`
/// (first fit, ranges in ascending order); nullopt when no range has room.
std::optional<std::uint32_t> first_fit(const std::vector<IdRange>& pool,
                                       const std::vector<IdRange>& taken, std::uint32_t size);

/// One block held in the store.
struct HeldBlock {
  std::uint32_t start = 0;
  std::uint32_t size = 0;
  std::string id;  ///< the container holding it
};

class SubidStore;

/// The store's lock, held: every read and change of the store goes through one of these.
class SubidSession {
 public:
  SubidSession(const SubidSession&) = delete;
  SubidSession& operator=(const SubidSession&) = delete;
  SubidSession(SubidSession&& other) noexcept;
  ~SubidSession();

  /// The blocks of `kind` ("uids" or "gids") whose holder is alive.
  std::vector<HeldBlock> live_blocks(const std::string& kind) const;
  /// Records that `block.id` holds the block (replacing a stale record of the same start).
  void hold(const std::string& kind, const HeldBlock& block);
  /// Removes the record of the block starting at `start` when `id` holds it (or its holder is
  /// gone). False when there was nothing of `id`'s to remove.
  bool release(const std::string& kind, std::uint32_t start, const std::string& id);

 private:
  friend class SubidStore;
  SubidSession(std::string state_root, int lock_fd);
  bool alive(const std::string& id) const;
  std::string dir(const std::string& kind) const;
  std::string root_;
  int lock_fd_ = -1;
};

class SubidStore {
 public:
  /// `state_root` is the parent of the containers' state directories.
  explicit SubidStore(std::string state_root) : root_(std::move(state_root)) {}
  /// Takes the lock (blocking), creating the layout on first use.
  SubidSession lock() const;

 private:
  std::string root_;
};

/// Under `session`: the start of the first free block of `size` ids in `pool` for kind "uids" or
/// "gids" (blocks of live holders are taken, stale ones are free). Throws StageError naming
/// `flag` and the file when the pool has no room. Nothing is recorded: the caller journals the
/// choice, then holds it.
std::uint32_t choose_block(const SubidSession& session, const std::string& kind,
                           const std::vector<IdRange>& pool, std::uint32_t size,
                           const std::string& flag, const std::string& file);

}  // namespace nsrun::namespaces
