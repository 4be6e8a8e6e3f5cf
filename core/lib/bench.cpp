// The statistics and reports of `nsrun bench` (see bench.hpp).
#include "nsrun/core/bench.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {
namespace {

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double nearest_rank(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string fixed(double value, int decimals = 2) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string pad(const std::string& text, std::size_t width, bool right = false) {
  if (text.size() >= width) return text;
  std::string fill(width - text.size(), ' ');
  return right ? fill + text : text + fill;
}

// Text for an SVG element's content or attribute: UTF-8, its markup escaped, and each character
// XML 1.0 forbids (a C0 control other than tab, newline and return; U+FFFE, U+FFFF) U+FFFD, so
// that whatever a name holds the chart stays well-formed.
std::string xml_escaped(const std::string& text) {
  std::string replaced;
  const std::string_view valid = valid_utf8(text, replaced);
  std::string out;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    const char c = valid[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";
        } else if (valid.substr(i, 3) == "\xEF\xBF\xBE" || valid.substr(i, 3) == "\xEF\xBF\xBF") {
          out += "\xEF\xBF\xBD";
          i += 2;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// A JSON string of text from the command line (the command, a variant's flags): UTF-8, which
// Boost.JSON's serializer does not check.
boost::json::string json_text(const std::string& text) {
  std::string replaced;
  const std::string_view valid = valid_utf8(text, replaced);
  return boost::json::string(valid.data(), valid.size());
}

boost::json::object summary_json(const std::vector<double>& samples) {
  Summary s = summarize(samples);
  boost::json::array all;
  for (double v : samples) all.push_back(v);
  return {{"median", s.median},
          {"p95", s.p95},
          {"min", s.min},
          {"max", s.max},
          {"samples", std::move(all)}};
}

}  // namespace

// A variant's name labels a row of the table, a JSON string and a text of the SVG: printable
// UTF-8 (XML 1.0 forbids most control characters, JSON wants UTF-8).
void check_variant_name(const std::string& name) {
  const auto example = " (label each variant with printable text, e.g. --name overlay)";
  if (name.empty()) throw Error(std::string("bench: --name \"\" is empty") + example);
  std::string replaced;
  const bool utf8 = valid_utf8(name, replaced).data() == name.data();
  bool control = false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    // C0, DEL, and C1 (U+0080 to U+009F: 0xC2 0x80 to 0xC2 0x9F in UTF-8).
    control |= c < 0x20 || c == 0x7f ||
               (c == 0xC2 && i + 1 < name.size() &&
                (static_cast<unsigned char>(name[i + 1]) & 0xE0) == 0x80);
  }
  if (utf8 && !control) return;
  std::string shown;
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || (!utf8 && byte >= 0x80)) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      shown += escaped;
    } else {
      shown += c;
    }
  }
  throw Error("bench: --name \"" + shown + "\" " +
              (control ? "has a control character" : "is not UTF-8 text") + example);
}

Summary summarize(std::vector<double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.median = median_of(samples);
  s.p95 = nearest_rank(samples, 0.95);
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

Ratio median_ratio(const std::vector<double>& variant, const std::vector<double>& baseline,
                   int resamples, std::uint64_t seed) {
  Ratio r;
  double base = median_of(baseline);
  if (variant.empty() || baseline.empty() || base == 0) return r;
  r.value = median_of(variant) / base;
  std::mt19937_64 random(seed);
  std::vector<double> ratios, a(variant.size()), b(baseline.size());
  ratios.reserve(static_cast<std::size_t>(resamples));
  std::uniform_int_distribution<std::size_t> pick_a(0, variant.size() - 1),
      pick_b(0, baseline.size() - 1);
  for (int i = 0; i < resamples; ++i) {
    for (auto& v : a) v = variant[pick_a(random)];
    for (auto& v : b) v = baseline[pick_b(random)];
    double m = median_of(b);
    if (m > 0) ratios.push_back(median_of(a) / m);
  }
  std::sort(ratios.begin(), ratios.end());
  r.low = nearest_rank(ratios, 0.025);
  r.high = nearest_rank(ratios, 0.975);
  return r;
}

Difference paired_difference(const std::vector<double>& variant,
                             const std::vector<double>& baseline, int resamples,
                             std::uint64_t seed) {
  Difference d;
  const std::size_t rounds = std::min(variant.size(), baseline.size());
  if (rounds == 0) return d;
  std::vector<double> differences(rounds);
  for (std::size_t i = 0; i < rounds; ++i) differences[i] = variant[i] - baseline[i];
  d.value = median_of(differences);
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::size_t> pick(0, rounds - 1);
  std::vector<double> medians, resampled(rounds);
  medians.reserve(static_cast<std::size_t>(resamples));
  for (int i = 0; i < resamples; ++i) {
    for (auto& v : resampled) v = differences[pick(random)];
    medians.push_back(median_of(resampled));
  }
  std::sort(medians.begin(), medians.end());
  d.low = nearest_rank(medians, 0.025);
  d.high = nearest_rank(medians, 0.975);
  return d;
}

namespace {

// A span's wall time, [begin, end) in the trace's microseconds.
struct Interval {
  double begin, end;
};

// The wall time the intervals cover, each instant once however many of them hold it: a stage's
// host and container spans, or the host's poststart beside the workload, can run at once.
double covered_us(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  double covered = 0, begin = 0, end = 0;
  bool open = false;
  for (const auto& interval : intervals) {
    if (open && interval.begin <= end) {
      end = std::max(end, interval.end);
      continue;
    }
    if (open) covered += end - begin;
    begin = interval.begin;
    end = interval.end;
    open = true;
  }
  if (open) covered += end - begin;
  return covered;
}

}  // namespace

std::map<std::string, double> stage_times(const boost::json::object& trace, double wall_ms) {
  // The core's spans that are nsrun's own steps, not umbrellas over stages (trace.hpp,
  // orchestrator.cpp). The container process's waits are not here: they are the rest, "core".
  static const std::map<std::string_view, const char*> bucket_of_span = {
      {"core: start nsrun (the launcher, exec, dynamic loading)", "core.startup"},
      {"core: parse the flags, read the pipeline, load its plugins", "core.startup"},
      {"core: clone", "core.clone"},
      {"core: read the spec, check its claims and hooks", "core.state"},
      {"core: create the state directory", "core.state"},
      {"core: save the spec, open the sockets", "core.state"},
      {"core: remove the state directory", "core.state"},
      {"workload", "workload"}};
  std::map<std::string, std::vector<Interval>> spans_of;
  std::vector<Interval> every_span;
  for (const auto& event : trace.at("traceEvents").as_array()) {
    const auto& e = event.as_object();
    const auto* category = e.if_contains("cat");
    if (!category || !category->is_string() || e.at("ph") != "X") continue;
    std::string_view cat = category->as_string();
    std::string bucket;
    if (cat.starts_with("stage,")) {
      bucket = cat.substr(6);
    } else if (cat == "core") {
      auto found = bucket_of_span.find(std::string_view(e.at("name").as_string()));
      if (found == bucket_of_span.end()) continue;
      bucket = found->second;
    } else {
      continue;
    }
    const double begin = e.at("ts").to_number<double>();
    const Interval span{begin, begin + e.at("dur").to_number<double>()};
    spans_of[bucket].push_back(span);
    every_span.push_back(span);
  }
  std::map<std::string, double> out;
  for (const auto& bucket : core_buckets) out[bucket] = 0;
  for (const auto& [bucket, spans] : spans_of) out[bucket] = covered_us(spans) / 1000.0;
  out["core"] = std::max(0.0, wall_ms - covered_us(std::move(every_span)) / 1000.0);
  return out;
}

bool too_noisy(const BenchReport& report) {
  for (std::size_t i = 0; i < report.variants.size(); ++i) {
    Summary s = summarize(report.variants[i].wall_ms);
    if (s.median > 0 && s.p95 > 1.5 * s.median) return true;
    if (i == 0) continue;
    Ratio r = median_ratio(report.variants[i].wall_ms, report.variants[0].wall_ms);
    if (r.high - r.low > 0.10 * r.value) return true;
  }
  return false;
}

std::string bench_table(const BenchReport& report) {
  std::ostringstream out;
  std::size_t width = 8;
  for (const auto& v : report.variants) width = std::max(width, v.name.size() + 2);
  const std::string first = report.variants.empty() ? "" : report.variants[0].name;
  const std::size_t ratio_width = std::max<std::size_t>(first.size() + 16, 22);
  out << pad("variant", width) << pad("runs", 6, true) << pad("median ms", 11, true)
      << pad("p95 ms", 9, true) << pad("min ms", 9, true) << pad("max ms", 9, true) << "   "
      << pad("x " + first + " (95% CI)", ratio_width) << "+ms paired (95% CI)\n";
  for (std::size_t i = 0; i < report.variants.size(); ++i) {
    const auto& v = report.variants[i];
    Summary s = summarize(v.wall_ms);
    out << pad(v.name, width) << pad(std::to_string(v.wall_ms.size()), 6, true)
        << pad(fixed(s.median), 11, true) << pad(fixed(s.p95), 9, true)
        << pad(fixed(s.min), 9, true) << pad(fixed(s.max), 9, true) << "   ";
    if (i == 0) {
      out << pad("1.00", ratio_width) << "+0.00\n";
    } else {
      Ratio r = median_ratio(v.wall_ms, report.variants[0].wall_ms);
      Difference d = paired_difference(v.wall_ms, report.variants[0].wall_ms);
      auto signed_ms = [](double ms) { return (ms >= 0 ? "+" : "") + fixed(ms); };
      out << pad(fixed(r.value) + " [" + fixed(r.low) + ", " + fixed(r.high) + "]", ratio_width)
          << signed_ms(d.value) << " [" << signed_ms(d.low) << ", " << signed_ms(d.high) << "]\n";
    }
  }
  // Per stage: the union of kinds, in the first variant's order, then the others' new ones.
  std::vector<std::string> kinds;
  for (const auto& v : report.variants)
    for (const auto& kind : v.stage_order)
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  out << "\nmedian ms per stage (all its phases), then outside the stages: core.startup (launcher, "
         "loading, plugins), core.clone, core.state (spec and state files), workload, core (the "
         "rest)\n"
      << pad("variant", width);
  for (const auto& kind : kinds) out << pad(kind, std::max<std::size_t>(kind.size() + 2, 9), true);
  out << "\n";
  for (const auto& v : report.variants) {
    out << pad(v.name, width);
    for (const auto& kind : kinds) {
      auto it = v.stage_ms.find(kind);
      std::string cell = it == v.stage_ms.end() ? "-" : fixed(summarize(it->second).median);
      out << pad(cell, std::max<std::size_t>(kind.size() + 2, 9), true);
    }
    out << "\n";
  }
  for (const auto& v : report.variants)
    if (!v.traced) out << v.name << ": untraced (timed only), so no stages\n";
  if (too_noisy(report))
    out << "\nnote: the spread is too wide to trust these ratios (a 95% interval wider than 10% "
           "of a ratio, or a p95 above 1.5x its median): the machine was busy; run again with "
           "more --runs, or on a quieter machine\n";
  return out.str();
}

boost::json::object bench_json(const BenchReport& report) {
  boost::json::array variants, command;
  for (const auto& arg : report.command) command.emplace_back(json_text(arg));
  for (std::size_t i = 0; i < report.variants.size(); ++i) {
    const auto& v = report.variants[i];
    boost::json::array args;
    for (const auto& arg : v.args) args.emplace_back(json_text(arg));
    boost::json::object stages;
    for (const auto& kind : v.stage_order)
      if (auto it = v.stage_ms.find(kind); it != v.stage_ms.end())
        stages[kind] = summary_json(it->second);
    Ratio r = i == 0 ? Ratio{} : median_ratio(v.wall_ms, report.variants[0].wall_ms);
    Difference d = i == 0 ? Difference{} : paired_difference(v.wall_ms, report.variants[0].wall_ms);
    variants.push_back(boost::json::object{
        {"name", json_text(v.name)},
        {"args", std::move(args)},
        {"pipeline", v.pipeline},
        {"traced", v.traced},
        {"wall_ms", summary_json(v.wall_ms)},
        {"stages_ms", std::move(stages)},
        {"ratio_to_first", {{"value", r.value}, {"ci95_low", r.low}, {"ci95_high", r.high}}},
        {"paired_difference_ms",
         {{"value", d.value}, {"ci95_low", d.low}, {"ci95_high", d.high}}}});
  }
  return {{"schema", "nsrun-bench/4"},
          {"command", std::move(command)},
          {"runs", report.runs},
          {"warmup", report.warmup},
          {"machine", report.machine},
          {"too_noisy", too_noisy(report)},
          {"variants", std::move(variants)}};
}

std::string bench_svg(const BenchReport& report) {
  static const char* colors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  std::vector<std::string> kinds;
  for (const auto& v : report.variants)
    for (const auto& kind : v.stage_order)
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  double top = 0;
  for (const auto& v : report.variants) top = std::max(top, summarize(v.wall_ms).max);
  top = top > 0 ? top * 1.05 : 1;
  const bool any_untraced = std::any_of(report.variants.begin(), report.variants.end(),
                                        [](const VariantSamples& v) { return !v.traced; });
  const int left = 160, bar_width = 560, row = 46,
            legend_rows = static_cast<int>(kinds.size()) + (any_untraced ? 1 : 0);
  const int height = 70 + row * static_cast<int>(report.variants.size()) * 2 + 20 * legend_rows;
  const int width = left + bar_width + 40;
  auto x_of = [&](double ms) { return left + ms / top * bar_width; };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"20\" font-size=\"14\">nsrun bench: " << report.runs
      << " runs per variant; bars: median ms per stage; dots: every run's wall time</text>\n";
  int y = 40;
  for (const auto& v : report.variants) {
    svg << "<text x=\"10\" y=\"" << y + 18 << "\">" << xml_escaped(v.name) << "</text>\n";
    double x = left;
    if (!v.traced) {
      const double median = summarize(v.wall_ms).median;
      svg << "<rect x=\"" << left << "\" y=\"" << y << "\" width=\""
          << fixed(median / top * bar_width, 1) << "\" height=\"26\" fill=\"#d0d0d0\"><title>"
          << xml_escaped(v.name + " untraced (timed only): " + fixed(median) + " ms")
          << "</title></rect>\n";
    }
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      auto it = v.stage_ms.find(kinds[k]);
      if (it == v.stage_ms.end()) continue;
      double w = summarize(it->second).median / top * bar_width;
      svg << "<rect x=\"" << fixed(x, 1) << "\" y=\"" << y << "\" width=\"" << fixed(w, 1)
          << "\" height=\"26\" fill=\"" << colors[k % 10] << "\"><title>"
          << xml_escaped(v.name + " " + kinds[k] + ": " + fixed(summarize(it->second).median) +
                         " ms")
          << "</title></rect>\n";
      x += w;
    }
    y += row;
    for (double ms : v.wall_ms)
      svg << "<circle cx=\"" << fixed(x_of(ms), 1) << "\" cy=\"" << y - 8
          << "\" r=\"2.5\" fill=\"#333\" fill-opacity=\"0.5\"/>\n";
    svg << "<text x=\"" << left + bar_width + 4 << "\" y=\"" << y - 4 << "\">"
        << fixed(summarize(v.wall_ms).median, 1) << "</text>\n";
    y += row - 20;
  }
  svg << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << left + bar_width << "\" y2=\""
      << y << "\" stroke=\"#999\"/>\n"
      << "<text x=\"" << left << "\" y=\"" << y + 14 << "\">0</text>\n"
      << "<text x=\"" << left + bar_width - 40 << "\" y=\"" << y + 14 << "\">" << fixed(top, 1)
      << " ms</text>\n";
  y += 30;
  for (std::size_t k = 0; k < kinds.size(); ++k, y += 20)
    svg << "<rect x=\"" << left << "\" y=\"" << y - 10 << "\" width=\"12\" height=\"12\" fill=\""
        << colors[k % 10] << "\"/><text x=\"" << left + 18 << "\" y=\"" << y << "\">"
        << xml_escaped(kinds[k]) << "</text>\n";
  if (any_untraced)
    svg << "<rect x=\"" << left << "\" y=\"" << y - 10
        << "\" width=\"12\" height=\"12\" fill=\"#d0d0d0\"/><text x=\"" << left + 18 << "\" y=\""
        << y << "\">untraced: the median wall time, no stages</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace nsrun::core
