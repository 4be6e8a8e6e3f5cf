#include "nsrun/core/spec_json.hpp"

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {

ContainerSpec spec_from_json(const boost::json::value& config, const std::string& bundle_dir) {
  try {
    return nsrun::spec_from_json(config, bundle_dir);
  } catch (const SpecError& e) {
    throw Error(e.what());
  }
}

boost::json::object read_bundle_config(const std::string& bundle_dir) {
  auto document = read_json_file(bundle_dir + "/config.json", "bundle");
  ContainerSpec spec = spec_from_json(document, bundle_dir);  // checks the modelled fields
  auto& object = document.as_object();
  if (auto* root = object.if_contains("root"); root && root->is_object())
    root->as_object()["path"] = spec.root.path;
  return object;
}

}  // namespace nsrun::core
