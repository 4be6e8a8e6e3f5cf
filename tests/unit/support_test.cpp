// The support library the core and the plugins share.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "nsrun/support/fd.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::support {
namespace {

namespace fs = std::filesystem;

TEST(Support, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  fs::path dir = fs::temp_directory_path() / ("nsrun-support-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "file").string();
  EXPECT_EQ(write_file_atomically(path, "first\n", 0640), 0);
  EXPECT_EQ(write_file_atomically(path, "second\n"), 0);
  EXPECT_EQ(read_file(path), "second\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "a new file each time, with the mode asked for";
  EXPECT_EQ(write_file_atomically((dir / "missing" / "file").string(), "x"), ENOENT);
  EXPECT_FALSE(read_file((dir / "missing").string()));
  fs::remove_all(dir);
}

TEST(Support, UniqueFdClosesOnceAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "closed when its owner went";
}

}  // namespace
}  // namespace nsrun::support
