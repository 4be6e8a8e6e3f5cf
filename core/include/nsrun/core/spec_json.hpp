// OCI config.json <-> ContainerSpec for the core: the SDK's reader and writer (nsrun/spec_json.hpp,
// which plugins compile in too), with the core's error type.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "nsrun/spec.hpp"
#include "nsrun/spec_json.hpp"

namespace nsrun::core {

/// Reads the modelled subset of an OCI runtime-spec config.json; a modelled field of the wrong
/// type is an Error naming it. `bundle_dir` resolves a relative root.path, as the OCI spec says.
ContainerSpec spec_from_json(const boost::json::value& config, const std::string& bundle_dir);

/// Reads DIR/config.json, with a relative root.path made absolute in the document too.
boost::json::object read_bundle_config(const std::string& bundle_dir);

using nsrun::spec_to_json;

}  // namespace nsrun::core
