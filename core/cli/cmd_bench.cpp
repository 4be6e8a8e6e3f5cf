// nsrun bench [--runs N] [--warmup N] [--rootfs DIR] [--json FILE] [--svg FILE]
//             (--name LABEL [--pipeline FILE] [--stage KIND=PLUGIN]... [--untraced])... -- CMD...
//
// Compares two or more pipelines ("variants") on one workload: every round runs each variant
// once, in an order shuffled per round (a noisy moment hits all variants alike), each run a
// traced `nsrun run` (trace.hpp) whose wall time nsrun measures and whose spans say what each
// stage cost. Prints per variant and per stage the median, p95, min and max, and each variant's
// ratio to the first with a bootstrap 95% interval, and the median of the rounds' differences
// from the first; writes --json and --svg (bench.hpp).
//
// A variant starts at --name; --pipeline, --stage and --untraced before any --name start one
// named after them. Every variant is checked (its pipeline read, its plugins loaded) before the
// first run. An --untraced variant runs without --trace: its wall time only, which is how a
// variant measures what tracing itself costs (issue 12: trace on against off).
//
// Each run is a container of its own id under bench's state root. A run that leaves its state
// directory behind (a stage's teardown failed: `nsrun run` keeps the state for a retry and, as
// runc, still exits with the workload's code) fails the benchmark, and bench deletes it. SIGINT,
// SIGTERM and SIGHUP are passed on to the run in flight; bench waits for it, removes its scratch
// directory and exits 128+N.
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>

#include "commands.hpp"
#include "nsrun/core/bench.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/read_only_self.hpp"
#include "nsrun/core/trace.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::cli {
namespace {

namespace fs = std::filesystem;

struct Variant {
  std::string name;
  std::string pipeline_file;
  std::vector<std::string> stages;
  bool traced = true;
  std::vector<std::string> run_args() const {
    std::vector<std::string> out;
    if (!pipeline_file.empty()) out.insert(out.end(), {"--pipeline", pipeline_file});
    for (const auto& stage : stages) out.insert(out.end(), {"--stage", stage});
    return out;
  }
};

struct BenchOptions {
  int runs = 20;
  int warmup = 2;
  std::string rootfs;
  std::optional<std::string> json, svg;  ///< given, even empty (refused), or not
  std::vector<Variant> variants;
  std::vector<std::string> command;
};

int whole_number(const std::string& flag, const std::string& text, int least) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < least || value > 100000)
    throw core::Error("bench: " + flag + " " + text + " must be a whole number from " +
                      std::to_string(least) + " to 100000");
  return static_cast<int>(value);
}

BenchOptions parse_bench(const std::vector<std::string>& args) {
  BenchOptions o;
  std::size_t i = 0;
  auto value = [&](const std::string& flag) -> std::string {
    if (i + 1 >= args.size()) throw core::Error("bench: " + flag + " needs a value");
    return args[++i];
  };
  auto current = [&](const std::string& label) -> Variant& {
    if (o.variants.empty()) o.variants.push_back({label, "", {}});
    return o.variants.back();
  };
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      o.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    } else if (arg == "--runs") {
      o.runs = whole_number(arg, value(arg), 1);
    } else if (arg == "--warmup") {
      o.warmup = whole_number(arg, value(arg), 0);
    } else if (arg == "--rootfs") {
      o.rootfs = value(arg);
    } else if (arg == "--json") {
      o.json = value(arg);
    } else if (arg == "--svg") {
      o.svg = value(arg);
    } else if (arg == "--name") {
      o.variants.push_back({value(arg), "", {}});
    } else if (arg == "--pipeline") {
      std::string file = value(arg);
      Variant& v = current(file);
      if (!v.pipeline_file.empty())
        throw core::Error("bench: variant " + v.name +
                          " has two --pipeline files (start another variant with --name)");
      v.pipeline_file = file;
    } else if (arg == "--stage") {
      std::string stage = value(arg);
      current(stage).stages.push_back(stage);
    } else if (arg == "--untraced") {
      current("untraced").traced = false;
    } else if (!arg.starts_with("-")) {
      throw core::Error("bench: \"" + arg +
                        "\": the command goes after -- (e.g. nsrun bench --name a --name b "
                        "--stage network=nsrun.network.none -- /bin/true)");
    } else {
      throw core::Error("bench: unknown flag " + arg + " (see nsrun bench --help)");
    }
  }
  if (o.command.empty())
    throw core::Error(
        "bench: no command to run (end the flags with --, e.g. nsrun bench --name a "
        "--name b --stage network=nsrun.network.none -- /bin/true)");
  if (o.variants.size() < 2)
    throw core::Error(
        "bench: give at least two variants to compare (e.g. --name default --name none --stage "
        "network=nsrun.network.none)");
  for (const auto& v : o.variants) core::check_variant_name(v.name);
  for (std::size_t a = 0; a < o.variants.size(); ++a)
    for (std::size_t b = a + 1; b < o.variants.size(); ++b)
      if (o.variants[a].name == o.variants[b].name)
        throw core::Error("bench: two variants are named " + o.variants[a].name +
                          " (give each --name its own label)");
  return o;
}

// What a user runs: the launcher when this nsrun was started through it.
std::string nsrun_path() {
  return core::installed_binary_path();
}

// The signals that stop bench. Each is passed on to the run in flight (an `nsrun run`, which
// passes it on to its container), and bench waits for the run to end, its container torn down.
constexpr int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> stopped_by{0};       ///< the last stop signal that came, 0 until one does
std::atomic<int> stops_received{0};   ///< how many came
std::atomic<pid_t> run_in_flight{0};  ///< the `nsrun run` to pass them on to, 0 between runs
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free,
              "read and written in a signal handler");

// How long a run may take to end once a stop signal was passed on before bench kills its
// container: a container's PID 1 ignores SIGINT and SIGTERM unless it handles them (`sleep`, most
// benchmarked commands), so the signal alone may leave the run to its end. A second stop signal
// kills it at once. Killed, its workload exits and its nsrun tears it down as after any exit.
constexpr auto stop_grace = std::chrono::seconds(2);

extern "C" void pass_on_stop_signal(int signal) {
  stopped_by = signal;
  ++stops_received;
  if (const pid_t run = run_in_flight; run > 0) ::kill(run, signal);
}

// The handlers for bench's life, for the stop signals that were not ignored when it started
// (`nohup`, a shell's `&`: those stay ignored, in bench and in its runs).
class StopSignalsPassedOn {
 public:
  StopSignalsPassedOn() {
    struct sigaction action {};
    action.sa_handler = pass_on_stop_signal;
    ::sigemptyset(&action.sa_mask);
    for (int signal : stop_signals) {
      struct sigaction before {};
      ::sigaction(signal, nullptr, &before);
      if (before.sa_handler == SIG_IGN) continue;
      ::sigaction(signal, &action, &before);
      previous_.emplace_back(signal, before);
    }
  }
  ~StopSignalsPassedOn() {
    for (const auto& [signal, before] : previous_) ::sigaction(signal, &before, nullptr);
  }
  StopSignalsPassedOn(const StopSignalsPassedOn&) = delete;
  StopSignalsPassedOn& operator=(const StopSignalsPassedOn&) = delete;

 private:
  std::vector<std::pair<int, struct sigaction>> previous_;
};

// The stop signals blocked for the object's life: delivered only while bench waits for a run
// (wait_for_run), so that none comes between a check and the wait, or before a run's pid is known.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked() {
    sigset_t stops;
    ::sigemptyset(&stops);
    for (int signal : stop_signals) ::sigaddset(&stops, signal);
    ::sigprocmask(SIG_BLOCK, &stops, &unblocked);
  }
  ~StopSignalsBlocked() { ::sigprocmask(SIG_SETMASK, &unblocked, nullptr); }
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;
  sigset_t unblocked;  ///< the mask before, which the wait and a run's process take
};

// Waits for the run `pid` (our child) with the stop signals let in only meanwhile. Once one
// came, the run's `container` is killed at stop_grace or at a second signal.
int wait_for_run(pid_t pid, const core::StateDir* container, const sigset_t& unblocked) {
  support::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  std::optional<std::chrono::steady_clock::time_point> stop_seen;
  bool container_killed = false;
  while (pidfd) {
    if (stopped_by && !stop_seen) stop_seen = std::chrono::steady_clock::now();
    if (stop_seen && container && !container_killed &&
        (stops_received > 1 || std::chrono::steady_clock::now() - *stop_seen >= stop_grace)) {
      try {
        core::kill_container(*container, SIGKILL, false);
        container_killed = true;
      } catch (const core::Error&) {
        // Not running yet (still being set up) or any more: tried again at the next turn.
      }
    }
    // Without a stop signal, no timeout: nothing of bench's wakes during a measured run.
    pollfd exited{pidfd.get(), POLLIN, 0};
    const timespec turn{0, 20'000'000};
    const bool polling = stop_seen && container && !container_killed;
    if (::ppoll(&exited, 1, polling ? &turn : nullptr, &unblocked) > 0) break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

struct RunResult {
  int exit_code = 0;
  double wall_ms = 0;
  std::vector<std::string> errors;  ///< the lines of its stderr: a run that left its state
                                    ///< behind exits 0, and says why there
};

// nsrun with `argv`, waited for: stdout discarded, stderr kept in `err_file` for a failure's
// report. An `nsrun run` of `container` (the runs bench measures) is given its start as the
// launcher's (its trace then starts where its wall time does) and the stop signals that come
// while it runs; nsrun's other commands (the delete of what a run left) are left to end.
RunResult run_nsrun(const std::vector<std::string>& argv, const std::string& err_file,
                    const core::StateDir* container) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  StopSignalsBlocked blocked;
  auto start = std::chrono::steady_clock::now();
  // The run's trace then starts where its wall time does: its "core: start nsrun" span is the
  // fork, exec and dynamic loading, as the launcher's is for a user's run.
  const std::string started_ns = std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count());
  pid_t pid = ::fork();
  if (pid < 0) throw core::Error(std::string("bench: cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    // nsrun's own dispositions, as from a shell (execv keeps an ignored one, and the mask).
    for (int signal : stop_signals) {
      struct sigaction action {};
      ::sigaction(signal, nullptr, &action);
      if (action.sa_handler != SIG_IGN) ::signal(signal, SIG_DFL);
    }
    ::sigprocmask(SIG_SETMASK, &blocked.unblocked, nullptr);
    int in = ::open("/dev/null", O_RDONLY), out = ::open("/dev/null", O_WRONLY);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(125);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (container) ::setenv(core::launched_at_variable, started_ns.c_str(), 1);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (container) {
    run_in_flight = pid;
    if (const int signal = stopped_by) ::kill(pid, signal);  // came before the run began
  }
  const int status = wait_for_run(pid, container, blocked.unblocked);
  run_in_flight = 0;
  RunResult r;
  r.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(err_file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) r.errors.push_back(line);
  return r;
}

// An nsrun error line without its "nsrun: ", to quote in bench's own.
std::string quoted_error(const std::string& line) {
  return line.starts_with("nsrun: ") ? line.substr(7) : line;
}

// How every nsrun command line bench runs begins: the binary, bench's state root and plugin
// directories.
std::vector<std::string> nsrun_argv(const std::string& nsrun, const GlobalOptions& global) {
  std::vector<std::string> argv{nsrun, "--root", global.state_root};
  for (const auto& dir : global.plugin_dirs) argv.insert(argv.end(), {"--plugin-dir", dir});
  return argv;
}

// A run left its container's state directory behind: a stage's teardown failed (`nsrun run` keeps
// the state so that the teardown can be retried, and exits with the workload's code, as runc
// does). Retried here with `nsrun delete --force`; what bench's report says of it.
std::string delete_left_behind(const std::string& nsrun, const GlobalOptions& global,
                               const std::string& id, const std::string& err_file) {
  std::vector<std::string> argv = nsrun_argv(nsrun, global);
  argv.insert(argv.end(), {"delete", "--force", id});
  const RunResult r = run_nsrun(argv, err_file, nullptr);
  if (r.exit_code == 0 && !core::StateDir(global.state_root, id).exists())
    return "nsrun delete --force " + id + " removed it";
  std::string command = "nsrun --root " + global.state_root;
  for (const auto& dir : global.plugin_dirs) command += " --plugin-dir " + dir;
  return "remove it with " + command + " delete --force " + id + " (here it failed" +
         (r.errors.empty() ? "" : ": " + quoted_error(r.errors.front())) + ")";
}

// A traced run's trace, as bench reads it; Error naming the variant when it cannot be read.
std::map<std::string, double> stage_times_of_run(const std::string& trace, double wall_ms,
                                                 const std::string& variant,
                                                 boost::json::object& machine) {
  try {
    auto document =
        core::parse_json_document(core::read_text_file(trace, "trace"), "trace").as_object();
    auto times = core::stage_times(document, wall_ms);
    if (machine.empty())
      if (const auto* info = document.if_contains("otherData"); info && info->is_object())
        machine = info->as_object();
    return times;
  } catch (const std::exception& e) {  // core::Error, or the document's shape (boost's)
    std::string why = e.what();
    if (why.starts_with("trace: ")) why.erase(0, 7);
    throw core::Error("bench: variant " + variant + ": its run's trace cannot be read: " + why +
                      "; nothing reported");
  }
}

void show_progress(std::size_t done, std::size_t total, const std::string& name) {
  const int width = 30;
  int filled = static_cast<int>(width * done / std::max<std::size_t>(total, 1));
  std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
            << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << done << "/"
            << total << " " << name << "\033[K" << std::flush;
}

int run_bench(const std::vector<std::string>& args, const GlobalOptions& global) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::cout << "Usage: nsrun bench [--runs N] [--warmup N] [--rootfs DIR] [--json FILE] "
                 "[--svg FILE]\n"
                 "                   (--name LABEL [--pipeline FILE] [--stage KIND=PLUGIN]... "
                 "[--untraced])... -- CMD [ARG...]\n\n"
                 "Runs CMD in each variant (a pipeline), interleaved in a shuffled order, N times "
                 "(default 20) after N warm-up rounds (default 2), each run traced unless its "
                 "variant is --untraced (then timed only, without stages); prints per variant and "
                 "per stage the median, p95, min and max wall time, each variant's ratio to the "
                 "first with a 95% bootstrap interval, and the median of the rounds' differences "
                 "from the first. See docs/research.md.\n";
    return 0;
  }
  if (::geteuid() != 0)
    throw core::Error("nsrun bench runs containers and needs root (run it with sudo)");
  BenchOptions o = parse_bench(args);
  // The reports are written at the end: checked now, so that a bad path fails before any run.
  if (o.json) core::check_output_path("bench: --json", *o.json, "bench.json");
  if (o.svg) core::check_output_path("bench: --svg", *o.svg, "bench.svg");
  if (o.json && o.svg && core::same_file(*o.json, *o.svg))
    throw core::Error("bench: --json " + *o.json + " and --svg " + *o.svg +
                      " are the same file: the chart would replace the JSON (give each its own "
                      "name, e.g. --json bench.json --svg bench.svg)");
  Installation installation = Installation::locate();

  core::BenchReport report;
  report.runs = o.runs;
  report.warmup = o.warmup;
  report.command = o.command;
  for (const auto& v : o.variants) {
    core::VariantSamples samples;
    samples.name = v.name;
    samples.args = v.run_args();
    samples.traced = v.traced;
    try {
      core::Pipeline pipeline = core::Pipeline::from_file(
          v.pipeline_file.empty() ? installation.default_pipeline : v.pipeline_file);
      for (const auto& stage : v.stages) pipeline.override_stage(stage);
      core::PluginRegistry registry = global.load_plugins(installation, pipeline);
      core::bind_pipeline(pipeline, registry);
      samples.pipeline = pipeline.to_json();
      for (const auto& stage : pipeline.stages) samples.stage_order.push_back(stage.kind);
      samples.stage_order.insert(samples.stage_order.end(), core::core_buckets.begin(),
                                 core::core_buckets.end());
    } catch (const core::Error& e) {
      throw core::Error("bench: variant " + v.name + ": " + e.what());
    }
    report.variants.push_back(std::move(samples));
  }

  // From here on a stop signal ends bench between runs, or is passed on to the run in flight.
  StopSignalsPassedOn stop_signals_passed_on;
  // Each run writes its trace here, within its measured time: in memory (/dev/shm, a tmpfs on
  // any Linux) where there is one, so that what the disk's file system costs is not counted as
  // nsrun's (bench/trace.sh writes its traces to a tmpfs for the same reason); /tmp otherwise.
  std::string scratch;
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string path = std::string(base) + "/nsrun-bench-XXXXXX";
    if (::mkdtemp(path.data())) {
      scratch = std::move(path);
      break;
    }
  }
  if (scratch.empty())
    throw core::Error(std::string("bench: cannot make a scratch directory in /dev/shm or /tmp: ") +
                      std::strerror(errno));
  struct Remove {
    std::string dir;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_scratch{scratch};

  const bool progress = ::isatty(STDERR_FILENO);
  const std::size_t total = static_cast<std::size_t>(o.warmup + o.runs) * o.variants.size();
  std::size_t done = 0;
  std::mt19937 shuffle(2026);
  std::vector<std::size_t> order(o.variants.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  const std::string nsrun = nsrun_path();
  const std::string trace = scratch + "/trace.json", err_file = scratch + "/stderr";
  auto clear_progress = [&] {
    if (progress) std::cerr << "\r\033[K" << std::flush;
  };
  for (int round = 0; round < o.warmup + o.runs && !stopped_by; ++round) {
    std::shuffle(order.begin(), order.end(), shuffle);
    for (std::size_t index : order) {
      if (stopped_by) break;
      const Variant& v = o.variants[index];
      // An id of its own, to find the run's state directory by afterwards; nsrun's own shape.
      const std::string id = core::generate_container_id();
      std::vector<std::string> argv = nsrun_argv(nsrun, global);
      argv.insert(argv.end(), {"run", "--name", id});
      if (!o.rootfs.empty()) argv.insert(argv.end(), {"--rootfs", o.rootfs});
      for (const auto& a : v.run_args()) argv.push_back(a);
      if (v.traced) argv.insert(argv.end(), {"--trace", trace});
      argv.push_back("--");  // the command is never taken for a flag of run's
      argv.insert(argv.end(), o.command.begin(), o.command.end());
      if (progress) show_progress(done, total, v.name);
      const core::StateDir container(global.state_root, id);
      const RunResult r = run_nsrun(argv, err_file, &container);
      std::string left_behind;
      if (container.exists()) {
        clear_progress();
        left_behind = "its run left its state directory " + container.path() + " behind" +
                      (r.errors.empty() ? "" : " (" + quoted_error(r.errors.front()) + ")") + "; " +
                      delete_left_behind(nsrun, global, id, err_file);
      }
      if (stopped_by) {
        if (!left_behind.empty())
          std::cerr << "nsrun: bench: variant " << v.name << ": " << left_behind << "\n";
        break;
      }
      if (r.exit_code != 0) {
        clear_progress();
        throw core::Error("bench: variant " + v.name + ": the command failed (exit " +
                          std::to_string(r.exit_code) + ")" +
                          (r.errors.empty() ? "" : ": " + r.errors.back()) +
                          (left_behind.empty() ? "" : "; " + left_behind) + "; nothing reported");
      }
      if (!left_behind.empty())
        throw core::Error("bench: variant " + v.name + ": " + left_behind + "; nothing reported");
      ++done;
      if (round < o.warmup) continue;
      auto& samples = report.variants[index];
      samples.wall_ms.push_back(r.wall_ms);
      if (!v.traced) continue;
      for (const auto& [kind, ms] : stage_times_of_run(trace, r.wall_ms, v.name, report.machine))
        samples.stage_ms[kind].push_back(ms);
    }
  }
  if (const int signal = stopped_by) {
    clear_progress();
    std::cerr << "nsrun: bench: stopped by "
              << (signal == SIGINT    ? "SIGINT"
                  : signal == SIGTERM ? "SIGTERM"
                                      : "SIGHUP")
              << "; nothing reported\n";
    return 128 + signal;
  }
  clear_progress();
  // With every variant untraced, no trace said what the machine is.
  if (report.machine.empty()) report.machine = core::trace_info({}, NSRUN_VERSION);
  report.machine.erase("command");
  std::cout << core::bench_table(report);
  if (std::all_of(o.variants.begin(), o.variants.end(), [](const Variant& v) { return v.traced; }))
    std::cout << "\nEvery run is traced (nsrun run --trace), alike in every variant.\n";
  if (o.json)
    core::write_output_file("bench: --json", *o.json,
                            boost::json::serialize(core::bench_json(report)) + "\n", 0644);
  if (o.svg) core::write_output_file("bench: --svg", *o.svg, core::bench_svg(report), 0644);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Compare pipelines on one command, with statistics");
  bench->set_help_flag();
  bench->prefix_command();
  bench->allow_extras();
  bench->callback([bench, &global, &exit_code] {
    try {
      exit_code = run_bench(global.command_args.value_or(bench->remaining()), global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
