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
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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
#include "nsrun/core/read_only_self.hpp"
#include "nsrun/core/trace.hpp"

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

struct RunResult {
  int exit_code = 0;
  double wall_ms = 0;
  std::string error;  ///< the run's last stderr line, when it failed
};

// One `nsrun run --trace`: stdout discarded, stderr kept in `err_file` for a failure's report.
RunResult run_once(const std::vector<std::string>& argv, const std::string& err_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  // The run's trace then starts where its wall time does: its "core: start nsrun" span is the
  // fork, exec and dynamic loading, as the launcher's is for a user's run.
  const std::string started_ns = std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count());
  pid_t pid = ::fork();
  if (pid < 0) throw core::Error(std::string("bench: cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY), out = ::open("/dev/null", O_WRONLY);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(125);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::setenv(core::launched_at_variable, started_ns.c_str(), 1);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  RunResult r;
  r.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (r.exit_code != 0) {
    std::ifstream in(err_file);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) r.error = line;
  }
  return r;
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
  for (int round = 0; round < o.warmup + o.runs; ++round) {
    std::shuffle(order.begin(), order.end(), shuffle);
    for (std::size_t index : order) {
      const Variant& v = o.variants[index];
      const std::string trace = scratch + "/trace.json";
      std::vector<std::string> argv{nsrun, "--root", global.state_root};
      for (const auto& dir : global.plugin_dirs) argv.insert(argv.end(), {"--plugin-dir", dir});
      argv.push_back("run");
      if (!o.rootfs.empty()) argv.insert(argv.end(), {"--rootfs", o.rootfs});
      for (const auto& a : v.run_args()) argv.push_back(a);
      if (v.traced) argv.insert(argv.end(), {"--trace", trace});
      argv.push_back("--");  // the command is never taken for a flag of run's
      argv.insert(argv.end(), o.command.begin(), o.command.end());
      if (progress) show_progress(done, total, v.name);
      RunResult r = run_once(argv, scratch + "/stderr");
      if (r.exit_code != 0) {
        if (progress) std::cerr << "\r\033[K";
        throw core::Error("bench: variant " + v.name + ": the command failed (exit " +
                          std::to_string(r.exit_code) + ")" +
                          (r.error.empty() ? "" : ": " + r.error) + "; nothing reported");
      }
      ++done;
      if (round < o.warmup) continue;
      auto& samples = report.variants[index];
      samples.wall_ms.push_back(r.wall_ms);
      if (!v.traced) continue;
      for (const auto& [kind, ms] : stage_times_of_run(trace, r.wall_ms, v.name, report.machine))
        samples.stage_ms[kind].push_back(ms);
    }
  }
  if (progress) std::cerr << "\r\033[K" << std::flush;
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
