// A detached container's output (`nsrun run -d`): the workload's stdout and stderr are one pipe,
// whose reader, the logger (a process of the supervisor's; see detach.hpp), appends what it reads
// to container.log in the container's state directory. The log has a size cap: when
// container.log is full it becomes container.log.1 (replacing the older one) and a new
// container.log starts, so a container keeps at most two files of at most the cap each, the
// newest output always among them. `nsrun logs` prints both, older first.
//
// Bytes are written as they come, without a timestamp or a stream tag (docker's json-file adds
// both): the log is what the terminal would have shown.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "nsrun/support/fd.hpp"

namespace nsrun::core {

/// The size at which container.log is rotated (1 MiB), unless `--log-max-size` says otherwise.
inline constexpr std::uint64_t default_log_max_size = std::uint64_t{1} << 20;

/// Parses a --log-max-size value: bytes, or a number followed by k, m or g (1024-based), e.g.
/// "10m". Error naming the flag when it is malformed, zero, or above 1 TiB.
std::uint64_t parse_log_size(std::string_view text);

/// container.log in a directory, appended to and rotated at `max_size` (see the top).
class RotatingLog {
 public:
  /// Opens (creates) <directory>/container.log; Error naming it when it cannot.
  RotatingLog(std::string directory, std::uint64_t max_size);
  /// Appends all of `data`, rotating whenever the file is full. False when a write failed (a
  /// full disk): what could not be written is dropped, so that the container never blocks on
  /// its log.
  bool write(std::string_view data);

 private:
  void rotate();
  std::string path_;
  std::string rotated_path_;
  std::uint64_t max_size_;
  std::uint64_t size_ = 0;
  support::UniqueFd file_;
};

/// The logger's loop: reads `output` (the container's stdout and stderr) until end-of-file. The
/// state directory exists only once the orchestrator made it, so until `control` carries a byte
/// (the supervisor's word that the workload runs) what arrives is held in memory (the newest
/// 2 x max_size bytes at most, what rotation would keep) and written then; when `control` ends
/// without that byte, the container never started and the held output is dropped. Never blocks
/// the writers for long: it keeps reading even when the disk is full.
void pump_container_log(int output, int control, const std::string& directory,
                        std::uint64_t max_size);

/// Reads a container's log, following it across rotations.
class LogReader {
 public:
  explicit LogReader(std::string directory);
  /// Copies what the log keeps (container.log.1, then container.log) to `out`. False, copying
  /// nothing, when there is no container.log: the container was not started with -d.
  bool copy_kept(int out);
  /// Copies what was appended since the last copy, following a rotation (the file read so far
  /// is read to its end, then the new container.log from its start).
  void copy_new(int out);

 private:
  std::string directory_;
  support::UniqueFd current_;
  ino_t current_inode_ = 0;
};

}  // namespace nsrun::core
