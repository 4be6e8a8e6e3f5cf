// RealHostFs::copy_tree, tmpcopyup's copy, against real temporary directories (no root needed):
// each entry keeps its type, mode, owner and times, and no symlink of the image is followed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fake_host_fs.hpp"
#include "nsrun/storage/host_fs.hpp"

namespace nsrun::storage {
namespace {

using testing::TempDir;

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

// Sets the access and modification times of `path` itself (a symlink's own).
void set_times(const std::string& path, time_t access, time_t modification) {
  const struct timespec times[2] = {{access, 0}, {modification, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CopyTree : public ::testing::Test {
 protected:
  // Copies image/run into the directory `tmpfs` as the storage stage does.
  Errno copy() {
    int from = -1;
    if (Errno err = fs.open_directory(image.path() + "/run", from)) return err;
    Errno err = fs.copy_tree(from, tmpfs.path());
    fs.close(from);
    return err;
  }
  // A directory left read-only by a test is opened again, so that its TempDir can be removed.
  void TearDown() override {
    for (const std::string& dir : {in_image("sub"), in_tmpfs("sub")}) ::chmod(dir.c_str(), 0755);
  }
  std::string in_image(const std::string& relative) const {
    return image.path() + "/run/" + relative;
  }
  std::string in_tmpfs(const std::string& relative) const { return tmpfs.path() + "/" + relative; }

  RealHostFs fs;
  TempDir image, tmpfs, outside;
};

TEST_F(CopyTree, KeepsEachEntrysTypeModeOwnerAndTimes) {
  image.make_file("run/hello.txt", "seeded\n");
  image.make_file("run/sub/inner.txt", "inner\n");
  image.make_file("run/setuid", "#!/bin/sh\n");
  image.make_symlink("run/link", "hello.txt");
  ASSERT_EQ(::mkfifo(in_image("fifo").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(in_image("fifo").c_str(), 0620), 0);
  ASSERT_EQ(::chmod(in_image("hello.txt").c_str(), 0640), 0);
  ASSERT_EQ(::chmod(in_image("sub/inner.txt").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(in_image("setuid").c_str(), 04755), 0);
  ASSERT_EQ(::chmod(in_image("sub").c_str(), 0550), 0);  // filled all the same
  set_times(in_image("hello.txt"), 1000000001, 1000000000);
  set_times(in_image("sub/inner.txt"), 1100000001, 1100000000);
  set_times(in_image("sub"), 1200000001, 1200000000);
  set_times(in_image("link"), 1300000001, 1300000000);
  set_times(in_image("fifo"), 1400000001, 1400000000);

  ASSERT_EQ(copy(), 0);

  struct Expected {
    const char* name;
    mode_t mode;  // type and permission bits
    time_t mtime;
  };
  for (const Expected& e :
       {Expected{"hello.txt", S_IFREG | 0640, 1000000000},
        Expected{"sub/inner.txt", S_IFREG | 0600, 1100000000},
        Expected{"sub", S_IFDIR | 0550, 1200000000}, Expected{"setuid", S_IFREG | 04755, 0},
        Expected{"link", S_IFLNK | 0777, 1300000000},
        Expected{"fifo", S_IFIFO | 0620, 1400000000}}) {
    const struct stat copied = lstat_of(in_tmpfs(e.name));
    const struct stat original = lstat_of(in_image(e.name));
    EXPECT_EQ(copied.st_mode, e.mode) << e.name;
    EXPECT_EQ(copied.st_uid, original.st_uid) << e.name;
    EXPECT_EQ(copied.st_gid, original.st_gid) << e.name;
    if (e.mtime != 0) {
      EXPECT_EQ(copied.st_mtim.tv_sec, e.mtime) << e.name;
      EXPECT_EQ(copied.st_atim.tv_sec, e.mtime + 1) << e.name;
    }
    EXPECT_NE(copied.st_ino, original.st_ino) << e.name << " is a copy";
  }
  EXPECT_EQ(read_all(in_tmpfs("hello.txt")), "seeded\n");
  EXPECT_EQ(read_all(in_tmpfs("sub/inner.txt")), "inner\n");
  EXPECT_EQ(std::filesystem::read_symlink(in_tmpfs("link")), "hello.txt");
}

// The image's symlinks are copied as what they are: one leading out of the rootfs (to a host
// directory, or up with "..") is neither followed nor read through.
TEST_F(CopyTree, SymlinksAreCopiedNeverFollowed) {
  image.make_dir("run");
  const std::string secret = outside.make_file("secret", "host\n");
  image.make_symlink("run/absolute", outside.path());
  image.make_symlink("run/file", secret);
  image.make_symlink("run/up", "../../../../../../..");
  image.make_symlink("run/dangling", "/nonexistent");
  ASSERT_EQ(copy(), 0);
  for (auto [name, target] : {std::pair{"absolute", outside.path()}, std::pair{"file", secret},
                              std::pair{"up", std::string("../../../../../../..")},
                              std::pair{"dangling", std::string("/nonexistent")}}) {
    EXPECT_TRUE(S_ISLNK(lstat_of(in_tmpfs(name)).st_mode)) << name;
    EXPECT_EQ(std::filesystem::read_symlink(in_tmpfs(name)), target) << name;
  }
  EXPECT_EQ(read_all(secret), "host\n");
  std::size_t entries = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(tmpfs.path())) {
    ++entries;
    EXPECT_TRUE(entry.is_symlink()) << entry.path();
  }
  EXPECT_EQ(entries, 4u);
}

TEST_F(CopyTree, SocketsAndDeviceNodesAreSkipped) {
  image.make_file("run/kept", "x");
  const std::string socket_path = in_image("sock");
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof address.sun_path);
  std::strcpy(address.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::close(listener);
  const bool made_node = ::mknod(in_image("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  ASSERT_EQ(copy(), 0);
  EXPECT_TRUE(std::filesystem::exists(in_tmpfs("kept")));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(in_tmpfs("sock"))));
  if (made_node) {  // as root
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(in_tmpfs("null"))));
  }
}

TEST_F(CopyTree, AnEmptyDirectoryCopiesNothing) {
  image.make_dir("run");
  ASSERT_EQ(copy(), 0);
  EXPECT_TRUE(std::filesystem::is_empty(tmpfs.path()));
}

TEST_F(CopyTree, AnEntryThatIsThereAlreadyIsAnError) {
  image.make_file("run/x", "image");
  const std::string there = tmpfs.make_file("x", "tmpfs");
  EXPECT_EQ(copy(), EEXIST);
  EXPECT_EQ(read_all(there), "tmpfs");
}

TEST_F(CopyTree, OpenDirectoryRefusesAFile) {
  image.make_file("run", "not a directory");
  int fd = -1;
  EXPECT_EQ(fs.open_directory(image.path() + "/run", fd), ENOTDIR);
}

}  // namespace
}  // namespace nsrun::storage
