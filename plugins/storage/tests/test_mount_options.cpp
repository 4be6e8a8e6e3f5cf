// OCI mount options to mount(2) flags and data.
#include <gtest/gtest.h>

#include "fake_host_fs.hpp"
#include "nsrun/storage/mount_options.hpp"

namespace nsrun::storage {
namespace {

using testing::mount_flag_names;

TEST(TranslateMountOptions, FlagsAndData) {
  MountOptions options = translate_mount_options({"nosuid", "nodev", "mode=755", "size=65536k"});
  EXPECT_EQ(mount_flag_names(options.flags), "MS_NOSUID|MS_NODEV");
  EXPECT_EQ(options.data, "mode=755,size=65536k");
  EXPECT_EQ(options.propagation, 0u);
}

TEST(TranslateMountOptions, LaterOptionsOverrideEarlierOnes) {
  EXPECT_EQ(translate_mount_options({"ro", "rw"}).flags, 0u);
  EXPECT_EQ(translate_mount_options({"rw", "ro"}).flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(translate_mount_options({"noexec", "exec", "nosuid"}).flags,
            static_cast<unsigned long>(MS_NOSUID));
}

TEST(TranslateMountOptions, TypicalBundleMounts) {
  MountOptions devpts = translate_mount_options(
      {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  EXPECT_EQ(mount_flag_names(devpts.flags), "MS_NOSUID|MS_NOEXEC");
  EXPECT_EQ(devpts.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");

  MountOptions cgroup = translate_mount_options({"nosuid", "noexec", "nodev", "relatime", "ro"});
  EXPECT_EQ(mount_flag_names(cgroup.flags), "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_RELATIME");
  EXPECT_EQ(cgroup.data, "");
}

TEST(TranslateMountOptions, BindAndPropagation) {
  MountOptions options = translate_mount_options({"rbind", "rprivate"});
  EXPECT_EQ(mount_flag_names(options.flags), "MS_BIND|MS_REC");
  EXPECT_EQ(mount_flag_names(options.propagation), "MS_REC|MS_PRIVATE");
  EXPECT_EQ(mount_flag_names(translate_mount_options({"slave"}).propagation), "MS_SLAVE");
}

TEST(TranslateMountOptions, DefaultsIsNothing) {
  MountOptions options = translate_mount_options({"defaults"});
  EXPECT_EQ(options.flags, 0u);
  EXPECT_EQ(options.data, "");
}

TEST(BindMountAttributes, FromOptions) {
  EXPECT_EQ(bind_mount_attributes({"rbind", "ro"}), std::uint64_t{MOUNT_ATTR_RDONLY});
  EXPECT_EQ(bind_mount_attributes({"rbind", "rw"}), 0u);
  EXPECT_EQ(bind_mount_attributes({"ro", "rw"}), 0u);
  EXPECT_EQ(
      bind_mount_attributes({"ro", "nosuid", "nodev", "noexec"}),
      std::uint64_t{MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC});
}

TEST(IsBindMount, ByTypeOrOption) {
  EXPECT_TRUE(is_bind_mount(MountSpec{"/a", "bind", "/x", {}}));
  EXPECT_TRUE(is_bind_mount(MountSpec{"/a", "", "/x", {"rbind"}}));
  EXPECT_TRUE(is_bind_mount(MountSpec{"/a", "none", "/x", {"bind", "ro"}}));
  EXPECT_FALSE(is_bind_mount(MountSpec{"/a", "tmpfs", "tmpfs", {"nosuid"}}));
}

TEST(FirstUnsupportedBindOption, NamesTheFirstUnknown) {
  EXPECT_EQ(first_unsupported_bind_option({"rbind", "ro"}), std::nullopt);
  EXPECT_EQ(first_unsupported_bind_option({"rbind", "xyz", "abc"}), "xyz");
  EXPECT_EQ(first_unsupported_bind_option({"mode=755"}), "mode=755");
}

}  // namespace
}  // namespace nsrun::storage
