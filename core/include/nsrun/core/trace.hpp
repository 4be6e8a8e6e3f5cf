// `nsrun run --trace FILE`: what each step of one run cost, as Chrome trace-event JSON
// (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU), which
// Perfetto (ui.perfetto.dev) and chrome://tracing open.
//
// The core calls the tracer around every phase call of every stage (Orchestrator::run_stage), as
// LLVM's pass instrumentation wraps every pass: a third-party stage is traced with no work of its
// own. While a phase runs, the stage's debug messages ("storage: mount proc on /proc") are the
// span's arguments: what the stage did. The core adds spans of its own steps (start-up, reading
// the pipeline and loading plugins, clone, waiting for the workload, the workload itself).
//
// Two processes make the spans: nsrun on the host, and the container process it clones, which
// inherits a copy of the tracer. Both read the same clock (CLOCK_MONOTONIC). The container
// process sends the spans it made to the host over the sync socket, in one datagram as the exec
// stage begins (see Orchestrator::run_to_exec), which the host reads once execve ran; the exec
// stage's start_container ends at execve, which only the host sees (the socket closes), so the
// host closes that span.
//
// Spans are plain records until the trace is written, and JSON is made on the host only, while
// it has nothing else to do: once the workload runs, and the last spans at the end
// (render_ahead, write). Every span a process records before its exec is on the run's critical
// path (issue 12 asks that tracing add at most 0.2 ms to a run): a record allocates nothing, its
// text goes into arenas of a mapping of the tracer's own that the clone hands the container
// process zeroed (TraceArena), and the report is the records as they are.
//
// `nsrun create --trace`, `nsrun start --trace` and `nsrun exec --trace` trace their part the same
// way: a created container's process reports its spans to `create` before it says it is created;
// `start` asks the waiting process for a trace of its own (start_traced_byte), which reports to
// `start` before its exec; `exec`'s process reports as a container process does.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nsrun/core/log.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::core {

using TraceClock = std::chrono::steady_clock;

/// Which process a span belongs to: the trace's two "processes".
enum class TraceProcess { host = 1, container = 2 };

struct TraceArena;

class Tracer final : public DebugSink {
 public:
  Tracer();

  /// A span of the core's own, e.g. "core: clone". `args` say what it did (host spans only: the
  /// container process's report carries no arguments but a stage's log and failure).
  void add(std::string_view name, TraceClock::time_point start, TraceClock::time_point end,
           TraceProcess process, boost::json::object args = {});
  /// The same, its name the concatenation of `name_parts`: the container process names a span
  /// so without a string of its own, whose allocation there writes (and faults) a heap page.
  void add(std::initializer_list<std::string_view> name_parts, TraceClock::time_point start,
           TraceClock::time_point end, TraceProcess process, boost::json::object args = {});

  /// Around one phase call of one stage: the span "<plugin>: <phase>", with the stage's debug
  /// messages meanwhile as its "log" argument.
  void begin_phase(std::string_view plugin, std::string_view kind, std::string_view phase,
                   TraceProcess process);
  void end_phase(bool succeeded);
  void on_debug(std::string_view message) noexcept override;
  /// A span a stage records of its own (SDK 2.4, nsrun_host.trace_span) during the open phase
  /// call, on that call's side; ignored outside a phase call.
  void add_stage_span(std::string_view name, TraceClock::time_point start,
                      TraceClock::time_point end);
  /// True while a phase call is open: a stage's debug messages are kept for the trace. Defined
  /// with the tracer's other code, whose page the container process has faulted in already.
  bool capturing() const noexcept override;

  /// Host, right before the clone: spans made after this, in the container process, are its.
  void mark_clone();
  /// Container process: the spans it made since the clone, as the datagram the host merges.
  /// Right before the exec stage's `phase` (start_container, exec_container) of `exec_plugin`, of
  /// `exec_kind`, that call is added as an open span; with no plugin named (a created container
  /// reporting to `nsrun create`), nothing is.
  std::string container_report(std::string_view exec_plugin = {}, std::string_view exec_kind = {},
                               std::string_view phase = {});
  /// The same report, sent on `fd` (a SOCK_SEQPACKET socket) as one message straight from the
  /// tracer's arenas: the container process copies and allocates nothing for it. A report holds
  /// the spans since the last one: a process that fails after its report (the exec stage's call)
  /// sends the failed span in a second. Nothing is sent when there is nothing new.
  void send_container_report(int fd, std::string_view exec_plugin = {},
                             std::string_view exec_kind = {}, std::string_view phase = {});
  /// Host: merges a container report (trace_report_tag first); false when it is not one. A span
  /// of the call the container left open completes it (that call failed).
  bool merge(std::string_view datagram);
  /// Host: closes the span the container left open, at the execve the host saw, or at the
  /// failure it heard of (`failed`).
  void close_open_span(TraceClock::time_point at, bool failed = false);

  /// What a reader needs to reproduce the run: the command, nsrun's version, the host.
  using Info = boost::json::object;
  /// The whole trace, with `info` as its metadata ("otherData"), its values from `resource`.
  boost::json::object document(const Info& info, boost::json::storage_ptr resource = {}) const;

  /// The file write() makes, and what makes the trace's metadata (called once, when first
  /// needed: by render_ahead or by write).
  void set_output(std::string path, std::function<Info()> describe);
  /// Host, while it waits on the container process: the metadata (the first time) and every span
  /// so far but one the container left open are rendered as JSON and written to an unnamed file
  /// in the output's directory, and an older file of the output's name is removed, so that
  /// write() has only the spans after them to do. The core calls it once the workload runs, when
  /// it only waits. (Rendered earlier, while the container process still worked, it made a
  /// traced run slower on this two-CPU machine: docs/tracing.md.) Without an output it does
  /// nothing; whatever fails here is left for write() to do again and report.
  void render_ahead() noexcept;
  /// Writes the trace to the output: a regular file there is replaced (mode 0644 less the
  /// umask), anything else written through (written_in_place). Throws Error naming --trace.
  void write();

  std::size_t span_count() const { return spans_.size(); }

 private:
  /// One span as both processes record it: plain data, its text in the tracer's arenas.
  /// Recording one allocates nothing once the arenas are reserved, and the container process
  /// sends its spans to the host as they are (see container_report): no JSON is made or parsed
  /// before the trace is written.
  struct Span {
    std::uint32_t name = 0, name_size = 0;          ///< in text_
    std::uint32_t category = 0, category_size = 0;  ///< in text_
    std::int64_t start_ns = 0, end_ns = 0;          ///< CLOCK_MONOTONIC
    std::uint32_t log = 0, log_size = 0;            ///< in log_: length-prefixed messages
    std::uint32_t args = 0;                         ///< 1 + index in args_, 0 for none
    std::uint8_t process = 0;                       ///< TraceProcess
    std::uint8_t flags = 0;                         ///< failed_flag, open_flag
  };

  struct OpenPhase {
    std::uint32_t name, name_size, category, category_size;
    TraceClock::time_point start;
    TraceProcess process;
    std::uint32_t log;  ///< where its messages begin in log_
  };
  static constexpr std::uint8_t failed_flag = 1, open_flag = 2;

  /// A container report as it goes out: the tag and header, then views of the spans, text and
  /// log the container process recorded since the clone.
  struct ReportPieces {
    char head[1 + 7 * sizeof(std::uint32_t)];
    std::string_view spans, text, log;
  };
  ReportPieces report_pieces(std::string_view exec_plugin, std::string_view exec_kind,
                             std::string_view phase);

  /// Whether two spans are of the same call: process, name and category.
  bool same_call(const Span& a, const Span& b) const;
  /// Appends `parts` to text_ as one string; its offset and size.
  std::pair<std::uint32_t, std::uint32_t> text(std::initializer_list<std::string_view> parts);

  /// The memory the arenas below are reserved in: one anonymous mapping, populated when made,
  /// that the clone gives the container process zeroed (MADV_WIPEONFORK) instead of shared
  /// copy-on-write. Each process then writes its spans after the clone without a fault (the
  /// host) or with a zero-filled one (the container process), where copy-on-write made both
  /// fault and copy every page either wrote. The container process reads nothing of the
  /// host's from it. Shared by copies of the tracer, whose own arenas are on the heap.
  std::shared_ptr<TraceArena> arena_;
  std::pmr::vector<Span> spans_;
  std::pmr::string text_;  ///< span names and categories
  std::pmr::string log_;   ///< stage messages, each a uint32 length and its bytes
  std::vector<boost::json::object> args_;
  /// Where the container process's own spans and text begin (mark_clone).
  std::size_t clone_spans_ = 0, clone_text_ = 0, clone_log_ = 0;
  std::optional<OpenPhase> open_phase_;
  std::optional<std::size_t> left_open_;  ///< the span index the container left open

  /// One span as a trace event, its values from `resource`.
  boost::json::object event_of(const Span& span, boost::json::storage_ptr resource) const;
  /// Renders the metadata (the first time) and spans [rendered_spans_, end) into output_file_;
  /// after them, when `last` (write()), the end of the document.
  void render(std::size_t end, bool last);
  /// Opens output_file_ unnamed in the output's directory; false when that cannot be done.
  bool open_unnamed();
  /// Removes an older file of the output's name.
  void remove_older_output();

  std::string output_;
  std::function<Info()> describe_;
  /// Unnamed (O_TMPFILE) until write() links it. Shared by copies of the tracer (a test copies
  /// one as the clone does); only the host's renders and writes.
  std::shared_ptr<support::UniqueFd> output_file_;
  std::size_t rendered_spans_ = 0;
  bool head_rendered_ = false;
  bool older_output_removed_ = false;
  /// The output is written through (/dev/null, a FIFO, a symbolic link): by write() alone.
  bool output_in_place_ = false;
  /// render_ahead could not make or write the unnamed file: write() does it all, and reports.
  bool rendering_ahead_failed_ = false;
};

/// The datagram tag of a container report on the sync socket.
inline constexpr char trace_report_tag = 'T';
/// The byte `nsrun start --trace` releases a created container's process with: trace the start
/// and report it (any other byte releases it untraced).
inline constexpr char start_traced_byte = 't';

/// Microseconds of `at` on the trace's clock (CLOCK_MONOTONIC).
double trace_microseconds(TraceClock::time_point at);

/// When the launcher (bin/nsrun) started, from NSRUN_LAUNCHED_AT (CLOCK_MONOTONIC nanoseconds,
/// which it sets), if it did; the variable is removed, so that no process nsrun starts (a hook,
/// a run of `nsrun bench`, a workload) takes it for its own start. main() calls it first.
std::optional<TraceClock::time_point> take_launcher_start_time();

/// The environment variable the launcher sets, and `nsrun bench` sets for each run it starts.
inline constexpr const char* launched_at_variable = "NSRUN_LAUNCHED_AT";

/// The trace's metadata: `command` (nsrun's arguments), nsrun's `version`, the kernel, the CPU
/// model and count, and the cgroup mode.
Tracer::Info trace_info(boost::json::array command, std::string_view version);

/// Checks that a file an option names (`flag`: "--trace", "bench: --json") can be written at
/// `path` before anything is done: it is not empty (`--json ""`: the fix then suggests `example`
/// as the name), its directory exists and may be written, and it is no
/// directory (the fix then suggests `example`, a file name, in it); a file written in place
/// (written_in_place) may be written. Throws Error naming the flag.
void check_output_path(std::string_view flag, const std::string& path, std::string_view example);

/// check_output_path for --trace, with its own message for an empty name.
void check_trace_path(const std::string& path);

}  // namespace nsrun::core
