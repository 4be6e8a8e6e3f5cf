// nsrun rootfs create DIR: a busybox root filesystem in about a second.
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/rootfs.hpp"

namespace nsrun::cli {

void add_rootfs_command(CLI::App& app, int& exit_code) {
  auto* rootfs = app.add_subcommand("rootfs", "Manage root filesystems");
  rootfs->require_subcommand(1);
  auto* create =
      rootfs->add_subcommand("create", "Create a busybox rootfs in DIR (busybox-static)");
  auto dir = std::make_shared<std::string>();
  auto busybox = std::make_shared<std::string>("/bin/busybox");
  create->add_option("dir", *dir, "Directory to create (new or empty)")->required();
  create->add_option("--busybox", *busybox, "Static busybox binary to use")->capture_default_str();
  create->callback([dir, busybox, &exit_code] {
    try {
      core::create_busybox_rootfs(*dir, *busybox);
      exit_code = 0;
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    } catch (const std::exception& e) {
      exit_code = report_error(std::string("rootfs: ") + e.what());
    }
  });
}

}  // namespace nsrun::cli
