#include "nsrun/core/spec_json.hpp"

#include <cctype>
#include <string_view>

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

namespace {

// Whether `c` continues a field's name or a value: a match must not end inside one.
bool continues_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[';
}

}  // namespace

std::string naming_flags(std::string message, const std::vector<FieldFromFlag>& fields) {
  static constexpr std::string_view file_prefix = "config.json: ";
  for (const auto& [field, flag, value] : fields) {
    for (std::size_t at = message.find(field); at != std::string::npos;
         at = message.find(field, at + 1)) {
      std::size_t begin = at, end = at + field.size();
      if (begin > 0 && message[begin - 1] != ' ') continue;
      if (end < message.size() && continues_word(message[end])) continue;
      if (std::string_view(message).substr(0, begin).ends_with(file_prefix))
        begin -= file_prefix.size();
      if (!value.empty() && message.compare(end, value.size() + 1, " " + value) == 0 &&
          (end + value.size() + 1 == message.size() ||
           !continues_word(message[end + value.size() + 1])))
        end += value.size() + 1;
      message.replace(begin, end - begin, flag);
      at = begin + flag.size() - 1;
    }
  }
  return message;
}

}  // namespace nsrun::core
