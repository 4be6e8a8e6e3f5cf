// --userns auto: the subordinate id pool, first fit, and the store under a temporary state root.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "nsrun/namespaces/subid_store.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::namespaces {
namespace {

namespace fs = std::filesystem;

class TempRoot {
 public:
  TempRoot() {
    std::string pattern = (fs::temp_directory_path() / "nsrun-subid-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempRoot() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  // A container "alive" in this state root: it has a state directory.
  void make_container(const std::string& id) const { fs::create_directory(path_ + "/" + id); }
  void remove_container(const std::string& id) const { fs::remove_all(path_ + "/" + id); }
  std::vector<std::string> entries(const std::string& kind) const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(path_ + "/_userns/" + kind))
      out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

TEST(SubordinateRanges, ReadsTheUsersLinesOnly) {
  const std::string text =
      "# a comment\n"
      "alice:100000:65536\n"
      "containers:2147483647:2147483648\n"
      "\n"
      "containers:1000000:100000\n"
      "containers:bad:1\n"
      "containers:5:0\n"
      "containersx:1:1\n";
  EXPECT_EQ(subordinate_ranges(text, "containers"),
            (std::vector<IdRange>{{2147483647, 2147483648ULL}, {1000000, 100000}}));
  EXPECT_EQ(subordinate_ranges(text, "alice"), (std::vector<IdRange>{{100000, 65536}}));
  EXPECT_TRUE(subordinate_ranges(text, "bob").empty());
}

TEST(FirstFit, TakesTheLowestFreeBlock) {
  std::vector<IdRange> pool{{300000, 200000}, {100000, 100000}};
  EXPECT_EQ(first_fit(pool, {}, 65536), 100000U);
  EXPECT_EQ(first_fit(pool, {{100000, 65536}}, 65536), 300000U) << "the rest of 100000 is short";
  EXPECT_EQ(first_fit(pool, {{100000, 65536}}, 34464), 165536U);
  EXPECT_EQ(first_fit(pool, {{300000, 10}}, 65536), 100000U);
  EXPECT_EQ(first_fit(pool, {{100000, 100000}, {300000, 65536}}, 65536), 365536U);
  EXPECT_EQ(first_fit(pool, {{100000, 100000}, {350000, 65536}}, 65536), 415536U)
      << "not between 300000 and 350000: only 50000 free there";
}

TEST(FirstFit, SaysWhenThePoolIsFull) {
  std::vector<IdRange> pool{{100000, 131072}};
  EXPECT_EQ(first_fit(pool, {{100000, 65536}, {165536, 65536}}, 65536), std::nullopt);
  EXPECT_EQ(first_fit(pool, {}, 200000), std::nullopt);
  EXPECT_EQ(first_fit({}, {}, 1), std::nullopt);
  EXPECT_EQ(first_fit({{4294967295ULL - 10, 100}}, {}, 11), 4294967285U) << "up to the last id";
}

TEST(SubidPool, SaysHowToGiveContainersIds) {
  TempRoot root;
  const std::string subuid = root.path() + "/subuid";
  std::ofstream(subuid) << "alice:100000:65536\n";
  try {
    read_pool(subuid, "--userns auto");
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--userns auto: " + subuid +
                  " gives the user \"containers\" no subordinate ids (add a line such as "
                  "containers:2147483647:2147483648 to /etc/subuid and /etc/subgid)");
  }
  try {
    read_pool(root.path() + "/missing", "--userns auto");
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--userns auto: cannot read " + root.path() +
                  "/missing: No such file or directory (create it with a line such as "
                  "containers:2147483647:2147483648)");
  }
  std::ofstream(subuid, std::ios::app) << "containers:200000:131072\n";
  EXPECT_EQ(read_pool(subuid, "--userns auto"), (std::vector<IdRange>{{200000, 131072}}));
}

TEST(SubidStore, HoldsReleasesAndReclaimsBlocks) {
  TempRoot root;
  root.make_container("a");
  root.make_container("b");
  const std::vector<IdRange> pool{{200000, 3 * 65536}};
  SubidStore store(root.path());
  {
    SubidSession session = store.lock();
    auto a = choose_block(session, "uids", pool, 65536, "--userns auto", "subuid");
    EXPECT_EQ(a, 200000U);
    session.hold("uids", {a, 65536, "a"});
    auto b = choose_block(session, "uids", pool, 65536, "--userns auto", "subuid");
    EXPECT_EQ(b, 265536U);
    session.hold("uids", {b, 65536, "b"});
    EXPECT_EQ(choose_block(session, "gids", pool, 65536, "--userns auto", "subgid"), 200000U)
        << "gids are a pool of their own";
  }
  EXPECT_EQ(root.entries("uids"), (std::vector<std::string>{"200000", "265536"}));
  EXPECT_EQ(::access((root.path() + "/_userns/lock").c_str(), F_OK), 0);
  struct stat st {};
  ASSERT_EQ(::stat((root.path() + "/_userns").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  {
    SubidSession session = store.lock();
    EXPECT_FALSE(session.release("uids", 200000, "b")) << "a's block is not b's to release";
    EXPECT_TRUE(session.release("uids", 200000, "a"));
    EXPECT_FALSE(session.release("uids", 200000, "a")) << "released twice: nothing to do";
    EXPECT_EQ(choose_block(session, "uids", pool, 65536, "--userns auto", "subuid"), 200000U);
    // b's state directory is gone (a crash, then gc): its block is free for the taking.
    root.remove_container("b");
    EXPECT_TRUE(session.live_blocks("uids").empty());
    session.hold("uids", {265536, 65536, "a"});
    EXPECT_FALSE(session.release("uids", 265536, "b")) << "reclaimed by a: not b's any more";
    EXPECT_EQ(session.live_blocks("uids").size(), 1U);
  }
}

TEST(SubidStore, SaysWhenThePoolIsFull) {
  TempRoot root;
  root.make_container("a");
  const std::vector<IdRange> pool{{200000, 65536}};
  SubidSession session = SubidStore(root.path()).lock();
  session.hold("uids", {200000, 65536, "a"});
  try {
    choose_block(session, "uids", pool, 65536, "--userns auto", "/tmp/subuid");
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--userns auto: no free block of 65536 ids left in the containers range of "
              "/tmp/subuid (1 in use; give containers a larger range, or remove stopped "
              "containers)");
  }
}

TEST(SubidStore, ConcurrentAllocationsGetDistinctBlocks) {
  TempRoot root;
  constexpr int count = 8;
  const std::vector<IdRange> pool{{100000, count * 65536}};
  for (int i = 0; i < count; ++i) root.make_container("c" + std::to_string(i));
  std::vector<std::uint32_t> starts(count);
  std::vector<std::thread> threads;
  // Each thread opens the lock file itself: flock excludes separate open file descriptions.
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] {
      SubidSession session = SubidStore(root.path()).lock();
      starts[i] = choose_block(session, "uids", pool, 65536, "--userns auto", "subuid");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // widen the race window
      session.hold("uids", {starts[i], 65536, "c" + std::to_string(i)});
    });
  for (auto& t : threads) t.join();
  std::sort(starts.begin(), starts.end());
  for (int i = 0; i < count; ++i) EXPECT_EQ(starts[i], 100000U + 65536U * i);
  EXPECT_EQ(root.entries("uids").size(), static_cast<std::size_t>(count));
}

}  // namespace
}  // namespace nsrun::namespaces
