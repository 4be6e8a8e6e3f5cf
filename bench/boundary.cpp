// The cost of the plugin boundary (SDK 2: C structs, the spec as config.json text, C function
// tables) for a whole default-sized pipeline: five stages through all seven phases, with the
// spec changed in one stage's prepare, as in a run. The stages do nothing themselves, so what is
// measured is the boundary and the core's bookkeeping around each call: serialising and parsing
// the spec per revision, parsing configs and flags, the host tables, journal records.
//
//   build/bench/nsrun_boundary_bench [ITERATIONS]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/run_flags.hpp"
#include "nsrun/core/spec_json.hpp"

using namespace nsrun;
using namespace nsrun::core;

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  LoaderOptions options;
  options.directories = {NSRUN_FIXTURE_PLUGIN_DIR, NSRUN_FROZEN_PLUGIN_DIR};
  options.required_owner = ::getuid();
  auto registry = PluginRegistry::load_named(options, {"test.good", "test.frozen"});
  Pipeline pipeline;
  pipeline.stages = {{"namespaces", "test.good", {}},
                     {"storage", "test.good", {}},
                     {"network", "test.frozen", {{"greeting", "hi"}}},
                     {"cgroups", "test.good", {}},
                     {"exec", "test.good", {}}};
  RunFlags flags;
  flags.command = {"/bin/true"};
  const auto document = spec_to_json(spec_from_flags(flags, "/srv/work", "/var/lib/nsrun/rootfs"));

  auto dir =
      std::filesystem::temp_directory_path() / ("nsrun-boundary-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  StderrLogger log(false);
  std::vector<double> totals;
  constexpr Phase phases[] = {
      Phase::validate,        Phase::prepare,   Phase::create_runtime, Phase::create_container,
      Phase::start_container, Phase::poststart, Phase::teardown};
  for (int i = 0; i < iterations; ++i) {
    // Bound directly: the fixtures' kind ("test", "frozen") differs from the slots they fill.
    std::vector<BoundStage> stages;
    for (const auto& stage : pipeline.stages)
      stages.emplace_back(stage, registry.find(stage.plugin)->descriptor);
    JournalFile journal((dir / "journal.jsonl").string());
    StageExchange exchange;
    auto start = std::chrono::steady_clock::now();
    SpecDocument spec(document);
    CallSite site{"bench", dir.string(), dir.parent_path().string(), &spec, &journal, &log,
                  1,       &exchange};
    for (Phase phase : phases)
      for (auto& stage : stages) {
        if (phase == Phase::teardown) stage.instantiate(site);
        if (auto failure = stage.invoke(phase, site)) {
          std::fprintf(stderr, "%s\n", failure->message.c_str());
          return 1;
        }
      }
    totals.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    std::filesystem::remove(dir / "journal.jsonl");
  }
  std::filesystem::remove_all(dir);
  std::sort(totals.begin(), totals.end());
  auto at = [&](double q) { return totals[static_cast<std::size_t>(q * (totals.size() - 1))]; };
  const double calls = 5.0 * 7;
  std::printf("iterations %d, %d phase calls each (5 stages x 7 phases), spec changed once\n",
              iterations, static_cast<int>(calls));
  std::printf("whole pipeline: median %.3f ms, p95 %.3f ms, min %.3f ms\n", at(0.5), at(0.95),
              totals.front());
  std::printf("per phase call: median %.1f us\n", at(0.5) * 1000 / calls);
  return 0;
}
