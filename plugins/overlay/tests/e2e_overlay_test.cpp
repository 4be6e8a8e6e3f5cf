// End to end, as root: nsrun.storage.overlay leaves the base rootfs byte-identical (every file's
// content and metadata) whatever the workload writes, deletes and renames; two containers on one
// base never see each other's files; --keep-changes keeps what one wrote; nothing is left mounted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-overlay-state-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-overlay-work-");
    base_ = work_->path() + "/base";
    ASSERT_EQ(run({"cp", "-a", busybox_rootfs(), base_}).exit_code, 0);
  }
  void TearDown() override {
    if (!state_) return;
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
    EXPECT_TRUE(mounts_containing(state_->path()).empty()) << "an overlay is still mounted";
    EXPECT_TRUE(mounts_containing(base_).empty());
  }
  CommandResult overlay_run(const std::vector<std::string>& args,
                            const std::string& workdir = "/") {
    std::vector<std::string> argv{
        nsrun_binary(), "--root", state_->path(), "run", "--stage", "storage=nsrun.storage.overlay",
        "--network",    "none",   "--rootfs",     base_, "-w",      workdir};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 60, work_->path());
  }
  // Every file of the base with its type, mode, owner, size, mtime and content digest.
  std::string fingerprint() {
    auto r = sh("cd " + shell_quote(base_) +
                " && find . -printf '%p %y %m %U %G %s %T@ %l\\n' | sort && find . -type f -print0 "
                "| sort -z | xargs -0 sha256sum");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  std::unique_ptr<TempDir> state_, work_;
  std::string base_;
};

TEST_F(OverlayTest, TheBaseRootfsStaysByteIdenticalWhateverTheWorkloadDoes) {
  const std::string before = fingerprint();
  auto r = overlay_run(
      {"sh", "-c",
       "echo new > /new-file && echo more >> /etc/passwd && rm /bin/ls && mv /etc/group "
       "/etc/group.moved && mkdir -p /var/made/deep && chmod 700 /etc && touch /bin/busybox "
       "&& ln -s /nowhere /etc/link && test ! -e /bin/ls && cat /new-file"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "new\n") << "the container sees its own changes";
  EXPECT_EQ(fingerprint(), before) << "the base rootfs changed";
  r = overlay_run({"sh", "-c", "test -e /bin/ls && test ! -e /new-file && echo clean"});
  EXPECT_EQ(r.out, "clean\n") << r.err
                              << " (a second container sees the base, not the first's changes)";
}

TEST_F(OverlayTest, KeepChangesKeepsWhatTheContainerWrote) {
  const std::string kept = work_->path() + "/kept";
  auto r = overlay_run({"--keep-changes", kept, "sh", "-c", "echo mine > /etc/mine && rm /bin/ls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text(kept + "/etc/mine"), "mine\n");
  struct stat st {};
  ASSERT_EQ(::lstat((kept + "/bin/ls").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "a deletion is overlayfs's whiteout";
  EXPECT_TRUE(fs::exists(base_ + "/bin/ls"));

  r = overlay_run({"--keep-changes", kept, "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: storage: --keep-changes " + kept + ": " + kept +
                       " exists (name a new directory: the container's changes become it)\n");
  r = overlay_run({"--keep-changes", work_->path() + "/no/such", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: storage: --keep-changes " + work_->path() + "/no/such: the directory " +
                       work_->path() + "/no does not exist (create it first)\n");
}

// A run that fails before its workload runs (the overlay mounted, the container set up) has no
// changes to keep: --keep-changes DIR is not made, and stays free for the next run.
TEST_F(OverlayTest, ARunThatFailsBeforeItsWorkloadRunsMakesNoKeepChangesDirectory) {
  const std::string kept = work_->path() + "/kept";
  auto r = overlay_run({"--keep-changes", kept, "/no/such/command"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_FALSE(fs::exists(fs::symlink_status(kept))) << "a command not found made " << kept;
  // The exec stage's start_container, the last step before execve, fails.
  r = overlay_run({"--keep-changes", kept, "true"}, "/etc/passwd");
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_NE(r.err.find("working directory /etc/passwd is not usable"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fs::symlink_status(kept))) << "a failed start_container made " << kept;

  r = overlay_run({"--keep-changes", kept, "sh", "-c", "echo ran > /ran"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text(kept + "/ran"), "ran\n");
}

// A workload that writes nothing still ran: its (empty) changes are kept, as asked.
TEST_F(OverlayTest, AWorkloadThatWritesNothingStillGetsItsKeepChangesDirectory) {
  const std::string kept = work_->path() + "/kept";
  auto r = overlay_run({"--keep-changes", kept, "false"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(fs::is_directory(kept));
}

// Two containers given the same --keep-changes: the second to be removed finds the directory
// taken, and keeps its changes beside it instead of dropping them.
TEST_F(OverlayTest, TwoContainersKeepingChangesInOneDirectoryLoseNeither) {
  const std::string kept = work_->path() + "/kept";
  std::vector<std::string> detached{"-d", "--keep-changes", kept, "--name"};
  auto start = [&](const std::string& name, const std::string& file) {
    std::vector<std::string> args = detached;
    args.insert(args.end(), {name, "sh", "-c", "echo " + name + " > /" + file + "; sleep 30"});
    return overlay_run(args);
  };
  ASSERT_EQ(start("k1", "one").exit_code, 0);
  ASSERT_EQ(start("k2", "two").exit_code, 0);
  auto nsrun = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{nsrun_binary(), "--root", state_->path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 30);
  };
  for (int i = 0; i < 500 && !fs::exists(state_->path() + "/k2/overlay/upper/two"); ++i)
    ::usleep(10000);
  EXPECT_EQ(nsrun({"delete", "--force", "k1"}).exit_code, 0);
  auto r = nsrun({"delete", "--force", "k2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text(kept + "/one"), "k1\n");
  EXPECT_EQ(read_text(kept + ".k2/two"), "k2\n");
}

// A relative --keep-changes is the caller's, with -d as in the foreground (the supervisor read
// it from / before).
TEST_F(OverlayTest, ARelativeKeepChangesOfADetachedRunIsTheCallersDirectorys) {
  auto r = overlay_run(
      {"-d", "--name", "kr", "--keep-changes", "kept", "sh", "-c", "echo detached > /mine"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> wait{nsrun_binary(), "--root", state_->path(), "delete", "kr"};
  for (int i = 0; i < 500 && run(wait, "", 30).exit_code != 0; ++i) ::usleep(10000);
  EXPECT_EQ(read_text(work_->path() + "/kept/mine"), "detached\n");
}

// The upper layer's path goes into overlayfs's option string, which a ',' would cut.
TEST_F(OverlayTest, AStateRootWithACommaIsRefusedInOneLine) {
  const std::string root = work_->path() + "/st,ate";
  fs::create_directory(root);
  auto r = run({nsrun_binary(), "--root", root, "run", "--stage", "storage=nsrun.storage.overlay",
                "--network", "none", "--rootfs", base_, "-w", "/", "true"},
               "", 60, work_->path());
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_TRUE(r.err.starts_with("nsrun: storage: overlay: the state directory " + root + "/"))
      << r.err;
  EXPECT_TRUE(
      r.err.ends_with(" cannot hold overlayfs's upper layer: its path has a ',' (give "
                      "--root a directory without one)\n"))
      << r.err;
  EXPECT_TRUE(fs::is_empty(root)) << "nothing is left under the root";
}

TEST_F(OverlayTest, ASigkilledRunLeavesNothingAfterGc) {
  BackgroundProcess run_process({nsrun_binary(), "--root", state_->path(), "run", "--stage",
                                 "storage=nsrun.storage.overlay", "--network", "none", "--rootfs",
                                 base_, "--name", "killed", "-w", "/", "sleep", "30"});
  for (int i = 0; i < 300 && mounts_containing(state_->path()).empty(); ++i) ::usleep(10000);
  ASSERT_FALSE(mounts_containing(state_->path()).empty()) << "the overlay was never mounted";
  ::kill(run_process.pid(), SIGKILL);
  run_process.wait();
  // The container process dies with nsrun, a moment later (its parent-death signal); until
  // then gc leaves it alone, as it must leave a live container of `nsrun create`.
  for (int i = 0; i < 1000; ++i) {
    auto state = run({nsrun_binary(), "--root", state_->path(), "state", "killed"});
    if (state.exit_code != 0 || state.out.find("\"status\":\"running\"") == std::string::npos)
      break;
    ::usleep(10000);
  }
  auto r = run({nsrun_binary(), "--root", state_->path(), "gc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(mounts_containing(state_->path()).empty()) << "gc unmounts the overlay";
}

}  // namespace
}  // namespace nsrun::test
