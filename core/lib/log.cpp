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

void StderrLogger::debug(std::string_view message) noexcept {
  if (debug_) write_line("debug: ", message);
}
void StderrLogger::warn(std::string_view message) noexcept {
  write_line("warning: ", message);
}
void StderrLogger::error(std::string_view message) noexcept {
  write_line("", message);
}

bool debug_requested_by_environment() {
  const char* value = std::getenv("DEBUG");
  return value && *value && std::string_view(value) != "0";
}

}  // namespace nsrun::core
