// The container's state directory: OCI state.json, the pipeline it ran, and the resource journal.
//
// Layout of <state root>/<id>/ (root-owned, 0700):
//   state.json     OCI state (ociVersion, id, pid, status, bundle, annotations)
//   pipeline.json  the stages and their configs, so teardown can run after a crash
//   journal.jsonl  one JSON object per line: {"stage", "type", "data"}, appended before each
//                  resource is created
//   plugins.json   {"plugin name": "path of its .so"}: where teardown loads the same plugins
//   container.log  a detached container's (`nsrun run -d`) stdout and stderr, and
//   container.log.1  the older part once it reached its cap (see container_log.hpp)
// Anything else in it (generated /etc files, leases) belongs to the stages.
//
// The record of a stopped container: `nsrun run -d` without --rm tears the container down when
// its workload exits but keeps state.json (status stopped, with the exit code) and the logs, so
// that `nsrun state`, `list` and `logs` still show it until `nsrun delete`. Everything else
// goes, pipeline.json first: a directory without pipeline.json has nothing left for a stage to
// undo, which is how `delete` (and `gc`) recognise a container that was already torn down.
//
// The nsrun process that creates a container holds an exclusive flock on the directory for as
// long as it lives (a foreground `nsrun run`: until the container is torn down). So `gc` and
// `delete` tell a container being set up by a live nsrun from one whose nsrun died, without
// guessing from ages: a lock they can take has no live owner. The lock is taken before the
// directory appears under its id (it is made under a temporary name, locked, then renamed), so
// there is no moment at which a fresh directory is visible and unlocked.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/stage.hpp"

namespace nsrun::core {

/// The default state root, as runc uses /run/runc.
inline constexpr const char* default_state_root = "/run/nsrun";

/// True for ids of the form [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
bool is_valid_container_id(std::string_view id);

/// A random 12-hex-digit id, like docker's short ids.
std::string generate_container_id();

/// What state.json holds: the OCI state, and what nsrun needs to find the process again.
struct ContainerRecord {
  std::string status;  ///< as nsrun last set it: creating, created, running
  pid_t pid = 0;
  std::uint64_t pid_start_time = 0;  ///< with the pid, names the container's process
  std::string bundle;
  std::string created;  ///< RFC 3339, UTC
  boost::json::object annotations;
  /// Once the workload exited and the container was torn down with its record kept (see the
  /// top): nsrun's exit code for it (the workload's, 128+N for signal N), and when.
  std::optional<int> exit_code;
  std::string finished;  ///< RFC 3339, UTC; empty while it has not finished
};

/// A detached container's log, and its older part (see container_log.hpp), in its state
/// directory.
inline constexpr const char* container_log_name = "container.log";
inline constexpr const char* container_log_rotated_name = "container.log.1";

/// The current time in RFC 3339 (UTC, nanoseconds), as runc's "created".
std::string rfc3339_now();

/// An exclusive flock on a state directory, released when the object (and every process that
/// inherited the descriptor before execve) is gone.
class StateLock {
 public:
  explicit StateLock(int fd = -1) : fd_(fd) {}
  /// The descriptor, for a cloned process to close its inherited copy (which would otherwise
  /// hold the lock for as long as that process lives).
  int fd() const { return fd_; }
  ~StateLock();
  StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  int fd_;
};

class StateDir {
 public:
  StateDir(std::string state_root, std::string id);

  const std::string& path() const { return path_; }
  const std::string& id() const { return id_; }
  const std::string& root() const { return root_; }

  /// Creates the directory (0700; and the root, 0711, when it does not exist: an existing root
  /// keeps its mode), locked by the returned lock; Error if a container with this id exists.
  [[nodiscard]] StateLock create() const;
  bool exists() const;
  /// Whether the directory is a container's of nsrun's: it holds pipeline.json, the journal or
  /// a state.json nsrun wrote, or nothing but what an nsrun that died right after making it can
  /// have left (nothing, or pipeline.json's temporary). `--root` may name a directory others use
  /// too (`--root /tmp`): a directory that is not nsrun's is never inspected as a container, nor
  /// removed.
  bool is_nsruns() const;
  /// The lock, when no live process holds it; nullopt while the nsrun that created the
  /// container (or another that locked it) is still at work. Error if the directory is gone.
  std::optional<StateLock> try_lock() const;
  /// Removes the directory and everything in it; succeeds when it is already gone.
  void remove() const;
  /// Removes everything but the record of a stopped container (state.json and the logs),
  /// pipeline.json first (see the top). Succeeds when it is already gone.
  void remove_all_but_record() const;

  void write_state(const ContainerRecord& record) const;
  /// The record of state.json; nullopt when there is none yet (or it is torn): the container
  /// is being created, or its creator died before recording it.
  std::optional<ContainerRecord> read_record() const;
  /// Waits up to `timeout_ms` for the lock (a lifecycle command of another nsrun holds it for
  /// milliseconds); nullopt if it is still held then.
  std::optional<StateLock> lock_within(int timeout_ms) const;
  /// The lock of the commands that change a live container (pause, resume, update), which the
  /// nsrun that runs the container also takes before its teardown: they wait for each other and
  /// for that teardown, though not for that nsrun, which holds the directory's lock while its
  /// workload runs (lifecycle.cpp). A flock on pipeline.json, which every container has and
  /// nothing replaces. Waits up to `timeout_ms`; nullopt if it is still held then; Error if the
  /// file is gone (the container is being removed).
  std::optional<StateLock> lock_changes_within(int timeout_ms) const;
  void write_pipeline(const boost::json::value& pipeline) const;
  boost::json::value read_pipeline() const;
  /// The plugin files the container was created with (name -> path), for teardown.
  void write_plugin_paths(const std::map<std::string, std::string>& paths) const;
  /// Empty when the state has none (a state written by an older nsrun, or torn).
  std::map<std::string, std::string> read_plugin_paths() const;
  std::string journal_path() const { return path_ + "/journal.jsonl"; }

 private:
  std::string root_;
  std::string id_;
  std::string path_;
};

/// The journal file shared by all stages of a container.
class JournalFile {
 public:
  explicit JournalFile(std::string path) : path_(std::move(path)) {}
  bool append(std::string_view stage, std::string_view type, const boost::json::object& data);
  /// Every record of `stage`, oldest first. A torn last line (crash mid-write) is skipped.
  std::vector<JournalRecord> records_of(std::string_view stage) const;
  /// The plugins that recorded something, each once, in the order of their first record.
  std::vector<std::string> stages() const;

 private:
  std::string path_;
};

/// The Journal one stage sees: its own records only.
class StageJournal final : public Journal {
 public:
  StageJournal(JournalFile& file, std::string stage) : file_(file), stage_(std::move(stage)) {}
  bool append(std::string_view type, const boost::json::object& data) noexcept override;
  std::vector<JournalRecord> records() const override { return file_.records_of(stage_); }

 private:
  JournalFile& file_;
  std::string stage_;
};

}  // namespace nsrun::core
