// A detached container's log: the size flag, rotation at the cap, the logger's hold-then-write
// and drop rules, and reading across a rotation.
#include "nsrun/core/container_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

class ContainerLog : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nsrun-log-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }
  bool exists(const std::string& name) const { return fs::exists(dir_ / name); }

  // What a reader prints (to a file outside the log's directory).
  template <typename Read>
  std::string captured(Read read_into) {
    fs::path out = dir_.string() + "-out";
    int file = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    read_into(file);
    ::close(file);
    std::ifstream in(out);
    std::stringstream all;
    all << in.rdbuf();
    fs::remove(out);
    return all.str();
  }

  // A logger process as the supervisor forks one: it reads `output` and is told through
  // `control` when the state directory exists. Returns its pid; the caller keeps the write ends.
  pid_t start_logger(int output[2], int control[2]) {
    if (::pipe(output) != 0 || ::pipe(control) != 0) return -1;
    pid_t logger = ::fork();
    if (logger == 0) {
      ::close(output[1]);
      ::close(control[1]);
      pump_container_log(output[0], control[0], dir_.string(), 1024);
      ::_exit(0);
    }
    ::close(output[0]);
    ::close(control[0]);
    return logger;
  }

  fs::path dir_;
};

TEST(LogSize, BytesOrWithAUnit) {
  EXPECT_EQ(parse_log_size("4096"), 4096u);
  EXPECT_EQ(parse_log_size("512k"), 512u * 1024);
  EXPECT_EQ(parse_log_size("10m"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_log_size("1G"), std::uint64_t{1} << 30);
  for (const char* bad : {"", "0", "m", "10x", "-1", "1.5m", "2048g", "99999999999999"}) {
    try {
      parse_log_size(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--log-max-size ", 0), 0u) << e.what();
    }
  }
  EXPECT_EQ(default_log_max_size, 1024u * 1024) << "docker users expect a 1 MiB cap";
}

TEST_F(ContainerLog, RotatesAtTheCapKeepingTwoFilesAndTheNewestBytes) {
  RotatingLog log(dir_.string(), 10);
  std::string written;
  for (int i = 0; i < 7; ++i) {
    std::string line = "line" + std::to_string(i) + "\n";  // 6 bytes
    written += line;
    EXPECT_TRUE(log.write(line));
  }
  // Two lines do not fit in 10 bytes: each file holds one whole line, the last two kept.
  EXPECT_EQ(read(container_log_name), "line6\n");
  EXPECT_EQ(read(container_log_rotated_name), "line5\n");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir_)) files.push_back(entry.path().filename());
  EXPECT_EQ(files.size(), 2u) << "never a third file";

  // A line longer than the cap starts a file of its own and is cut at the cap.
  log.write(std::string(25, 'x'));
  EXPECT_EQ(read(container_log_rotated_name), std::string(10, 'x'));
  EXPECT_EQ(read(container_log_name), std::string(5, 'x'));
}

// A file ends after the last whole line that fits: `nsrun logs` never begins with a fragment.
TEST_F(ContainerLog, RotatesBetweenLines) {
  RotatingLog log(dir_.string(), 8);
  log.write("ab\ncd\nef\n");
  EXPECT_EQ(read(container_log_rotated_name), "ab\ncd\n");
  EXPECT_EQ(read(container_log_name), "ef\n");
}

TEST_F(ContainerLog, TheLoggerHoldsOutputUntilToldTheDirectoryExists) {
  int output[2], control[2];
  pid_t logger = start_logger(output, control);
  ASSERT_GT(logger, 0);
  ASSERT_EQ(::write(output[1], "before\n", 7), 7);
  // The write above may still be in the pipe; either way nothing may reach the directory yet.
  EXPECT_FALSE(exists(container_log_name));
  ASSERT_EQ(::write(control[1], "g", 1), 1);
  ::close(control[1]);
  ASSERT_EQ(::write(output[1], "after\n", 6), 6);
  ::close(output[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(logger, &status, 0), logger);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(read(container_log_name), "before\nafter\n");
}

TEST_F(ContainerLog, TheLoggerDropsOutputOfAContainerThatNeverStarted) {
  int output[2], control[2];
  pid_t logger = start_logger(output, control);
  ASSERT_GT(logger, 0);
  ASSERT_EQ(::write(output[1], "nsrun: setup failed\n", 20), 20);
  ::close(control[1]);  // the supervisor's word that setup failed; its stderr is still open
  int status = 0;
  ASSERT_EQ(::waitpid(logger, &status, 0), logger) << "it stops without waiting for the output";
  ::close(output[1]);
  EXPECT_FALSE(exists(container_log_name)) << "nothing is created";
}

TEST_F(ContainerLog, ReaderPrintsTheOlderPartFirstAndFollowsARotation) {
  LogReader missing(dir_.string());
  EXPECT_FALSE(missing.copy_kept(STDOUT_FILENO)) << "no log: not started detached";

  RotatingLog log(dir_.string(), 8);
  log.write("aaaaaaaabbbb");  // container.log.1 "aaaaaaaa", container.log "bbbb"
  LogReader reader(dir_.string());
  std::string out = captured([&](int fd) { EXPECT_TRUE(reader.copy_kept(fd)); });
  EXPECT_EQ(out, "aaaaaaaabbbb");
  log.write("ccccdd");  // fills container.log to 8, rotates, "dd" in the new one
  out = captured([&](int fd) { reader.copy_new(fd); });
  EXPECT_EQ(out, "ccccdd") << "the rest of the old file, then the new one";
  log.write("ee");
  out = captured([&](int fd) { reader.copy_new(fd); });
  EXPECT_EQ(out, "ee");
}

}  // namespace
}  // namespace nsrun::core
