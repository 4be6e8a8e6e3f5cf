// RealHostFs::open_in_root against real temporary directories (no root needed): the mountpoint
// it pins and the directories it creates stay beneath the root whatever symlinks the rootfs has,
// which is what closes the race of a path swapped for a symlink between a check and a mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "fake_host_fs.hpp"
#include "nsrun/storage/host_fs.hpp"

namespace nsrun::storage {
namespace {

using testing::TempDir;

class OpenInRoot : public ::testing::Test {
 protected:
  // The path the pinned descriptor leads to, or the errno text.
  std::string pin(const std::string& path, bool create, bool file = false) {
    int fd = -1;
    if (Errno err = fs.open_in_root(root.path(), path, create, file, fd))
      return std::string("error: ") + std::strerror(err);
    std::string where = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd));
    fs.close(fd);
    return where;
  }
  bool outside_is_empty() const { return std::filesystem::is_empty(outside.path()); }

  RealHostFs fs;
  TempDir root, outside;
};

TEST_F(OpenInRoot, CreatesMissingDirectoriesAndAFileMountpoint) {
  EXPECT_EQ(pin("/a/b/c", true), root.path() + "/a/b/c");
  EXPECT_TRUE(std::filesystem::is_directory(root.path() + "/a/b/c"));
  EXPECT_EQ(pin("/a/f.txt", true, true), root.path() + "/a/f.txt");
  EXPECT_TRUE(std::filesystem::is_regular_file(root.path() + "/a/f.txt"));
  EXPECT_EQ(pin("/a/b/c", false), root.path() + "/a/b/c") << "an existing path is just opened";
}

TEST_F(OpenInRoot, WithoutCreateAMissingPathIsAnError) {
  EXPECT_EQ(pin("/missing/x", false), "error: No such file or directory");
  EXPECT_FALSE(std::filesystem::exists(root.path() + "/missing"));
}

TEST_F(OpenInRoot, AbsoluteSymlinksAreFollowedFromTheRoot) {
  root.make_dir("srv/data");
  root.make_symlink("data", "/srv/data");
  EXPECT_EQ(pin("/data/new", true), root.path() + "/srv/data/new");
  // An absolute link to a host directory names that path inside the rootfs, never the host's:
  // what it names is made there, as runc makes it.
  root.make_symlink("host", outside.path());
  EXPECT_EQ(pin("/host/x", true), root.path() + outside.path() + "/x");
  EXPECT_TRUE(outside_is_empty());
  EXPECT_EQ(pin("/host/y", false), "error: No such file or directory") << "only when creating";
}

// A symlink to what does not exist yet, as images ship /etc/resolv.conf for systemd-resolved:
// its target is made inside the root, and mounted on.
TEST_F(OpenInRoot, ADanglingSymlinksTargetIsMadeInsideTheRoot) {
  root.make_dir("etc");
  root.make_symlink("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
  EXPECT_EQ(pin("/etc/resolv.conf", true, true),
            root.path() + "/run/systemd/resolve/stub-resolv.conf");
  EXPECT_TRUE(
      std::filesystem::is_regular_file(root.path() + "/run/systemd/resolve/stub-resolv.conf"));
  root.make_symlink("loop", "loop");
  EXPECT_EQ(pin("/loop", true), "error: Too many levels of symbolic links");
}

TEST_F(OpenInRoot, DotDotNeverLeavesTheRoot) {
  root.make_symlink("up", "../../../../../../..");
  EXPECT_EQ(pin("/up/var/lib", true), root.path() + "/var/lib");
  const std::string relative_out =
      std::filesystem::relative(outside.path(), root.path()).string();  // "../nsrun-xxx"
  root.make_symlink("sideways", relative_out);
  // Clamped at the root: what it names is made inside it.
  EXPECT_EQ(pin("/sideways/x", true),
            root.path() + "/" + std::filesystem::path(outside.path()).filename().string() + "/x");
  EXPECT_TRUE(outside_is_empty());
}

TEST_F(OpenInRoot, AFileInTheMiddleIsNotADirectory) {
  root.make_file("file", "x");
  EXPECT_EQ(pin("/file/x", true), "error: Not a directory");
}

// The attack itself, without a race: the parent of a mountpoint is a symlink to the host's
// directory at the moment of creation. Creating by path (mkdir root/vol/sub/x) would land in
// `outside`; created through descriptors it cannot.
TEST_F(OpenInRoot, AParentSwappedForASymlinkCannotSendCreationOut) {
  root.make_dir("vol");
  root.make_symlink("vol/sub", outside.path());
  EXPECT_EQ(pin("/vol/sub/x", true), root.path() + outside.path() + "/x");
  EXPECT_TRUE(outside_is_empty());
  root.make_symlink("vol/rel", "../../../../../../../../../../.." + outside.path());
  EXPECT_EQ(pin("/vol/rel/y", true), root.path() + outside.path() + "/y");
  EXPECT_TRUE(outside_is_empty());
}

}  // namespace
}  // namespace nsrun::storage
