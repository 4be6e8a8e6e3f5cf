// The trace of one run (see trace.hpp).
#include "nsrun/core/trace.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::core {
namespace {

boost::json::object complete_span(std::string name, std::string category, double start_us,
                                  double duration_us, TraceProcess process,
                                  boost::json::object args) {
  boost::json::object span{{"name", std::move(name)},
                           {"cat", std::move(category)},
                           {"ph", "X"},
                           {"ts", start_us},
                           {"dur", duration_us},
                           {"pid", static_cast<int>(process)},
                           {"tid", static_cast<int>(process)}};
  if (!args.empty()) span["args"] = std::move(args);
  return span;
}

double microseconds_between(TraceClock::time_point start, TraceClock::time_point end) {
  return std::chrono::duration<double, std::micro>(end - start).count();
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

Tracer::Tracer() = default;

void Tracer::add(std::string name, TraceClock::time_point start, TraceClock::time_point end,
                 TraceProcess process, boost::json::object args) {
  spans_.push_back(complete_span(std::move(name), "core", trace_microseconds(start),
                                 microseconds_between(start, end), process, std::move(args)));
}

void Tracer::begin_phase(std::string_view plugin, std::string_view kind, std::string_view phase,
                         TraceProcess process) {
  open_phase_ = OpenPhase{std::string(plugin) + ": " + std::string(phase),
                          "stage," + std::string(kind),
                          TraceClock::now(),
                          process,
                          {}};
}

void Tracer::end_phase(bool succeeded) {
  if (!open_phase_) return;
  OpenPhase phase = std::move(*open_phase_);
  open_phase_.reset();
  auto end = TraceClock::now();
  boost::json::object args;
  if (!phase.log.empty()) args["log"] = std::move(phase.log);
  if (!succeeded) args["failed"] = true;
  spans_.push_back(complete_span(
      std::move(phase.name), std::move(phase.category), trace_microseconds(phase.start),
      microseconds_between(phase.start, end), phase.process, std::move(args)));
}

void Tracer::add_stage_span(std::string_view name, TraceClock::time_point start,
                            TraceClock::time_point end) {
  if (!open_phase_) return;
  // "detail,KIND": inside the phase's span, and not counted again as the stage's time.
  std::string kind = open_phase_->category.substr(open_phase_->category.find(',') + 1);
  spans_.push_back(complete_span(std::string(name), "detail," + kind, trace_microseconds(start),
                                 microseconds_between(start, end), open_phase_->process, {}));
}

void Tracer::on_debug(std::string_view message) noexcept {
  try {
    if (open_phase_) open_phase_->log.emplace_back(message);
  } catch (...) {
  }
}

std::string Tracer::container_report(std::string_view exec_plugin, std::string_view exec_kind,
                                     std::string_view phase) {
  boost::json::array spans;
  for (std::size_t i = clone_mark_; i < spans_.size(); ++i) spans.push_back(spans_[i]);
  if (!exec_plugin.empty()) {
    // The exec stage's call: it ends at execve, where this process stops being nsrun.
    auto open = complete_span(
        std::string(exec_plugin) + ": " + std::string(phase), "stage," + std::string(exec_kind),
        trace_microseconds(TraceClock::now()), 0, TraceProcess::container, {});
    open["open"] = true;
    spans.push_back(std::move(open));
  }
  return std::string(1, trace_report_tag) + boost::json::serialize(spans);
}

bool Tracer::merge(std::string_view datagram) {
  if (datagram.empty() || datagram.front() != trace_report_tag) return false;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(datagram.substr(1), ec);
  if (ec || !parsed.is_array()) return true;  // a report, damaged: its spans are lost
  for (auto& span : parsed.as_array()) {
    if (!span.is_object()) continue;
    auto& object = span.as_object();
    if (object.erase("open")) left_open_ = spans_.size();
    spans_.push_back(std::move(object));
  }
  return true;
}

void Tracer::close_open_span(TraceClock::time_point at) {
  if (!left_open_) return;
  auto& span = spans_[*left_open_];
  span["dur"] = trace_microseconds(at) - span.at("ts").to_number<double>();
  left_open_.reset();
}

boost::json::object Tracer::document(const Info& info) const {
  boost::json::array events;
  events.push_back(boost::json::object{{"name", "process_name"},
                                       {"ph", "M"},
                                       {"pid", static_cast<int>(TraceProcess::host)},
                                       {"args", {{"name", "nsrun (host)"}}}});
  events.push_back(boost::json::object{{"name", "process_name"},
                                       {"ph", "M"},
                                       {"pid", static_cast<int>(TraceProcess::container)},
                                       {"args", {{"name", "container process"}}}});
  for (const auto& span : spans_) events.push_back(span);
  return {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}, {"otherData", info}};
}

void Tracer::write(const std::string& path, const Info& info) const {
  const std::string text = boost::json::serialize(document(info)) + "\n";
  // Not replaced by rename, nor truncated: ext4 flushes a file that replaces or truncates another
  // (auto_da_alloc), which costs a run milliseconds. The old trace is removed, the new one made.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw Error("--trace " + path + ": cannot replace it: " + std::strerror(errno));
  support::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw Error("--trace " + path + ": cannot create it: " + std::strerror(errno));
  std::string_view rest(text);
  while (!rest.empty()) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("--trace " + path + ": cannot write it: " + std::strerror(errno));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

Tracer::Info trace_info(boost::json::array command, std::string_view version) {
  Tracer::Info info{{"command", std::move(command)}, {"nsrun", version}};
  struct utsname host {};
  if (::uname(&host) == 0) {
    info["kernel"] = std::string(host.sysname) + " " + host.release;
    info["machine"] = host.machine;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.starts_with("model name")) {
      auto colon = line.find(':');
      if (colon != std::string::npos) info["cpu"] = line.substr(colon + 2);
      break;
    }
  info["cpus"] = static_cast<std::int64_t>(::sysconf(_SC_NPROCESSORS_ONLN));
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
  const std::string named = std::string(flag) + " " + path;
  std::filesystem::path file(path);
  std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(named + ": the directory " + dir.string() +
                " does not exist (create it, or name a file in an existing directory)");
  if (std::filesystem::is_directory(file, ec))
    throw Error(named + " is a directory (name a file in it, e.g. " + (file / example).string() +
                ")");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(named + ": cannot write in " + dir.string() + ": " + std::strerror(errno));
}

void check_trace_path(const std::string& path) {
  if (path.empty()) throw Error("--trace needs a file name (e.g. --trace run.json)");
  check_output_path("--trace", path, "trace.json");
}

}  // namespace nsrun::core
