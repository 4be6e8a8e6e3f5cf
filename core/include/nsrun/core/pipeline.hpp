// The pipeline as data: which stage fills each slot, in which order, with which config.
//
//   {"stages": [{"kind": "namespaces", "plugin": "nsrun.namespaces", "config": {}}, ...]}
//
// Like a CNI config list or LLVM's -passes= text, not code and not priority numbers.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nsrun::core {

/// Whether a stage kind is one nsrun keeps for its own time outside the stages: "core",
/// "workload" and "core.<anything>", the names `nsrun bench` reports that time under beside the
/// stages' kinds (bench.hpp, core_buckets). A pipeline naming a slot so is refused: the stage's
/// time and nsrun's would be one number.
bool is_reserved_stage_kind(std::string_view kind);

struct PipelineStage {
  std::string kind;    ///< the slot: namespaces, storage, network, cgroups, exec, ...
  std::string plugin;  ///< the plugin name that fills it, e.g. nsrun.network.none
  boost::json::object config;
};

/// A flag value that chooses a stage's plugin: `--network none` means
/// `--stage network=nsrun.network.none` in the default pipeline. Data, not code: the core knows
/// no plugin by name.
struct Selector {
  std::string flag;   ///< a plugin flag's name, without dashes
  std::string value;  ///< the value that selects
  std::string stage;  ///< "KIND=PLUGIN", as --stage takes it
};

struct Pipeline {
  std::vector<PipelineStage> stages;
  std::vector<Selector> selectors;

  /// Parses a pipeline document; `source` names it in errors (a file path or "pipeline").
  static Pipeline from_json(const boost::json::value& document, std::string_view source);
  static Pipeline from_file(const std::string& path);
  boost::json::value to_json() const;

  /// Applies "KIND=PLUGIN" (from --stage): the stage of that kind now uses PLUGIN, with an empty
  /// config. Error when the text is malformed or no stage has that kind.
  void override_stage(std::string_view assignment);

  PipelineStage* find_kind(std::string_view kind);

  /// The plugin names, in order (what a run loads).
  std::vector<std::string> plugin_names() const;

  /// Every plugin the document names: its stages', then its selectors' (KIND=PLUGIN), once each.
  std::vector<std::string> named_plugins() const;

  /// Error unless each selector's flag is one that a plugin the document names declares
  /// (`declared_flags`: by plugin name, the flags without dashes, of those loaded): a selector
  /// on a flag nobody declares never selects, and the user never learns why. The message names
  /// `source` (the pipeline file), the selector's stage and its flag. A plugin absent from
  /// `declared_flags` counts as declaring nothing.
  void check_selector_flags(
      std::string_view source,
      const std::map<std::string, std::vector<std::string>>& declared_flags) const;
  /// Whether check_selector_flags would find every selector's flag declared.
  bool selector_flags_declared(
      const std::map<std::string, std::vector<std::string>>& declared_flags) const;

 private:
  /// The index of the first selector whose flag no plugin the document names declares.
  std::optional<std::size_t> first_undeclared_selector(
      const std::map<std::string, std::vector<std::string>>& declared_flags) const;
};

}  // namespace nsrun::core
