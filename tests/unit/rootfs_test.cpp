// `nsrun rootfs create`: bad input is one error before anything is made, and a failure halfway
// leaves nothing half-made (no root needed: a fake busybox stands in for the real one).
#include "nsrun/core/rootfs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

class Rootfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsrun-rootfs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A stand-in for busybox: `--list` prints two applets after running `extra` (shell).
  std::string fake_busybox(const std::string& extra = "") {
    std::string path = dir_ + "/busybox";
    std::ofstream(path) << "#!/bin/sh\n" << extra << "\necho sh\necho ls\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }
  std::string error_of(const std::string& root, const std::string& busybox) {
    try {
      create_busybox_rootfs(root, busybox);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::string dir_;
};

TEST_F(Rootfs, AFakeBusyboxMakesARootfsWithItsApplets) {
  ASSERT_EQ(error_of(dir_ + "/root", fake_busybox()), "");
  EXPECT_TRUE(fs::is_symlink(dir_ + "/root/bin/sh"));
  EXPECT_TRUE(fs::is_regular_file(dir_ + "/root/etc/passwd"));
}

TEST_F(Rootfs, AMissingBusyboxIsNamedAndNothingIsMade) {
  EXPECT_EQ(error_of(dir_ + "/root", dir_ + "/no-busybox"),
            "rootfs: " + dir_ +
                "/no-busybox not found (install it with: apt-get install "
                "busybox-static)");
  EXPECT_FALSE(fs::exists(dir_ + "/root"));
}

TEST_F(Rootfs, ADirectoryThatCannotBeMadeIsNamed) {
  std::ofstream(dir_ + "/file") << "x";
  EXPECT_EQ(error_of(dir_ + "/file/root", fake_busybox()),
            "rootfs: cannot create " + dir_ +
                "/file/root: Not a directory (name a directory nsrun can create)");
}

TEST_F(Rootfs, AFailureHalfwayLeavesNothingHalfMade) {
  // etc/passwd made a directory behind nsrun's back: writing the file fails after the rest.
  const std::string root = dir_ + "/root";
  EXPECT_EQ(error_of(root, fake_busybox("mkdir -p " + root + "/etc/passwd")),
            "rootfs: cannot write " + root + "/etc/passwd: Is a directory");
  EXPECT_TRUE(!fs::exists(root) || fs::is_empty(root));
}

}  // namespace
}  // namespace nsrun::core
