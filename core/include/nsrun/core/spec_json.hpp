// OCI config.json <-> ContainerSpec.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "nsrun/spec.hpp"

namespace nsrun::core {

/// Reads the supported subset of an OCI runtime-spec config.json. Fields nsrun does not support
/// yet are ignored; a supported field of the wrong type is an Error naming it.
/// `bundle_dir` resolves a relative root.path, as the OCI spec says.
ContainerSpec spec_from_json(const boost::json::value& config, const std::string& bundle_dir);

/// Reads DIR/config.json.
ContainerSpec spec_from_bundle(const std::string& bundle_dir);

/// The spec as OCI config.json (for `nsrun spec` and debugging).
boost::json::object spec_to_json(const ContainerSpec& spec);

}  // namespace nsrun::core
