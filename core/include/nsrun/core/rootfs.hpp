// Building a minimal root filesystem from Debian's busybox-static.
#pragma once

#include <string>

namespace nsrun::core {

/// Creates a busybox rootfs in `dir` (created if missing; must be empty otherwise): the static
/// busybox binary, a symlink per applet in /bin, the usual top-level directories, /etc/passwd
/// and /etc/group, and empty mountpoints for the files nsrun bind-mounts (/etc/hostname,
/// /etc/hosts, /etc/resolv.conf) and /app. Throws Error with a one-line reason.
void create_busybox_rootfs(const std::string& dir, const std::string& busybox = "/bin/busybox");

}  // namespace nsrun::core
