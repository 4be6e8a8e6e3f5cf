// End to end, as root: `nsrun bench` (issue 12) with two variants writes its table, a JSON of
// the documented schema and an SVG that parses as XML and names both; bad input is one line
// before any run (or, for a command that fails, names the variant and stops).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-bench-state-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-bench-work-");
  }
  void TearDown() override {
    if (!state_) return;
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
  }
  std::vector<std::string> bench_argv(const std::vector<std::string>& args) {
    // The fixture plugins' directory too: a variant may run test.good.
    std::vector<std::string> argv{
        nsrun_binary(), "--root",   state_->path(),  "--plugin-dir", NSRUN_FIXTURE_PLUGIN_DIR2,
        "bench",        "--rootfs", busybox_rootfs()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult bench(const std::vector<std::string>& args) {
    return run(bench_argv(args), "", 120, work_->path());
  }
  // The default pipeline with test.good before the exec stage, its config `config`, the network
  // stage none; its path.
  std::string pipeline_with_test_stage(const boost::json::object& config,
                                       const std::string& kind = "test") {
    auto pipeline = boost::json::parse(read_text(NSRUN_DEFAULT_PIPELINE)).as_object();
    auto& stages = pipeline.at("stages").as_array();
    for (auto& stage : stages)
      if (stage.at("kind") == "network") stage.as_object()["plugin"] = "nsrun.network.none";
    stages.emplace(
        stages.end() - 1,
        boost::json::object{{"kind", kind}, {"plugin", "test.good"}, {"config", config}});
    const std::string path = work_->path() + "/pipeline-" + kind + ".json";
    std::ofstream(path) << boost::json::serialize(pipeline);
    return path;
  }
  // The containers under the state root (nsrun's own stores, named _*, aside).
  std::vector<std::string> containers() {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(state_->path()))
      if (entry.path().filename().string().front() != '_') out.push_back(entry.path().filename());
    return out;
  }
  std::unique_ptr<TempDir> state_, work_;
};

TEST_F(BenchTest, TwoVariantsGiveATableAJsonAndAnSvg) {
  const std::string json = work_->path() + "/bench.json", svg = work_->path() + "/bench.svg";
  auto r = bench({"--runs",   "3",
                  "--warmup", "1",
                  "--json",   json,
                  "--svg",    svg,
                  "--name",   "none",
                  "--stage",  "network=nsrun.network.none",
                  "--name",   "overlay",
                  "--stage",  "network=nsrun.network.none",
                  "--stage",  "storage=nsrun.storage.overlay",
                  "--",       "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "no progress bar when stderr is not a terminal";
  EXPECT_NE(r.out.find("variant"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nnone "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\noverlay "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("median ms per stage"), std::string::npos) << r.out;

  auto document = boost::json::parse(read_text(json)).as_object();
  EXPECT_EQ(document.at("schema"), "nsrun-bench/4");
  EXPECT_EQ(document.at("runs"), 3);
  EXPECT_EQ(document.at("warmup"), 1);
  EXPECT_EQ(document.at("command"), boost::json::array{"/bin/true"});
  for (const char* key : {"kernel", "cpu", "cpus", "cgroup", "nsrun"})
    EXPECT_TRUE(document.at("machine").as_object().contains(key)) << key;
  const auto& variants = document.at("variants").as_array();
  ASSERT_EQ(variants.size(), 2U);
  for (const auto& value : variants) {
    const auto& v = value.as_object();
    EXPECT_EQ(v.at("wall_ms").at("samples").as_array().size(), 3U);
    for (const char* key : {"median", "p95", "min", "max"})
      EXPECT_GT(v.at("wall_ms").at(key).to_number<double>(), 0) << key;
    EXPECT_TRUE(v.at("stages_ms").as_object().contains("storage"));
    for (const char* bucket : {"core.startup", "core.clone", "core.state", "workload", "core"})
      EXPECT_TRUE(v.at("stages_ms").as_object().contains(bucket)) << bucket;
    EXPECT_GT(v.at("stages_ms").at("core.startup").at("median").to_number<double>(), 0);
    EXPECT_GT(v.at("stages_ms").at("workload").at("median").to_number<double>(), 0);
    EXPECT_TRUE(v.at("pipeline").as_object().contains("stages"));
    const auto& ratio = v.at("ratio_to_first").as_object();
    EXPECT_LE(ratio.at("ci95_low").to_number<double>(), ratio.at("value").to_number<double>());
  }
  EXPECT_EQ(variants[1].at("args"),
            (boost::json::array{"--stage", "network=nsrun.network.none", "--stage",
                                "storage=nsrun.storage.overlay"}));
  // The SVG parses as XML (xmllint, or python's parser) and names both variants.
  auto parsed = run(
      {"python3", "-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", svg});
  EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
  const std::string chart = read_text(svg);
  EXPECT_NE(chart.find(">none</text>"), std::string::npos);
  EXPECT_NE(chart.find(">overlay</text>"), std::string::npos);
}

// Trace on against off, as issue 12 measures what tracing costs: the untraced variant is timed
// only (no stages, no trace read), the traced one as always, and both have a paired difference.
TEST_F(BenchTest, AnUntracedVariantIsTimedWithoutATrace) {
  const std::string json = work_->path() + "/bench.json";
  auto r = bench({"--runs", "3", "--warmup", "0", "--json", json, "--name", "off", "--stage",
                  "network=nsrun.network.none", "--untraced", "--name", "on", "--stage",
                  "network=nsrun.network.none", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("+ms paired (95% CI)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("off: untraced (timed only), so no stages"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Every run is traced"), std::string::npos) << r.out;
  auto document = boost::json::parse(read_text(json)).as_object();
  for (const char* key : {"kernel", "cpu", "cpus", "cgroup", "nsrun"})
    EXPECT_TRUE(document.at("machine").as_object().contains(key)) << key;
  const auto& variants = document.at("variants").as_array();
  ASSERT_EQ(variants.size(), 2U);
  EXPECT_EQ(variants[0].at("traced"), false);
  EXPECT_TRUE(variants[0].at("stages_ms").as_object().empty());
  EXPECT_EQ(variants[0].at("wall_ms").at("samples").as_array().size(), 3U);
  EXPECT_EQ(variants[1].at("traced"), true);
  EXPECT_TRUE(variants[1].at("stages_ms").as_object().contains("exec"));
  EXPECT_TRUE(variants[1].at("paired_difference_ms").as_object().contains("ci95_high"));
  EXPECT_EQ(variants[0].at("args"), (boost::json::array{"--stage", "network=nsrun.network.none"}));
}

TEST_F(BenchTest, BadInputIsOneLineAndNothingRuns) {
  const std::string two[] = {"--name", "a", "--name", "b", "--stage", "network=nsrun.network.none"};
  auto with = [&](std::vector<std::string> args, bool variants = true) {
    std::vector<std::string> out = args;
    if (variants) out.insert(out.begin(), std::begin(two), std::end(two));
    return out;
  };
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {with({"--runs", "0", "--", "/bin/true"}),
       "bench: --runs 0 must be a whole number from 1 to 100000"},
      {{"--name", "only", "--", "/bin/true"},
       "bench: give at least two variants to compare (e.g. --name default --name none --stage "
       "network=nsrun.network.none)"},
      // No word before the --: CLI11 once took the command for one of nsrun's own arguments.
      {{"--untraced", "--", "/bin/true"},
       "bench: give at least two variants to compare (e.g. --name default --name none --stage "
       "network=nsrun.network.none)"},
      {{"--name", "a", "--name", "b", "--stage", "network=nsrun.network.nope", "--", "/bin/true"},
       "bench: variant b: "},
      {{"--name", "a", "--name", "b", "--pipeline", "/no/such/pipeline.json", "--", "/bin/true"},
       "bench: variant b: "},
      {with({"--json", "/no/such/dir/out.json", "--", "/bin/true"}),
       "bench: --json /no/such/dir/out.json: the directory /no/such/dir does not exist (create "
       "it, or name a file in an existing directory)"},
      // Given empty (an unset shell variable): refused, where it was taken for not given.
      {with({"--json", "", "--", "/bin/true"}),
       "bench: --json needs a file name (e.g. --json bench.json)"},
      {with({"--svg", "", "--", "/bin/true"}),
       "bench: --svg needs a file name (e.g. --svg bench.svg)"},
      // One file for both: the chart replaced the JSON.
      {with({"--json", "out.json", "--svg", "./out.json", "--", "/bin/true"}),
       "bench: --json out.json and --svg ./out.json are the same file: the chart would replace "
       "the JSON (give each its own name, e.g. --json bench.json --svg bench.svg)"},
      {{"--name", "", "--name", "b", "--", "/bin/true"},
       "bench: --name \"\" is empty (label each variant with printable text, e.g. --name "
       "overlay)"},
      {{"--name", "x\x01y", "--name", "b", "--", "/bin/true"},
       "bench: --name \"x\\x01y\" has a control character (label each variant with printable "
       "text, e.g. --name overlay)"},
      // A stage of a kind that names nsrun's own time: its time and nsrun's would be one number.
      {{"--name", "a", "--name", "b", "--pipeline", pipeline_with_test_stage({}, "workload"), "--",
        "/bin/true"},
       "bench: variant b: " + work_->path() +
           "/pipeline-workload.json: stages[5].kind \"workload\" is reserved: core, core.* and "
           "workload name nsrun's own time beside the stages' (name the slot after what its "
           "stage does, e.g. \"audit\")"},
      {with({"/bin/true"}),
       "bench: \"/bin/true\": the command goes after -- (e.g. nsrun bench --name a --name b "
       "--stage network=nsrun.network.none -- /bin/true)"},
      {with({}),
       "bench: no command to run (end the flags with --, e.g. nsrun bench --name a --name b "
       "--stage network=nsrun.network.none -- /bin/true)"},
  };
  for (const auto& c : cases) {
    auto r = bench(c.args);
    EXPECT_EQ(r.exit_code, 125) << c.message;
    EXPECT_TRUE(r.err.starts_with("nsrun: " + c.message)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_TRUE(delete_every_container(state_->path()).empty());
  EXPECT_FALSE(fs::exists(work_->path() + "/out.json"));
}

TEST_F(BenchTest, ACommandThatFailsInOneVariantIsNamedAndStops) {
  // A command the rootfs does not have: the first variant to run it fails, and bench stops.
  auto r = bench({"--runs", "2", "--warmup", "0", "--name", "good", "--stage",
                  "network=nsrun.network.none", "--name", "bad", "--stage",
                  "network=nsrun.network.none", "--", "/no/such/command"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_TRUE(r.err.starts_with("nsrun: bench: variant ")) << r.err;
  EXPECT_NE(r.err.find(": the command failed (exit 127)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "nothing reported";
}

// A run whose teardown failed keeps its state for a retry and exits with the workload's code
// (0, as runc does): bench took it for a good run and left a state directory per run. It is a
// failed run: bench names the variant, deletes what the run left, and stops.
TEST_F(BenchTest, ARunThatLeavesItsStateBehindFailsAndBenchDeletesIt) {
  const std::string pipeline = pipeline_with_test_stage({{"fail_in", "teardown"}});
  auto r = bench({"--runs", "3", "--warmup", "0", "--name", "good", "--stage",
                  "network=nsrun.network.none", "--name", "td", "--pipeline", pipeline, "--",
                  "/bin/true"});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_TRUE(r.err.starts_with("nsrun: bench: variant td: its run left its state directory " +
                                state_->path() + "/"))
      << r.err;
  EXPECT_NE(r.err.find(" behind (test: asked to fail in teardown); nsrun delete --force "),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.err.ends_with(" removed it; nothing reported\n")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.out, "") << "nothing reported";
  EXPECT_TRUE(containers().empty()) << "left: " << containers().front();
}

// Text that is not UTF-8 in a run's trace (a stage's message, the command line: here a pipeline
// file's name) made the trace invalid JSON, and bench fail on its own scratch file. The trace
// now replaces each bad byte with U+FFFD, and bench's JSON is valid too.
TEST_F(BenchTest, TextThatIsNotUtf8LeavesTheTraceAndTheReportValid) {
  const std::string pipeline = pipeline_with_test_stage({{"log_bytes", true}});
  const std::string odd_name = work_->path() + "/pipeline-\xff\xfe.json";
  fs::rename(pipeline, odd_name);
  const std::string json = work_->path() + "/bench.json";
  auto r = bench({"--runs", "1", "--warmup", "0", "--json", json, "--name", "a", "--stage",
                  "network=nsrun.network.none", "--name", "tr", "--pipeline", odd_name, "--",
                  "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::system::error_code ec;
  auto document = boost::json::parse(read_text(json), ec);  // refuses text that is not UTF-8
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(document.at("variants").at(1).at("args").at(1).as_string(),
            work_->path() + "/pipeline-\xEF\xBF\xBD\xEF\xBF\xBD.json");
  EXPECT_TRUE(document.at("variants").at(1).at("stages_ms").as_object().contains("test"));
}

// SIGINT, SIGTERM or SIGHUP: bench passed it on to nobody, and left its scratch directory and the
// run in flight. The run now gets it, bench waits for it (killing its container if the workload
// ignores it, as `sleep` as PID 1 does), removes its scratch directory and exits 128+N.
TEST_F(BenchTest, AStopSignalEndsTheRunInFlightAndLeavesNothing) {
  // The scratch directories of this test's bench: named in its runs' command lines (their
  // --trace), which name the test's state root too. Another test's bench, running alongside
  // (ctest -j), has scratch directories of its own that come and go meanwhile.
  auto scratch_dirs_of_runs = [this] {
    std::set<std::string> dirs;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      std::string cmdline = read_text(entry.path().string() + "/cmdline");
      if (cmdline.find(state_->path()) == std::string::npos) continue;
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      for (const char* base : {"/dev/shm/nsrun-bench-", "/tmp/nsrun-bench-"})
        if (auto at = cmdline.find(base); at != std::string::npos)
          dirs.insert(cmdline.substr(at, cmdline.find('/', at + std::strlen(base)) - at));
    }
    return dirs;
  };
  for (int signal : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(signal);
    BackgroundProcess bench_process(bench_argv(
        {"--runs", "5", "--warmup", "0", "--name", "a", "--stage", "network=nsrun.network.none",
         "--name", "b", "--stage", "network=nsrun.network.none", "--", "sleep", "60"}));
    // Until a run's container is up.
    for (int i = 0; i < 500 && containers().empty(); ++i) ::usleep(10000);
    ASSERT_FALSE(containers().empty()) << "no run started in 5 s";
    ::usleep(300000);
    const std::set<std::string> scratch = scratch_dirs_of_runs();
    EXPECT_FALSE(scratch.empty()) << "no run names a scratch directory";
    for (const auto& dir : scratch) EXPECT_TRUE(fs::is_directory(dir)) << dir;
    const auto sent = std::chrono::steady_clock::now();
    ::kill(bench_process.pid(), signal);
    EXPECT_EQ(bench_process.wait(), 128 + signal);
    EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(20));
    for (const auto& dir : scratch) EXPECT_FALSE(fs::exists(dir)) << "left behind: " << dir;
    EXPECT_TRUE(containers().empty()) << "left: " << containers().front();
    // No process of the runs: each had the state root on its command line.
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string cmdline = read_text(entry.path().string() + "/cmdline");
      EXPECT_EQ(cmdline.find(state_->path()), std::string::npos)
          << "a process left: " << entry.path();
    }
  }
}

}  // namespace
}  // namespace nsrun::test
