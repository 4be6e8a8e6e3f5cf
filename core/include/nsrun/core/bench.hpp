// `nsrun bench`: two or more pipelines ("variants") compared on one workload, with statistics a
// paper can cite (issue 12). The CLI (cli/cmd_bench.cpp) runs the variants interleaved, each run
// `nsrun run --trace`; this file turns the samples into a summary, a table, a JSON document and
// an SVG chart.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nsrun::core {

/// Median, 95th percentile (nearest rank), min and max of samples (milliseconds).
struct Summary {
  double median = 0, p95 = 0, min = 0, max = 0;
};
Summary summarize(std::vector<double> samples);

/// The ratio of `variant`'s median to `baseline`'s, with a 95% bootstrap confidence interval:
/// `resamples` resamplings of each sample set with replacement (a fixed seed: the same samples
/// give the same interval).
struct Ratio {
  double value = 1, low = 1, high = 1;
};
Ratio median_ratio(const std::vector<double>& variant, const std::vector<double>& baseline,
                   int resamples = 2000, std::uint64_t seed = 12);

/// The median of the rounds' differences, `variant[i] - baseline[i]` (bench runs every variant
/// once per round, so run i of each is the same round), with a 95% bootstrap interval from
/// resampling the rounds. A noisy moment hits both runs of a round, so this sees a difference
/// far smaller than the spread of either variant (what tracing costs a run). Only the rounds
/// both have are paired.
struct Difference {
  double value = 0, low = 0, high = 0;
};
Difference paired_difference(const std::vector<double>& variant,
                             const std::vector<double>& baseline, int resamples = 2000,
                             std::uint64_t seed = 12);

/// One variant's runs: wall times and, per stage kind, the time its phases took in each run
/// ("core" is the rest of the wall time).
struct VariantSamples {
  std::string name;
  std::vector<std::string> args;  ///< the `nsrun run` flags that make it
  boost::json::value pipeline;    ///< the pipeline document it ran
  std::vector<double> wall_ms;
  std::map<std::string, std::vector<double>> stage_ms;
  std::vector<std::string> stage_order;  ///< kinds in pipeline order, then core_buckets
  /// False for a variant run without --trace (bench --untraced): its wall time only, no stages.
  bool traced = true;
};

/// What a run spends outside any stage, in the order bench reports it after the stages:
/// "core.startup" (the launcher, dynamic loading, the flags, the pipeline and its plugins),
/// "core.clone" (the host's clone call), "core.state" (the spec and the state directory's files),
/// "workload" (the workload itself, execve to exit), and "core", the rest (the container
/// process's own steps between its phases, waiting on the kernel, the exit). No stage kind can
/// be one of them: a pipeline that names a slot so is refused (is_reserved_stage_kind).
inline const std::vector<std::string> core_buckets = {"core.startup", "core.clone", "core.state",
                                                      "workload", "core"};

/// Per stage kind, the milliseconds of one traced run (trace.hpp): the wall time its phase spans
/// cover, on the host and in the container process, an instant both hold counted once; then the
/// core_buckets, likewise from the core's spans, "core" being `wall_ms` less the wall time any
/// of those spans cover. Without concurrent spans the buckets add up to `wall_ms`; two buckets
/// that ran at once (the host's poststart beside the workload) each count that time.
std::map<std::string, double> stage_times(const boost::json::object& trace, double wall_ms);

/// Error naming --name unless `name` can label a variant: not empty, UTF-8 without control
/// characters (it is a row of the table, a JSON string and a text of the SVG).
void check_variant_name(const std::string& name);

/// Everything `nsrun bench` reports.
struct BenchReport {
  std::vector<VariantSamples> variants;
  std::vector<std::string> command;
  int runs = 0, warmup = 0;
  boost::json::object machine;  ///< trace_info's: kernel, CPU, cgroup mode, nsrun's version
};

/// True when a ratio is not to be trusted: its interval is wider than 10% of it, or a variant's
/// p95 is more than 1.5 times its median.
bool too_noisy(const BenchReport& report);

/// The table printed on stdout.
std::string bench_table(const BenchReport& report);
/// The JSON document of --json (schema "nsrun-bench/4", docs/research.md).
boost::json::object bench_json(const BenchReport& report);
/// The SVG of --svg: per variant a bar of its median stacked by stage (an untraced variant's is
/// one grey bar), and its wall times as dots.
std::string bench_svg(const BenchReport& report);

}  // namespace nsrun::core
