// Core diagnostics: the Logger stages receive, plus the core's own messages.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "nsrun/stage.hpp"

namespace nsrun::core {

/// Writes "nsrun: ..." lines to stderr. Debug lines only when enabled (DEBUG=1, --log-level debug).
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(bool debug) : debug_(debug) {}
  bool debug_enabled() const noexcept override { return debug_; }
  void debug(std::string_view message) noexcept override;
  void warn(std::string_view message) noexcept override;
  void error(std::string_view message) noexcept override;

 private:
  bool debug_;
};

/// True when the environment asks for debug output (DEBUG=1 or any non-empty, non-"0" value).
bool debug_requested_by_environment();

/// Milliseconds since `start`, for tracing each phase's cost.
inline double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace nsrun::core
