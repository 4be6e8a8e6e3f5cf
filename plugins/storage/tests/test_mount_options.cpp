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

TEST(TranslateMountOptions, RecursiveAttributes) {
  MountOptions options = translate_mount_options({"rbind", "rro", "rnosuid", "rnodev", "rnoexec"});
  EXPECT_EQ(options.recursive_attributes, std::uint64_t{MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                        MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC});
  EXPECT_EQ(mount_flag_names(options.flags), "MS_BIND|MS_REC");
  EXPECT_EQ(options.data, "") << "never passed to the filesystem";
}

// runc's: "rrw", "rsuid", "rdev", "rexec" clear what their opposites set; the later one wins.
TEST(TranslateMountOptions, RecursiveAttributesCleared) {
  MountOptions options = translate_mount_options({"rro", "rrw", "rsuid", "rdev", "rexec"});
  EXPECT_EQ(options.recursive_attributes, 0u);
  EXPECT_EQ(
      options.recursive_attributes_cleared,
      std::uint64_t{MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC});
  options = translate_mount_options({"rrw", "rro"});
  EXPECT_EQ(options.recursive_attributes, std::uint64_t{MOUNT_ATTR_RDONLY});
  EXPECT_EQ(options.recursive_attributes_cleared, 0u);
  EXPECT_EQ(first_unsupported_bind_option({"rbind", "rrw", "rsuid", "rdev", "rexec"}),
            std::nullopt);
}

TEST(TranslateMountOptions, EveryPropagation) {
  for (auto [option, names] :
       {std::pair{"private", "MS_PRIVATE"}, std::pair{"rprivate", "MS_REC|MS_PRIVATE"},
        std::pair{"slave", "MS_SLAVE"}, std::pair{"rslave", "MS_REC|MS_SLAVE"},
        std::pair{"shared", "MS_SHARED"}, std::pair{"rshared", "MS_REC|MS_SHARED"},
        std::pair{"unbindable", "MS_UNBINDABLE"}, std::pair{"runbindable", "MS_REC|MS_UNBINDABLE"}})
    EXPECT_EQ(mount_flag_names(translate_mount_options({option}).propagation), names) << option;
}

TEST(TranslateMountOptions, Strictatime) {
  EXPECT_EQ(mount_flag_names(translate_mount_options({"nosuid", "strictatime"}).flags),
            "MS_NOSUID|MS_STRICTATIME");
  EXPECT_EQ(translate_mount_options({"strictatime", "nostrictatime"}).flags, 0u);
}

TEST(BindRemountFlags, PerMountFlagsOnly) {
  MountOptions options =
      translate_mount_options({"rbind", "ro", "nosuid", "nodev", "noexec", "noatime", "sync"});
  EXPECT_EQ(mount_flag_names(bind_remount_flags(options.flags)),
            "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_NOATIME");
  EXPECT_EQ(bind_remount_flags(translate_mount_options({"rbind", "rw"}).flags), 0u);
}

TEST(IsBindMount, ByTypeOrOption) {
  EXPECT_TRUE(is_bind_mount(MountSpec{"/a", "bind", "/x", {}}));
  EXPECT_TRUE(is_bind_mount(MountSpec{"/a", "", "/x", {"rbind"}}));
  EXPECT_TRUE(is_bind_mount(MountSpec{"/a", "none", "/x", {"bind", "ro"}}));
  EXPECT_FALSE(is_bind_mount(MountSpec{"/a", "tmpfs", "tmpfs", {"nosuid"}}));
}

TEST(IsCgroupMount, ByType) {
  EXPECT_TRUE(is_cgroup_mount(MountSpec{"/sys/fs/cgroup", "cgroup", "cgroup", {"ro"}}));
  EXPECT_TRUE(is_cgroup_mount(MountSpec{"/sys/fs/cgroup", "cgroup2", "cgroup2", {}}));
  EXPECT_FALSE(is_cgroup_mount(MountSpec{"/sys/fs/cgroup", "cgroup", "/x", {"rbind"}}));
}

TEST(FirstUnsupportedBindOption, NamesTheFirstUnknown) {
  EXPECT_EQ(first_unsupported_bind_option({"rbind", "ro"}), std::nullopt);
  EXPECT_EQ(first_unsupported_bind_option({"rbind", "xyz", "abc"}), "xyz");
  EXPECT_EQ(first_unsupported_bind_option({"mode=755"}), "mode=755");
  EXPECT_EQ(first_unsupported_bind_option({"bind", "sync"}), "sync") << "a filesystem flag";
}

TEST(FirstUnsupportedBindOption, EveryPerMountFlagPropagationAndRecursiveOptionIsFine) {
  EXPECT_EQ(
      first_unsupported_bind_option(
          {"rbind",    "bind",       "ro",          "rw",         "nosuid",      "suid",
           "nodev",    "dev",        "noexec",      "exec",       "atime",       "noatime",
           "diratime", "nodiratime", "relatime",    "norelatime", "strictatime", "nostrictatime",
           "defaults", "private",    "rprivate",    "slave",      "rslave",      "shared",
           "rshared",  "unbindable", "runbindable", "rro",        "rnosuid",     "rnodev",
           "rnoexec"}),
      std::nullopt);
}

TEST(FirstUnimplementedOption, OtherRuntimesExtensions) {
  EXPECT_EQ(first_unimplemented_option({"nosuid", "mode=755"}), std::nullopt);
  EXPECT_EQ(first_unimplemented_option({"nosuid", "copy-symlink"}), "copy-symlink");
  EXPECT_EQ(first_unimplemented_option({"nosuid", "tmpcopyup"}), std::nullopt) << "implemented";
  EXPECT_EQ(first_unimplemented_option({"nosuid", "notmpcopyup"}), std::nullopt);
  EXPECT_EQ(first_unimplemented_option({"rbind", "idmap"}), std::nullopt) << "implemented";
  EXPECT_EQ(first_unimplemented_option({"rbind", "ridmap"}), "ridmap");
  EXPECT_EQ(first_unimplemented_option({"rbind", "idmap=uids=0-1-1"}), "idmap=uids=0-1-1");
  EXPECT_TRUE(translate_mount_options({"rbind", "idmap"}).idmap);
  EXPECT_EQ(translate_mount_options({"rbind", "idmap"}).data, "") << "not a filesystem option";
}

TEST(TranslateMountOptions, TmpcopyupIsNotPassedToTheFilesystem) {
  MountOptions options = translate_mount_options({"nosuid", "mode=755", "tmpcopyup", "size=1m"});
  EXPECT_TRUE(options.tmpcopyup);
  EXPECT_EQ(options.data, "mode=755,size=1m");
  EXPECT_EQ(mount_flag_names(options.flags), "MS_NOSUID");
  EXPECT_FALSE(translate_mount_options({"nosuid"}).tmpcopyup);
  EXPECT_FALSE(translate_mount_options({"notmpcopyup"}).tmpcopyup);
  EXPECT_EQ(translate_mount_options({"notmpcopyup"}).data, "");
  EXPECT_FALSE(translate_mount_options({"tmpcopyup", "notmpcopyup"}).tmpcopyup) << "the later";
  EXPECT_TRUE(translate_mount_options({"notmpcopyup", "tmpcopyup"}).tmpcopyup);
}

TEST(FirstTmpfsOnlyOption, TmpcopyupIsForATmpfs) {
  EXPECT_EQ(first_tmpfs_only_option(MountSpec{"/run", "tmpfs", "tmpfs", {"tmpcopyup"}}),
            std::nullopt);
  EXPECT_EQ(first_tmpfs_only_option(MountSpec{"/run", "tmpfs", "tmpfs", {"notmpcopyup"}}),
            std::nullopt);
  EXPECT_EQ(first_tmpfs_only_option(MountSpec{"/a", "bind", "/x", {"rbind", "tmpcopyup"}}),
            "tmpcopyup");
  EXPECT_EQ(first_tmpfs_only_option(MountSpec{"/a", "tmpfs", "/x", {"bind", "tmpcopyup"}}),
            "tmpcopyup")
      << "a bind, whatever its type says";
  EXPECT_EQ(first_tmpfs_only_option(MountSpec{"/m", "mqueue", "mqueue", {"notmpcopyup"}}),
            "notmpcopyup");
  EXPECT_EQ(first_tmpfs_only_option(MountSpec{"/m", "mqueue", "mqueue", {"nosuid"}}), std::nullopt);
}

}  // namespace
}  // namespace nsrun::storage
