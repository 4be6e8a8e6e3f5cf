// End to end, as root: `nsrun run --trace FILE` (issue 12), and create, start and exec's. The
// trace is Chrome trace-event JSON with one span per stage and phase that ran, the container
// process's spans inside the host's clone-to-exec interval, a third-party stage traced with no
// code of its own, and bad input refused in one line before anything runs.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

struct Span {
  std::string name;
  int pid;
  double start, end;
};

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-trace-state-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-trace-work-");
  }
  void TearDown() override {
    if (!state_) return;
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
  }
  CommandResult run(const std::vector<std::string>& args) {
    return nsrun_run(args, state_->path(), "", 60, work_->path());
  }
  // The trace's complete spans, parsed (fails the test when the file is not a trace).
  std::vector<Span> spans(const std::string& path, boost::json::object* document = nullptr) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(read_text(path), ec);
    EXPECT_FALSE(ec) << "not JSON: " << ec.message();
    if (ec || !parsed.is_object()) return {};
    if (document) *document = parsed.as_object();
    std::vector<Span> out;
    for (const auto& event : parsed.at("traceEvents").as_array()) {
      const auto& e = event.as_object();
      if (e.at("ph") != "X") continue;
      double start = e.at("ts").to_number<double>();
      out.push_back({std::string(e.at("name").as_string()),
                     static_cast<int>(e.at("pid").to_number<std::int64_t>()), start,
                     start + e.at("dur").to_number<double>()});
    }
    return out;
  }
  std::unique_ptr<TempDir> state_, work_;
};

const std::vector<std::string> default_plugins{"nsrun.namespaces", "nsrun.cgroups",
                                               "nsrun.storage",    "nsrun.network.none",
                                               "nsrun.security",   "nsrun.exec"};

TEST_F(TraceTest, OneSpanPerStageAndPhaseWithTheContainersInsideCloneToExec) {
  const std::string trace = work_->path() + "/run.json";
  auto r = run({"--network", "none", "--trace", trace, "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "tracing prints nothing";
  boost::json::object document;
  auto all = spans(trace, &document);
  std::map<std::pair<std::string, int>, int> count;
  for (const auto& span : all) ++count[{span.name, span.pid}];
  for (const auto& plugin : default_plugins) {
    for (const char* phase : {"validate", "prepare", "create_runtime", "poststart", "teardown"})
      EXPECT_EQ((count[{plugin + ": " + phase, 1}]), 1) << plugin << " " << phase << " (host)";
    for (const char* phase : {"create_container", "start_container"})
      EXPECT_EQ((count[{plugin + ": " + phase, 2}]), 1) << plugin << " " << phase << " (container)";
  }
  const Span* exec_wait = nullptr;
  const Span* clone = nullptr;
  for (const auto& span : all) {
    if (span.name == "core: wait for the container to exec") exec_wait = &span;
    if (span.name == "core: clone") clone = &span;
    EXPECT_LE(span.start, span.end) << span.name;
  }
  ASSERT_TRUE(exec_wait && clone);
  for (const auto& span : all) {
    if (span.pid != 2 || span.name == "workload") continue;
    EXPECT_GE(span.start, clone->start) << span.name << " starts before the clone";
    EXPECT_LE(span.end, exec_wait->end + 1) << span.name << " ends after the host saw the exec";
  }
  // What a stage did is in its span: the storage stage's mounts.
  bool mounts_named = false;
  for (const auto& event : document.at("traceEvents").as_array()) {
    const auto& e = event.as_object();
    if (e.at("name") != "nsrun.storage: create_container") continue;
    const auto* args = e.if_contains("args");
    ASSERT_TRUE(args) << "the storage stage's span says what it mounted";
    for (const auto& line : args->as_object().at("log").as_array())
      mounts_named |= line.as_string() == "storage: mount proc on /proc";
  }
  EXPECT_TRUE(mounts_named);
  const auto& info = document.at("otherData").as_object();
  EXPECT_TRUE(info.contains("kernel") && info.contains("cpus") && info.contains("nsrun") &&
              info.contains("cgroup") && info.contains("command"));
}

TEST_F(TraceTest, AThirdPartyStageIsTracedWithNoCodeOfItsOwn) {
  auto pipeline = boost::json::parse(read_text(NSRUN_DEFAULT_PIPELINE)).as_object();
  pipeline.at("stages").as_array().emplace(
      pipeline.at("stages").as_array().end() - 1,
      boost::json::object{{"kind", "test"}, {"plugin", "test.good"}, {"config", {}}});
  const std::string pipeline_file = work_->path() + "/pipeline.json";
  std::ofstream(pipeline_file) << boost::json::serialize(pipeline);
  const std::string trace = work_->path() + "/run.json";
  auto r = test::run({nsrun_binary(), "--root", state_->path(), "--plugin-dir",
                      NSRUN_FIXTURE_PLUGIN_DIR2, "run", "--rootfs", busybox_rootfs(), "--pipeline",
                      pipeline_file, "--network", "none", "--trace", trace, "/bin/true"},
                     "", 60, work_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::multiset<std::string> names;
  auto all = spans(trace);
  for (const auto& span : all) names.insert(span.name);
  for (const char* phase : {"validate", "prepare", "create_runtime", "create_container",
                            "start_container", "poststart", "teardown"})
    EXPECT_EQ(names.count(std::string("test.good: ") + phase), 1U) << phase;
  // And a span of its own (SDK 2.4: TraceScope), inside its prepare's.
  const Span *own = nullptr, *prepare = nullptr;
  for (const auto& span : all) {
    if (span.name == "test.good: a step of its own") own = &span;
    if (span.name == "test.good: prepare") prepare = &span;
  }
  ASSERT_TRUE(own && prepare);
  EXPECT_GE(own->start, prepare->start);
  EXPECT_LE(own->end, prepare->end);
}

TEST_F(TraceTest, BadTracePathsAreOneLineBeforeAnything) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string missing = work_->path() + "/no/such/dir/run.json";
  const Case cases[] = {
      {{"--trace", missing, "/bin/true"},
       "--trace " + missing + ": the directory " + work_->path() +
           "/no/such/dir does not exist (create it, or name a file in an existing directory)"},
      {{"--trace", work_->path(), "/bin/true"},
       "--trace " + work_->path() + " is a directory (name a file in it, e.g. " + work_->path() +
           "/trace.json)"},
      // Given empty (an unset shell variable): refused, where it was taken for not given.
      {{"--trace", "", "/bin/true"}, "--trace needs a file name (e.g. --trace run.json)"},
  };
  for (const auto& c : cases) {
    auto r = run(c.args);
    EXPECT_EQ(r.exit_code, 125) << c.message;
    EXPECT_EQ(r.err, "nsrun: " + c.message + "\n");
    EXPECT_TRUE(delete_every_container(state_->path()).empty());
    EXPECT_FALSE(fs::exists(work_->path() + "/t.json"));
  }
}

// A trace to a device is written into it, as a shell's `>` writes: `--trace /dev/null` had
// replaced the host's /dev/null with a regular file. A null device of the test's own stands in.
TEST_F(TraceTest, ATraceToADeviceIsWrittenIntoItNotOverIt) {
  const std::string null_device = work_->path() + "/null";
  ASSERT_EQ(::mknod(null_device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)), 0) << errno;
  auto r = run({"--network", "none", "--trace", null_device, "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::lstat(null_device.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(1, 3));
}

// Detached, the supervisor runs the container to its end and writes the trace then, from the
// path as given (relative to where `run -d` ran), with the workload and the teardown in it.
TEST_F(TraceTest, ADetachedRunsSupervisorWritesTheTraceWhenTheContainerEnds) {
  auto r = run({"-d", "--rm", "--network", "none", "--trace", "detached.json", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string trace = work_->path() + "/detached.json";
  // Complete once it parses: the supervisor creates the file, then writes it.
  auto complete = [&] {
    boost::system::error_code ec;
    return fs::exists(trace) && (boost::json::parse(read_text(trace), ec), !ec);
  };
  for (int i = 0; i < 1000 && !complete(); ++i) ::usleep(10000);
  ASSERT_TRUE(complete()) << "the supervisor wrote no trace in 10 s";
  std::multiset<std::string> names;
  for (const auto& span : spans(trace)) names.insert(span.name);
  EXPECT_EQ(names.count("nsrun.storage: validate"), 1U);
  EXPECT_EQ(names.count("nsrun.storage: create_container"), 1U);
  EXPECT_EQ(names.count("workload"), 1U);
  EXPECT_EQ(names.count("nsrun.storage: teardown"), 1U);
  EXPECT_EQ(names.count("core: the container's lifecycle"), 1U);
}

// A run that fails still leaves its trace: where it failed is what a reader wants to see.
TEST_F(TraceTest, AFailedRunStillWritesItsTrace) {
  const std::string trace = work_->path() + "/run.json";
  auto r = run({"--network", "none", "--trace", trace, "/no/such/command"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  bool validate_seen = false;
  for (const auto& span : spans(trace)) validate_seen |= span.name == "nsrun.exec: validate";
  EXPECT_TRUE(validate_seen);
}

// A stage that fails in the container process: the trace has that process's spans up to the
// failed call, marked failed, with its messages. And the exec stage failing (no such command)
// ends its span at the failure, marked failed, where it had no length.
TEST_F(TraceTest, AFailureInTheContainerProcessIsInTheTraceMarkedFailed) {
  for (const char* phase : {"create_container", "start_container"}) {
    SCOPED_TRACE(phase);
    auto pipeline = boost::json::parse(read_text(NSRUN_DEFAULT_PIPELINE)).as_object();
    pipeline.at("stages").as_array().emplace(
        pipeline.at("stages").as_array().end() - 1,
        boost::json::object{
            {"kind", "test"}, {"plugin", "test.good"}, {"config", {{"fail_in", phase}}}});
    const std::string pipeline_file = work_->path() + "/pipeline.json";
    std::ofstream(pipeline_file) << boost::json::serialize(pipeline);
    const std::string trace = work_->path() + "/" + phase + ".json";
    auto r =
        test::run({nsrun_binary(), "--root", state_->path(), "--plugin-dir",
                   NSRUN_FIXTURE_PLUGIN_DIR2, "run", "--rootfs", busybox_rootfs(), "--pipeline",
                   pipeline_file, "--network", "none", "--trace", trace, "/bin/true"},
                  "", 60, work_->path());
    ASSERT_EQ(r.exit_code, 125) << r.err;
    EXPECT_NE(r.err.find(std::string("asked to fail in ") + phase), std::string::npos) << r.err;
    boost::json::object document;
    spans(trace, &document);
    const boost::json::object* failed = nullptr;
    int container_spans = 0;
    for (const auto& event : document.at("traceEvents").as_array()) {
      const auto& e = event.as_object();
      if (e.at("ph") != "X" || e.at("pid").to_number<int>() != 2) continue;
      ++container_spans;
      if (e.at("name").as_string() == std::string("test.good: ") + phase) failed = &e;
    }
    EXPECT_GE(container_spans, 3);
    ASSERT_TRUE(failed) << "no container-side span of the failed call";
    const auto& args = failed->at("args").as_object();
    EXPECT_EQ(args.at("failed"), true);
    EXPECT_NE(std::string_view(args.at("log").as_array().back().as_string())
                  .find(std::string("failing in ") + phase + " as asked"),
              std::string_view::npos);
  }
}

TEST_F(TraceTest, AnExecThatFailsEndsItsSpanAtTheFailureMarkedFailed) {
  // Executable, found, and no format the kernel runs: only the execve tells (ENOEXEC). The
  // working directory is the container's /app.
  const std::string program = work_->path() + "/not-a-program";
  std::ofstream(program) << "neither ELF nor #!\n";
  ::chmod(program.c_str(), 0755);
  const std::string trace = work_->path() + "/run.json";
  auto r = run({"--network", "none", "--trace", trace, "/app/not-a-program"});
  ASSERT_EQ(r.exit_code, 126) << r.err;
  boost::json::object document;
  spans(trace, &document);
  int exec_spans = 0;
  for (const auto& event : document.at("traceEvents").as_array()) {
    const auto& e = event.as_object();
    if (e.at("ph") != "X" || e.at("name") != "nsrun.exec: start_container") continue;
    ++exec_spans;
    EXPECT_GT(e.at("dur").to_number<double>(), 0.0);
    ASSERT_TRUE(e.contains("args"));
    EXPECT_EQ(e.at("args").at("failed"), true);
  }
  EXPECT_EQ(exec_spans, 1);
}

// The OCI commands trace their own part: create up to the created process (its
// create_container spans included), start from the release to the workload's exec, exec its
// phases on both sides and the command.
TEST_F(TraceTest, CreateStartAndExecEachTraceTheirPart) {
  // The container process outlives create; as an engine's shim, the test adopts and reaps it.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct Reaper {
    ~Reaper() {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    }
  } reaper;
  const std::string bundle = work_->path() + "/bundle";
  fs::create_directory(bundle);
  std::ofstream(bundle + "/config.json") << R"({"ociVersion": "1.0.2",
      "process": {"args": ["sleep", "30"], "env": ["PATH=/bin"], "cwd": "/"},
      "root": {"path": ")" << busybox_rootfs()
                                         << R"("},
      "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
      "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]}})";
  const std::string nsrun = shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path());
  const std::string quiet = " </dev/null >" + shell_quote(work_->path() + "/out") + " 2>&1";
  auto r = sh(nsrun + " create --trace " + shell_quote(work_->path() + "/create.json") +
                  " --bundle " + shell_quote(bundle) + " c1" + quiet,
              30);
  ASSERT_EQ(r.exit_code, 0) << read_text(work_->path() + "/out");
  r = sh(nsrun + " start --trace " + shell_quote(work_->path() + "/start.json") + " c1" + quiet,
         30);
  ASSERT_EQ(r.exit_code, 0) << read_text(work_->path() + "/out");
  r = sh(nsrun + " exec --trace " + shell_quote(work_->path() + "/exec.json") + " c1 true" + quiet,
         30);
  ASSERT_EQ(r.exit_code, 0) << read_text(work_->path() + "/out");

  auto counts = [&](const std::string& file) {
    std::map<std::pair<std::string, int>, int> count;
    for (const auto& span : spans(work_->path() + "/" + file)) {
      EXPECT_LE(span.start, span.end) << file << ": " << span.name;
      ++count[{span.name, span.pid}];
    }
    return count;
  };
  auto create = counts("create.json"), start = counts("start.json"), exec = counts("exec.json");
  for (const auto& plugin : default_plugins) {
    for (const char* phase : {"validate", "prepare", "create_runtime"}) {
      EXPECT_EQ((create[{plugin + ": " + phase, 1}]), 1) << "create: " << plugin << " " << phase;
      EXPECT_EQ((start[{plugin + ": " + phase, 1}]), 0) << "start: " << plugin << " " << phase;
    }
    EXPECT_EQ((create[{plugin + ": create_container", 2}]), 1) << "create: " << plugin;
    EXPECT_EQ((create[{plugin + ": start_container", 2}]), 0) << "create: " << plugin;
    EXPECT_EQ((start[{plugin + ": start_container", 2}]), 1) << "start: " << plugin;
    EXPECT_EQ((start[{plugin + ": create_container", 2}]), 0) << "start: " << plugin;
    for (const char* phase : {"exec_prepare", "exec_runtime"})
      EXPECT_EQ((exec[{plugin + ": " + phase, 1}]), 1) << "exec: " << plugin << " " << phase;
    EXPECT_EQ((exec[{plugin + ": exec_container", 2}]), 1) << "exec: " << plugin;
  }
  EXPECT_EQ((create[{"core: create", 1}]), 1);
  EXPECT_EQ((start[{"core: release the container process, wait for its exec", 1}]), 1);
  EXPECT_EQ((exec[{"core: wait for the command to exec", 1}]), 1);
  EXPECT_EQ((exec[{"command", 2}]), 1);

  EXPECT_EQ(sh(nsrun + " delete --force c1" + quiet, 30).exit_code, 0)
      << read_text(work_->path() + "/out");
}

TEST_F(TraceTest, CreateStartAndExecRefuseABadTracePathBeforeAnything) {
  const std::string missing = work_->path() + "/no/such/dir/t.json";
  const std::string message = "nsrun: --trace " + missing + ": the directory " + work_->path() +
                              "/no/such/dir does not exist (create it, or name a file in an "
                              "existing directory)\n";
  for (const auto& [path, expected] :
       {std::pair{missing, message},
        std::pair{std::string(), std::string("nsrun: --trace needs a file name (e.g. --trace "
                                             "run.json)\n")}}) {
    for (const auto& command :
         std::vector<std::vector<std::string>>{{"create", "--trace", path, "--bundle", "/", "c2"},
                                               {"start", "--trace", path, "c2"},
                                               {"exec", "--trace", path, "c2", "true"}}) {
      std::vector<std::string> argv{nsrun_binary(), "--root", state_->path()};
      argv.insert(argv.end(), command.begin(), command.end());
      auto r = test::run(argv, "", 30);
      EXPECT_EQ(r.exit_code, 125) << command[0];
      EXPECT_EQ(r.err, expected) << command[0];
    }
  }
  EXPECT_TRUE(fs::is_empty(state_->path()));
}

// A stage's message and nsrun's command line may hold bytes of no encoding (here the message of
// a stage in the container process, and the trace's own file name): the trace is still JSON,
// which a strict parser reads, each such byte U+FFFD.
TEST_F(TraceTest, TextThatIsNotUtf8IsWrittenAsValidUtf8) {
  auto pipeline = boost::json::parse(read_text(NSRUN_DEFAULT_PIPELINE)).as_object();
  pipeline.at("stages").as_array().emplace(
      pipeline.at("stages").as_array().end() - 1,
      boost::json::object{
          {"kind", "test"}, {"plugin", "test.good"}, {"config", {{"log_bytes", true}}}});
  const std::string pipeline_file = work_->path() + "/pipeline.json";
  std::ofstream(pipeline_file) << boost::json::serialize(pipeline);
  const std::string trace = work_->path() + "/run-\xff.json";
  auto r = test::run({nsrun_binary(), "--root", state_->path(), "--plugin-dir",
                      NSRUN_FIXTURE_PLUGIN_DIR2, "run", "--rootfs", busybox_rootfs(), "--pipeline",
                      pipeline_file, "--network", "none", "--trace", trace, "/bin/true"},
                     "", 60, work_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::object document;
  spans(trace, &document);  // fails the test when a strict parser refuses it
  const std::string fffd = "\xEF\xBF\xBD";
  bool message_seen = false;
  for (const auto& event : document.at("traceEvents").as_array()) {
    const auto& e = event.as_object();
    if (e.at("name") != "test.good: create_container") continue;
    for (const auto& line : e.at("args").at("log").as_array())
      message_seen |= line.as_string() == "test: bytes " + fffd + fffd + " of no encoding";
  }
  EXPECT_TRUE(message_seen);
  bool path_seen = false;
  for (const auto& arg : document.at("otherData").at("command").as_array())
    path_seen |= arg.as_string() == work_->path() + "/run-" + fffd + ".json";
  EXPECT_TRUE(path_seen);
}

}  // namespace
}  // namespace nsrun::test
