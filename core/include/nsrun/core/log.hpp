// Core diagnostics: the Logger stages receive, plus the core's own messages.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "nsrun/stage.hpp"

namespace nsrun::core {

/// How much nsrun says of its own: --log-level, or DEBUG=1 for debug.
enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

/// "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);

/// Hears debug messages whatever the level, while it wants them: the tracer (trace.hpp), which
/// keeps a stage's messages as what the stage did in a phase.
class DebugSink {
 public:
  virtual ~DebugSink() = default;
  virtual bool capturing() const noexcept = 0;
  virtual void on_debug(std::string_view message) noexcept = 0;
};

/// Writes "nsrun: ..." lines to stderr, those below the level left out (errors always shown).
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel level) : level_(level) {}
  explicit StderrLogger(bool debug) : level_(debug ? LogLevel::debug : LogLevel::warn) {}
  bool debug_enabled() const noexcept override {
    return level_ <= LogLevel::debug || (sink_ && sink_->capturing());
  }
  /// Debug messages also go to `sink` while it captures (kept by reference; nullptr: none).
  void set_debug_sink(DebugSink* sink) noexcept { sink_ = sink; }
  bool info_enabled() const noexcept { return level_ <= LogLevel::info; }
  void debug(std::string_view message) noexcept override;
  void info(std::string_view message) noexcept override;
  void warn(std::string_view message) noexcept override;
  void error(std::string_view message) noexcept override;

 private:
  LogLevel level_;
  DebugSink* sink_ = nullptr;
};

/// A plugin's message at an nsrun_log_level (plugin.h): whether it would be shown, and writing it.
bool plugin_log_enabled(const StderrLogger& log, int level) noexcept;
void plugin_log(Logger& log, int level, std::string_view message) noexcept;

/// How lines go to a --log file: runc's "text" (the stderr line) or "json", one object a line:
/// {"level":"error","msg":"...","time":"2026-11-29T13:05:01.123456789Z"}, which engines parse.
enum class LogFormat { text, json };

/// Sends every message of this process (and of container processes it clones before they run
/// the workload) also to `path`, appended, in `format`. Errors still go to stderr, as runc's
/// do; below error, with a log file, messages go to the file only: under an engine, stderr is
/// the container's stderr and carries the workload's output, not the runtime's. Error naming the
/// file when it cannot be opened.
void send_log_to_file(const std::string& path, LogFormat format);

/// True when the environment asks for debug output (DEBUG=1 or any non-empty, non-"0" value).
bool debug_requested_by_environment();

/// Milliseconds since `start`, for tracing each phase's cost.
inline double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace nsrun::core
