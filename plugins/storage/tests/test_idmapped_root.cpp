// The idmapped rootfs: the exact calls, the fallback on a kernel or filesystem that refuses, and
// that no descriptor is left open.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <set>

#include "nsrun/storage/idmapped_root.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::storage {
namespace {

// Records every call; `fail` makes the named call return that errno.
struct FakeIdmapCalls final : IdmapCalls {
  std::vector<std::string>* calls;
  std::map<std::string, Errno> fail;
  std::set<int>* open_fds;
  int next_fd = 10;

  FakeIdmapCalls(std::vector<std::string>* calls, std::set<int>* open_fds)
      : calls(calls), open_fds(open_fds) {}
  Errno result(const std::string& name) {
    auto it = fail.find(name);
    return it == fail.end() ? 0 : it->second;
  }
  Errno user_namespace(const std::string& uid_map, const std::string& gid_map, int& fd) override {
    calls->push_back("user_namespace uid_map=" + uid_map + "gid_map=" + gid_map);
    if (Errno err = result("user_namespace")) return err;
    open_fds->insert(fd = next_fd++);
    return 0;
  }
  Errno clone_tree(const std::string& path, int& fd) override {
    calls->push_back("clone_tree " + path);
    if (Errno err = result("clone_tree")) return err;
    open_fds->insert(fd = next_fd++);
    return 0;
  }
  Errno make_private(int tree) override {
    calls->push_back("make_private " + std::to_string(tree));
    return result("make_private");
  }
  Errno idmap(int tree, int userns) override {
    calls->push_back("idmap " + std::to_string(tree) + " to " + std::to_string(userns));
    return result("idmap");
  }
  Errno attach(int tree, const std::string& target) override {
    calls->push_back("attach " + std::to_string(tree) + " at " + target);
    return result("attach");
  }
  void close(int fd) override {
    calls->push_back("close " + std::to_string(fd));
    open_fds->erase(fd);
  }
};

class IdmappedRootTest : public ::testing::Test {
 protected:
  IdmappedRootTest() {
    auto fake = std::make_unique<FakeIdmapCalls>(&calls_, &open_fds_);
    fake_ = fake.get();
    root_ = std::make_unique<IdmappedRoot>(std::move(fake));
    spec_.namespaces = {{"mount", ""}, {"user", ""}};
    spec_.uid_mappings = {{0, 100000, 65536}};
    spec_.gid_mappings = {{0, 200000, 1}, {1, 300000, 10}};
  }
  std::vector<std::string> calls_;
  std::set<int> open_fds_;
  FakeIdmapCalls* fake_;
  std::unique_ptr<IdmappedRoot> root_;
  ContainerSpec spec_;
  testing::RecordingLogger log_;
};

TEST_F(IdmappedRootTest, MakesAPrivateIdmappedCopyThenAttachesIt) {
  root_->prepare(spec_, "/rootfs", log_);
  EXPECT_TRUE(root_->ready());
  EXPECT_EQ(calls_, (std::vector<std::string>{
                        "user_namespace uid_map=0 100000 65536\ngid_map=0 200000 1\n1 300000 10\n",
                        "clone_tree /rootfs", "make_private 11", "idmap 11 to 10", "close 10"}));
  EXPECT_EQ(open_fds_, std::set<int>{11}) << "the namespace's descriptor is closed at once";
  EXPECT_TRUE(log_.warnings.empty());
  calls_.clear();
  EXPECT_TRUE(root_->attach("/rootfs", log_));
  EXPECT_EQ(calls_, (std::vector<std::string>{"attach 11 at /rootfs", "close 11"}));
  EXPECT_TRUE(open_fds_.empty());
  EXPECT_FALSE(root_->ready());
}

TEST_F(IdmappedRootTest, TheHostClosesItsCopyAfterTheClone) {
  root_->prepare(spec_, "/rootfs", log_);
  root_->release();
  EXPECT_TRUE(open_fds_.empty());
  root_->release();  // idempotent
  EXPECT_EQ(std::count(calls_.begin(), calls_.end(), "close 11"), 1);
}

TEST_F(IdmappedRootTest, NothingWithoutAUserNamespace) {
  spec_.namespaces = {{"mount", ""}};
  root_->prepare(spec_, "/rootfs", log_);
  EXPECT_TRUE(calls_.empty());
  EXPECT_FALSE(root_->attach("/rootfs", log_)) << "the caller binds the rootfs as before";
  EXPECT_TRUE(calls_.empty());
}

TEST_F(IdmappedRootTest, AKernelOrFilesystemThatRefusesGetsThePlainBindAndOneWarning) {
  for (Errno err : {EINVAL, EPERM, ENOSYS, EOPNOTSUPP}) {
    calls_.clear();
    log_.warnings.clear();
    fake_->fail = {{"idmap", err}};
    root_->prepare(spec_, "/rootfs", log_);
    EXPECT_FALSE(root_->ready());
    EXPECT_TRUE(open_fds_.empty()) << "both descriptors closed";
    ASSERT_EQ(log_.warnings.size(), 1U);
    EXPECT_EQ(log_.warnings[0],
              "the rootfs /rootfs is not idmapped (mount_setattr IDMAP: " +
                  std::string(std::strerror(err)) +
                  "): files owned by host root appear as nobody in the container (idmapped "
                  "mounts need Linux 5.12 or later and a filesystem that supports them)");
    EXPECT_FALSE(root_->attach("/rootfs", log_));
  }
  fake_->fail = {{"clone_tree", ENOSYS}};
  log_.warnings.clear();
  root_->prepare(spec_, "/rootfs", log_);
  EXPECT_FALSE(root_->ready());
  EXPECT_TRUE(open_fds_.empty());
  EXPECT_EQ(log_.warnings.size(), 1U);
}

TEST_F(IdmappedRootTest, OtherFailuresAreErrors) {
  fake_->fail = {{"clone_tree", ENOENT}};
  try {
    root_->prepare(spec_, "/rootfs", log_);
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot open_tree for the idmapped rootfs /rootfs: No such file or directory");
  }
  EXPECT_TRUE(open_fds_.empty());
  fake_->fail = {{"attach", EBUSY}};
  root_->prepare(spec_, "/rootfs", log_);
  try {
    root_->attach("/rootfs", log_);
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot attach the idmapped rootfs at /rootfs: Device or resource busy");
  }
}

}  // namespace
}  // namespace nsrun::storage
