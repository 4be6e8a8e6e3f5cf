#include "nsrun/core/log.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace nsrun::core {
namespace {

// One write(2) per line so that lines from the host process and the container process, which
// share stderr, never interleave mid-line.
void write_line(std::string_view level, std::string_view message) noexcept {
  try {
    std::string line = "nsrun: ";
    line += level;
    line += message;
    line += '\n';
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
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
  if (level_ <= LogLevel::debug) write_line("debug: ", message);
}
void StderrLogger::info(std::string_view message) noexcept {
  if (level_ <= LogLevel::info) write_line("", message);
}
void StderrLogger::warn(std::string_view message) noexcept {
  if (level_ <= LogLevel::warn) write_line("warning: ", message);
}
void StderrLogger::error(std::string_view message) noexcept {
  write_line("", message);
}

bool debug_requested_by_environment() {
  const char* value = std::getenv("DEBUG");
  return value && *value && std::string_view(value) != "0";
}

}  // namespace nsrun::core
