// The orchestrator with fake stages: phase order, reverse teardown, failures at every point.
// Runs without root: the fake spec asks for no namespaces, so the container process is a plain
// child process.
#include "nsrun/core/orchestrator.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "nsrun/plugin.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

void append_line(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const std::string text = line + "\n";
  ssize_t ignored = ::write(fd, text.data(), text.size());
  (void)ignored;
  ::close(fd);
}

// A thread a stage starts against the rules (joined by the test that asks for it).
std::thread stray_thread;

// Appends "<kind>:<phase>" to the file named by its config, from whichever process runs it.
class FakeStage final : public IStage {
 public:
  void validate(Context& ctx) override { step(ctx, Phase::validate); }
  void prepare(Context& ctx) override {
    step(ctx, Phase::prepare);
    if (const auto* hostname = ctx.config.if_contains("set_hostname"))
      ctx.spec.hostname = std::string(hostname->as_string());
    if (ctx.config.contains("start_thread"))
      stray_thread =
          std::thread([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
  }
  void create_runtime(Context& ctx) override {
    if (ctx.pid <= 0) throw StageError("create_runtime without a pid");
    // Waits on an event, never on a guess of how long something takes: a release that comes
    // too late fails the test with the bound's error instead of passing by luck.
    if (const auto* event = ctx.config.if_contains("runtime_waits_for"))
      wait_until(
          [&] {
            return text_of(std::string(ctx.config.at("log").as_string()))
                       .find(event->as_string()) != std::string::npos;
          },
          "the event " + std::string(event->as_string()));
    if (ctx.config.contains("runtime_waits_for_container_exit"))
      wait_until([&] { return process_state(ctx.pid) == 'Z'; }, "the container process's exit");
    if (const auto* ms = ctx.config.if_contains("runtime_sleep_ms"))
      std::this_thread::sleep_for(std::chrono::milliseconds(ms->as_int64()));
    step(ctx, Phase::create_runtime);
  }
  void create_container(Context& ctx) override {
    step(ctx, Phase::create_container);
    if (ctx.config.contains("die_in_create_container")) ::raise(SIGKILL);
  }
  void start_container(Context& ctx) override {
    step(ctx, Phase::start_container);
    if (const auto* code = ctx.config.if_contains("exec_exit")) {
      std::string script = "exit " + std::to_string(code->as_int64());
      ::execl("/bin/sh", "sh", "-c", script.c_str(), nullptr);
      throw StageError("cannot exec /bin/sh", 126);
    }
  }
  void poststart(Context& ctx) override { step(ctx, Phase::poststart); }
  void teardown(Context& ctx) override { step(ctx, Phase::teardown); }

 private:
  static char process_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
  }
  template <typename Condition>
  static void wait_until(Condition done, const std::string& what) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw StageError("create_runtime waited 10 s for " + what);
  }

  static void step(Context& ctx, Phase phase) {
    std::string kind(ctx.config.at("kind").as_string());
    if (const auto* calls = ctx.config.if_contains("calls"))
      append_line(std::string(calls->as_string()),
                  kind + ":" + phase_name(phase) + " sees hostname " + ctx.spec.hostname);
    std::string line = kind + ":" + phase_name(phase) + "\n";
    int fd = ::open(std::string(ctx.config.at("log").as_string()).c_str(),
                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ssize_t ignored = ::write(fd, line.data(), line.size());
      (void)ignored;
      ::close(fd);
    }
    if (const auto* fail = ctx.config.if_contains("fail_in");
        fail && fail->as_string() == phase_name(phase)) {
      int code = 125;
      if (const auto* c = ctx.config.if_contains("fail_code"))
        code = static_cast<int>(c->as_int64());
      throw StageError(kind + " failed on purpose", code);
    }
  }
};

constexpr const char* fake_claims[] = {"process", nullptr};

// The C entry of a stage whose config names a "calls" file: logs "<kind>:<phase>@<spec revision>"
// there, then calls the C++ face. With "garble_spec_after_final", every call after the stage was
// handed the final spec carries spec text no parser reads, under the same revision: the stage
// must work from what it read when handed it.
int recording_invoke(void* instance, const nsrun_call* call, const nsrun_host* host) noexcept {
  nsrun_call forwarded = *call;
  try {
    const auto config = boost::json::parse(call->config_json).as_object();
    const auto phase = static_cast<Phase>(call->phase);
    append_line(std::string(config.at("calls").as_string()),
                std::string(config.at("kind").as_string()) + ":" + phase_name(phase) + "@" +
                    std::to_string(call->spec_revision));
    if (config.contains("garble_spec_after_final") && phase != Phase::validate &&
        phase != Phase::prepare && phase != Phase::spec_final && phase != Phase::teardown)
      forwarded.spec_json = "not a spec";
  } catch (...) {
    return 1;
  }
  return detail::invoke_stage(instance, &forwarded, host);
}

const nsrun_plugin fake_descriptor{NSRUN_API_MAJOR,
                                   sizeof(nsrun_plugin),
                                   "test.fake",
                                   NSRUN_API_MINOR,
                                   "1",
                                   "fake",
                                   "",
                                   nullptr,
                                   0,
                                   NSRUN_PLACE_ANYWHERE,
                                   nullptr,
                                   nullptr,
                                   fake_claims,
                                   &detail::create_stage<FakeStage>,
                                   &detail::destroy_stage,
                                   &detail::invoke_stage,
                                   nullptr,
                                   0,
                                   nullptr};

// The same stage built against SDK 2.4, before stage-by-stage release.
const nsrun_plugin fake_descriptor_2_4 = [] {
  nsrun_plugin descriptor = fake_descriptor;
  descriptor.api_minor = stage_by_stage_release_minor - 1;
  return descriptor;
}();

// The stage with its calls recorded (recording_invoke), as built now and against SDK 2.5, before
// the final spec was handed out.
const nsrun_plugin recorded_descriptor = [] {
  nsrun_plugin descriptor = fake_descriptor;
  descriptor.invoke = &recording_invoke;
  return descriptor;
}();
const nsrun_plugin recorded_descriptor_2_5 = [] {
  nsrun_plugin descriptor = recorded_descriptor;
  descriptor.api_minor = spec_final_minor - 1;
  return descriptor;
}();

class OrchestratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nsrun-orch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    log_path_ = (dir_ / "events").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  PipelineStage stage(const std::string& kind, boost::json::object extra = {}) {
    extra["kind"] = kind;
    extra["log"] = log_path_;
    return {kind, "test.fake." + kind, extra};
  }

  int run(std::vector<PipelineStage> stages) {
    std::vector<BoundStage> bound;
    Pipeline pipeline;
    for (auto& s : stages) {
      pipeline.stages.push_back(s);
      const nsrun_plugin* descriptor = &fake_descriptor;
      if (s.config.contains("built_against_2_4")) descriptor = &fake_descriptor_2_4;
      if (s.config.contains("calls"))
        descriptor = s.config.contains("built_against_2_5") ? &recorded_descriptor_2_5
                                                            : &recorded_descriptor;
      bound.emplace_back(s, descriptor);
    }
    request_.id = "test1";
    request_.state_root = (dir_ / "state").string();
    request_.pipeline = pipeline;
    request_.spec = {{"process", {{"args", {"unused"}}}}};
    if (!hooks_.empty()) request_.spec["hooks"] = hooks_;
    StderrLogger log(false);
    Orchestrator orchestrator(std::move(bound), log);
    return orchestrator.run(request_);
  }

  std::string events() const { return text_of(log_path_); }
  bool state_left() const { return fs::exists(dir_ / "state" / "test1"); }

  // The lines of events() whose phase is (or, with `except`, is not) one of `phases`. The host's
  // create_runtime and the container's create_container interleave (the container process is
  // released stage by stage): each is in order on its own, and the rest around them.
  std::string events_of(std::initializer_list<std::string_view> phases, bool except = false) const {
    std::string out;
    std::istringstream lines(events());
    for (std::string line; std::getline(lines, line);) {
      bool listed = false;
      for (auto phase : phases)
        listed |= line.ends_with(":" + std::string(phase)) && !line.starts_with("listener:");
      if (listed != except) out += line + "\n";
    }
    return out;
  }
  std::string events_but_setup() const {
    return events_of({"create_runtime", "create_container"}, true);
  }

  // Where in events() `line` is; fails the test when it is missing.
  std::size_t position(const std::string& line) const {
    std::size_t at = events().find(line + "\n");
    EXPECT_NE(at, std::string::npos) << line << " missing from:\n" << events();
    return at;
  }
  // Each stage's create_container came after its own create_runtime and every earlier stage's.
  void expect_each_released_after_its_runtime(const std::vector<std::string>& kinds) const {
    for (std::size_t i = 0; i < kinds.size(); ++i)
      for (std::size_t j = 0; j <= i; ++j)
        EXPECT_LT(position(kinds[j] + ":create_runtime"), position(kinds[i] + ":create_container"))
            << kinds[i] << " ran create_container before " << kinds[j] << "'s create_runtime";
  }
  // No create_container before the last create_runtime.
  void expect_every_runtime_first() const {
    std::string e = events();
    EXPECT_LT(e.rfind(":create_runtime\n"), e.find(":create_container\n")) << e;
  }

  fs::path dir_;
  std::string log_path_;
  boost::json::object hooks_;
  ContainerRequest request_;
};

TEST_F(OrchestratorTest, RunsPhasesInOrderAndTearsDownInReverse) {
  int code = run({stage("a"), stage("b"), stage("exec", {{"exec_exit", 3}})});
  EXPECT_EQ(code, 3) << "the workload's exit code is nsrun's";
  // The host's create_runtime and the container's create_container interleave (the container is
  // released stage by stage), each in pipeline order.
  EXPECT_EQ(events_of({"create_runtime"}),
            "a:create_runtime\nb:create_runtime\nexec:create_runtime\n");
  EXPECT_EQ(events_of({"create_container"}),
            "a:create_container\nb:create_container\nexec:create_container\n");
  EXPECT_EQ(events_but_setup(),
            "a:validate\nb:validate\nexec:validate\n"
            "a:prepare\nb:prepare\nexec:prepare\n"
            "a:start_container\nb:start_container\nexec:start_container\n"
            "a:poststart\nb:poststart\nexec:poststart\n"
            "exec:teardown\nb:teardown\na:teardown\n");
  EXPECT_LT(position("exec:prepare"), position("a:create_runtime"));
  expect_each_released_after_its_runtime({"a", "b", "exec"});
  EXPECT_LT(position("exec:create_container"), position("a:start_container"));
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, StagesHoldingAnOlderSpecAreHandedTheFinalOneBeforeTheClone) {
  const std::string calls = (dir_ / "calls").string();
  auto recorded = [&](const std::string& kind, boost::json::object extra = {}) {
    extra["calls"] = calls;
    return stage(kind, std::move(extra));
  };
  // b changes the spec in prepare (revision 1 -> 2). a saw the older spec: it is handed the final
  // one once, before the clone, and from then on reads spec text no parser would (its create_
  // container in the container process too). old, built against SDK 2.5, reads the final spec in
  // its next call, as before. b and exec saw the final spec already.
  int code =
      run({recorded("a", {{"garble_spec_after_final", true}}),
           recorded("old", {{"built_against_2_5", true}}),
           recorded("b", {{"set_hostname", "final"}}), recorded("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 0) << events();
  auto calls_of = [&](const std::string& kind) {
    std::string out;
    std::istringstream lines(text_of(calls));
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with(kind + ":")) out += line.substr(kind.size() + 1) + "\n";
    return out;
  };
  EXPECT_EQ(calls_of("a"),
            "validate@1\nvalidate sees hostname \nprepare@1\nprepare sees hostname \n"
            "spec_final@2\n"
            "create_runtime@2\ncreate_runtime sees hostname final\n"
            "create_container@2\ncreate_container sees hostname final\n"
            "start_container@2\nstart_container sees hostname final\n"
            "poststart@2\npoststart sees hostname final\n"
            "teardown@2\nteardown sees hostname final\n");
  EXPECT_EQ(calls_of("old").find("spec_final"), std::string::npos) << calls_of("old");
  EXPECT_NE(calls_of("old").find("create_container sees hostname final"), std::string::npos);
  EXPECT_EQ(calls_of("b").find("spec_final"), std::string::npos) << calls_of("b");
  EXPECT_EQ(calls_of("exec").find("spec_final"), std::string::npos) << calls_of("exec");
  // Before the clone: ahead of every create_runtime, which needs the container process's pid.
  const std::string all = text_of(calls);
  EXPECT_LT(all.find("a:spec_final@2"), all.find(":create_runtime@")) << all;
}

TEST_F(OrchestratorTest, ValidationFailureActsOnNothing) {
  int code = run({stage("a"), stage("b", {{"fail_in", "validate"}}), stage("exec")});
  EXPECT_EQ(code, 125);
  EXPECT_EQ(events(), "a:validate\nb:validate\n") << "no stage acts, no teardown needed";
  EXPECT_FALSE(fs::exists(dir_ / "state")) << "not even the state root is created";
}

TEST_F(OrchestratorTest, PrepareFailureTearsDownEveryStage) {
  int code = run({stage("a"), stage("b", {{"fail_in", "prepare"}}), stage("exec")});
  EXPECT_EQ(code, 125);
  EXPECT_EQ(events(),
            "a:validate\nb:validate\nexec:validate\na:prepare\nb:prepare\n"
            "exec:teardown\nb:teardown\na:teardown\n");
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, ContainerSideFailureKeepsItsExitCode) {
  int code = run({stage("a"), stage("b", {{"fail_in", "create_container"}, {"fail_code", 127}}),
                  stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 127);
  std::string e = events();
  EXPECT_EQ(events_of({"create_container"}), "a:create_container\nb:create_container\n") << e;
  EXPECT_TRUE(e.ends_with("exec:teardown\nb:teardown\na:teardown\n")) << e;
  EXPECT_EQ(e.find("poststart"), std::string::npos);
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, HostSideFailureAfterCloneKillsTheContainerProcess) {
  int code = run({stage("a", {{"fail_in", "create_runtime"}}), stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 125);
  std::string e = events();
  EXPECT_EQ(e.find("create_container"), std::string::npos) << "the container was never released";
  EXPECT_NE(e.find("exec:teardown\na:teardown\n"), std::string::npos);
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, TheContainerProcessIsReleasedStageByStage) {
  // b's create_runtime returns only once a's create_container ran: a alone was released first.
  int code = run({stage("a"), stage("b", {{"runtime_waits_for", "a:create_container"}}), stage("c"),
                  stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 0) << events();
  expect_each_released_after_its_runtime({"a", "b", "c", "exec"});
}

TEST_F(OrchestratorTest, AStageBuiltAgainstSdk24KeepsEveryCreateRuntimeBeforeAnyCreateContainer) {
  // c's create_runtime takes a while: released early, a's create_container would run meanwhile.
  int code = run({stage("a"), stage("b", {{"built_against_2_4", true}}),
                  stage("c", {{"runtime_sleep_ms", 100}}), stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 0) << events();
  expect_every_runtime_first();
}

TEST_F(OrchestratorTest, HooksBetweenTheTwoPhasesKeepEveryCreateRuntimeFirst) {
  for (const char* kind : {"prestart", "createRuntime", "createContainer"}) {
    SCOPED_TRACE(kind);
    fs::remove(log_path_);
    hooks_ = {{kind, boost::json::array{{{"path", "/bin/true"}}}}};
    int code = run(
        {stage("a"), stage("b", {{"runtime_sleep_ms", 100}}), stage("exec", {{"exec_exit", 0}})});
    EXPECT_EQ(code, 0) << events();
    expect_every_runtime_first();
  }
}

TEST_F(OrchestratorTest, AContainerFailureWhileTheHostSetsUpIsTheFailureReported) {
  // The container process fails in a released stage and exits while the host is still in b's
  // create_runtime, which then succeeds (the release that follows finds the process gone) or
  // fails (as a stage would, on a process that is gone): either way the container's failure,
  // with its exit code, is what nsrun reports.
  for (bool runtime_fails : {false, true}) {
    SCOPED_TRACE(runtime_fails ? "create_runtime fails" : "create_runtime succeeds");
    fs::remove(log_path_);
    boost::json::object b{{"runtime_waits_for_container_exit", true}};
    if (runtime_fails) b["fail_in"] = "create_runtime";
    int code = run({stage("a", {{"fail_in", "create_container"}, {"fail_code", 127}}),
                    stage("b", b), stage("exec", {{"exec_exit", 0}})});
    EXPECT_EQ(code, 127) << events();
    std::string e = events();
    EXPECT_EQ(e.find("b:create_container"), std::string::npos) << e;
    EXPECT_NE(e.find("exec:teardown\nb:teardown\na:teardown\n"), std::string::npos) << e;
    EXPECT_FALSE(state_left());
  }
}

TEST_F(OrchestratorTest, ContainerProcessDyingDuringSetupIsNotMistakenForTheWorkload) {
  int code =
      run({stage("a", {{"die_in_create_container", true}}), stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 137) << "128 + SIGKILL";
  std::string e = events();
  EXPECT_EQ(e.find("poststart"), std::string::npos) << e;
  EXPECT_NE(e.find("exec:teardown\na:teardown\n"), std::string::npos) << e;
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, APipelineWithoutExecIsAnError) {
  int code = run({stage("a")});
  EXPECT_EQ(code, 125);
  EXPECT_NE(events().find("a:teardown"), std::string::npos);
}

TEST_F(OrchestratorTest, AThreadStartedBeforeCloneIsRefusedAndUndone) {
  int code = run({stage("a", {{"start_thread", true}}), stage("exec", {{"exec_exit", 0}})});
  stray_thread.join();
  EXPECT_EQ(code, 125);
  EXPECT_EQ(events(),
            "a:validate\nexec:validate\na:prepare\nexec:prepare\n"
            "exec:teardown\na:teardown\n")
      << "nothing is cloned; what prepare made is torn down";
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, ExistingIdIsRefusedBeforeAnyStageActs) {
  fs::create_directories(dir_ / "state" / "test1");
  int code = run({stage("a"), stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 125);
  EXPECT_EQ(events(), "a:validate\nexec:validate\n");
  EXPECT_TRUE(state_left()) << "the other container's state is not touched";
}

TEST_F(OrchestratorTest, TeardownWorksFromPersistedStateAlone) {
  // As after a crash: a state directory and journal exist, no process, no memory of setup.
  StateDir state((dir_ / "state").string(), "crashed");
  (void)state.create();  // the lock is let go at once, as when nsrun crashed
  Pipeline pipeline;
  pipeline.stages = {stage("a"), stage("b")};
  state.write_pipeline(pipeline.to_json());
  StderrLogger log(false);
  EXPECT_THROW(teardown_from_state(state, PluginRegistry{}, log), Error)
      << "an unknown plugin is an error";
  EXPECT_TRUE(state.exists()) << "and the state stays for a retry";

  std::vector<BoundStage> bound;
  for (const auto& s : pipeline.stages) bound.emplace_back(s, &fake_descriptor);
  Orchestrator orchestrator(std::move(bound), log);
  SpecDocument spec;
  EXPECT_TRUE(orchestrator.teardown(state, spec).empty());
  EXPECT_EQ(events(), "b:teardown\na:teardown\n");
  EXPECT_FALSE(state.exists());
  EXPECT_TRUE(orchestrator.teardown(state, spec).empty()) << "teardown is idempotent";
}

// Writes what it hears into the events file, between the stages' lines, and checks what the
// state directory holds at each point.
class RecordingListener final : public RunListener {
 public:
  RecordingListener(std::string events, std::string state_dir)
      : events_(std::move(events)), state_dir_(std::move(state_dir)) {}
  void started(pid_t pid) noexcept override {
    note("started" + std::string(pid > 0 && fs::exists(state_dir_ + "/state.json")
                                     ? " (pid, state.json)"
                                     : " (no pid or state.json)"));
  }
  void failed(const StageFailure& failure) noexcept override {
    note("failed " + std::to_string(failure.exit_code) + " " + failure.message +
         (fs::exists(state_dir_) ? " (state left)" : ""));
  }
  void exited(int exit_code) noexcept override {
    note("exited " + std::to_string(exit_code) +
         (fs::exists(state_dir_ + "/journal.jsonl") || fs::exists(state_dir_ + "/config.json")
              ? " (before teardown)"
              : " (after teardown)"));
  }

 private:
  void note(const std::string& what) {
    std::ofstream(events_, std::ios::app) << "listener:" << what << "\n";
  }
  std::string events_;
  std::string state_dir_;
};

TEST_F(OrchestratorTest, AListenerHearsTheStartAfterPoststartAndTheExitBeforeTeardown) {
  RecordingListener listener(log_path_, (dir_ / "state" / "test1").string());
  request_.listener = &listener;
  int code = run({stage("a"), stage("exec", {{"exec_exit", 3}})});
  EXPECT_EQ(code, 3);
  EXPECT_EQ(events_but_setup(),
            "a:validate\nexec:validate\na:prepare\nexec:prepare\n"
            "a:start_container\nexec:start_container\na:poststart\nexec:poststart\n"
            "listener:started (pid, state.json)\nlistener:exited 3 (before teardown)\n"
            "exec:teardown\na:teardown\n");
  expect_each_released_after_its_runtime({"a", "exec"});
  EXPECT_LT(position("exec:create_container"), position("a:start_container"));
  EXPECT_FALSE(state_left());
}

TEST_F(OrchestratorTest, AListenerHearsAFailureOnceItIsUnwound) {
  RecordingListener listener(log_path_, (dir_ / "state" / "test1").string());
  request_.listener = &listener;
  int code = run({stage("a"), stage("b", {{"fail_in", "prepare"}, {"fail_code", 127}}),
                  stage("exec", {{"exec_exit", 0}})});
  EXPECT_EQ(code, 127);
  std::string e = events();
  EXPECT_NE(e.find("b:teardown\na:teardown\nlistener:failed 127 b: b failed on purpose\n"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("listener:started"), std::string::npos) << e;
  EXPECT_FALSE(state_left());

  fs::remove(log_path_);
  int refused = run({stage("a", {{"fail_in", "validate"}}), stage("exec")});
  EXPECT_EQ(refused, 125);
  EXPECT_EQ(events(), "a:validate\nlistener:failed 125 a: a failed on purpose\n");
}

TEST_F(OrchestratorTest, KeepingTheRecordLeavesTheExitAfterTheTeardown) {
  request_.keep_record = true;
  int code = run({stage("a"), stage("exec", {{"exec_exit", 3}})});
  EXPECT_EQ(code, 3);
  EXPECT_NE(events().find("exec:teardown\na:teardown\n"), std::string::npos) << events();
  StateDir state((dir_ / "state").string(), "test1");
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(state.path()))
    left.push_back(entry.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"state.json"}) << "the record alone";
  auto record = state.read_record();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->status, "stopped");
  EXPECT_EQ(record->exit_code, 3);
  EXPECT_FALSE(record->finished.empty());
  EXPECT_GT(record->pid, 0);

  // delete: a torn-down container has nothing left for a stage to undo (no plugin is needed).
  fs::remove(log_path_);
  StderrLogger log(false);
  EXPECT_TRUE(teardown_from_state(state, PluginRegistry{}, log).empty());
  EXPECT_FALSE(state_left());
  EXPECT_EQ(events(), "") << "no stage ran twice";
}

TEST(CloneFlags, FromSpecNamespaces) {
  ContainerSpec spec;
  spec.namespaces = {{"pid", ""}, {"mount", ""}, {"network", "/proc/1/ns/net"}};
  EXPECT_EQ(clone_flags_for(spec), CLONE_NEWPID | CLONE_NEWNS)
      << "a path joins, it does not create";
  spec.namespaces = {{"bogus", ""}};
  EXPECT_THROW(clone_flags_for(spec), Error);
}

}  // namespace
}  // namespace nsrun::core
