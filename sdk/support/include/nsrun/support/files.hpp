// nsrun support: whole-file reads and writes (see fd.hpp for where this library is used).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nsrun::support {

/// The errno of a failed call, 0 for success.
using Errno = int;

/// Writes all of `text` to `fd`, again after a partial write or EINTR.
Errno write_all(int fd, std::string_view text);

/// Writes `text` to `path` whole or not at all: a temporary file in the same directory, then
/// rename, so that a reader never sees half a file and a crash leaves the old one. The
/// temporary is removed on failure.
Errno write_file_atomically(const std::string& path, std::string_view text, unsigned mode = 0600);

/// The whole content of `path`, or nullopt (errno set) when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

/// The names in the directory `path`, but ".", ".." and write_file_atomically's temporaries
/// ("*.tmp"), in directory order; empty when it cannot be read. For the small stores stages
/// keep under the state root (the network's IPAM, the user namespaces' id blocks).
std::vector<std::string> list_directory(const std::string& path);

}  // namespace nsrun::support
