#include "nsrun/core/container_log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::core {
namespace {

using support::UniqueFd;

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Copies `from`, from its current offset to its end, to `out`.
void copy_to_end(int from, int out) {
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (!write_all(out, std::string_view(buffer, static_cast<std::size_t>(n)))) return;
  }
}

ino_t inode_of(int fd) {
  struct stat info {};
  return ::fstat(fd, &info) == 0 ? info.st_ino : 0;
}

}  // namespace

std::uint64_t parse_log_size(std::string_view text) {
  auto refuse = [&](const std::string& why) {
    return Error("--log-max-size " + std::string(text) + ": " + why +
                 " (bytes, or a number with k, m or g, e.g. 10m)");
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 13) throw refuse("not a size");
  std::uint64_t value = std::stoull(std::string(text.substr(0, digits)));
  std::string_view unit = text.substr(digits);
  int shift = 0;
  if (unit == "k" || unit == "K" || unit == "kb" || unit == "KB")
    shift = 10;
  else if (unit == "m" || unit == "M" || unit == "mb" || unit == "MB")
    shift = 20;
  else if (unit == "g" || unit == "G" || unit == "gb" || unit == "GB")
    shift = 30;
  else if (!unit.empty() && unit != "b" && unit != "B")
    throw refuse("unknown unit \"" + std::string(unit) + "\"");
  if (value == 0) throw refuse("must be more than 0");
  if (value > (std::uint64_t{1} << (40 - shift))) throw refuse("is above the limit of 1 TiB");
  return value << shift;
}

RotatingLog::RotatingLog(std::string directory, std::uint64_t max_size)
    : path_(directory + "/" + container_log_name),
      rotated_path_(directory + "/" + container_log_rotated_name),
      max_size_(max_size) {
  file_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!file_) throw Error("cannot open " + path_ + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(file_.get(), &info) == 0) size_ = static_cast<std::uint64_t>(info.st_size);
}

void RotatingLog::rotate() {
  // rename replaces the older part at once; a reader holding it open keeps reading it.
  ::rename(path_.c_str(), rotated_path_.c_str());
  file_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
  size_ = 0;
}

bool RotatingLog::write(std::string_view data) {
  bool ok = true;
  while (!data.empty()) {
    if (size_ >= max_size_) rotate();
    if (!file_) return false;
    std::size_t piece =
        static_cast<std::size_t>(std::min<std::uint64_t>(max_size_ - size_, data.size()));
    if (piece < data.size()) {
      // The file fills: it ends after the last whole line of `data` that fits, so that the
      // next one begins with a line (`nsrun logs` shows no fragment first) when the workload
      // writes whole lines. A line longer than the cap is cut, as it must be; so is one that
      // came in two reads of the pipe, whose first part is written already.
      const auto newline = data.substr(0, piece).rfind('\n');
      if (newline != std::string_view::npos) {
        piece = newline + 1;
      } else if (size_ > 0) {
        rotate();
        continue;
      }
    }
    if (!write_all(file_.get(), data.substr(0, piece))) ok = false;
    // Counted even when the write failed, so that a full disk cannot grow a file past the cap
    // once space returns.
    size_ += piece;
    data.remove_prefix(piece);
  }
  return ok;
}

void pump_container_log(int output, int control, const std::string& directory,
                        std::uint64_t max_size) {
  std::optional<RotatingLog> log;
  std::string held;
  bool output_open = true, control_open = true;
  char buffer[65536];
  while (output_open || (control_open && !log)) {
    pollfd fds[2] = {{output_open ? output : -1, POLLIN, 0},
                     {control_open ? control : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) {
      char word = 0;
      ssize_t n = ::read(control, &word, 1);
      if (n < 0 && errno == EINTR) continue;
      control_open = false;
      if (n == 1) {
        try {
          log.emplace(directory, max_size);
          log->write(held);
        } catch (const Error&) {
          // No log to write to: the output is still read, so that the container never blocks.
        }
        held.clear();
        held.shrink_to_fit();
      } else if (!log) {
        return;  // never started: nothing is kept
      }
    }
    if (fds[0].revents) {
      ssize_t n = ::read(output, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        output_open = false;
        continue;
      }
      std::string_view data(buffer, static_cast<std::size_t>(n));
      if (log) {
        log->write(data);
      } else if (control_open) {
        held.append(data);
        if (held.size() > 2 * max_size) held.erase(0, held.size() - 2 * max_size);
      }
    }
  }
}

LogReader::LogReader(std::string directory) : directory_(std::move(directory)) {}

bool LogReader::copy_kept(int out) {
  // container.log first: a rotation between the two opens then shows as container.log.1 being
  // the file already open, which is then read once, as container.log.
  current_.reset(::open((directory_ + "/" + container_log_name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!current_) return false;
  current_inode_ = inode_of(current_.get());
  UniqueFd older(
      ::open((directory_ + "/" + container_log_rotated_name).c_str(), O_RDONLY | O_CLOEXEC));
  if (older && inode_of(older.get()) != current_inode_) copy_to_end(older.get(), out);
  copy_to_end(current_.get(), out);
  return true;
}

void LogReader::copy_new(int out) {
  if (!current_) return;
  copy_to_end(current_.get(), out);
  struct stat now {};
  if (::stat((directory_ + "/" + container_log_name).c_str(), &now) != 0 ||
      now.st_ino == current_inode_)
    return;
  // Rotated: what was written to the old file before the rename was just read to its end.
  UniqueFd next(::open((directory_ + "/" + container_log_name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!next) return;
  current_ = std::move(next);
  current_inode_ = inode_of(current_.get());
  copy_to_end(current_.get(), out);
}

}  // namespace nsrun::core
