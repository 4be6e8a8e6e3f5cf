// nsrun SDK: reading a stage's typed config from its JSON object.
//
// Each stage's config in the pipeline is a JSON object. A stage reads the keys it knows with
// ConfigReader and calls finish(), which rejects any key it did not read, naming the key: a typo
// in a pipeline file must be an error, never silently ignored.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/stage.hpp"

namespace nsrun {

class ConfigReader {
 public:
  /// `where` names the stage in messages, e.g. "nsrun.storage".
  ConfigReader(const boost::json::object& config, std::string_view where)
      : config_(config), where_(where) {}

  std::optional<std::string> string(std::string_view key) {
    const boost::json::value* v = take(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) throw type_error(key, "a string");
    return std::string(v->as_string());
  }

  std::optional<bool> boolean(std::string_view key) {
    const boost::json::value* v = take(key);
    if (!v) return std::nullopt;
    if (!v->is_bool()) throw type_error(key, "true or false");
    return v->as_bool();
  }

  std::optional<std::int64_t> integer(std::string_view key) {
    const boost::json::value* v = take(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->as_uint64());
    throw type_error(key, "an integer");
  }

  std::optional<std::vector<std::string>> strings(std::string_view key) {
    const boost::json::value* v = take(key);
    if (!v) return std::nullopt;
    if (!v->is_array()) throw type_error(key, "an array of strings");
    std::vector<std::string> out;
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) throw type_error(key, "an array of strings");
      out.emplace_back(item.as_string());
    }
    return out;
  }

  /// Throws StageError naming the first key that no accessor read.
  void finish() const {
    for (const auto& kv : config_) {
      if (!read_.count(std::string(kv.key())))
        throw StageError("unknown config key \"" + std::string(kv.key()) + "\" for " + where_ +
                         " (remove it or check its spelling)");
    }
  }

 private:
  const boost::json::value* take(std::string_view key) {
    read_.insert(std::string(key));
    return config_.if_contains(key);
  }
  StageError type_error(std::string_view key, std::string_view expected) const {
    return StageError("config key \"" + std::string(key) + "\" of " + where_ + " must be " +
                      std::string(expected));
  }

  const boost::json::object& config_;
  std::string where_;
  std::set<std::string> read_;
};

}  // namespace nsrun
