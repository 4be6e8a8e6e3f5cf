// nsrun SDK test kit: run a stage's phases in a unit test, without nsrun and without root.
//
//   #include <nsrun/testing.hpp>
//   nsrun::testing::StageHarness h;
//   h.spec.hostname = "box";
//   MyStage stage;
//   h.run(stage, nsrun::Phase::validate);
//   h.run(stage, nsrun::Phase::prepare);
//   EXPECT_EQ(h.services.outputs.at("my.output"), ...);
//   EXPECT_TRUE(h.log.contains("what it logged"));
//
// The fakes record what a stage does through its Context: journal records, log lines, outputs
// it provides, files it adds. Outputs of other stages are set in `services.outputs` before a
// phase. The in-tree plugins test themselves with it too.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/plugin.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::testing {

/// A journal in memory; `fail_appends` makes append() report an I/O failure.
class MemoryJournal final : public Journal {
 public:
  bool append(std::string_view type, const boost::json::object& data) noexcept override {
    if (fail_appends) return false;
    entries.push_back({std::string(type), data});
    return true;
  }
  std::vector<JournalRecord> records() const override { return entries; }

  std::vector<JournalRecord> entries;
  bool fail_appends = false;
};

/// Keeps every line at every level (debug is on).
class RecordingLogger final : public Logger {
 public:
  bool debug_enabled() const noexcept override { return true; }
  void debug(std::string_view m) noexcept override { debugs.emplace_back(m); }
  void info(std::string_view m) noexcept override { infos.emplace_back(m); }
  void warn(std::string_view m) noexcept override { warnings.emplace_back(m); }
  void error(std::string_view m) noexcept override { errors.emplace_back(m); }

  /// True when some line of any level contains `needle`.
  bool contains(std::string_view needle) const {
    for (const auto* lines : {&debugs, &infos, &warnings, &errors})
      for (const auto& line : *lines)
        if (line.find(needle) != std::string::npos) return true;
    return false;
  }
  std::vector<std::string> debugs, infos, warnings, errors;
};

/// Outputs and added files, kept in memory.
class FakeServices final : public Services {
 public:
  struct File {
    std::string destination;
    std::string content;
    unsigned mode;
  };
  void provide(std::string_view key, const boost::json::value& value) override {
    outputs[std::string(key)] = value;
  }
  std::optional<boost::json::value> output(std::string_view key) const override {
    auto it = outputs.find(std::string(key));
    if (it == outputs.end()) return std::nullopt;
    return it->second;
  }
  void add_file(std::string_view destination, std::string_view content, unsigned mode) override {
    files.push_back({std::string(destination), std::string(content), mode});
  }

  std::map<std::string, boost::json::value> outputs;
  std::vector<File> files;
};

/// Everything a stage's Context refers to, owned in one place.
struct StageHarness {
  std::string container_id = "test";
  std::string state_dir = "/nonexistent/state/test";
  std::string state_root = "/nonexistent/state";
  ContainerSpec spec;
  boost::json::object config;
  boost::json::object flags;
  MemoryJournal journal;
  RecordingLogger log;
  FakeServices services;
  pid_t pid = 0;
  SpecSource spec_source = SpecSource::bundle;

  Context context() {
    return Context{container_id, state_dir,  spec,   config,    journal,    log,
                   pid,          state_root, &flags, &services, spec_source};
  }
  /// Runs one phase of `stage` as nsrun would call it.
  void run(IStage& stage, Phase phase) {
    Context ctx = context();
    detail::dispatch(stage, phase, ctx);
  }
};

}  // namespace nsrun::testing
