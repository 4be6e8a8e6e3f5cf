// config.json hooks: what is refused (naming the field), and running one hook on this host with
// /bin/sh: its stdin, args, env, exit status, signals, timeout, output and clean process state.
#include "nsrun/core/hooks.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/process.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

boost::json::object config_with(std::string_view hooks_json) {
  return boost::json::parse("{\"ociVersion\": \"1.1.0\", \"hooks\": " + std::string(hooks_json) +
                            "}")
      .as_object();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nsrun-hooks-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// A hook that runs `script` with /bin/sh; "$1" is `arg`.
Hook shell_hook(const std::string& script, const std::string& arg = "") {
  Hook hook;
  hook.path = "/bin/sh";
  hook.args = {"sh", "-c", script, "sh", arg};
  return hook;
}

class RecordingLogger final : public Logger {
 public:
  bool debug_enabled() const noexcept override { return false; }
  void debug(std::string_view) noexcept override {}
  void warn(std::string_view message) noexcept override { warnings.emplace_back(message); }
  void error(std::string_view message) noexcept override { errors.emplace_back(message); }
  std::vector<std::string> warnings, errors;
};

TEST(Hooks, EveryKindIsReadInOrderAndWhatTheSpecDoesNotDefineIsIgnored) {
  Hooks hooks = parse_hooks(config_with(R"({
      "prestart": [{"path": "/p"}],
      "createRuntime": [{"path": "/a", "args": ["a", "1"], "env": ["K=V", "E="], "timeout": 5},
                        {"path": "/b", "args": null, "env": null, "timeout": null}],
      "createContainer": [{"path": "/c"}], "startContainer": [{"path": "/d"}],
      "poststart": [{"path": "/e"}], "poststop": [{"path": "/f", "whatever": [1]}],
      "someFutureKind": [{"nothing": "valid"}]})"));
  ASSERT_EQ(hooks.of(HookKind::create_runtime).size(), 2u);
  const Hook& first = hooks.of(HookKind::create_runtime)[0];
  EXPECT_EQ(first.path, "/a");
  EXPECT_EQ(first.args, (std::vector<std::string>{"a", "1"}));
  EXPECT_EQ(first.env, (std::vector<std::string>{"K=V", "E="}));
  EXPECT_EQ(first.timeout_seconds, 5);
  const Hook& second = hooks.of(HookKind::create_runtime)[1];
  EXPECT_EQ(second.path, "/b");
  EXPECT_TRUE(second.args.empty());
  EXPECT_FALSE(second.env) << "no env: the hook gets nsrun's, as runc's hooks get runc's";
  EXPECT_FALSE(second.timeout_seconds);
  EXPECT_EQ(hooks.of(HookKind::prestart).at(0).path, "/p");
  EXPECT_EQ(hooks.of(HookKind::create_container).at(0).path, "/c");
  EXPECT_EQ(hooks.of(HookKind::start_container).at(0).path, "/d");
  EXPECT_EQ(hooks.of(HookKind::poststart).at(0).path, "/e");
  EXPECT_EQ(hooks.of(HookKind::poststop).at(0).path, "/f");
  EXPECT_FALSE(hooks.empty());

  EXPECT_TRUE(parse_hooks(boost::json::object{}).empty()) << "no hooks field";
  EXPECT_TRUE(parse_hooks(config_with("null")).empty());
  EXPECT_TRUE(parse_hooks(config_with("{}")).empty());
  EXPECT_TRUE(parse_hooks(config_with(R"({"poststop": []})")).empty());
}

// The core runs hooks itself: a spec with hooks needs no stage that claims them.
TEST(Hooks, AreTheCoresAndNeedNoClaim) {
  EXPECT_NO_THROW(check_claims({}, config_with(R"({"poststop": [{"path": "/x"}]})")));
  EXPECT_THROW(check_claims({}, boost::json::parse(R"({"hostname": "h"})").as_object()), Error)
      << "while a field no stage claims is still refused";
}

TEST(Hooks, KindNamesAreTheSpecs) {
  std::vector<std::string> names;
  for (HookKind kind : all_hook_kinds) names.emplace_back(hook_kind_name(kind));
  EXPECT_EQ(names, (std::vector<std::string>{"prestart", "createRuntime", "createContainer",
                                             "startContainer", "poststart", "poststop"}));
}

struct Malformed {
  const char* name;
  const char* hooks;
  const char* error;  // the whole message
};

class MalformedHooks : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedHooks, AreRefusedNamingTheField) {
  try {
    parse_hooks(config_with(GetParam().hooks));
    FAIL() << "accepted: " << GetParam().hooks;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), GetParam().error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Hooks, MalformedHooks,
    ::testing::Values(
        Malformed{"NotAnObject", R"([])",
                  "config.json: hooks must be an object of hook lists (createRuntime, poststart, "
                  "...)"},
        Malformed{"KindNotAnArray", R"({"poststart": {"path": "/x"}})",
                  "config.json: hooks.poststart must be an array of hooks"},
        Malformed{"EntryNotAnObject", R"({"createRuntime": ["/x"]})",
                  "config.json: hooks.createRuntime[0] must be an object with a \"path\""},
        Malformed{"PathMissing", R"({"createContainer": [{"args": ["x"]}]})",
                  "config.json: hooks.createContainer[0].path is required (the absolute path of "
                  "the hook's executable)"},
        Malformed{"PathNotAString", R"({"poststop": [{"path": 7}]})",
                  "config.json: hooks.poststop[0].path must be a string (the absolute path of the "
                  "hook's executable)"},
        Malformed{"PathRelative", R"({"poststart": [{"path": "/ok"}, {"path": "x"}]})",
                  "config.json: hooks.poststart[1].path \"x\" must be an absolute path"},
        Malformed{"PathEmpty", R"({"prestart": [{"path": ""}]})",
                  "config.json: hooks.prestart[0].path \"\" must be an absolute path"},
        Malformed{"ArgsNotAnArray", R"({"startContainer": [{"path": "/x", "args": "x"}]})",
                  "config.json: hooks.startContainer[0].args must be an array of strings"},
        Malformed{"ArgNotAString", R"({"startContainer": [{"path": "/x", "args": ["x", 1]}]})",
                  "config.json: hooks.startContainer[0].args[1] must be a string"},
        Malformed{"EnvNotAnArray", R"({"createRuntime": [{"path": "/x", "env": {"A": "B"}}]})",
                  "config.json: hooks.createRuntime[0].env must be an array of strings"},
        Malformed{"EnvNotKeyValue", R"({"createRuntime": [{"path": "/x", "env": ["A=1", "B"]}]})",
                  "config.json: hooks.createRuntime[0].env[1] \"B\" must be KEY=VALUE"},
        Malformed{"EnvEmptyKey", R"({"createRuntime": [{"path": "/x", "env": ["=1"]}]})",
                  "config.json: hooks.createRuntime[0].env[0] \"=1\" must be KEY=VALUE"},
        Malformed{"TimeoutZero", R"({"poststop": [{"path": "/x", "timeout": 0}]})",
                  "config.json: hooks.poststop[0].timeout must be a whole number of seconds from "
                  "1 to 2147483647 (got 0)"},
        Malformed{"TimeoutNegative", R"({"poststop": [{"path": "/x", "timeout": -3}]})",
                  "config.json: hooks.poststop[0].timeout must be a whole number of seconds from "
                  "1 to 2147483647 (got -3)"},
        Malformed{"TimeoutFraction", R"({"poststop": [{"path": "/x", "timeout": 1.5}]})",
                  "config.json: hooks.poststop[0].timeout must be a whole number of seconds from "
                  "1 to 2147483647 (got 1.5E0)"},
        Malformed{"TimeoutString", R"({"poststop": [{"path": "/x", "timeout": "5"}]})",
                  "config.json: hooks.poststop[0].timeout must be a whole number of seconds from "
                  "1 to 2147483647 (got \"5\")"},
        Malformed{"TimeoutHuge", R"({"poststop": [{"path": "/x", "timeout": 2147483648}]})",
                  "config.json: hooks.poststop[0].timeout must be a whole number of seconds from "
                  "1 to 2147483647 (got 2147483648)"}),
    [](const auto& info) { return info.param.name; });

TEST(Hooks, TheStateDocumentIsTheOciStates) {
  HookState state{"c1", Status::created, 4242, "/b", {{"k", "v"}}};
  auto json = boost::json::parse(hook_state_json(state)).as_object();
  EXPECT_EQ(json, (boost::json::object{{"ociVersion", oci_state_version},
                                       {"id", "c1"},
                                       {"status", "created"},
                                       {"pid", 4242},
                                       {"bundle", "/b"},
                                       {"annotations", {{"k", "v"}}}}));
}

TEST(Hooks, AHookReadsTheStateOnStdin) {
  TempDir dir;
  const std::string state = R"({"id":"c1","status":"creating"})";
  auto failure =
      run_hook(shell_hook("cat > \"$1\"", dir.file("stdin")), HookKind::create_runtime, 0, state);
  EXPECT_FALSE(failure) << *failure;
  EXPECT_EQ(read(dir.file("stdin")), state);
}

TEST(Hooks, ArgsAreItsArgvAndEnvIsItsWholeEnvironment) {
  TempDir dir;
  Hook hook;
  hook.path = "/bin/sh";
  hook.args = {"my-hook-name", "-c",
               "printf '%s|%s|%s' \"$1\" \"$FOO\" \"${NSRUN_HOOK_TEST_OWN-unset}\" > \"$1\"; "
               "cp /proc/$$/cmdline \"$1.cmdline\"",
               "zero", dir.file("out")};
  hook.env = std::vector<std::string>{"FOO=bar baz"};
  ::setenv("NSRUN_HOOK_TEST_OWN", "not for the hook", 1);
  auto failure = run_hook(hook, HookKind::poststart, 0, "{}");
  ::unsetenv("NSRUN_HOOK_TEST_OWN");
  EXPECT_FALSE(failure) << *failure;
  EXPECT_EQ(read(dir.file("out")), dir.file("out") + "|bar baz|unset");
  std::string cmdline = read(dir.file("out") + ".cmdline");
  EXPECT_EQ(cmdline.substr(0, cmdline.find('\0')), "my-hook-name") << "args[0] is argv[0]";
}

TEST(Hooks, WithoutEnvTheHookGetsNsrunsEnvironmentAndWithoutArgsItsPathIsArgv0) {
  TempDir dir;
  ::setenv("NSRUN_HOOK_TEST_VARIABLE", "inherited", 1);
  auto failure =
      run_hook(shell_hook("echo \"$NSRUN_HOOK_TEST_VARIABLE\" > \"$1\"", dir.file("env")),
               HookKind::poststop, 0, "{}");
  ::unsetenv("NSRUN_HOOK_TEST_VARIABLE");
  EXPECT_FALSE(failure) << *failure;
  EXPECT_EQ(read(dir.file("env")), "inherited\n");

  // /bin/sh with no arguments reads its script from stdin: argv is {path} alone.
  Hook bare;
  bare.path = "/bin/sh";
  EXPECT_FALSE(run_hook(bare, HookKind::poststop, 0, "echo \"$0\" > " + dir.file("argv0")));
  EXPECT_EQ(read(dir.file("argv0")), "/bin/sh\n");
}

TEST(Hooks, ANonZeroExitFailsNamingTheHookWithItsOutput) {
  auto failure = run_hook(shell_hook("echo progress; echo '  it broke  ' >&2; echo >&2; exit 3"),
                          HookKind::create_runtime, 2, "{}");
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure, "hook createRuntime[2] /bin/sh: exited with status 3: progress; it broke");
  failure = run_hook(shell_hook("exit 1"), HookKind::poststop, 0, "{}");
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure, "hook poststop[0] /bin/sh: exited with status 1");
}

TEST(Hooks, ASignalFailsNamingIt) {
  auto failure = run_hook(shell_hook("kill -KILL $$"), HookKind::start_container, 0, "{}");
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure, "hook startContainer[0] /bin/sh: killed by signal 9 (SIGKILL)");
}

TEST(Hooks, AMissingExecutableFails) {
  Hook hook;
  hook.path = "/nonexistent/hook";
  auto failure = run_hook(hook, HookKind::prestart, 1, "{}");
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure,
            "hook prestart[1] /nonexistent/hook: cannot execute it: No such file or directory");
}

TEST(Hooks, LongOutputIsCappedToItsEnd) {
  auto failure =
      run_hook(shell_hook("i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; "
                          "echo the reason >&2; exit 4"),
               HookKind::poststart, 0, "{}");
  ASSERT_TRUE(failure);
  EXPECT_LT(failure->size(), 1100u) << *failure;
  EXPECT_TRUE(failure->ends_with("line 1999; the reason")) << *failure;
  EXPECT_NE(failure->find("exited with status 4: ..."), std::string::npos) << *failure;
}

TEST(Hooks, ATimeoutKillsTheHookAndWhatItStarted) {
  TempDir dir;
  Hook hook = shell_hook("sleep 30 & echo $! > \"$1\"; wait", dir.file("pid"));
  hook.timeout_seconds = 1;
  auto start = std::chrono::steady_clock::now();
  auto failure = run_hook(hook, HookKind::create_runtime, 0, "{}");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure, "hook createRuntime[0] /bin/sh: timed out after 1 s");
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(5));
  pid_t sleeper = std::stoi(read(dir.file("pid")));
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    auto stat = read_process_stat(sleeper);
    gone = !stat || stat->state == 'Z';
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "the sleep the hook started was killed with it";

  hook = shell_hook("exit 0");
  hook.timeout_seconds = 5;
  EXPECT_FALSE(run_hook(hook, HookKind::create_runtime, 0, "{}")) << "in time: no failure";
}

// The hook closes its stdin unread while the state is still being written (a state larger than
// a pipe holds): the writer gets EPIPE, not SIGPIPE, whose default action would end this test
// as it would end the container process.
TEST(Hooks, AHookThatDoesNotReadItsStdinCannotKillTheWriter) {
  ASSERT_EQ(::signal(SIGPIPE, SIG_DFL), SIG_DFL) << "the test needs SIGPIPE's default action";
  std::string big_state(4 << 20, 'x');
  EXPECT_FALSE(
      run_hook(shell_hook("exec 0<&-; sleep 0.2; exit 0"), HookKind::poststop, 0, big_state));
  EXPECT_FALSE(run_hook(shell_hook("exit 0"), HookKind::poststop, 0, big_state));
  sigset_t pending;
  ASSERT_EQ(::sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "no SIGPIPE left pending";
  sigset_t mask;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  EXPECT_EQ(sigismember(&mask, SIGPIPE), 0) << "the mask is restored";
}

// Whatever the runtime's own signal state and descriptors, the hook starts clean.
TEST(Hooks, TheHookGetsDefaultSignalsAnEmptyMaskAndNoOtherDescriptors) {
  TempDir dir;
  int leaked = ::open("/dev/null", O_RDONLY);  // not close-on-exec
  ASSERT_GE(leaked, 3);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  auto old_int = ::signal(SIGINT, SIG_IGN);
  auto old_hup = ::signal(SIGHUP, SIG_IGN);
  // The hook's own status is read by the process it execs into, with no fork in between: dash
  // blocks every signal around a fork, and a child that read /proc/<shell>/status then saw that.
  auto failure = run_hook(shell_hook("ls /proc/$$/fd > \"$1.fds\"; exec grep -E '^Sig(Blk|Ign)' "
                                     "/proc/self/status > \"$1\"",
                                     dir.file("status")),
                          HookKind::create_container, 0, "{}");
  ::signal(SIGINT, old_int);
  ::signal(SIGHUP, old_hup);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::close(leaked);
  EXPECT_FALSE(failure) << *failure;
  EXPECT_EQ(read(dir.file("status")), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  std::istringstream fds(read(dir.file("status") + ".fds"));
  for (std::string fd; fds >> fd;)
    EXPECT_NE(fd, std::to_string(leaked)) << "a descriptor of the runtime reached the hook";
}

TEST(Hooks, RunHooksStopsAtTheFirstFailureAndWarningOnlyRunsThemAll) {
  TempDir dir;
  Hooks hooks = parse_hooks(config_with(
      R"({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > \"$0\"; exit 2", ")" +
      dir.file("first") + R"("]}, {"path": "/bin/sh", "args": ["sh", "-c", "cat > \"$0\"", ")" +
      dir.file("second") + R"("]}]})"));
  HookState state{"c9", Status::stopped, 0, "/bundle", {}};
  auto failure = run_hooks(hooks, HookKind::poststop, state);
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure, "hook poststop[0] /bin/sh: exited with status 2");
  EXPECT_EQ(read(dir.file("first")), hook_state_json(state));
  EXPECT_FALSE(fs::exists(dir.file("second"))) << "the first failure stops the others";

  RecordingLogger log;
  run_hooks_warning_only(hooks, HookKind::poststop, state, log);
  EXPECT_EQ(log.warnings,
            std::vector<std::string>{"hook poststop[0] /bin/sh: exited with status 2"});
  EXPECT_EQ(read(dir.file("second")), hook_state_json(state)) << "a warning, and the next runs";
  EXPECT_FALSE(run_hooks(hooks, HookKind::poststart, state)) << "no hooks of that kind";
}

}  // namespace
}  // namespace nsrun::core
