// OCI config.json <-> ContainerSpec for the core: the SDK's reader and writer (nsrun/spec_json.hpp,
// which plugins compile in too), with the core's error type.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "nsrun/spec.hpp"
#include "nsrun/spec_json.hpp"

namespace nsrun::core {

/// Reads the modelled subset of an OCI runtime-spec config.json; a modelled field of the wrong
/// type is an Error naming it. `bundle_dir` resolves a relative root.path, as the OCI spec says.
ContainerSpec spec_from_json(const boost::json::value& config, const std::string& bundle_dir);

/// Reads DIR/config.json, with a relative root.path made absolute in the document too.
boost::json::object read_bundle_config(const std::string& bundle_dir);

using nsrun::spec_to_json;

/// A spec field a command's flag filled (`nsrun update --memory 1k` fills
/// linux.resources.memory.limit, `nsrun exec --cap X` process.capabilities.*). The stage that
/// judges the field names the field, as it must for a bundle; the command knows which flag the
/// user typed, and says that instead (naming_flags).
struct FieldFromFlag {
  std::string field;  ///< "linux.resources.memory.limit"
  std::string flag;   ///< as the user gave it: "--memory 1k", or "--cap"
  std::string value;  ///< the field's value as a stage writes it right after the field ("1024",
                      ///< a quoted "0-x"), which the flag's own text replaces; empty: none
};

/// `message` with each field of `fields` (and a "config.json: " before it, and its `value` after
/// it) replaced by its flag: "update: cgroups: config.json: linux.resources.memory.limit 1024 is
/// below the minimum" becomes "update: cgroups: --memory 1k is below the minimum". A field is
/// matched whole (not linux.resources.memory.limit in ...limitX); other text is left as it is.
std::string naming_flags(std::string message, const std::vector<FieldFromFlag>& fields);

}  // namespace nsrun::core
