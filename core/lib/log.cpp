#include "nsrun/core/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/plugin.h"

namespace nsrun::core {
namespace {

int log_file = -1;  // --log, O_APPEND
LogFormat log_format = LogFormat::text;

void write_all(int fd, const std::string& line) noexcept {
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
}

// One write(2) per line so that lines from the host process and the container process, which
// share stderr and the log file, never interleave mid-line.
void write_line(std::string_view json_level, std::string_view prefix,
                std::string_view message) noexcept {
  try {
    std::string line = "nsrun: ";
    line += prefix;
    line += message;
    line += '\n';
    bool is_error = json_level == "error";
    if (log_file >= 0) {
      if (log_format == LogFormat::json) {
        boost::json::object record{
            {"level", json_level}, {"msg", message}, {"time", rfc3339_now()}};
        write_all(log_file, boost::json::serialize(record) + "\n");
      } else {
        write_all(log_file, rfc3339_now() + " " + line);
      }
    }
    if (log_file < 0 || is_error) write_all(STDERR_FILENO, line);
  } catch (...) {
  }
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  return std::nullopt;
}

void StderrLogger::debug(std::string_view message) noexcept {
  if (sink_ && sink_->capturing()) sink_->on_debug(message);
  if (level_ <= LogLevel::debug) write_line("debug", "debug: ", message);
}
void StderrLogger::info(std::string_view message) noexcept {
  if (level_ <= LogLevel::info) write_line("info", "", message);
}
void StderrLogger::warn(std::string_view message) noexcept {
  if (level_ <= LogLevel::warn) write_line("warning", "warning: ", message);
}
void StderrLogger::error(std::string_view message) noexcept {
  write_line("error", "", message);
}

void send_log_to_file(const std::string& path, LogFormat format) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error("--log " + path + ": cannot open: " + std::strerror(errno) +
                " (name a file in an existing directory)");
  if (log_file >= 0) ::close(log_file);
  log_file = fd;
  log_format = format;
}

bool debug_requested_by_environment() {
  const char* value = std::getenv("DEBUG");
  return value && *value && std::string_view(value) != "0";
}

bool plugin_log_enabled(const StderrLogger& log, int level) noexcept {
  if (level == NSRUN_LOG_DEBUG) return log.debug_enabled();
  if (level == NSRUN_LOG_INFO) return log.info_enabled();
  return true;
}

void plugin_log(Logger& log, int level, std::string_view message) noexcept {
  switch (level) {
    case NSRUN_LOG_DEBUG:
      return log.debug(message);
    case NSRUN_LOG_INFO:
      return log.info(message);
    case NSRUN_LOG_WARN:
      return log.warn(message);
    default:
      return log.error(message);
  }
}

}  // namespace nsrun::core
