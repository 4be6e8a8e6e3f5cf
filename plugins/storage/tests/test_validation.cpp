// The validate phase: one test per message.
#include <gtest/gtest.h>

#include <functional>

#include "fake_host_fs.hpp"
#include "nsrun/storage/storage_stage.hpp"
#include "nsrun/storage/validation.hpp"

namespace nsrun::storage {
namespace {

using testing::TempDir;

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const StageError& e) {
    return e.what();
  }
  return "(no error)";
}

MountSpec bind(std::string source, std::string destination, std::vector<std::string> options) {
  return MountSpec{std::move(destination), "bind", std::move(source), std::move(options)};
}

TEST(ValidateMount, RelativeDestination) {
  TempDir host;
  EXPECT_EQ(error_of([&] { validate_mount(bind(host.path(), "app", {"rbind"})); }),
            "mount destination \"app\" must be an absolute path inside the container");
}

TEST(ValidateMount, DestinationEscapingWithDotDot) {
  TempDir host;
  EXPECT_EQ(error_of([&] { validate_mount(bind(host.path(), "/../etc", {"rbind"})); }),
            "mount destination \"/../etc\" escapes the container root");
  EXPECT_EQ(error_of([&] { validate_mount(bind(host.path(), "/a/../../etc", {"rbind"})); }),
            "mount destination \"/a/../../etc\" escapes the container root");
}

TEST(ValidateMount, DotDotThatStaysInsideIsFine) {
  TempDir host;
  EXPECT_NO_THROW(validate_mount(bind(host.path(), "/a/../etc", {"rbind"})));
}

TEST(ValidateMount, DestinationSlash) {
  TempDir host;
  EXPECT_EQ(error_of([&] { validate_mount(bind(host.path(), "/a/..", {"rbind"})); }),
            "mount destination \"/a/..\" would hide the whole container root (set root.path "
            "instead)");
}

TEST(ValidateMount, MissingSource) {
  EXPECT_EQ(error_of([] { validate_mount(bind("/nope", "/data", {"rbind"})); }),
            "mount source /nope does not exist");
}

TEST(ValidateMount, RelativeSource) {
  EXPECT_EQ(error_of([] { validate_mount(bind("data", "/data", {"rbind"})); }),
            "mount source \"data\" of a bind mount must be an absolute host path");
}

TEST(ValidateMount, UnknownOption) {
  TempDir host;
  EXPECT_EQ(error_of([&] {
              validate_mount(bind(host.path(), "/data", {"rbind", "xyz"}));
            }),
            "mount on \"/data\": option \"xyz\" is not supported for a bind mount (a bind "
            "takes flags such as ro, nosuid, rro, rprivate; no filesystem options)");
}

TEST(ValidateMount, UnimplementedOptionOfAnyMount) {
  EXPECT_EQ(error_of([] {
              validate_mount(MountSpec{"/run", "tmpfs", "tmpfs", {"nosuid", "copy-symlink"}});
            }),
            "mount on \"/run\": option \"copy-symlink\" is not supported by nsrun (remove it)");
}

// podman's tmpfs mounts (--read-only, --tmpfs, --mount type=tmpfs) carry one or the other.
TEST(ValidateMount, TmpcopyupOnlyOnATmpfs) {
  EXPECT_NO_THROW(validate_mount(
      MountSpec{"/run", "tmpfs", "tmpfs", {"rw", "rprivate", "nosuid", "nodev", "tmpcopyup"}}));
  EXPECT_NO_THROW(
      validate_mount(MountSpec{"/x", "tmpfs", "tmpfs", {"size=1m", "notmpcopyup", "nosuid"}}));
  TempDir host;
  EXPECT_EQ(error_of([&] {
              validate_mount(bind(host.path(), "/data", {"rbind", "tmpcopyup"}));
            }),
            "mount on \"/data\": option \"tmpcopyup\" is only for tmpfs mounts (remove it)");
  EXPECT_EQ(error_of([] {
              validate_mount(MountSpec{"/dev/mqueue", "mqueue", "mqueue", {"tmpcopyup"}});
            }),
            "mount on \"/dev/mqueue\": option \"tmpcopyup\" is only for tmpfs mounts (remove "
            "it)");
  EXPECT_EQ(error_of([] {
              validate_mount(MountSpec{"/sys/fs/cgroup", "cgroup", "cgroup", {"notmpcopyup"}});
            }),
            "mount on \"/sys/fs/cgroup\": option \"notmpcopyup\" is only for tmpfs mounts "
            "(remove it)");
}

TEST(ValidateMount, IdmappedBindsNeedBothMapsOnABind) {
  TempDir host;
  MountSpec mount = bind(host.path(), "/data", {"rbind"});
  mount.uid_mappings = {{0, 100000, 65536}};
  mount.gid_mappings = {{0, 100000, 65536}};
  EXPECT_NO_THROW(validate_mount(mount));
  EXPECT_NO_THROW(validate_mount(bind(host.path(), "/data", {"bind", "idmap"})));
  mount.gid_mappings.clear();
  EXPECT_EQ(error_of([&] { validate_mount(mount); }),
            "mount on \"/data\": an idmapped mount needs both uidMappings and gidMappings (add "
            "gidMappings)");
  mount.gid_mappings = {{0, 4294967295U, 2}};
  EXPECT_EQ(error_of([&] { validate_mount(mount); }),
            "mount on \"/data\": gidMappings[0] must have a size of at least 1 and end at id "
            "4294967295 at most");
  MountSpec tmpfs{"/run", "tmpfs", "tmpfs", {}};
  tmpfs.uid_mappings = tmpfs.gid_mappings = {{0, 1, 1}};
  EXPECT_EQ(error_of([&] { validate_mount(tmpfs); }),
            "mount on \"/run\": uidMappings and gidMappings idmap a bind mount only (make it a "
            "bind, or remove them)");
  EXPECT_EQ(error_of([&] { validate_mount(bind(host.path(), "/data", {"idmap=uids=0-1-1"})); }),
            "mount on \"/data\": option \"idmap=uids=0-1-1\" is not supported by nsrun (remove "
            "it)");
}

TEST(ValidateMount, CgroupMountTakesFlagsOnly) {
  EXPECT_NO_THROW(validate_mount(
      MountSpec{"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}}));
  EXPECT_NO_THROW(validate_mount(MountSpec{"/sys/fs/cgroup", "cgroup2", "", {"rw", "rprivate"}}));
  EXPECT_EQ(error_of([] {
              validate_mount(MountSpec{"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "cpu"}});
            }),
            "mount on \"/sys/fs/cgroup\": option \"cpu\" is not supported for a cgroup mount (it "
            "shows the container's own cgroups; give flags such as ro, nosuid, nodev, noexec)");
}

TEST(ValidateMount, OciBundleOptionsAreAccepted) {
  TempDir host;
  EXPECT_NO_THROW(validate_mount(
      bind(host.path(), "/data",
           {"rbind",       "bind",    "ro",      "rw",     "nosuid",  "nodev",      "noexec",
            "rprivate",    "private", "rslave",  "slave",  "shared",  "rshared",    "unbindable",
            "runbindable", "rro",     "rnosuid", "rnodev", "rnoexec", "strictatime"})));
}

TEST(ValidateMount, BindImpliedByOptionIsCheckedAsABind) {
  EXPECT_EQ(error_of([] {
              validate_mount(MountSpec{"/data", "", "/nope", {"rbind"}});
            }),
            "mount source /nope does not exist");
}

TEST(ValidateMount, GenericMountNeedsAType) {
  EXPECT_EQ(error_of([] {
              validate_mount(MountSpec{"/run", "", "tmpfs", {"nosuid"}});
            }),
            "mount destination \"/run\" has no type (give one such as tmpfs, or \"bind\")");
  EXPECT_NO_THROW(validate_mount(MountSpec{"/run", "tmpfs", "tmpfs", {"nosuid", "mode=755"}}));
}

TEST(ValidateRootfs, Missing) {
  TempDir dir;
  std::string missing = dir.path() + "/x";
  EXPECT_EQ(error_of([&] {
              validate_rootfs(RootSpec{missing, false});
            }),
            "rootfs " + missing + " does not exist (create one with: nsrun rootfs create " +
                missing + ")");
}

TEST(ValidateRootfs, NotADirectory) {
  TempDir dir;
  std::string file = dir.make_file("file");
  EXPECT_EQ(
      error_of([&] {
        validate_rootfs(RootSpec{file, false});
      }),
      "rootfs " + file + " is not a directory (give the directory of a container root filesystem)");
}

TEST(ValidateRootfs, HostRoot) {
  EXPECT_EQ(error_of([] {
              validate_rootfs(RootSpec{"/", false});
            }),
            "rootfs / is the host's root; give a container root filesystem");
}

TEST(ValidateRootfs, PathThatResolvesToHostRoot) {
  TempDir dir;
  dir.make_symlink("slash", "/");
  std::string link = dir.path() + "/slash";
  EXPECT_EQ(error_of([&] {
              validate_rootfs(RootSpec{link, false});
            }),
            "rootfs " + link + " is the host's root; give a container root filesystem");
  EXPECT_EQ(error_of([] {
              validate_rootfs(RootSpec{"/tmp/..", false});
            }),
            "rootfs /tmp/.. is the host's root; give a container root filesystem");
}

TEST(ValidateRootfs, ReturnsTheCanonicalPath) {
  TempDir dir;
  dir.make_dir("real");
  dir.make_symlink("link", "real");
  EXPECT_EQ(validate_rootfs(RootSpec{dir.path() + "/link/", false}), dir.path() + "/real");
}

TEST(StorageStageValidate, UnknownConfigKey) {
  TempDir rootfs;
  ContainerSpec spec;
  spec.root.path = rootfs.path();
  spec.namespaces = {{"mount", ""}};
  boost::json::object config{{"mode", "fast"}};
  testing::FakeJournal journal;
  testing::FakeLogger log;
  Context ctx{"c1", "/nonexistent", spec, config, journal, log};
  StorageStage stage(std::make_unique<testing::FakeHostFs>(), "/nonexistent");
  EXPECT_EQ(error_of([&] { stage.validate(ctx); }),
            "unknown config key \"mode\" for nsrun.storage (remove it or check its spelling)");
  config.clear();
  EXPECT_NO_THROW(stage.validate(ctx));
}

}  // namespace
}  // namespace nsrun::storage
