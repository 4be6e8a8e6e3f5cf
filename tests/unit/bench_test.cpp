// nsrun bench's statistics and reports (bench.hpp), and the tracer's report round trip
// (trace.hpp): no root, no container.
#include "nsrun/core/bench.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/trace.hpp"

namespace nsrun::core {
namespace {

TEST(BenchStats, SummaryIsMedianNearestRankP95MinMax) {
  std::vector<double> samples;
  for (int i = 20; i >= 1; --i) samples.push_back(i);
  Summary s = summarize(samples);
  EXPECT_DOUBLE_EQ(s.median, 10.5);
  EXPECT_DOUBLE_EQ(s.p95, 19);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 20);
  EXPECT_DOUBLE_EQ(summarize({3, 1, 2}).median, 2);
}

TEST(BenchStats, TheRatioOfMediansHasAnIntervalAroundIt) {
  std::vector<double> base, slower;
  for (int i = 0; i < 40; ++i) {
    base.push_back(10 + (i % 5) * 0.1);
    slower.push_back(20 + (i % 5) * 0.2);
  }
  Ratio r = median_ratio(slower, base);
  EXPECT_NEAR(r.value, 2.0, 0.01);
  EXPECT_LE(r.low, r.value);
  EXPECT_GE(r.high, r.value);
  EXPECT_LT(r.high - r.low, 0.1);
  Ratio again = median_ratio(slower, base);
  EXPECT_EQ(again.low, r.low) << "a fixed seed: the same samples give the same interval";
  EXPECT_EQ(again.high, r.high);
}

TEST(BenchStats, StageTimesAddUpToTheWallTime) {
  auto trace = boost::json::parse(R"json({"traceEvents": [
    {"name": "process_name", "ph": "M", "pid": 1},
    {"name": "core: start nsrun (the launcher, exec, dynamic loading)", "cat": "core", "ph": "X",
     "pid": 1, "ts": 0, "dur": 500},
    {"name": "core: the container's lifecycle", "cat": "core", "ph": "X", "pid": 1, "ts": 500,
     "dur": 9000},
    {"name": "nsrun.exec: validate", "cat": "stage,exec", "ph": "X", "pid": 1, "ts": 500,
     "dur": 1000},
    {"name": "security: a step", "cat": "detail,security", "ph": "X", "pid": 1, "ts": 1000,
     "dur": 400},
    {"name": "nsrun.storage: prepare", "cat": "stage,storage", "ph": "X", "pid": 1, "ts": 1500,
     "dur": 1500},
    {"name": "core: clone", "cat": "core", "ph": "X", "pid": 1, "ts": 3000, "dur": 3000},
    {"name": "nsrun.storage: create_container", "cat": "stage,storage", "ph": "X", "pid": 2,
     "ts": 6000, "dur": 500},
    {"name": "workload", "cat": "core", "ph": "X", "pid": 2, "ts": 6500, "dur": 1250},
    {"name": "core: remove the state directory", "cat": "core", "ph": "X", "pid": 1, "ts": 7750,
     "dur": 250}]})json")
                   .as_object();
  auto times = stage_times(trace, 10.0);
  EXPECT_DOUBLE_EQ(times.at("storage"), 2.0);
  EXPECT_DOUBLE_EQ(times.at("exec"), 1.0);
  EXPECT_DOUBLE_EQ(times.at("core.clone"), 3.0);
  EXPECT_DOUBLE_EQ(times.at("core.startup"), 0.5);
  EXPECT_DOUBLE_EQ(times.at("core.state"), 0.25);
  EXPECT_DOUBLE_EQ(times.at("workload"), 1.25);
  EXPECT_DOUBLE_EQ(times.at("core"), 2.0) << "the umbrella and stage details are not counted again";
  EXPECT_EQ(times.count("security"), 0U);
  double sum = 0;
  for (const auto& [bucket, ms] : times) sum += ms;
  EXPECT_DOUBLE_EQ(sum, 10.0) << "no spans at once: the buckets are the wall time";
}

// A stage busy on the host and in the container process at the same moment (released stage by
// stage) took that wall time once, and so did nsrun.
TEST(BenchStats, AStagesHostAndContainerSpansAtOnceCountTheirWallTimeOnce) {
  auto trace = boost::json::parse(R"json({"traceEvents": [
    {"name": "nsrun.network.bridge: create_runtime", "cat": "stage,network", "ph": "X", "pid": 1,
     "ts": 1000, "dur": 2000},
    {"name": "nsrun.network.bridge: create_container", "cat": "stage,network", "ph": "X",
     "pid": 2, "ts": 2000, "dur": 2000},
    {"name": "nsrun.storage: create_container", "cat": "stage,storage", "ph": "X", "pid": 2,
     "ts": 4000, "dur": 1000},
    {"name": "nsrun.storage: create_container", "cat": "stage,storage", "ph": "X", "pid": 2,
     "ts": 4500, "dur": 250}]})json")
                   .as_object();
  auto times = stage_times(trace, 10.0);
  EXPECT_DOUBLE_EQ(times.at("network"), 3.0) << "1 to 4 ms, not 2 + 2";
  EXPECT_DOUBLE_EQ(times.at("storage"), 1.0) << "a span within another adds nothing";
  EXPECT_DOUBLE_EQ(times.at("core"), 6.0) << "the wall time no span covers: 0-1 and 5-10 ms";
}

// The host's poststart runs beside the workload, and a host step beside the container process's:
// "core" is the wall time neither covers, each counted once, and each bucket keeps its own time.
TEST(BenchStats, CoreIsTheWallTimeNoSpanCoversWhenHostAndContainerSpansOverlap) {
  auto trace = boost::json::parse(R"json({"traceEvents": [
    {"name": "core: save the spec, open the sockets", "cat": "core", "ph": "X", "pid": 1,
     "ts": 0, "dur": 1000},
    {"name": "nsrun.storage: create_container", "cat": "stage,storage", "ph": "X", "pid": 2,
     "ts": 500, "dur": 1000},
    {"name": "workload", "cat": "core", "ph": "X", "pid": 2, "ts": 4000, "dur": 5000},
    {"name": "nsrun.cgroups: poststart", "cat": "stage,cgroups", "ph": "X", "pid": 1,
     "ts": 5000, "dur": 1000},
    {"name": "core: wait for the container to exec", "cat": "core", "ph": "X", "pid": 1,
     "ts": 1500, "dur": 2500}]})json")
                   .as_object();
  auto times = stage_times(trace, 10.0);
  EXPECT_DOUBLE_EQ(times.at("core.state"), 1.0);
  EXPECT_DOUBLE_EQ(times.at("storage"), 1.0);
  EXPECT_DOUBLE_EQ(times.at("workload"), 5.0);
  EXPECT_DOUBLE_EQ(times.at("cgroups"), 1.0);
  EXPECT_DOUBLE_EQ(times.at("core"), 3.5) << "0-1.5 and 4-9 ms are covered; not 10 - 8";
}

// Spans that cover more than the measured wall time (clocks read at different moments) leave
// "core" at zero, never below.
TEST(BenchStats, CoreIsNeverNegative) {
  auto trace = boost::json::parse(R"json({"traceEvents": [
    {"name": "workload", "cat": "core", "ph": "X", "pid": 2, "ts": 0, "dur": 12000}]})json")
                   .as_object();
  EXPECT_DOUBLE_EQ(stage_times(trace, 10.0).at("core"), 0.0);
}

// Rounds that differ by 0.1 to 0.3 ms, in variants that each spread over 40 ms: the paired
// difference is the rounds' median difference, and its interval stays within the differences.
TEST(BenchStats, ThePairedDifferenceIsTheMedianOfTheRoundsDifferences) {
  std::vector<double> base, traced;
  const double extra[] = {0.1, 0.2, 0.3, 0.2, 0.2};
  for (int i = 0; i < 40; ++i) {
    base.push_back(10 + i);
    traced.push_back(10 + i + extra[i % 5]);
  }
  Difference d = paired_difference(traced, base);
  EXPECT_NEAR(d.value, 0.2, 1e-9);
  EXPECT_GE(d.low, 0.1 - 1e-9);
  EXPECT_LE(d.high, 0.3 + 1e-9);
  EXPECT_LE(d.low, d.value);
  EXPECT_GE(d.high, d.value);
  EXPECT_GT(median_ratio(traced, base).high - median_ratio(traced, base).low, 0.1)
      << "unpaired, the spread hides it";
  EXPECT_EQ(paired_difference(traced, {}).value, 0) << "no rounds, no difference";
}

BenchReport two_variants(double spread) {
  BenchReport report;
  report.runs = 10;
  for (const char* name : {"first", "second"}) {
    VariantSamples v;
    v.name = name;
    v.stage_order = {"storage", "core"};
    for (int i = 0; i < 10; ++i) {
      double wall = (v.name == "first" ? 10.0 : 5.0) * (1 + spread * (i % 2));
      v.wall_ms.push_back(wall);
      v.stage_ms["storage"].push_back(wall / 2);
      v.stage_ms["core"].push_back(wall / 2);
    }
    report.variants.push_back(std::move(v));
  }
  return report;
}

TEST(BenchReport, TableJsonAndSvgNameEveryVariant) {
  BenchReport report = two_variants(0.01);
  EXPECT_FALSE(too_noisy(report));
  std::string table = bench_table(report);
  EXPECT_NE(table.find("first"), std::string::npos);
  EXPECT_NE(table.find("0.50 ["), std::string::npos) << table;
  EXPECT_EQ(table.find("too wide"), std::string::npos);
  auto json = bench_json(report);
  EXPECT_EQ(json.at("schema"), "nsrun-bench/4");
  EXPECT_EQ(json.at("variants").as_array().size(), 2U);
  EXPECT_EQ(json.at("variants").as_array()[1].at("name"), "second");
  EXPECT_NEAR(json.at("variants").as_array()[1].at("ratio_to_first").at("value").as_double(), 0.5,
              0.01);
  std::string svg = bench_svg(report);
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(svg.find(">second</text>"), std::string::npos);
}

// A variant run without --trace has its wall times, its paired difference, and no stages: its
// stage cells are "-", its JSON says so, and its bar is one grey median.
TEST(BenchReport, AnUntracedVariantHasItsWallTimeAndNoStages) {
  BenchReport report = two_variants(0.01);
  VariantSamples& untraced = report.variants[1];
  untraced.name = "untraced";
  untraced.traced = false;
  untraced.stage_ms.clear();
  for (std::size_t i = 0; i < untraced.wall_ms.size(); ++i)
    untraced.wall_ms[i] = report.variants[0].wall_ms[i] - 0.25;
  const std::string table = bench_table(report);
  EXPECT_NE(table.find("-0.25 [-0.25, -0.25]"), std::string::npos) << table;
  EXPECT_NE(table.find("untraced: untraced (timed only), so no stages"), std::string::npos)
      << table;
  const std::size_t row = table.rfind("\nuntraced ") + std::strlen("\nuntraced ");
  const std::string cells = table.substr(row, table.find('\n', row) - row);
  EXPECT_EQ(cells.find_first_not_of(" -"), std::string::npos) << "stage cells: " << cells;
  EXPECT_EQ(std::count(cells.begin(), cells.end(), '-'), 2) << cells;
  auto json = bench_json(report);
  const auto& variants = json.at("variants").as_array();
  EXPECT_EQ(variants[0].at("traced"), true);
  EXPECT_EQ(variants[1].at("traced"), false);
  EXPECT_TRUE(variants[1].at("stages_ms").as_object().empty());
  EXPECT_EQ(variants[1].at("wall_ms").at("samples").as_array().size(), 10U);
  EXPECT_NEAR(variants[1].at("paired_difference_ms").at("value").as_double(), -0.25, 1e-9);
  EXPECT_EQ(variants[0].at("paired_difference_ms").at("value").as_double(), 0);
  const std::string svg = bench_svg(report);
  EXPECT_NE(svg.find("untraced untraced (timed only)"), std::string::npos);
  EXPECT_NE(svg.find(">untraced: the median wall time, no stages</text>"), std::string::npos);
}

TEST(BenchReport, AWideSpreadIsSaid) {
  BenchReport report = two_variants(0.9);
  EXPECT_TRUE(too_noisy(report));
  EXPECT_NE(bench_table(report).find("the spread is too wide to trust these ratios"),
            std::string::npos);
}

TEST(Tracer, TheContainersReportIsMergedAndItsOpenSpanClosedAtExec) {
  Tracer host;
  host.add("core: before", TraceClock::now(), TraceClock::now(), TraceProcess::host);
  host.mark_clone();
  Tracer child = host;  // what the clone copies
  child.begin_phase("nsrun.storage", "storage", "create_container", TraceProcess::container);
  child.on_debug("storage: mount proc on /proc");
  child.end_phase(true);
  std::string report = child.container_report("nsrun.exec", "exec", "start_container");
  ASSERT_EQ(report.front(), trace_report_tag);
  EXPECT_FALSE(host.merge("1 a failure report")) << "not a trace report";
  EXPECT_TRUE(host.merge(report));
  EXPECT_EQ(host.span_count(), 3U) << "the one before the clone is not sent back";
  host.close_open_span(TraceClock::now());
  auto events = host.document({}).at("traceEvents").as_array();
  bool storage_logged = false, exec_closed = false;
  for (const auto& event : events) {
    const auto& e = event.as_object();
    if (e.at("name") == "nsrun.storage: create_container")
      storage_logged = e.at("args").at("log").as_array()[0] == "storage: mount proc on /proc";
    if (e.at("name") == "nsrun.exec: start_container")
      exec_closed = !e.contains("open") && e.at("dur").to_number<double>() >= 0;
  }
  EXPECT_TRUE(storage_logged);
  EXPECT_TRUE(exec_closed);
}

// A real fork, as the clone is: the container process's arenas are given to it zeroed
// (MADV_WIPEONFORK), and it reads nothing of the host's from them. Its spans, with their text
// and messages, still reach the host whole, and the host's own spans made after the fork are
// its own.
TEST(Tracer, AForkedProcessReportsItsSpansFromItsOwnArenas) {
  Tracer host;
  host.add("core: before the clone", TraceClock::now(), TraceClock::now(), TraceProcess::host);
  host.mark_clone();
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    host.begin_phase("nsrun.storage", "storage", "create_container", TraceProcess::container);
    host.on_debug("storage: mount proc on /proc");
    host.end_phase(true);
    const std::string report = host.container_report("nsrun.exec", "exec", "start_container");
    const bool sent =
        ::write(pipe_ends[1], report.data(), report.size()) == static_cast<ssize_t>(report.size());
    ::_exit(sent ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  host.add("core: clone", TraceClock::now(), TraceClock::now(), TraceProcess::host);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0;)
    report.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_ends[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(host.merge(report));
  host.close_open_span(TraceClock::now());
  std::vector<std::string> names;
  std::string log;
  const boost::json::object document = host.document({});
  for (const auto& event : document.at("traceEvents").as_array()) {
    if (event.at("ph") != "X") continue;
    names.emplace_back(event.at("name").as_string());
    if (names.back() == "nsrun.storage: create_container")
      log = event.at("args").at("log").as_array()[0].as_string();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"core: before the clone", "core: clone",
                                             "nsrun.storage: create_container",
                                             "nsrun.exec: start_container"}));
  EXPECT_EQ(log, "storage: mount proc on /proc");
}

// A tracer's mapping outlives it, for the next tracer of the process (unmapping it slowed the end
// of a run): one made while another is alive has a mapping of its own, and none sees another's
// spans.
TEST(Tracer, TracersOneAfterAnotherOrSideBySideKeepTheirOwnSpans) {
  auto names_in = [](const Tracer& tracer) {
    std::vector<std::string> names;
    const boost::json::object document = tracer.document({});
    for (const auto& event : document.at("traceEvents").as_array())
      if (event.at("ph") == "X") names.emplace_back(event.at("name").as_string());
    return names;
  };
  auto record = [](Tracer& tracer, const std::string& name) {
    for (int i = 0; i < 100; ++i)  // enough text to reach across the arena's pages
      tracer.add(name, TraceClock::now(), TraceClock::now(), TraceProcess::host);
  };
  auto first = std::make_unique<Tracer>();
  record(*first, "first");
  first.reset();  // its mapping is kept
  {
    Tracer second;  // takes it
    record(second, "second");
    Tracer third;  // while the second is alive: a mapping of its own
    record(third, "third");
    EXPECT_EQ(names_in(second), std::vector<std::string>(100, "second"));
    EXPECT_EQ(names_in(third), std::vector<std::string>(100, "third"));
  }
  Tracer fourth;
  record(fourth, "fourth");
  EXPECT_EQ(names_in(fourth), std::vector<std::string>(100, "fourth"));
}

// A created container's process reports to `nsrun create` with no exec ahead: nothing is left
// open, and closing at a later exec changes nothing.
TEST(Tracer, ACreatedContainersReportLeavesNoSpanOpen) {
  Tracer host;
  host.mark_clone();
  Tracer child = host;
  child.begin_phase("nsrun.storage", "storage", "create_container", TraceProcess::container);
  child.end_phase(true);
  EXPECT_TRUE(host.merge(child.container_report()));
  ASSERT_EQ(host.span_count(), 1U);
  host.close_open_span(TraceClock::now());
  auto events = host.document({}).at("traceEvents").as_array();
  EXPECT_EQ(events.back().at("name"), "nsrun.storage: create_container");
  EXPECT_FALSE(events.back().as_object().contains("open"));
}

// The report is plain records and their text: a damaged one, or one of another layout (another
// nsrun build on the other end), is taken as a report and dropped whole, never half-read.
TEST(Tracer, ADamagedOrForeignReportIsDroppedWhole) {
  Tracer host;
  host.mark_clone();
  Tracer child = host;
  child.begin_phase("nsrun.storage", "storage", "create_container", TraceProcess::container);
  child.on_debug("storage: mount proc on /proc");
  child.end_phase(false);
  const std::string report = child.container_report();
  for (std::size_t cut : {std::size_t{1}, std::size_t{5}, report.size() - 1}) {
    EXPECT_TRUE(host.merge(report.substr(0, cut))) << "cut at " << cut;
    EXPECT_EQ(host.span_count(), 0U) << "cut at " << cut;
  }
  std::string foreign = report;
  foreign[1] ^= 0x7f;  // the layout number
  EXPECT_TRUE(host.merge(foreign));
  EXPECT_EQ(host.span_count(), 0U);
  std::string out_of_bounds = report;
  std::uint32_t huge = 1U << 30;
  // The first span's name offset, right after the tag and the seven-word header.
  std::memcpy(out_of_bounds.data() + 1 + 7 * sizeof(std::uint32_t), &huge, sizeof huge);
  EXPECT_TRUE(host.merge(out_of_bounds));
  EXPECT_EQ(host.span_count(), 0U);

  ASSERT_TRUE(host.merge(report));
  ASSERT_EQ(host.span_count(), 1U);
  const boost::json::object document = host.document({});
  const auto& span = document.at("traceEvents").as_array().back().as_object();
  EXPECT_EQ(span.at("name"), "nsrun.storage: create_container");
  EXPECT_EQ(span.at("cat"), "stage,storage");
  EXPECT_EQ(span.at("args").at("log").as_array(),
            boost::json::array({"storage: mount proc on /proc"}));
  EXPECT_EQ(span.at("args").at("failed"), true);
}

// Spans keep their text however the arenas grow, a stage's own spans take its kind, and a core
// span keeps its arguments.
TEST(Tracer, SpansKeepTheirTextAndArguments) {
  Tracer tracer;
  tracer.begin_phase("nsrun.security", "security", "start_container", TraceProcess::container);
  const auto start = TraceClock::now();
  const std::string long_message(40000, 'x');  // past what the arenas reserve
  tracer.on_debug(long_message);
  for (int i = 0; i < 300; ++i) tracer.add_stage_span("security: step", start, start);
  tracer.end_phase(true);
  tracer.add("core: clone", start, start + std::chrono::microseconds(1500), TraceProcess::host,
             {{"flags", 42}});
  const auto events = tracer.document({}).at("traceEvents").as_array();
  ASSERT_EQ(events.size(), 2U + 302U);
  EXPECT_EQ(events[2].at("name"), "security: step");
  EXPECT_EQ(events[2].at("cat"), "detail,security");
  const auto& phase = events[events.size() - 2].as_object();
  EXPECT_EQ(phase.at("name"), "nsrun.security: start_container");
  EXPECT_EQ(phase.at("args").at("log").as_array().at(0).as_string().size(), 40000U);
  const auto& clone = events.back().as_object();
  EXPECT_EQ(clone.at("args").at("flags"), 42);
  EXPECT_NEAR(clone.at("dur").to_number<double>(), 1500.0, 0.001);
  EXPECT_EQ(clone.at("pid"), 1);
}

// A stage's own span lies inside its phase's, whatever times the stage gives it.
TEST(Tracer, AStagesOwnSpanIsCutToItsPhase) {
  Tracer tracer;
  const auto before = TraceClock::now();
  tracer.begin_phase("test.good", "test", "prepare", TraceProcess::host);
  const auto now = TraceClock::now();
  tracer.add_stage_span("test: backwards", now, now - std::chrono::milliseconds(1));
  tracer.add_stage_span("test: outside", now - std::chrono::seconds(1),
                        now + std::chrono::seconds(1));
  tracer.end_phase(true);
  const auto after = TraceClock::now();
  const auto events = tracer.document({}).at("traceEvents").as_array();
  ASSERT_EQ(events.size(), 2U + 2U);  // the names of the two processes, "outside", the phase
  const auto& outside = events[2].as_object();
  EXPECT_EQ(outside.at("name"), "test: outside");
  const auto& phase = events[3].as_object();
  const double phase_start = phase.at("ts").to_number<double>();
  const double phase_end = phase_start + phase.at("dur").to_number<double>();
  EXPECT_GE(outside.at("ts").to_number<double>(), phase_start);
  EXPECT_LE(outside.at("ts").to_number<double>() + outside.at("dur").to_number<double>(),
            phase_end);
  EXPECT_GE(phase_start, trace_microseconds(before));
  EXPECT_LE(phase_end, trace_microseconds(after));
}

// The message of the Error `check` throws, or "no error".
template <typename Check>
std::string error_of(Check check) {
  try {
    check();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// A new empty directory of this test process's, named `prefix` and the pid.
std::filesystem::path empty_directory(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / (prefix + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Removes a test's directory however the test ends (an ASSERT returns early).
struct RemovedAtEnd {
  std::filesystem::path dir;
  ~RemovedAtEnd() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The trace is rendered in two goes (while the workload runs, then at the end) into an unnamed
// file: what is written is the whole document, valid JSON, under its name only once complete, and
// it replaces an older file.
TEST(Tracer, ATraceRenderedAheadIsTheWholeDocumentNamedOnlyWhenWritten) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-trace-");
  const fs::path path = dir / "run.json";
  std::ofstream(path) << "an older trace";
  int described = 0;
  Tracer tracer;
  tracer.set_output(path.string(), [&] {
    ++described;
    return Tracer::Info{{"command", {"run", "/bin/true"}}, {"nsrun", "test"}};
  });
  const auto start = TraceClock::now();
  tracer.add("core: clone", start, start + std::chrono::microseconds(900), TraceProcess::host,
             {{"flags", 1}});
  tracer.begin_phase("nsrun.storage", "storage", "create_container", TraceProcess::container);
  tracer.on_debug("storage: mount \"proc\" on /proc\n");  // escaped by the serializer
  tracer.end_phase(true);
  tracer.render_ahead();
  EXPECT_TRUE(fs::is_empty(dir)) << "the older trace is gone, the new one not named yet";
  tracer.add("core: remove the state directory", start, start, TraceProcess::host);
  tracer.write();

  const boost::json::value written = boost::json::parse(read_all(path));
  const boost::json::object expected =
      tracer.document(Tracer::Info{{"command", {"run", "/bin/true"}}, {"nsrun", "test"}});
  EXPECT_EQ(written.as_object(), expected);
  EXPECT_EQ(written.at("traceEvents").as_array().size(), 2U + 3U);
  EXPECT_EQ(described, 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

// The host renders whenever it only waits: when the container process's report came (with the
// exec stage's span still open), and once the workload runs. The open span is rendered only
// after it closed, with its end; the file is the whole document.
TEST(Tracer, ATraceRenderedInManyGoesKeepsTheOpenSpanUntilItCloses) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-trace-m-");
  const fs::path path = dir / "run.json";
  Tracer host;
  host.set_output(path.string(), [] { return Tracer::Info{{"nsrun", "test"}}; });
  const auto start = TraceClock::now();
  host.add("core: before", start, start + std::chrono::microseconds(5), TraceProcess::host);
  host.mark_clone();
  Tracer child = host;  // what the clone copies
  child.begin_phase("nsrun.storage", "storage", "create_container", TraceProcess::container);
  child.end_phase(true);
  const std::string report = child.container_report("nsrun.exec", "exec", "start_container");
  host.render_ahead();  // spans before the report
  ASSERT_TRUE(host.merge(report));
  host.render_ahead();  // the report came
  host.render_ahead();  // nothing new: nothing rendered twice
  const auto exec = start + std::chrono::milliseconds(7);
  host.close_open_span(exec);
  host.render_ahead();  // the workload runs
  host.add("workload", exec, exec + std::chrono::milliseconds(1), TraceProcess::container);
  host.write();

  const boost::json::value written = boost::json::parse(read_all(path));
  EXPECT_EQ(written.as_object(), host.document(Tracer::Info{{"nsrun", "test"}}));
  const auto& events = written.at("traceEvents").as_array();
  std::size_t exec_spans = 0;
  for (const auto& event : events) {
    if (event.at("name") != "nsrun.exec: start_container") continue;
    ++exec_spans;
    const double end = event.at("ts").to_number<double>() + event.at("dur").to_number<double>();
    EXPECT_NEAR(end, trace_microseconds(exec), 0.01) << "rendered with its end at the execve";
  }
  EXPECT_EQ(exec_spans, 1U);
  fs::remove_all(dir);
}

// Without render_ahead (create, start: no workload to wait on), write() renders it all.
TEST(Tracer, ATraceNotRenderedAheadIsWrittenWhole) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-trace-w-");
  Tracer tracer;
  tracer.set_output((dir / "t.json").string(), [] { return Tracer::Info{}; });
  tracer.add("core: start", TraceClock::now(), TraceClock::now(), TraceProcess::host);
  tracer.write();
  const boost::json::value written = boost::json::parse(read_all(dir / "t.json"));
  EXPECT_EQ(written.as_object(), tracer.document({}));
  fs::remove_all(dir);
}

// A --trace or --json that is no regular file is written through, as a shell's `>` writes: a
// symbolic link stays a link (its target gets the text), a FIFO gets the text, and neither is
// replaced by a file of the same name (/dev/null was, before).
TEST(Tracer, AnOutputThatIsNoRegularFileIsWrittenThroughNotReplaced) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-trace-through-");
  const fs::path target = dir / "target.json";
  const fs::path link = dir / "link.json";
  std::ofstream(target) << std::string(8192, 'x');  // longer than the trace: truncated
  fs::create_symlink(target, link);
  check_trace_path(link.string());
  Tracer tracer;
  tracer.set_output(link.string(), [] { return Tracer::Info{{"nsrun", "test"}}; });
  tracer.add("core: start", TraceClock::now(), TraceClock::now(), TraceProcess::host);
  tracer.render_ahead();
  tracer.write();
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(boost::json::parse(read_all(target)).as_object(),
            tracer.document(Tracer::Info{{"nsrun", "test"}}));

  const fs::path fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  Tracer to_fifo;
  to_fifo.set_output(fifo.string(), [] { return Tracer::Info{}; });
  to_fifo.add("core: start", TraceClock::now(), TraceClock::now(), TraceProcess::host);
  to_fifo.write();
  write_output_file("bench: --json", fifo.string(), "{}\n", 0644);
  std::string text(65536, '\0');
  const ssize_t n = ::read(reader, text.data(), text.size());
  ::close(reader);
  ASSERT_GT(n, 0);
  text.resize(static_cast<std::size_t>(n));
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(text.substr(text.size() - 3), "{}\n") << "the trace, then bench's JSON";
  EXPECT_EQ(boost::json::parse(text.substr(0, text.size() - 3)).as_object(), to_fifo.document({}));

  write_output_file("bench: --json", link.string(), "{\"bench\": 1}\n", 0644);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_all(target), "{\"bench\": 1}\n");
  fs::remove_all(dir);
}

// Text from outside (a stage's message, the command line) becomes valid UTF-8 before it goes into
// JSON: Boost.JSON's serializer writes a string's bytes as they are. Valid text is not copied.
TEST(TracerText, EachByteThatStartsNoValidSequenceIsTheReplacementCharacter) {
  std::string replaced;
  const std::string valid = "plain ASCII, then é € 😀 and more ASCII to pass eight at a time";
  EXPECT_EQ(valid_utf8(valid, replaced).data(), valid.data()) << "valid text is not copied";
  EXPECT_EQ(valid_utf8("", replaced), "");
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"\xff\xfe", fffd + fffd},
      {"a\xe2\x82", "a" + fffd + fffd},                 // cut short
      {"\xc0\xaf", fffd + fffd},                        // overlong '/'
      {"\xe0\x80\xaf", fffd + fffd + fffd},             // overlong, three bytes
      {"\xed\xa0\x80", fffd + fffd + fffd},             // a surrogate
      {"\xf4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"0123456789abcdef\x80tail", "0123456789abcdef" + fffd + "tail"},
      {"\xe2\x82\xac\xff\xe2\x82\xac", "\xe2\x82\xac" + fffd + "\xe2\x82\xac"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(valid_utf8(c.in, replaced), c.out) << c.in;
    EXPECT_EQ(valid_utf8(c.out, replaced).data(), c.out.data()) << "its output is valid";
  }
  boost::json::value nested = {{"command", {"run", "\xff"}}, {"kind", "\xfe"}, {"n", 1}};
  make_valid_utf8(nested);
  EXPECT_EQ(nested.at("command").at(1).as_string(), fffd.c_str());
  EXPECT_EQ(nested.at("kind").as_string(), fffd.c_str());
}

// The spec and the flags go to the stages as JSON: the first text that is not UTF-8 is found, named
// by its field, whether a value or a member's name.
TEST(JsonText, TheFirstTextThatIsNotUtf8IsNamedByItsField) {
  boost::json::value spec = {{"process", {{"args", {"echo", "é", "\xff"}}, {"cwd", "/"}}},
                             {"hostname", "h"}};
  EXPECT_EQ(first_text_not_utf8(spec), "process.args[2]");
  EXPECT_EQ(first_text_not_utf8(boost::json::value{{"a", {{"\xc0\xaf", 1}}}}), "a.\xc0\xaf");
  EXPECT_EQ(first_text_not_utf8(boost::json::value("\xed\xa0\x80"), "--flag"), "--flag");
  EXPECT_EQ(first_text_not_utf8(boost::json::value{{"a", {"é", "€", 1, nullptr}}}), std::nullopt);
}

// A stage's message, a span's name and the command line may hold any bytes: the trace, written
// ahead and at the end, is still JSON that a strict parser reads, each bad byte U+FFFD.
TEST(Tracer, TextThatIsNotUtf8IsWrittenAsValidUtf8) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-trace-utf8-");
  const RemovedAtEnd remove{dir};
  const fs::path path = dir / "run.json";
  Tracer tracer;
  tracer.set_output(path.string(), [] {
    return Tracer::Info{{"command", {"run", "--", "/bin/echo", "\xff"}}, {"nsrun", "test"}};
  });
  const auto start = TraceClock::now();
  tracer.add("core: \xfe", start, start, TraceProcess::host, {{"container", "\xff"}});
  tracer.begin_phase("test.good", "test", "create_container", TraceProcess::container);
  tracer.on_debug("test.good: bytes \xff\xfe of no encoding");
  tracer.end_phase(true);
  tracer.render_ahead();
  tracer.begin_phase("test.good", "test", "teardown", TraceProcess::host);
  tracer.on_debug("\xc3");
  tracer.end_phase(true);
  tracer.write();

  boost::system::error_code ec;
  const boost::json::value written = boost::json::parse(read_all(path), ec);
  ASSERT_FALSE(ec) << "not JSON: " << ec.message();
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(written.at("otherData").at("command").at(3).as_string(), fffd.c_str());
  std::vector<std::string> names, logs;
  for (const auto& event : written.at("traceEvents").as_array()) {
    if (event.at("ph") != "X") continue;
    names.emplace_back(event.at("name").as_string());
    if (const auto* args = event.as_object().if_contains("args"))
      if (const auto* log = args->as_object().if_contains("log"))
        logs.emplace_back(log->as_array().at(0).as_string());
  }
  EXPECT_EQ(names.front(), "core: " + fffd);
  EXPECT_EQ(logs, (std::vector<std::string>{"test.good: bytes " + fffd + fffd + " of no encoding",
                                            fffd}));
  EXPECT_EQ(written.as_object(),
            tracer.document(
                Tracer::Info{{"command", {"run", "--", "/bin/echo", "\xff"}}, {"nsrun", "test"}}));
}

// An output given as "" (an unset shell variable) is refused naming its flag, not left unwritten.
TEST(BenchOutputs, AnEmptyPathIsRefusedNamingItsFlag) {
  EXPECT_EQ(error_of([] { check_output_path("bench: --json", "", "bench.json"); }),
            "bench: --json needs a file name (e.g. --json bench.json)");
  EXPECT_EQ(error_of([] { check_output_path("bench: --svg", "", "bench.svg"); }),
            "bench: --svg needs a file name (e.g. --svg bench.svg)");
  EXPECT_EQ(error_of([] { check_trace_path(""); }),
            "--trace needs a file name (e.g. --trace run.json)");
}

// Each kind of bad output path gets its own message, and every kind of good one passes: a new
// file, a regular file (replaced), a link to a file or a FIFO (written through), in the working
// directory or another one.
TEST(BenchOutputs, EachBadPathHasItsOwnMessageAndGoodOnesPass) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-outputs-");
  auto trace_error = [](const std::string& path) {
    return error_of([&] { check_trace_path(path); });
  };
  const std::string d = dir.string();
  std::ofstream(dir / "file") << "x";
  fs::create_directory(dir / "sub");
  fs::create_symlink(dir / "sub", dir / "link-to-dir");
  fs::create_symlink(dir / "file", dir / "link-to-file");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);

  EXPECT_EQ(trace_error(d + "/missing/t.json"),
            "--trace " + d + "/missing/t.json: the directory " + d +
                "/missing does not exist (create it, or name a file in an existing directory)");
  EXPECT_EQ(trace_error(d + "/file/t.json"),
            "--trace " + d + "/file/t.json: the directory " + d +
                "/file does not exist (create it, or name a file in an existing directory)");
  EXPECT_EQ(
      trace_error(d + "/sub"),
      "--trace " + d + "/sub is a directory (name a file in it, e.g. " + d + "/sub/trace.json)");
  EXPECT_EQ(
      trace_error(d + "/sub/"),
      "--trace " + d + "/sub/ is a directory (name a file in it, e.g. " + d + "/sub/trace.json)");
  EXPECT_EQ(trace_error(d + "/link-to-dir"),
            "--trace " + d + "/link-to-dir is a directory (name a file in it, e.g. " + d +
                "/link-to-dir/trace.json)");
  EXPECT_EQ(trace_error("/"), "--trace / is a directory (name a file in it, e.g. /trace.json)");
  for (const std::string& good : {d + "/new.json", d + "/file", d + "/link-to-file", d + "/fifo",
                                  d + "/sub/new.json", std::string("relative-new.json")})
    EXPECT_EQ(trace_error(good), "no error") << good;
  EXPECT_FALSE(fs::exists("relative-new.json"));  // checked, not made
  fs::remove_all(dir);
}

// bench's --json and --svg naming one file: the chart would replace the JSON.
TEST(BenchOutputs, PathsToOneFileAreTheSameFile) {
  namespace fs = std::filesystem;
  const fs::path dir = empty_directory("nsrun-bench-same-");
  const RemovedAtEnd remove{dir};
  const std::string file = (dir / "out.json").string();
  EXPECT_TRUE(same_file(file, file));
  EXPECT_TRUE(same_file(file, (dir / "." / "sub" / ".." / "out.json").string()))
      << "not yet made, the same once lexically normal";
  EXPECT_FALSE(same_file(file, (dir / "out.svg").string()));
  std::ofstream(file) << "{}";
  fs::create_symlink(file, dir / "link.svg");
  fs::create_hard_link(file, dir / "hard.svg");
  EXPECT_TRUE(same_file(file, (dir / "link.svg").string()));
  EXPECT_TRUE(same_file((dir / "hard.svg").string(), file));
  const fs::path cwd = fs::current_path();
  fs::current_path(dir);
  EXPECT_TRUE(same_file("out.json", file)) << "relative to the working directory";
  fs::current_path(cwd);
}

TEST(BenchReport, AVariantsNameIsPrintableText) {
  auto name_error = [](const std::string& name) {
    return error_of([&] { check_variant_name(name); });
  };
  for (const char* name : {"overlay", "a b", "café", "x-1.2"})
    EXPECT_EQ(name_error(name), "no error");
  const std::string fix = " (label each variant with printable text, e.g. --name overlay)";
  EXPECT_EQ(name_error(""), "bench: --name \"\" is empty" + fix);
  EXPECT_EQ(name_error("x\x01y"), "bench: --name \"x\\x01y\" has a control character" + fix);
  EXPECT_EQ(name_error("tab\there"),
            "bench: --name \"tab\\x09here\" has a control character" + fix);
  EXPECT_EQ(name_error("c1\xc2\x85"), "bench: --name \"c1\xc2\x85\" has a control character" + fix);
  EXPECT_EQ(name_error("x\xffy"), "bench: --name \"x\\xffy\" is not UTF-8 text" + fix);
}

// Whatever a name or a kind holds, the chart is well-formed XML 1.0 (no forbidden character, valid
// UTF-8) and the JSON valid UTF-8.
TEST(BenchReport, TheSvgAndJsonStayWellFormedWhateverTheTextHolds) {
  BenchReport report = two_variants(0.01);
  report.variants[0].name = "x\x01y<&\"\xff";
  report.variants[1].stage_order = {"k\x02\xef\xbf\xbe", "core"};
  report.variants[1].stage_ms["k\x02\xef\xbf\xbe"] = report.variants[1].stage_ms["storage"];
  report.command = {"/bin/echo", "\xfe"};
  report.variants[1].args = {"--stage", "network=\xff"};
  const std::string svg = bench_svg(report);
  std::string replaced;
  EXPECT_EQ(valid_utf8(svg, replaced).data(), svg.data()) << "the SVG is UTF-8";
  for (char c : svg)
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 || c == '\n') << "a control character";
  EXPECT_EQ(svg.find("\xef\xbf\xbe"), std::string::npos) << "U+FFFE, which XML forbids";
  EXPECT_NE(svg.find(">x\xEF\xBF\xBDy&lt;&amp;&quot;\xEF\xBF\xBD</text>"), std::string::npos)
      << svg;
  boost::system::error_code ec;
  const auto json = boost::json::parse(boost::json::serialize(bench_json(report)), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(json.at("command").at(1), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace nsrun::core
