// The trace of one run (see trace.hpp).
#include "nsrun/core/trace.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/support/fd.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::core {
namespace {

std::int64_t nanoseconds_of(TraceClock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

// The container report's layout: trace_report_tag, then this header, the spans as they are in
// memory, and the text and log bytes they point into. A span's offsets are those of the container
// process's arenas, whose report begins at text_base and log_base. Both ends are nsrun, but not
// always the same build (`nsrun create`, an upgrade, `nsrun start`): a report of another layout
// is dropped, as a damaged one is, and costs the trace its container spans only.
struct ReportHeader {
  std::uint32_t layout;
  std::uint32_t span_size;
  std::uint32_t spans;
  std::uint32_t text_base, text_size;
  std::uint32_t log_base, log_size;
};
// 1 was a JSON array of trace events; 2 had offsets from the report's own text and log.
constexpr std::uint32_t report_layout = 3;
static_assert(sizeof(ReportHeader) == 7 * sizeof(std::uint32_t), "Tracer::ReportPieces::head");

bool within(std::uint64_t offset, std::uint64_t size, std::uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

}  // namespace

double trace_microseconds(TraceClock::time_point at) {
  return std::chrono::duration<double, std::micro>(at.time_since_epoch()).count();
}

std::optional<TraceClock::time_point> take_launcher_start_time() {
  const char* variable = std::getenv(launched_at_variable);
  if (!variable) return std::nullopt;
  const std::string value = variable;
  ::unsetenv(launched_at_variable);
  char* end = nullptr;
  errno = 0;
  unsigned long long ns = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || errno != 0 || *end != '\0' || ns == 0) return std::nullopt;
  auto at = TraceClock::time_point(std::chrono::nanoseconds(ns));
  // Inherited by a later nsrun (a hook, a nested run) it would be long past: ignored.
  if (TraceClock::now() - at > std::chrono::seconds(10)) return std::nullopt;
  return at;
}

namespace {

// The mapping of a tracer that ended, kept for the next tracer of the process (the tests make
// many) instead of unmapped: unmapping it cost the end of a traced run 0.09 ms on this machine,
// a paravirtualized guest whose page-table changes are slow. The process's exit frees it with
// the rest of its memory.
std::atomic<void*> spare_arena_mapping{nullptr};

}  // namespace

struct TraceArena {
  // What a run records with room to spare (about 80 spans, 4 KiB of names and 10 KiB of stage
  // messages with the container's merged in), and no more: every page is populated before the
  // clone, which cost a traced run 20 µs for the 16 pages of 64 KiB on this machine.
  static constexpr std::size_t span_capacity = 128;
  static constexpr std::size_t text_capacity = 6 * 1024 - 1;  // a string's + 1 for its NUL
  static constexpr std::size_t log_capacity = 16 * 1024 - 1;
  static constexpr std::size_t bytes = 28 * 1024;
  void* mapping;
  std::pmr::monotonic_buffer_resource resource;

  TraceArena() : mapping(map()), resource(mapping ? mapping : nullptr, mapping ? bytes : 0) {}
  ~TraceArena() {
    if (!mapping) return;
    // A process with two tracers at once (a created container's process, with `start`'s) keeps
    // one mapping.
    if (void* displaced = spare_arena_mapping.exchange(mapping)) ::munmap(displaced, bytes);
  }
  TraceArena(const TraceArena&) = delete;
  TraceArena& operator=(const TraceArena&) = delete;

  static void* map() {
    if (void* spare = spare_arena_mapping.exchange(nullptr)) return spare;
    void* at = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (at == MAP_FAILED) return nullptr;   // the heap then, copied on write as any memory
    ::madvise(at, bytes, MADV_WIPEONFORK);  // Linux 4.14; without it, copied on write too
    return at;
  }
};

// Reserved before the clone, so that the container process records its spans into memory that
// exists already. What outgrows the arena goes on the heap.
Tracer::Tracer()
    : arena_(std::make_shared<TraceArena>()),
      spans_(&arena_->resource),
      text_(&arena_->resource),
      log_(&arena_->resource) {
  static_assert(TraceArena::span_capacity * sizeof(Span) + TraceArena::text_capacity + 1 +
                        TraceArena::log_capacity + 1 <=
                    TraceArena::bytes,
                "the reservations fit the arena");
  spans_.reserve(TraceArena::span_capacity);
  text_.reserve(TraceArena::text_capacity);
  log_.reserve(TraceArena::log_capacity);
}

std::pair<std::uint32_t, std::uint32_t> Tracer::text(
    std::initializer_list<std::string_view> parts) {
  const auto offset = static_cast<std::uint32_t>(text_.size());
  for (std::string_view part : parts) text_.append(part);
  return {offset, static_cast<std::uint32_t>(text_.size() - offset)};
}

void Tracer::add(std::string_view name, TraceClock::time_point start, TraceClock::time_point end,
                 TraceProcess process, boost::json::object args) {
  add({name}, start, end, process, std::move(args));
}

void Tracer::add(std::initializer_list<std::string_view> name_parts, TraceClock::time_point start,
                 TraceClock::time_point end, TraceProcess process, boost::json::object args) {
  Span span;
  std::tie(span.name, span.name_size) = text(name_parts);
  std::tie(span.category, span.category_size) = text({"core"});
  span.start_ns = nanoseconds_of(start);
  span.end_ns = nanoseconds_of(end);
  span.process = static_cast<std::uint8_t>(process);
  if (!args.empty()) {
    args_.push_back(std::move(args));
    span.args = static_cast<std::uint32_t>(args_.size());
  }
  spans_.push_back(span);
}

void Tracer::begin_phase(std::string_view plugin, std::string_view kind, std::string_view phase,
                         TraceProcess process) {
  auto [name, name_size] = text({plugin, ": ", phase});
  auto [category, category_size] = text({"stage,", kind});
  open_phase_ = OpenPhase{name,
                          name_size,
                          category,
                          category_size,
                          TraceClock::now(),
                          process,
                          static_cast<std::uint32_t>(log_.size())};
}

void Tracer::end_phase(bool succeeded) {
  if (!open_phase_) return;
  const OpenPhase phase = *open_phase_;
  open_phase_.reset();
  Span span;
  span.name = phase.name;
  span.name_size = phase.name_size;
  span.category = phase.category;
  span.category_size = phase.category_size;
  span.start_ns = nanoseconds_of(phase.start);
  span.end_ns = nanoseconds_of(TraceClock::now());
  span.log = phase.log;
  span.log_size = static_cast<std::uint32_t>(log_.size() - phase.log);
  span.process = static_cast<std::uint8_t>(phase.process);
  if (!succeeded) span.flags |= failed_flag;
  spans_.push_back(span);
}

void Tracer::add_stage_span(std::string_view name, TraceClock::time_point start,
                            TraceClock::time_point end) {
  if (!open_phase_) return;
  // Inside the phase's span, whatever times the stage gives: a span that ends before it starts,
  // or reaches out of the call, would put the stage's time where it was not spent.
  start = std::max(start, open_phase_->start);
  end = std::min(end, TraceClock::now());
  if (end < start) return;
  // "detail,KIND": inside the phase's span, and not counted again as the stage's time.
  const std::string stage_category(text_, open_phase_->category, open_phase_->category_size);
  Span span;
  std::tie(span.name, span.name_size) = text({name});
  std::tie(span.category, span.category_size) =
      text({"detail,", std::string_view(stage_category).substr(stage_category.find(',') + 1)});
  span.start_ns = nanoseconds_of(start);
  span.end_ns = nanoseconds_of(end);
  span.process = static_cast<std::uint8_t>(open_phase_->process);
  spans_.push_back(span);
}

bool Tracer::capturing() const noexcept {
  return open_phase_.has_value();
}

void Tracer::on_debug(std::string_view message) noexcept {
  if (!open_phase_) return;
  try {
    const auto size = static_cast<std::uint32_t>(message.size());
    log_.append(reinterpret_cast<const char*>(&size), sizeof size);
    log_.append(message);
  } catch (...) {
  }
}

void Tracer::mark_clone() {
  clone_spans_ = spans_.size();
  clone_text_ = text_.size();
  clone_log_ = log_.size();
}

Tracer::ReportPieces Tracer::report_pieces(std::string_view exec_plugin, std::string_view exec_kind,
                                           std::string_view phase) {
  if (!exec_plugin.empty()) {
    // The exec stage's call: it ends at execve, where this process stops being nsrun.
    Span open;
    std::tie(open.name, open.name_size) = text({exec_plugin, ": ", phase});
    std::tie(open.category, open.category_size) = text({"stage,", exec_kind});
    open.start_ns = open.end_ns = nanoseconds_of(TraceClock::now());
    open.process = static_cast<std::uint8_t>(TraceProcess::container);
    open.flags = open_flag;
    spans_.push_back(open);
  }
  ReportPieces pieces;
  ReportHeader header{report_layout,
                      sizeof(Span),
                      static_cast<std::uint32_t>(spans_.size() - clone_spans_),
                      static_cast<std::uint32_t>(clone_text_),
                      static_cast<std::uint32_t>(text_.size() - clone_text_),
                      static_cast<std::uint32_t>(clone_log_),
                      static_cast<std::uint32_t>(log_.size() - clone_log_)};
  pieces.head[0] = trace_report_tag;
  std::memcpy(pieces.head + 1, &header, sizeof header);
  pieces.spans = std::string_view(reinterpret_cast<const char*>(spans_.data() + clone_spans_),
                                  header.spans * sizeof(Span));
  pieces.text = std::string_view(text_).substr(clone_text_);
  pieces.log = std::string_view(log_).substr(clone_log_);
  // The arenas stay as they are: the pieces still view them.
  clone_spans_ = spans_.size();
  clone_text_ = text_.size();
  clone_log_ = log_.size();
  return pieces;
}

std::string Tracer::container_report(std::string_view exec_plugin, std::string_view exec_kind,
                                     std::string_view phase) {
  const ReportPieces pieces = report_pieces(exec_plugin, exec_kind, phase);
  std::string report(pieces.head, sizeof pieces.head);
  report.append(pieces.spans).append(pieces.text).append(pieces.log);
  return report;
}

void Tracer::send_container_report(int fd, std::string_view exec_plugin, std::string_view exec_kind,
                                   std::string_view phase) {
  if (exec_plugin.empty() && spans_.size() == clone_spans_) return;
  ReportPieces pieces = report_pieces(exec_plugin, exec_kind, phase);
  iovec parts[] = {{pieces.head, sizeof pieces.head},
                   {const_cast<char*>(pieces.spans.data()), pieces.spans.size()},
                   {const_cast<char*>(pieces.text.data()), pieces.text.size()},
                   {const_cast<char*>(pieces.log.data()), pieces.log.size()}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = std::size(parts);
  ::sendmsg(fd, &message, MSG_NOSIGNAL);  // lost, it costs the trace the container's spans only
}

bool Tracer::merge(std::string_view datagram) {
  if (datagram.empty() || datagram.front() != trace_report_tag) return false;
  datagram.remove_prefix(1);
  ReportHeader header{};
  if (datagram.size() < sizeof header) return true;  // a report, damaged: its spans are lost
  std::memcpy(&header, datagram.data(), sizeof header);
  datagram.remove_prefix(sizeof header);
  if (header.layout != report_layout || header.span_size != sizeof(Span) ||
      datagram.size() !=
          std::uint64_t{header.spans} * sizeof(Span) + header.text_size + header.log_size)
    return true;
  std::vector<Span> spans(header.spans);
  std::memcpy(spans.data(), datagram.data(), spans.size() * sizeof(Span));
  datagram.remove_prefix(spans.size() * sizeof(Span));
  // Every offset within the report: a span without messages may name any log offset.
  auto inside = [](std::uint64_t offset, std::uint64_t size, std::uint64_t base,
                   std::uint64_t limit) {
    return offset >= base && within(offset - base, size, limit);
  };
  for (Span& span : spans) {
    if (!span.log_size) span.log = header.log_base;
    if (!inside(span.name, span.name_size, header.text_base, header.text_size) ||
        !inside(span.category, span.category_size, header.text_base, header.text_size) ||
        !inside(span.log, span.log_size, header.log_base, header.log_size))
      return true;
  }
  const auto text_shift = static_cast<std::uint32_t>(text_.size()) - header.text_base;
  const auto log_shift = static_cast<std::uint32_t>(log_.size()) - header.log_base;
  text_.append(datagram.substr(0, header.text_size));
  log_.append(datagram.substr(header.text_size));
  for (Span span : spans) {
    // Unsigned arithmetic: (offset - base) + the host's size, whichever of the two is larger.
    span.name += text_shift;
    span.category += text_shift;
    span.log += log_shift;
    span.args = 0;
    if (span.flags & open_flag) {
      span.flags &= static_cast<std::uint8_t>(~open_flag);
      left_open_ = spans_.size();
    } else if (left_open_ && same_call(span, spans_[*left_open_])) {
      spans_[*left_open_] = span;
      left_open_.reset();
      continue;
    }
    spans_.push_back(span);
  }
  return true;
}

bool Tracer::same_call(const Span& a, const Span& b) const {
  auto text_of = [&](std::uint32_t offset, std::uint32_t size) {
    return std::string_view(text_).substr(offset, size);
  };
  return a.process == b.process && text_of(a.name, a.name_size) == text_of(b.name, b.name_size) &&
         text_of(a.category, a.category_size) == text_of(b.category, b.category_size);
}

void Tracer::close_open_span(TraceClock::time_point at, bool failed) {
  if (!left_open_) return;
  spans_[*left_open_].end_ns = nanoseconds_of(at);
  if (failed) spans_[*left_open_].flags |= failed_flag;
  left_open_.reset();
}

// A trace is JSON, whose strings are UTF-8; a stage's message or a name may hold any bytes (a file
// name, a value read from anywhere). Each is checked as it is rendered, copied only when invalid.
boost::json::object Tracer::event_of(const Span& span, boost::json::storage_ptr resource) const {
  std::string replaced;
  auto text_at = [&](const std::string_view& arena, std::size_t offset, std::size_t size) {
    const std::string_view text = valid_utf8(arena.substr(offset, size), replaced);
    return boost::json::string_view(text.data(), text.size());
  };
  boost::json::object event(resource);
  event.reserve(8);
  event.emplace("name", text_at(text_, span.name, span.name_size));
  event.emplace("cat", text_at(text_, span.category, span.category_size));
  event.emplace("ph", "X");
  event.emplace("ts", static_cast<double>(span.start_ns) / 1000.0);
  event.emplace("dur", static_cast<double>(span.end_ns - span.start_ns) / 1000.0);
  event.emplace("pid", static_cast<int>(span.process));
  event.emplace("tid", static_cast<int>(span.process));
  boost::json::value args(boost::json::object_kind, resource);
  if (span.args) {
    args = boost::json::object(args_[span.args - 1], resource);
    make_valid_utf8(args);
  }
  if (span.log_size) {
    boost::json::array log(resource);
    for (std::size_t at = span.log, end = std::size_t{span.log} + span.log_size;
         at + sizeof(std::uint32_t) <= end;) {
      std::uint32_t size = 0;
      std::memcpy(&size, log_.data() + at, sizeof size);
      at += sizeof size;
      log.emplace_back(text_at(log_, at, std::min<std::size_t>(size, end - at)));
      at += size;
    }
    args.get_object().emplace("log", std::move(log));
  }
  if (span.flags & failed_flag) args.get_object().emplace("failed", true);
  if (!args.get_object().empty()) event.emplace("args", std::move(args));
  return event;
}

namespace {

// The trace's metadata (otherData), its text valid UTF-8: the command holds nsrun's arguments as
// they were given.
boost::json::value metadata(const Tracer::Info& info, boost::json::storage_ptr resource) {
  boost::json::value out(boost::json::object(info, resource));
  make_valid_utf8(out);
  return out;
}

// The two trace "processes" the viewers name.
boost::json::array process_names(boost::json::storage_ptr resource) {
  boost::json::array events(resource);
  for (auto [pid, name] : {std::pair{TraceProcess::host, "nsrun (host)"},
                           std::pair{TraceProcess::container, "container process"}})
    events.push_back(boost::json::object({{"name", "process_name"},
                                          {"ph", "M"},
                                          {"pid", static_cast<int>(pid)},
                                          {"args", {{"name", name}}}},
                                         resource));
  return events;
}

}  // namespace

boost::json::object Tracer::document(const Info& info, boost::json::storage_ptr resource) const {
  boost::json::array events = process_names(resource);
  events.reserve(spans_.size() + 2);
  for (const Span& span : spans_) events.push_back(event_of(span, resource));
  boost::json::object document(resource);
  document.emplace("traceEvents", std::move(events));
  document.emplace("displayTimeUnit", "ms");
  document.emplace("otherData", metadata(info, resource));
  return document;
}

void Tracer::set_output(std::string path, std::function<Info()> describe) {
  output_ = std::move(path);
  describe_ = std::move(describe);
  output_in_place_ = written_in_place(output_);
}

namespace {

// The trace's text on its way to the file, in 8 KiB writes.
class TraceWriter {
 public:
  TraceWriter(int fd, const std::string& path) : fd_(fd), path_(path) {}
  void append(const boost::json::object& object) {
    serializer_.reset(&object);
    while (!serializer_.done()) {
      if (used_ == sizeof buffer_) flush();
      used_ += serializer_.read(buffer_ + used_, sizeof buffer_ - used_).size();
    }
  }
  void append(std::string_view text) {
    while (!text.empty()) {
      if (used_ == sizeof buffer_) flush();
      const std::size_t n = std::min(text.size(), sizeof buffer_ - used_);
      std::memcpy(buffer_ + used_, text.data(), n);
      used_ += n;
      text.remove_prefix(n);
    }
  }
  void flush() {
    if (support::Errno err = support::write_all(fd_, std::string_view(buffer_, used_)))
      throw Error("--trace " + path_ + ": cannot write it: " + std::strerror(err));
    used_ = 0;
  }

 private:
  int fd_;
  const std::string& path_;
  boost::json::serializer serializer_;
  std::size_t used_ = 0;
  char buffer_[8192];
};

}  // namespace

// Boost.JSON serializes every value. The trace is the serialization of one object whose last
// member is the event array, `{"displayTimeUnit":"ms","otherData":{...},"traceEvents":[...]}`,
// made in pieces: that object with only the metadata events, less its closing "]}"; each span's
// event after a comma; the "]}" last (write).
void Tracer::render(std::size_t end, bool last) {
  TraceWriter out(output_file_->get(), output_);
  if (!head_rendered_) {
    boost::json::monotonic_resource arena;
    boost::json::object head(&arena);
    head.emplace("displayTimeUnit", "ms");
    head.emplace("otherData", metadata(describe_ ? describe_() : Info{}, &arena));
    head.emplace("traceEvents", process_names(&arena));
    std::string text = boost::json::serialize(head);
    text.resize(text.size() - 2);  // "]}"
    out.append(text);
    head_rendered_ = true;
  }
  for (; rendered_spans_ < end; ++rendered_spans_) {
    // Each event's values in an arena of its own, on the stack while they fit.
    unsigned char scratch[2048];
    boost::json::monotonic_resource arena(scratch, sizeof scratch);
    out.append(",");
    out.append(event_of(spans_[rendered_spans_], &arena));
  }
  if (last) out.append("]}\n");
  out.flush();
}

bool Tracer::open_unnamed() {
  std::string dir = std::filesystem::path(output_).parent_path().string();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  output_file_ = std::make_shared<support::UniqueFd>(fd);
  return true;
}

// Neither renamed over nor truncated: ext4 flushes a file that replaces or truncates another
// (auto_da_alloc), which costs a run milliseconds. The older trace is removed, the new one linked
// in (or, on a filesystem without unnamed files, made under its name).
void Tracer::remove_older_output() {
  if (older_output_removed_) return;
  if (::unlink(output_.c_str()) != 0 && errno != ENOENT)
    throw Error("--trace " + output_ + ": cannot replace it: " + std::strerror(errno));
  older_output_removed_ = true;
}

void Tracer::render_ahead() noexcept {
  // A FIFO, or a device, may block its opener or take the text as it comes: written at the end.
  if (output_.empty() || output_in_place_ || rendering_ahead_failed_) return;
  try {
    if (!output_file_) {
      if (!open_unnamed()) {  // write() makes the file under its name, at the end
        rendering_ahead_failed_ = true;
        return;
      }
      remove_older_output();
    }
    // The span the container process left open ends at its execve: it waits for a later call.
    render(left_open_ ? *left_open_ : spans_.size(), false);
  } catch (...) {
    // write() starts again, and reports what fails.
    output_file_.reset();
    head_rendered_ = false;
    rendered_spans_ = 0;
    rendering_ahead_failed_ = true;
  }
}

void Tracer::write() {
  if (output_in_place_) {
    output_file_ = std::make_shared<support::UniqueFd>(open_in_place(output_));
    if (!*output_file_)
      throw Error("--trace " + output_ + ": cannot write it: " + std::strerror(errno));
    render(spans_.size(), true);
    output_file_.reset();
    return;
  }
  const bool unnamed = output_file_ || open_unnamed();
  remove_older_output();
  if (!unnamed) {
    output_file_ = std::make_shared<support::UniqueFd>(
        ::open(output_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!*output_file_)
      throw Error("--trace " + output_ + ": cannot create it: " + std::strerror(errno));
  }
  render(spans_.size(), true);
  if (unnamed && ::linkat(output_file_->get(), "", AT_FDCWD, output_.c_str(), AT_EMPTY_PATH) != 0) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the descriptor's /proc link does not.
    const std::string self = "/proc/self/fd/" + std::to_string(output_file_->get());
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, output_.c_str(), AT_SYMLINK_FOLLOW) != 0)
      throw Error("--trace " + output_ + ": cannot create it: " + std::strerror(errno));
  }
  output_file_.reset();
}

namespace {

// The CPU's model, as /proc/cpuinfo's "model name" says it. On x86 from the CPUID brand string,
// the very source of that line: reading /proc/cpuinfo costs a traced run 0.1 ms (the kernel
// measures each CPU's frequency for it).
std::string cpu_model() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned words[12] = {};
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    for (unsigned leaf = 0; leaf < 3; ++leaf)
      __get_cpuid(0x80000002 + leaf, &words[leaf * 4], &words[leaf * 4 + 1], &words[leaf * 4 + 2],
                  &words[leaf * 4 + 3]);
    std::string brand(reinterpret_cast<const char*>(words), sizeof words);
    brand.resize(std::strlen(brand.c_str()));
    const auto first = brand.find_first_not_of(' ');
    const auto last = brand.find_last_not_of(' ');
    if (first != std::string::npos) return brand.substr(first, last - first + 1);
  }
#endif
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.starts_with("model name")) {
      auto colon = line.find(':');
      return colon == std::string::npos ? std::string() : line.substr(colon + 2);
    }
  return {};
}

}  // namespace

Tracer::Info trace_info(boost::json::array command, std::string_view version) {
  Tracer::Info info{{"command", std::move(command)}, {"nsrun", version}};
  struct utsname host {};
  if (::uname(&host) == 0) {
    info["kernel"] = std::string(host.sysname) + " " + host.release;
    info["machine"] = host.machine;
  }
  if (std::string model = cpu_model(); !model.empty()) info["cpu"] = std::move(model);
  // The CPUs nsrun may run on (taskset, a cpuset), which is what a run's times depend on. One
  // system call; the count of online CPUs is a file in /sys, which cost a traced run 40 µs.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  info["cpus"] = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0
                     ? static_cast<std::int64_t>(CPU_COUNT(&allowed))
                     : static_cast<std::int64_t>(::sysconf(_SC_NPROCESSORS_ONLN));
  // cgroup v2 mounts cgroup2 at /sys/fs/cgroup; v1 a tmpfs of hierarchies, "hybrid" with a
  // cgroup2 at unified; anything else (a remounted /sys under `ip netns exec`) has none in view.
  struct statfs fs {};
  std::string cgroup = "none";
  if (::statfs("/sys/fs/cgroup", &fs) == 0) {
    if (fs.f_type == CGROUP2_SUPER_MAGIC) {
      cgroup = "v2";
    } else if (fs.f_type == TMPFS_MAGIC) {
      cgroup = ::statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC
                   ? "v1 hybrid"
                   : "v1";
    }
  }
  info["cgroup"] = cgroup;
  info["clock"] = "CLOCK_MONOTONIC, microseconds";
  return info;
}

void check_output_path(std::string_view flag, const std::string& path, std::string_view example) {
  // Given as "" (an unset shell variable): an output asked for that would never be written.
  if (path.empty())
    throw Error(std::string(flag) + " needs a file name (e.g. " +
                std::string(flag.substr(flag.rfind(' ') + 1)) + " " + std::string(example) + ")");
  const std::string named = std::string(flag) + " " + path;
  // Two system calls on the names as given (lstat, access) when the file is new or a regular
  // one: a traced run checks its --trace before anything else, where std::filesystem's four
  // calls cost it 14 µs (docs/tracing.md).
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  struct stat st {};
  struct stat target {};
  const bool exists = ::lstat(path.c_str(), &st) == 0;
  if (exists &&
      (S_ISDIR(st.st_mode) ||
       (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &target) == 0 && S_ISDIR(target.st_mode))))
    throw Error(named + " is a directory (name a file in it, e.g. " + path +
                (path.back() == '/' ? "" : "/") + std::string(example) + ")");
  if (exists && written_in_place(st)) {
    if (::access(path.c_str(), W_OK) != 0)
      throw Error(named + ": cannot write it: " + std::strerror(errno));
    return;
  }
  // "DIR/." fails with ENOTDIR when DIR is no directory.
  if (::access((dir + "/.").c_str(), W_OK) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      throw Error(named + ": the directory " + dir +
                  " does not exist (create it, or name a file in an existing directory)");
    throw Error(named + ": cannot write in " + dir + ": " + std::strerror(errno));
  }
}

void check_trace_path(const std::string& path) {
  if (path.empty()) throw Error("--trace needs a file name (e.g. --trace run.json)");
  check_output_path("--trace", path, "trace.json");
}

}  // namespace nsrun::core
