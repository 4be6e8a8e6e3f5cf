#include "nsrun/core/pipeline.hpp"

#include <algorithm>
#include <set>

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {

bool is_reserved_stage_kind(std::string_view kind) {
  return kind == "core" || kind == "workload" || kind.starts_with("core.");
}

Pipeline Pipeline::from_json(const boost::json::value& document, std::string_view source) {
  const std::string where(source);
  if (!document.is_object()) throw Error(where + ": the pipeline must be a JSON object");
  const auto& top = document.as_object();
  for (const auto& kv : top)
    if (kv.key() != "stages" && kv.key() != "selectors")
      throw Error(where + ": unknown key \"" + std::string(kv.key()) +
                  "\" (expected \"stages\" and \"selectors\")");
  const auto* stages = top.if_contains("stages");
  if (!stages || !stages->is_array())
    throw Error(where + ": \"stages\" must be an array of {kind, plugin, config}");
  Pipeline pipeline;
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < stages->as_array().size(); ++i) {
    const auto& entry = stages->as_array()[i];
    const std::string at = where + ": stages[" + std::to_string(i) + "]";
    if (!entry.is_object()) throw Error(at + " must be an object");
    PipelineStage stage;
    for (const auto& kv : entry.as_object()) {
      if (kv.key() == "kind" && kv.value().is_string()) {
        stage.kind = kv.value().as_string();
      } else if (kv.key() == "plugin" && kv.value().is_string()) {
        stage.plugin = kv.value().as_string();
      } else if (kv.key() == "config" && kv.value().is_object()) {
        stage.config = kv.value().as_object();
      } else if (kv.key() == "kind" || kv.key() == "plugin") {
        throw Error(at + "." + std::string(kv.key()) + " must be a string");
      } else if (kv.key() == "config") {
        throw Error(at + ".config must be an object");
      } else {
        throw Error(at + ": unknown key \"" + std::string(kv.key()) +
                    "\" (expected kind, plugin, config)");
      }
    }
    if (stage.kind.empty()) throw Error(at + ".kind is required");
    if (is_reserved_stage_kind(stage.kind))
      throw Error(at + ".kind \"" + stage.kind +
                  "\" is reserved: core, core.* and workload name nsrun's own time beside the "
                  "stages' (name the slot after what its stage does, e.g. \"audit\")");
    if (stage.plugin.empty()) throw Error(at + ".plugin is required");
    if (!kinds.insert(stage.kind).second)
      throw Error(at + ": a second \"" + stage.kind + "\" stage (each kind appears once)");
    pipeline.stages.push_back(std::move(stage));
  }
  if (pipeline.stages.empty()) throw Error(where + ": the pipeline has no stages");
  if (const auto* selectors = top.if_contains("selectors")) {
    if (!selectors->is_array())
      throw Error(where + ": \"selectors\" must be an array of {flag, value, stage}");
    for (std::size_t i = 0; i < selectors->as_array().size(); ++i) {
      const auto& entry = selectors->as_array()[i];
      const std::string at = where + ": selectors[" + std::to_string(i) + "]";
      if (!entry.is_object()) throw Error(at + " must be an object");
      Selector selector;
      for (const auto& kv : entry.as_object()) {
        std::string* field = kv.key() == "flag"    ? &selector.flag
                             : kv.key() == "value" ? &selector.value
                             : kv.key() == "stage" ? &selector.stage
                                                   : nullptr;
        if (!field)
          throw Error(at + ": unknown key \"" + std::string(kv.key()) +
                      "\" (expected flag, value, stage)");
        if (!kv.value().is_string())
          throw Error(at + "." + std::string(kv.key()) + " must be a string");
        *field = kv.value().as_string();
      }
      if (selector.flag.empty() || selector.value.empty() ||
          selector.stage.find('=') == std::string::npos)
        throw Error(at + " needs flag, value and stage (\"KIND=PLUGIN\")");
      pipeline.selectors.push_back(std::move(selector));
    }
  }
  return pipeline;
}

Pipeline Pipeline::from_file(const std::string& path) {
  return from_json(read_json_file(path, "pipeline"), path);
}

boost::json::value Pipeline::to_json() const {
  boost::json::array stages_json;
  for (const auto& stage : stages)
    stages_json.push_back(boost::json::object{
        {"kind", stage.kind}, {"plugin", stage.plugin}, {"config", stage.config}});
  boost::json::object out{{"stages", std::move(stages_json)}};
  if (!selectors.empty()) {
    boost::json::array selectors_json;
    for (const auto& s : selectors)
      selectors_json.push_back(
          boost::json::object{{"flag", s.flag}, {"value", s.value}, {"stage", s.stage}});
    out["selectors"] = std::move(selectors_json);
  }
  return out;
}

std::vector<std::string> Pipeline::plugin_names() const {
  std::vector<std::string> names;
  for (const auto& stage : stages) names.push_back(stage.plugin);
  return names;
}

std::vector<std::string> Pipeline::named_plugins() const {
  std::vector<std::string> names;
  auto add = [&](std::string name) {
    if (std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(std::move(name));
  };
  for (const auto& stage : stages) add(stage.plugin);
  for (const auto& selector : selectors) add(selector.stage.substr(selector.stage.find('=') + 1));
  return names;
}

std::optional<std::size_t> Pipeline::first_undeclared_selector(
    const std::map<std::string, std::vector<std::string>>& declared_flags) const {
  const std::vector<std::string> plugins = named_plugins();
  for (std::size_t i = 0; i < selectors.size(); ++i) {
    auto declares = [&](const std::string& plugin) {
      auto flags = declared_flags.find(plugin);
      return flags != declared_flags.end() && std::find(flags->second.begin(), flags->second.end(),
                                                        selectors[i].flag) != flags->second.end();
    };
    if (std::none_of(plugins.begin(), plugins.end(), declares)) return i;
  }
  return std::nullopt;
}

bool Pipeline::selector_flags_declared(
    const std::map<std::string, std::vector<std::string>>& declared_flags) const {
  return !first_undeclared_selector(declared_flags);
}

void Pipeline::check_selector_flags(
    std::string_view source,
    const std::map<std::string, std::vector<std::string>>& declared_flags) const {
  const std::optional<std::size_t> undeclared = first_undeclared_selector(declared_flags);
  if (!undeclared) return;
  const Selector& selector = selectors[*undeclared];
  std::set<std::string> known;  // sorted, for a message that reads the same on every run
  for (const auto& plugin : named_plugins())
    if (auto flags = declared_flags.find(plugin); flags != declared_flags.end())
      for (const auto& flag : flags->second) known.insert("--" + flag);
  std::string list;
  for (const auto& flag : known) list += (list.empty() ? "" : ", ") + flag;
  throw Error(std::string(source) + ": selectors[" + std::to_string(*undeclared) + "] (stage " +
              selector.stage + "): no plugin of the pipeline declares the flag --" + selector.flag +
              ", so it never selects (" +
              (list.empty() ? std::string("its plugins declare no flags; remove the selector")
                            : "its plugins declare " + list + "; name one of those") +
              ")");
}

PipelineStage* Pipeline::find_kind(std::string_view kind) {
  for (auto& stage : stages)
    if (stage.kind == kind) return &stage;
  return nullptr;
}

void Pipeline::override_stage(std::string_view assignment) {
  auto equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == assignment.size())
    throw Error("--stage \"" + std::string(assignment) +
                "\" must be KIND=PLUGIN, e.g. --stage network=nsrun.network.none");
  std::string kind(assignment.substr(0, equals));
  PipelineStage* stage = find_kind(kind);
  if (!stage) {
    std::string known;
    for (const auto& s : stages) known += (known.empty() ? "" : ", ") + s.kind;
    throw Error("--stage " + std::string(assignment) + ": the pipeline has no \"" + kind +
                "\" stage (it has: " + known + ")");
  }
  stage->plugin = std::string(assignment.substr(equals + 1));
  stage->config = {};
}

}  // namespace nsrun::core
