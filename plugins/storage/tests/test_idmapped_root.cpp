// The idmapped rootfs: the exact calls, the fallback on a kernel or filesystem that refuses, and
// that no descriptor is left open.
#include <gtest/gtest.h>
#include <sys/mount.h>

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
  Errno clone_tree(const std::string& path, bool recursive, int& fd) override {
    calls->push_back("clone_tree " + path + (recursive ? "" : " (this mount only)"));
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

class IdmappedBindsTest : public ::testing::Test {
 protected:
  IdmappedBindsTest() {
    auto fake = std::make_unique<FakeIdmapCalls>(&calls_, &open_fds_);
    fake_ = fake.get();
    binds_ = std::make_unique<IdmappedBinds>(std::move(fake));
    spec_.namespaces = {{"mount", ""}, {"user", ""}};
    spec_.uid_mappings = spec_.gid_mappings = {{0, 100000, 65536}};
  }
  PlannedMount bind(std::string source, std::string destination, bool recursive) {
    PlannedMount mount;
    mount.source = std::move(source);
    mount.destination = std::move(destination);
    mount.flags = MS_BIND | (recursive ? MS_REC : 0);
    return mount;
  }
  std::vector<std::string> calls_;
  std::set<int> open_fds_;
  FakeIdmapCalls* fake_;
  std::unique_ptr<IdmappedBinds> binds_;
  ContainerSpec spec_;
  testing::RecordingLogger log_;
};

TEST_F(IdmappedBindsTest, EachIdmappedBindGetsACopyAndMapsAreSharedByNamespace) {
  MountPlan plan;
  plan.mounts.push_back(bind("/plain", "/plain", true));
  PlannedMount own = bind("/data", "/data", true);
  own.uid_mappings = {{1000, 0, 1}};
  own.gid_mappings = {{1000, 0, 1}};
  plan.mounts.push_back(own);
  PlannedMount with_container_maps = bind("/file", "/file", false);
  with_container_maps.idmap_with_container_maps = true;
  plan.mounts.push_back(with_container_maps);
  own.source = own.destination = "/more";
  plan.mounts.push_back(own);
  binds_->prepare(plan, spec_, log_);
  EXPECT_EQ(calls_,
            (std::vector<std::string>{
                "user_namespace uid_map=1000 0 1\ngid_map=1000 0 1\n", "clone_tree /data",
                "make_private 11", "idmap 11 to 10",
                "user_namespace uid_map=0 100000 65536\ngid_map=0 100000 65536\n",
                "clone_tree /file (this mount only)", "make_private 13", "idmap 13 to 12",
                "clone_tree /more", "make_private 14", "idmap 14 to 10", "close 12", "close 10"}));
  EXPECT_EQ(plan.mounts[0].idmapped_tree, -1);
  EXPECT_EQ(plan.mounts[1].idmapped_tree, 11);
  EXPECT_EQ(plan.mounts[2].idmapped_tree, 13);
  EXPECT_EQ(plan.mounts[2].uid_mappings, spec_.uid_mappings) << "the container's maps";
  EXPECT_EQ(open_fds_, (std::set<int>{11, 13, 14}));
  calls_.clear();
  binds_->attach(plan.mounts[1], "/proc/self/fd/5", log_);
  EXPECT_EQ(calls_, (std::vector<std::string>{"attach 11 at /proc/self/fd/5", "close 11"}));
  binds_->release();  // the host after the clone, or teardown
  EXPECT_TRUE(open_fds_.empty());
}

TEST_F(IdmappedBindsTest, IdmapWithoutAUserNamespaceAndARefusingKernelAreErrors) {
  MountPlan plan;
  PlannedMount mount = bind("/data", "/data", true);
  mount.idmap_with_container_maps = true;
  plan.mounts.push_back(mount);
  spec_.namespaces = {{"mount", ""}};
  try {
    binds_->prepare(plan, spec_, log_);
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "mount on \"/data\": the idmap option maps the bind with the container's user "
              "namespace, and it has none (add a user namespace, or give the mount uidMappings "
              "and gidMappings)");
  }
  spec_.namespaces = {{"mount", ""}, {"user", ""}};
  fake_->fail = {{"idmap", EINVAL}};
  try {
    binds_->prepare(plan, spec_, log_);
    FAIL() << "accepted";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot make the idmapped bind of /data on /data: mount_setattr IDMAP: Invalid "
              "argument (idmapped mounts need Linux 5.12 or later and a filesystem that "
              "supports them)");
  }
  EXPECT_TRUE(log_.warnings.empty()) << "an idmap asked for is never dropped with a warning";
  binds_->release();
  EXPECT_TRUE(open_fds_.empty());
}

}  // namespace
}  // namespace nsrun::storage
