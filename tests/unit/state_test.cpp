#include "nsrun/core/state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/loader.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

// A state root of the test's own under the temp directory, removed with whatever is left in it.
struct ScratchRoot {
  fs::path path;
  explicit ScratchRoot(const std::string& tag)
      : path(fs::temp_directory_path() / ("nsrun-" + tag + "-" + std::to_string(::getpid()))) {}
  ~ScratchRoot() { fs::remove_all(path); }
  ScratchRoot(const ScratchRoot&) = delete;
  ScratchRoot& operator=(const ScratchRoot&) = delete;
};

TEST(State, ContainerIds) {
  EXPECT_TRUE(is_valid_container_id("abc-1.2_x"));
  EXPECT_FALSE(is_valid_container_id(""));
  EXPECT_FALSE(is_valid_container_id("-abc"));
  EXPECT_FALSE(is_valid_container_id("a/b"));
  EXPECT_FALSE(is_valid_container_id(".."));
  EXPECT_FALSE(is_valid_container_id(std::string(65, 'a')));
  std::string id = generate_container_id();
  EXPECT_EQ(id.size(), 12u);
  EXPECT_TRUE(is_valid_container_id(id));
  EXPECT_NE(id, generate_container_id());
}

// The creator holds the lock from before the directory has its id until it lets go; nothing else
// is left in the root (the temporary name is gone).
TEST(State, TheCreatorHoldsTheLockUntilItLetsGo) {
  ScratchRoot scratch("lock");
  const fs::path& root = scratch.path;
  StateDir state(root.string(), "c1");
  {
    StateLock held = state.create();
    EXPECT_FALSE(state.try_lock()) << "taken while the creator lives";
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(root)) names.push_back(entry.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"c1"});
  }
  auto lock = state.try_lock();
  EXPECT_TRUE(lock) << "free once the creator let go";
  EXPECT_FALSE(state.try_lock()) << "and exclusive";
  EXPECT_THROW((void)StateDir(root.string(), "absent").try_lock(), Error);
}

TEST(State, DirectoryLifecycleAndJournal) {
  ScratchRoot scratch("state");
  const fs::path& root = scratch.path;
  StateDir state(root.string(), "c1");
  StateLock lock = state.create();
  EXPECT_EQ(fs::status(state.path()).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_THROW((void)state.create(), Error) << "an existing id is refused";
  EXPECT_FALSE(state.read_record()) << "no state.json yet";
  ContainerRecord written;
  written.status = "running";
  written.pid = 42;
  written.pid_start_time = 123456789012;
  written.bundle = "/bundle";
  written.created = "2026-11-29T13:05:01.000000000Z";
  written.annotations = {{"k", "v"}};
  state.write_state(written);
  auto record = state.read_record();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, 42);
  EXPECT_EQ(record->pid_start_time, 123456789012u);
  EXPECT_EQ(record->status, "running");
  EXPECT_EQ(record->bundle, "/bundle");
  EXPECT_EQ(record->created, written.created);
  EXPECT_EQ(record->annotations, written.annotations);

  JournalFile file(state.journal_path());
  StageJournal a(file, "stage.a"), b(file, "stage.b");
  a.record("veth", {{"name", "v1"}});
  b.record("chain", {{"name", "c"}});
  a.record("veth", {{"name", "v2"}});
  {
    // A crash mid-append leaves a torn line; reading skips it.
    std::ofstream torn(state.journal_path(), std::ios::app);
    torn << "{\"stage\": \"stage.a\", \"ty";
  }
  auto records = a.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].data.at("name").as_string(), "v1");
  EXPECT_EQ(records[1].data.at("name").as_string(), "v2");
  EXPECT_EQ(b.records().size(), 1u);

  state.remove();
  EXPECT_FALSE(state.exists());
  EXPECT_NO_THROW(state.remove()) << "removing twice succeeds";
}

// The record `nsrun run -d` keeps of a stopped container: its exit, and nothing a stage would
// still have to undo.
TEST(State, TheRecordOfAStoppedContainerOutlivesItsTeardown) {
  ScratchRoot scratch("record");
  const fs::path& root = scratch.path;
  StateDir state(root.string(), "c1");
  StateLock lock = state.create();
  ContainerRecord written;
  written.status = "stopped";
  written.pid = 42;
  written.exit_code = 3;
  written.finished = "2026-11-29T13:05:02.000000000Z";
  state.write_state(written);
  auto record = state.read_record();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->exit_code, 3);
  EXPECT_EQ(record->finished, written.finished);
  written.exit_code.reset();
  written.finished.clear();
  state.write_state(written);
  EXPECT_FALSE(state.read_record()->exit_code) << "a running container has no exit code";
  state.write_state(record.value());

  for (const char* name : {"pipeline.json", "plugins.json", "config.json", "journal.jsonl",
                           container_log_name, container_log_rotated_name})
    std::ofstream(state.path() + "/" + name) << "x";
  fs::create_directories(state.path() + "/files/sub");
  state.remove_all_but_record();
  std::set<std::string> left;
  for (const auto& entry : fs::directory_iterator(state.path()))
    left.insert(entry.path().filename());
  EXPECT_EQ(left,
            (std::set<std::string>{"state.json", container_log_name, container_log_rotated_name}));
  EXPECT_EQ(state.read_record()->exit_code, 3);
  EXPECT_NO_THROW(state.remove_all_but_record()) << "again: nothing more to remove";
  state.remove();
  EXPECT_NO_THROW(state.remove_all_but_record()) << "gone: succeeds";
}

// A root nsrun makes is 0711 (a container in a user namespace passes through to its own
// directory); a root that exists keeps its mode: `--root /tmp` had made /tmp 0711.
TEST(State, AStateRootThatExistsKeepsItsMode) {
  ScratchRoot scratch("modes");
  const fs::path made = scratch.path / "made";
  fs::create_directories(scratch.path / "shared");
  fs::permissions(scratch.path / "shared", fs::perms::all | fs::perms::sticky_bit);
  StateLock first = StateDir(made.string(), "c1").create();
  StateLock second = StateDir((scratch.path / "shared").string(), "c1").create();
  EXPECT_EQ(fs::status(made).permissions(),
            fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  EXPECT_EQ(fs::status(scratch.path / "shared").permissions(),
            fs::perms::all | fs::perms::sticky_bit);
  EXPECT_EQ(fs::status(scratch.path / "shared" / "c1").permissions(), fs::perms::owner_all);
}

// What is nsrun's under a state root: its files, or an empty directory (its nsrun died right
// after making it). Anything else, another runtime's state.json included, is not.
TEST(State, ADirectoryIsNsrunsByTheFilesNsrunKeepsInIt) {
  ScratchRoot scratch("owner");
  const fs::path& root = scratch.path;
  auto dir_with = [&](const std::string& id, const std::string& file, const std::string& text) {
    fs::create_directories(root / id);
    if (!file.empty()) std::ofstream(root / id / file) << text;
    return StateDir(root.string(), id);
  };
  EXPECT_TRUE(dir_with("empty", "", "").is_nsruns());
  EXPECT_TRUE(dir_with("torn", "pipeline.json.tmp", "{\"sta").is_nsruns());
  EXPECT_TRUE(dir_with("creating", "pipeline.json", "{}").is_nsruns());
  EXPECT_TRUE(dir_with("journalled", "journal.jsonl", "").is_nsruns());
  EXPECT_TRUE(
      dir_with("kept", "state.json", R"({"ociVersion": "1.0.2", "nsrun": {}})").is_nsruns());
  EXPECT_FALSE(
      dir_with("runc", "state.json", R"({"id": "runc", "init_process_pid": 7})").is_nsruns());
  EXPECT_FALSE(dir_with("torn-state", "state.json", "{\"nsr").is_nsruns());
  EXPECT_FALSE(dir_with("photos", "cat.jpg", "...").is_nsruns());
  StateDir made(root.string(), "made");
  StateLock lock = made.create();
  EXPECT_TRUE(made.is_nsruns());
  ContainerRecord record;
  record.status = "stopped";
  made.write_state(record);
  made.remove_all_but_record();
  EXPECT_TRUE(made.is_nsruns()) << "the record of a stopped container";
}

// pause, resume and update of a container that is still being created (its creator holds the
// state and has not written pipeline.json yet) say so, instead of naming a missing file.
TEST(State, AChangeOfAContainerBeingCreatedSaysItIsCreating) {
  ScratchRoot scratch("creating");
  const fs::path& root = scratch.path;
  StateDir state(root.string(), "c1");
  StateLock creator = state.create();
  PluginRegistry none;
  StderrLogger log(false);
  auto message_of = [](auto&& change) {
    try {
      change();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message_of([&] { pause_container(state, none, log); }),
            "pause: container \"c1\" is creating (try again once it is created)");
  EXPECT_EQ(message_of([&] { resume_container(state, none, log); }),
            "resume: container \"c1\" is creating (try again once it is created)");
  EXPECT_EQ(message_of([&] { update_container(state, none, log, {}); }),
            "update: container \"c1\" is creating (try again once it is created)");
  EXPECT_EQ(message_of([&] { pause_container(StateDir(root.string(), "c2"), none, log); }),
            "container \"c2\" does not exist");
}

}  // namespace
}  // namespace nsrun::core
