// nsrun.exec: the workload's HOME from the container's /etc/passwd, as runc gives it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nsrun::exec {

/// The home directory (sixth field) of the first line of an /etc/passwd text
/// ("name:password:uid:gid:gecos:home:shell") whose uid is `uid`, as runc reads it (the first
/// match wins, a short line has an empty home); nullopt when no line names `uid`. Blank lines
/// and lines whose uid is not a number are skipped.
inline std::optional<std::string> home_of(std::string_view passwd, std::int64_t uid) {
  while (!passwd.empty()) {
    const std::size_t end = std::min(passwd.find('\n'), passwd.size());
    std::string_view line = passwd.substr(0, end);
    passwd.remove_prefix(std::min(end + 1, passwd.size()));
    std::string_view fields[7];
    std::size_t count = 0;
    for (std::string_view rest = line; count < 7;) {
      const std::size_t colon = rest.find(':');
      fields[count++] = rest.substr(0, colon);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
    const std::string_view uid_field = count > 2 ? fields[2] : std::string_view();
    if (uid_field.empty() || uid_field.size() > 10 ||
        uid_field.find_first_not_of("0123456789") != std::string_view::npos)
      continue;
    if (std::stoll(std::string(uid_field)) == uid)
      return std::string(count > 5 ? fields[5] : std::string_view());
  }
  return std::nullopt;
}

}  // namespace nsrun::exec
