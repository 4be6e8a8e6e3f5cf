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
  // The runtime spec's MUST: a runtime refuses a major version it does not know (1.x here).
  if (const auto* version = object.if_contains("ociVersion")) {
    std::string text = version->is_string() ? std::string(version->as_string()) : "";
    if (!text.starts_with("1."))
      throw Error("bundle: config.json ociVersion \"" + text +
                  "\" is not a runtime-spec version nsrun implements (1.x; see nsrun features)");
  }
  // The stages see the paths spec_from_json resolved against the bundle, absolute: they do not
  // know the bundle directory (nor should a relative path depend on nsrun's working directory).
  if (auto* root = object.if_contains("root"); root && root->is_object())
    root->as_object()["path"] = spec.root.path;
  if (auto* mounts = object.if_contains("mounts"); mounts && mounts->is_array())
    for (std::size_t i = 0; i < mounts->as_array().size() && i < spec.mounts.size(); ++i)
      if (auto& mount = mounts->as_array()[i].as_object(); mount.contains("source"))
        mount["source"] = spec.mounts[i].source;
  return object;
}

}  // namespace nsrun::core
