// The stage's prepare and create_container against a recording HostFs: the exact host calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "fake_host_fs.hpp"
#include "nsrun/storage/storage_stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::storage {
namespace {

using testing::FakeHostFs;
using testing::TempDir;
using Lines = std::vector<std::string>;

Lines concat(std::initializer_list<Lines> parts) {
  Lines out;
  for (const Lines& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Whether `calls` contains `expected` as a contiguous run; on failure, shows all calls.
::testing::AssertionResult contains_run(const Lines& calls, const Lines& expected) {
  if (std::search(calls.begin(), calls.end(), expected.begin(), expected.end()) != calls.end())
    return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure() << "calls were:\n";
  for (const std::string& line : calls) failure << "  " << line << "\n";
  return failure;
}

const Lines private_and_rbind = {
    "mount - / - MS_REC|MS_PRIVATE -",
    "mount $ROOT $ROOT - MS_BIND|MS_REC -",
    "umask 0",
};

const Lines proc_and_dev = {
    "mount proc fd:$ROOT/proc proc MS_NOSUID|MS_NODEV|MS_NOEXEC -",
    "mount tmpfs fd:$ROOT/dev tmpfs MS_NOSUID|MS_STRICTATIME mode=755,size=65536k",
    "mknod fd:$ROOT/dev/null c 0666 1:3",
    "mknod fd:$ROOT/dev/zero c 0666 1:5",
    "mknod fd:$ROOT/dev/full c 0666 1:7",
    "mknod fd:$ROOT/dev/random c 0666 1:8",
    "mknod fd:$ROOT/dev/urandom c 0666 1:9",
    "mknod fd:$ROOT/dev/tty c 0666 5:0",
    "mkdir fd:$ROOT/dev/pts 0755",
    "mount devpts fd:$ROOT/dev/pts devpts MS_NOSUID|MS_NOEXEC "
    "newinstance,ptmxmode=0666,mode=0620,gid=5",
    "symlink pts/ptmx fd:$ROOT/dev/ptmx",
    "mkdir fd:$ROOT/dev/shm 01777",
    "mount shm fd:$ROOT/dev/shm tmpfs MS_NOSUID|MS_NODEV|MS_NOEXEC mode=1777,size=65536k",
    "symlink /proc/self/fd fd:$ROOT/dev/fd",
    "symlink /proc/self/fd/0 fd:$ROOT/dev/stdin",
    "symlink /proc/self/fd/1 fd:$ROOT/dev/stdout",
    "symlink /proc/self/fd/2 fd:$ROOT/dev/stderr",
};

const Lines sys_and_tmp = {
    "mount sysfs fd:$ROOT/sys sysfs MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC -",
    "mount tmpfs fd:$ROOT/tmp tmpfs MS_NOSUID|MS_NODEV mode=1777",
};

// The test rootfs's /etc is empty: each mountpoint is created in the container, just before its
// mount.
const Lines etc_binds = {
    "create_file $ROOT/etc/hostname 0644",
    "mount $STATE/hostname fd:$ROOT/etc/hostname - MS_BIND -",
    "create_file $ROOT/etc/hosts 0644",
    "mount $STATE/hosts fd:$ROOT/etc/hosts - MS_BIND -",
    "create_file $ROOT/etc/resolv.conf 0644",
    "mount $STATE/resolv.conf fd:$ROOT/etc/resolv.conf - MS_BIND -",
};

// What prepare does with a hostname: the hostname file, and nothing in the rootfs. hosts and
// resolv.conf wait for the network stage's outputs (create_runtime).
const Lines generated_etc_files = {
    "write_file $STATE/hostname 0644",
};

const Lines switch_root = {
    "chdir $ROOT",
    "pivot_root . .",
    "umount2 . MNT_DETACH",
    "chdir /",
};

class StorageStageTest : public ::testing::Test {
 protected:
  StorageStageTest() {
    for (const char* dir : {"proc", "dev", "sys", "tmp", "etc", "data"}) rootfs.make_dir(dir);
    host.make_dir("dir");
    host.make_file("file.txt", "x");
    host_resolv_conf =
        host.make_file("resolv.conf", "nameserver 127.0.0.53\nnameserver 10.0.0.2\n");
    auto fake = std::make_unique<FakeHostFs>();
    fs = fake.get();
    fs->alias(rootfs.path(), "$ROOT");
    fs->alias(state.path(), "$STATE");
    fs->alias(host.path(), "$HOST");
    stage = std::make_unique<StorageStage>(std::move(fake), host_resolv_conf);
    spec.root.path = rootfs.path();
    spec.hostname = "box";
    // What the network stage's prepare adds; without it /sys is the host's (see below).
    spec.namespaces = {{"mount", ""}, {"network", ""}};
  }

  void bind(const std::string& host_relative, const std::string& destination,
            std::vector<std::string> options) {
    spec.mounts.push_back({destination, "bind", host.path() + "/" + host_relative, options});
  }

  Lines run_prepare() {
    Context ctx{"c1", state.path(), spec, config, journal, log};
    ctx.spec_source = spec_source;
    stage->validate(ctx);
    stage->prepare(ctx);
    fs->current_mount_namespace = "0:2";  // what the cloned container process is in
    return std::exchange(fs->calls, {});
  }

  Lines run_create_runtime() {
    Context ctx{"c1", state.path(), spec, config, journal, log, 4242, "", nullptr, &services};
    stage->create_runtime(ctx);
    return std::exchange(fs->calls, {});
  }

  Lines run_create_container() {
    Context ctx{"c1", state.path(), spec, config, journal, log, 0, "", nullptr, &services};
    stage->create_container(ctx);
    return std::exchange(fs->calls, {});
  }

  std::string create_container_error() {
    try {
      run_create_container();
    } catch (const StageError& e) {
      return e.what();
    }
    return "(no error)";
  }

  TempDir rootfs, state, host;
  // `nsrun run`'s flags by default: the stage then gives /tmp a tmpfs of its own.
  SpecSource spec_source = SpecSource::flags;
  std::string host_resolv_conf;
  ContainerSpec spec;
  boost::json::object config;
  testing::FakeJournal journal;
  testing::FakeLogger log;
  ::nsrun::testing::FakeServices services;
  FakeHostFs* fs = nullptr;
  std::unique_ptr<StorageStage> stage;
};

TEST_F(StorageStageTest, ReadOnlyDirectoryBindAndReadWriteFileBind) {
  bind("dir", "/data", {"rbind", "ro"});
  bind("file.txt", "/config.txt", {"rbind", "rw"});

  EXPECT_EQ(run_prepare(), generated_etc_files);

  Lines calls = run_create_container();
  EXPECT_EQ(calls, concat({private_and_rbind,
                           proc_and_dev,
                           sys_and_tmp,
                           {
                               "mount $HOST/dir fd:$ROOT/data - MS_BIND|MS_REC -",
                               "mount - fd:$ROOT/data - MS_RDONLY|MS_REMOUNT|MS_BIND -",
                               // --mount HOST:CTR:ro: what is mounted beneath it too
                               "mount_setattr fd:$ROOT/data AT_RECURSIVE MOUNT_ATTR_RDONLY",
                               "create_file $ROOT/config.txt 0644",
                               "mount $HOST/file.txt fd:$ROOT/config.txt - MS_BIND|MS_REC -",
                           },
                           etc_binds,
                           {"umask 022"},
                           switch_root}));
  // The properties the issue names, spelled out.
  EXPECT_EQ(calls.front(), "mount - / - MS_REC|MS_PRIVATE -");
  EXPECT_EQ(calls[calls.size() - 3], "pivot_root . .");
  EXPECT_EQ(calls.back(), "chdir /");
}

// nsrun.storage.chroot: the same mounts, then chroot(2) where pivot_root would be, and no
// detach of the old root (it stays beneath: the reason the stage is for comparisons only).
class ChrootingStage final : public StorageStage {
 public:
  using StorageStage::StorageStage;
  ChrootingStage(std::unique_ptr<HostFs> fs, std::string resolv)
      : StorageStage(std::move(fs), std::move(resolv)) {
    switch_with_chroot_ = true;
  }
};

TEST_F(StorageStageTest, TheChrootVariantChrootsWhereThePivotWouldBe) {
  auto fake = std::make_unique<FakeHostFs>();
  fs = fake.get();
  fs->alias(rootfs.path(), "$ROOT");
  fs->alias(state.path(), "$STATE");
  stage = std::make_unique<ChrootingStage>(std::move(fake), host_resolv_conf);
  run_prepare();
  Lines calls = run_create_container();
  ASSERT_GE(calls.size(), 3U);
  EXPECT_EQ((Lines{calls.end() - 3, calls.end()}), (Lines{"chdir $ROOT", "chroot .", "chdir /"}));
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "pivot_root . ."), 0);
}

TEST_F(StorageStageTest, GeneratedFilesContent) {
  run_prepare();
  run_create_runtime();
  EXPECT_EQ(fs->files["$STATE/hostname"], "box\n");
  EXPECT_EQ(fs->files["$STATE/hosts"],
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n");
  // Without a network stage the container shares the host's network: its resolvers as they are.
  EXPECT_EQ(fs->files["$STATE/resolv.conf"], "nameserver 127.0.0.53\nnameserver 10.0.0.2\n");
}

// The network stage's outputs exist once every stage has prepared: the host rewrites the two
// files from them in create_runtime, before the container process mounts them (in a user
// namespace that process may not write into the state directory).
TEST_F(StorageStageTest, NetworkOutputsDecideHostsAndResolvConf) {
  run_prepare();
  services.outputs["network.address"] = "10.88.0.7";
  services.outputs["network.resolv_conf"] = "nameserver 198.51.100.53\n";
  run_create_runtime();
  EXPECT_EQ(fs->files["$STATE/hosts"],
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.7\tbox\n");
  EXPECT_EQ(fs->files["$STATE/resolv.conf"], "nameserver 198.51.100.53\n");
}

// Each generated file is written once: the hostname in prepare, hosts and resolv.conf in
// create_runtime, whether or not a network stage decides them (each write is a file made in the
// state directory, and a run made two of them twice).
TEST_F(StorageStageTest, EachGeneratedFileIsWrittenOnce) {
  for (bool with_network : {false, true}) {
    SCOPED_TRACE(with_network ? "with a network stage's outputs" : "without");
    services.outputs.clear();
    EXPECT_EQ(run_prepare(), generated_etc_files);
    if (with_network) services.outputs["network.address"] = "10.88.0.7";
    EXPECT_EQ(run_create_runtime(),
              (Lines{"write_file $STATE/hosts 0644", "write_file $STATE/resolv.conf 0644"}));
  }
}

// A file the spec mounts itself is neither generated nor written.
TEST_F(StorageStageTest, AFileTheSpecMountsIsNotWritten) {
  bind("file.txt", "/etc/resolv.conf", {"rbind", "ro"});
  run_prepare();
  services.outputs["network.resolv_conf"] = "nameserver 198.51.100.53\n";
  EXPECT_EQ(run_create_runtime(), (Lines{"write_file $STATE/hosts 0644"}));
}

// A file another stage added (ctx.add_file) is bind-mounted from the state directory, after
// everything else, its mountpoint created in the rootfs when missing.
TEST_F(StorageStageTest, FilesOtherStagesAddAreMountedLast) {
  run_prepare();
  services.outputs["files"] = boost::json::array{
      boost::json::object{{"destination", "/etc/motd"}, {"source", state.path() + "/files/0"}}};
  Lines calls = run_create_container();
  auto created = std::find(calls.begin(), calls.end(), "create_file $ROOT/etc/motd 0644");
  EXPECT_NE(created, calls.end()) << ::testing::PrintToString(calls);
  auto mounted = std::find_if(calls.begin(), calls.end(), [](const std::string& line) {
    return line.find("$STATE/files/0") != std::string::npos &&
           line.find("motd") != std::string::npos;
  });
  ASSERT_NE(mounted, calls.end()) << ::testing::PrintToString(calls);
  auto pivot = std::find(calls.begin(), calls.end(), "pivot_root . .");
  EXPECT_LT(mounted, pivot);
  EXPECT_LT(created, mounted);
}

// With it, the generated /etc files are read-only too, as docker makes them under --read-only.
TEST_F(StorageStageTest, ReadOnlyRootComesAfterAllMountsAndBeforeThePivot) {
  spec.root.readonly = true;
  EXPECT_EQ(run_prepare(), (Lines{
                               "write_file $STATE/hostname 0644",
                           }));
  Lines read_only_etc_binds;
  for (const std::string& line : etc_binds) {
    read_only_etc_binds.push_back(line);
    if (line.starts_with("mount "))
      read_only_etc_binds.push_back(
          "mount - " + line.substr(line.find("fd:"), line.find(" - ") - line.find("fd:")) +
          " - MS_RDONLY|MS_REMOUNT|MS_BIND -");
  }
  EXPECT_EQ(run_create_container(),
            concat({private_and_rbind,
                    proc_and_dev,
                    sys_and_tmp,
                    read_only_etc_binds,
                    {"umask 022", "mount_setattr $ROOT 0 MOUNT_ATTR_RDONLY"},
                    switch_root}));
}

// runc makes a missing process.cwd (docker a missing --workdir): 0755 directories, in the root
// as the mountpoints are, after the mounts (it may lie in one) and before the root turns
// read-only.
TEST_F(StorageStageTest, AMissingWorkingDirectoryIsMadeBeforeTheRootTurnsReadOnly) {
  spec.root.readonly = true;
  spec.process.cwd = "/srv//work/./deep/";
  bind("dir", "/data", {"rbind"});
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_TRUE(contains_run(calls, {"mount $HOST/dir fd:$ROOT/data - MS_BIND|MS_REC -"}));
  EXPECT_TRUE(contains_run(
      calls, {"mount $STATE/resolv.conf fd:$ROOT/etc/resolv.conf - MS_BIND -",
              "mount - fd:$ROOT/etc/resolv.conf - "
              "MS_RDONLY|MS_REMOUNT|MS_BIND -",
              "mkdir $ROOT/srv 0755", "mkdir $ROOT/srv/work 0755", "mkdir $ROOT/srv/work/deep 0755",
              "umask 022", "mount_setattr $ROOT 0 MOUNT_ATTR_RDONLY"}));
}

TEST_F(StorageStageTest, AnExistingWorkingDirectoryIsLeftAlone) {
  spec.process.cwd = "/data";
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_EQ(std::count_if(calls.begin(), calls.end(),
                          [](const std::string& call) { return call.starts_with("mkdir $ROOT/"); }),
            0);
}

TEST_F(StorageStageTest, AWorkingDirectoryThatCannotBeMadeNamesWhatGaveIt) {
  spec.process.cwd = "/work";
  run_prepare();
  fs->fail("mkdir $ROOT/work", EACCES);
  EXPECT_EQ(create_container_error(),
            "working directory /work (--workdir) does not exist and cannot be created in the "
            "container: Permission denied (create it in the rootfs, or give another --workdir)");
}

TEST_F(StorageStageTest, ABundlesWorkingDirectoryThatCannotBeMadeNamesProcessCwd) {
  spec_source = SpecSource::bundle;
  spec.process.cwd = "/work";
  run_prepare();
  fs->fail("mkdir $ROOT/work", EROFS);
  EXPECT_EQ(create_container_error(),
            "working directory /work (process.cwd) does not exist and cannot be created in the "
            "container: Read-only file system (create it in the rootfs, or give another "
            "process.cwd)");
}

TEST_F(StorageStageTest, MissingMountpointParentsAreCreated) {
  bind("file.txt", "/a/b/c.txt", {"rbind", "ro", "nosuid", "nodev", "noexec", "rprivate"});
  EXPECT_EQ(run_prepare(), generated_etc_files) << "nothing is created in the rootfs on the host";
  Lines calls = run_create_container();
  Lines bind_calls{
      "mkdir $ROOT/a 0755",
      "mkdir $ROOT/a/b 0755",
      "create_file $ROOT/a/b/c.txt 0644",
      "mount $HOST/file.txt fd:$ROOT/a/b/c.txt - MS_BIND|MS_REC -",
      "mount - fd:$ROOT/a/b/c.txt - MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
      "mount_setattr fd:$ROOT/a/b/c.txt AT_RECURSIVE MOUNT_ATTR_RDONLY",
      "mount - fd:$ROOT/a/b/c.txt - MS_REC|MS_PRIVATE -",
  };
  EXPECT_TRUE(contains_run(calls, bind_calls));
}

TEST_F(StorageStageTest, DestinationsThroughSymlinksStayInTheRootfs) {
  rootfs.make_dir("srv/data");
  std::filesystem::remove(rootfs.path() + "/data");
  rootfs.make_symlink("data", "/srv/data");
  rootfs.make_symlink("escape", "../../../../../../..");
  std::filesystem::remove(rootfs.path() + "/etc");
  rootfs.make_symlink("etc", "/");  // a hostile image: /etc/hosts must not become the host's
  bind("dir", "/data", {"rbind"});
  bind("dir", "/escape/var/lib", {"bind"});
  EXPECT_EQ(run_prepare(), generated_etc_files);
  Lines calls = run_create_container();
  EXPECT_TRUE(contains_run(
      calls,
      {"mount $HOST/dir fd:$ROOT/srv/data - MS_BIND|MS_REC -", "mkdir $ROOT/var 0755",
       "mkdir $ROOT/var/lib 0755", "mount $HOST/dir fd:$ROOT/var/lib - MS_BIND -",
       "create_file $ROOT/hostname 0644", "mount $STATE/hostname fd:$ROOT/hostname - MS_BIND -",
       "create_file $ROOT/hosts 0644", "mount $STATE/hosts fd:$ROOT/hosts - MS_BIND -"}));
}

TEST_F(StorageStageTest, DestinationLeadingToTheRootIsRefused) {
  std::filesystem::remove(rootfs.path() + "/data");
  rootfs.make_symlink("data", "../../..");
  bind("dir", "/data", {"rbind"});
  try {
    run_prepare();
    FAIL() << "no error";
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(),
                 "mount destination \"/data\" leads to the container root through a symlink in "
                 "the rootfs (mount somewhere else or fix the symlink)");
  }
}

// /proc is the container's procfs, where nsrun writes its settings (oom_score_adj, sysctls): a
// mount there, as written or through an image's symlink (CVE-2019-16884), would take those
// writes. Refused in prepare, and again at the mount if the rootfs changed since.
TEST_F(StorageStageTest, ADestinationInProcIsRefused) {
  auto prepare_error = [&]() -> std::string {
    try {
      run_prepare();
    } catch (const StageError& e) {
      return e.what();
    }
    return "(no error)";
  };
  bind("dir", "/proc", {"rbind"});
  EXPECT_EQ(prepare_error(),
            "mount destination \"/proc\" is /proc, where nsrun mounts the container's procfs "
            "and writes its settings (mount it somewhere else)");
  spec.mounts.clear();
  bind("dir", "/proc/sys/kernel", {"rbind"});
  EXPECT_EQ(prepare_error(),
            "mount destination \"/proc/sys/kernel\" is in /proc, where nsrun mounts the "
            "container's procfs and writes its settings (mount it somewhere else)");
  spec.mounts.clear();
  std::filesystem::remove(rootfs.path() + "/etc");
  rootfs.make_dir("etc");
  rootfs.make_symlink("etc/hostname", "/proc/1/oom_score_adj");
  EXPECT_EQ(prepare_error(),
            "mount destination \"/etc/hostname\" leads to /proc/1/oom_score_adj through a "
            "symlink in the rootfs; nsrun mounts the container's procfs there and writes its "
            "settings in it (mount it somewhere else or fix the symlink)");
}

TEST_F(StorageStageTest, LxcfsFilesMayBeBoundOverTheirProcNamesakes) {
  bind("file.txt", "/proc/meminfo", {"bind", "ro"});
  run_prepare();
  EXPECT_TRUE(contains_run(run_create_container(),
                           {"mount $HOST/file.txt fd:$ROOT/proc/meminfo - MS_BIND -"}));
}

TEST_F(StorageStageTest, ADestinationThatLeadsIntoProcOnlyAtTheMountIsRefused) {
  bind("dir", "/data", {"rbind"});
  run_prepare();
  // Swapped for a symlink after prepare, by someone sharing the rootfs.
  std::filesystem::remove(rootfs.path() + "/data");
  rootfs.make_symlink("data", "/proc/1");
  fs->filesystem_types[rootfs.path() + "/proc/1"] = proc_super_magic;
  EXPECT_EQ(create_container_error(),
            "mount destination \"/data\" leads to /proc/1 through a symlink in the rootfs; nsrun "
            "mounts the container's procfs there and writes its settings in it (mount it "
            "somewhere else or fix the symlink)");
}

// A bundle's mounts as an OCI runtime makes them: the ones on /dev, /dev/pts, /dev/shm and
// /sys give the stage's own mounts their options (podman's --shm-size comes this way), no /tmp
// tmpfs the spec does not ask for (the image's /tmp stays, read-only under root.readonly).
TEST_F(StorageStageTest, BundleMountsAreTranslatedNestedOnesResolvedInTheContainer) {
  spec_source = SpecSource::bundle;
  rootfs.make_dir("run");
  spec.mounts = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "noexec", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=1m"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/run", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=755", "size=65536k"}},
      {"/run/data", "bind", host.path() + "/dir", {"rbind", "rw"}},
      {"/etc/hosts", "bind", host.path() + "/file.txt", {"rbind", "ro"}},
  };
  EXPECT_EQ(run_prepare(), (Lines{
                               "write_file $STATE/hostname 0644",
                           }));
  Lines dev = proc_and_dev;
  dev[1] = "mount tmpfs fd:$ROOT/dev tmpfs MS_NOSUID|MS_NOEXEC|MS_STRICTATIME mode=755,size=65536k";
  dev[9] = "mount devpts fd:$ROOT/dev/pts devpts MS_NOSUID|MS_NOEXEC newinstance,gid=5";
  dev[12] = "mount shm fd:$ROOT/dev/shm tmpfs MS_NOSUID|MS_NODEV|MS_NOEXEC mode=1777,size=1m";
  EXPECT_EQ(run_create_container(),
            concat({private_and_rbind,
                    dev,
                    {sys_and_tmp.front()},
                    {
                        "mkdir $ROOT/dev/mqueue 0755",
                        "mount mqueue fd:$ROOT/dev/mqueue mqueue MS_NOSUID|MS_NODEV|MS_NOEXEC -",
                        "mount tmpfs fd:$ROOT/run tmpfs MS_NOSUID|MS_NODEV mode=755,size=65536k",
                        "mkdir $ROOT/run/data 0755",
                        "mount $HOST/dir fd:$ROOT/run/data - MS_BIND|MS_REC -",
                        "create_file $ROOT/etc/hosts 0644",
                        "mount $HOST/file.txt fd:$ROOT/etc/hosts - MS_BIND|MS_REC -",
                        "mount - fd:$ROOT/etc/hosts - MS_RDONLY|MS_REMOUNT|MS_BIND -",
                        "create_file $ROOT/etc/hostname 0644",
                        "mount $STATE/hostname fd:$ROOT/etc/hostname - MS_BIND -",
                        "create_file $ROOT/etc/resolv.conf 0644",
                        "mount $STATE/resolv.conf fd:$ROOT/etc/resolv.conf - MS_BIND -",
                        "umask 022",
                    },
                    switch_root}));
}

// A bind the spec makes onto /dev/shm or /tmp takes the place of the stage's own mount there
// (podman binds its shm), and a spec's tmpfs on /tmp is made with its options.
TEST_F(StorageStageTest, ABundlesBindReplacesTheStagesOwnMountAndItsTmpfsHasItsOptions) {
  spec_source = SpecSource::bundle;
  spec.mounts = {
      {"/dev/shm", "bind", host.path() + "/dir", {"rbind", "rw"}},
      {"/tmp", "tmpfs", "tmpfs", {"nosuid", "size=1m", "mode=700"}},
  };
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_EQ(std::count_if(calls.begin(), calls.end(),
                          [](const std::string& line) {
                            return line.find("fd:$ROOT/dev/shm") != std::string::npos &&
                                   line.starts_with("mount ");
                          }),
            1);
  EXPECT_TRUE(contains_run(calls, {"mount $HOST/dir fd:$ROOT/dev/shm - MS_BIND|MS_REC -"}));
  EXPECT_TRUE(contains_run(calls, {"mount tmpfs fd:$ROOT/tmp tmpfs MS_NOSUID size=1m,mode=700"}));
}

TEST_F(StorageStageTest, RootfsWithoutEtcGetsNoGeneratedFiles) {
  std::filesystem::remove(rootfs.path() + "/etc");
  EXPECT_EQ(run_prepare(), Lines{});
  EXPECT_EQ(run_create_container(),
            concat({private_and_rbind, proc_and_dev, sys_and_tmp, {"umask 022"}, switch_root}));
}

TEST_F(StorageStageTest, MissingStandardMountpointsAreCreatedInTheContainer) {
  for (const char* dir : {"proc", "dev", "sys", "tmp"})
    std::filesystem::remove(rootfs.path() + "/" + dir);
  spec.hostname.clear();  // no /etc/hostname without a hostname
  EXPECT_EQ(run_prepare(), (Lines{}));
  Lines calls = run_create_container();
  for (const char* dir : {"proc", "dev", "sys", "tmp"}) {
    std::string made = std::string("mkdir $ROOT/") + dir + " 0755";
    auto at = std::find(calls.begin(), calls.end(), made);
    ASSERT_NE(at, calls.end()) << made;
    EXPECT_EQ(at[1].rfind(std::string("mount "), 0), 0u) << "mounted on right after: " << at[1];
  }
}

// Symlinks in the rootfs as the /proc, /dev or /sys the stage mounts on are refused before
// anything exists.
TEST_F(StorageStageTest, ASymlinkedSystemDirectoryIsRefused) {
  // /tmp too, which the stage mounts for a spec from flags: a /tmp leading to / would cover the
  // whole root with an empty tmpfs.
  for (const char* dir : {"proc", "dev", "sys", "tmp"}) {
    std::filesystem::remove(rootfs.path() + "/" + dir);
    rootfs.make_symlink(dir, "/tmp");
    try {
      run_prepare();
      ADD_FAILURE() << dir << ": no error";
    } catch (const StageError& e) {
      EXPECT_EQ(std::string(e.what()), std::string("the rootfs's /") + dir +
                                           " is a symlink (to /tmp); nsrun mounts /" + dir +
                                           " there itself (make it an empty directory)");
    }
    std::filesystem::remove(rootfs.path() + "/" + dir);
    rootfs.make_dir(dir);
  }
}

// A cgroup v1 host: a tmpfs at /sys/fs/cgroup, one read-only bind per hierarchy of the
// container's own cgroup, the co-mount links, then the tmpfs read-only.
const Lines cgroupfs_v1_read_only = {
    "mount tmpfs fd:$ROOT/sys/fs/cgroup tmpfs MS_NOSUID|MS_NODEV|MS_NOEXEC mode=755",
    "mkdir fd:$ROOT/sys/fs/cgroup/pids 0755",
    "mount /sys/fs/cgroup/pids/nsrun-c1 fd:$ROOT/sys/fs/cgroup/pids - MS_BIND|MS_REC -",
    "mount - fd:$ROOT/sys/fs/cgroup/pids - "
    "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND "
    "-",
    "mkdir fd:$ROOT/sys/fs/cgroup/cpu,cpuacct 0755",
    "mount /sys/fs/cgroup/cpu,cpuacct/nsrun-c1 fd:$ROOT/sys/fs/cgroup/cpu,cpuacct - MS_BIND|MS_REC "
    "-",
    "mount - fd:$ROOT/sys/fs/cgroup/cpu,cpuacct - "
    "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
    "mkdir fd:$ROOT/sys/fs/cgroup/memory 0755",
    "mount /sys/fs/cgroup/memory/nsrun-c1 fd:$ROOT/sys/fs/cgroup/memory - MS_BIND|MS_REC -",
    "mount - fd:$ROOT/sys/fs/cgroup/memory - "
    "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
    "mkdir fd:$ROOT/sys/fs/cgroup/systemd 0755",
    "mount /sys/fs/cgroup/systemd/nsrun-c1 fd:$ROOT/sys/fs/cgroup/systemd - MS_BIND|MS_REC -",
    "mount - fd:$ROOT/sys/fs/cgroup/systemd - "
    "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
    "mkdir fd:$ROOT/sys/fs/cgroup/unified 0755",
    "mount /sys/fs/cgroup/unified/nsrun-c1 fd:$ROOT/sys/fs/cgroup/unified - MS_BIND|MS_REC -",
    "mount - fd:$ROOT/sys/fs/cgroup/unified - "
    "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
    "symlink cpu,cpuacct fd:$ROOT/sys/fs/cgroup/cpu",
    "symlink cpu,cpuacct fd:$ROOT/sys/fs/cgroup/cpuacct",
    "mount - fd:$ROOT/sys/fs/cgroup - MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
};

// `nsrun run` and a bundle without a cgroup mount get the read-only cgroupfs right after /sys.
TEST_F(StorageStageTest, DefaultCgroupfsOnAV1Host) {
  rootfs.make_dir("sys/fs/cgroup");  // as in a fresh sysfs
  testing::play_cgroup_v1_host(*fs, "/nsrun-c1");
  run_prepare();
  EXPECT_EQ(run_create_container(), concat({private_and_rbind,
                                            proc_and_dev,
                                            sys_and_tmp,
                                            cgroupfs_v1_read_only,
                                            etc_binds,
                                            {"umask 022"},
                                            switch_root}));
}

// containerd's and podman's cgroup mount, at its place among the spec's mounts.
TEST_F(StorageStageTest, SpecCgroupMountOnAV1Host) {
  rootfs.make_dir("sys/fs/cgroup");
  testing::play_cgroup_v1_host(*fs, "/nsrun-c1");
  spec.mounts = {
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}},
  };
  rootfs.make_dir("run");
  run_prepare();
  Lines calls = run_create_container();
  Lines expected =
      concat({{"mount tmpfs fd:$ROOT/run tmpfs MS_NOSUID|MS_STRICTATIME mode=755,size=65536k"},
              cgroupfs_v1_read_only});
  EXPECT_TRUE(contains_run(calls, expected));
}

TEST_F(StorageStageTest, ReadWriteCgroupMountKeepsItsBindsWritable) {
  rootfs.make_dir("sys/fs/cgroup");
  testing::play_cgroup_v1_host(*fs, "/nsrun-c1");
  spec.mounts = {{"/sys/fs/cgroup", "cgroup", "cgroup", {"rw", "nosuid", "rprivate"}}};
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_TRUE(contains_run(
      calls, {"mount /sys/fs/cgroup/pids/nsrun-c1 fd:$ROOT/sys/fs/cgroup/pids - MS_BIND|MS_REC -",
              "mount - fd:$ROOT/sys/fs/cgroup/pids - MS_NOSUID|MS_REMOUNT|MS_BIND -"}));
  EXPECT_TRUE(contains_run(calls, {"symlink cpu,cpuacct fd:$ROOT/sys/fs/cgroup/cpuacct",
                                   "mount - fd:$ROOT/sys/fs/cgroup - MS_REC|MS_PRIVATE -"}))
      << "no read-only remount of the tmpfs, then the propagation";
}

// On a pure cgroup v2 host the container's cgroup directory itself.
TEST_F(StorageStageTest, CgroupMountOnAV2Host) {
  rootfs.make_dir("sys/fs/cgroup");
  testing::play_cgroup_v2_host(*fs, "/system.slice/nsrun-c1");
  spec.mounts = {{"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}}};
  run_prepare();
  EXPECT_EQ(run_create_container(),
            concat({private_and_rbind,
                    proc_and_dev,
                    sys_and_tmp,
                    {
                        "mount /sys/fs/cgroup/system.slice/nsrun-c1 fd:$ROOT/sys/fs/cgroup - "
                        "MS_BIND|MS_REC -",
                        "mount - fd:$ROOT/sys/fs/cgroup - "
                        "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -",
                    },
                    etc_binds,
                    {"umask 022"},
                    switch_root}));
}

TEST_F(StorageStageTest, CgroupMountOnAHostWithoutCgroupsIsAnError) {
  spec.mounts = {{"/sys/fs/cgroup", "cgroup", "cgroup", {"ro"}}};
  run_prepare();
  EXPECT_EQ(create_container_error(),
            "cannot mount cgroup on /sys/fs/cgroup: the host has no cgroup filesystem at "
            "/sys/fs/cgroup");
}

// The default one is left out there instead (the fixture's host has no cgroups): see the
// sequences above, which have nothing between /tmp and the spec's mounts.

TEST_F(StorageStageTest, SharingTheHostNetworkBindsTheHostSysReadOnly) {
  spec.namespaces = {{"mount", ""}};
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_TRUE(contains_run(calls, {
                                      "mount /sys fd:$ROOT/sys - MS_BIND|MS_REC -",
                                      "mount_setattr fd:$ROOT/sys AT_RECURSIVE "
                                      "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|"
                                      "MOUNT_ATTR_NOEXEC",
                                      "mount tmpfs fd:$ROOT/tmp tmpfs MS_NOSUID|MS_NODEV mode=1777",
                                  }));
  EXPECT_EQ(std::count_if(calls.begin(), calls.end(),
                          [](const std::string& line) { return line.starts_with("mount sysfs"); }),
            0);
}

TEST_F(StorageStageTest, RecursiveReadOnlyAndPropagationOfABind) {
  bind("dir", "/data", {"rbind", "rro", "rnosuid", "nodev", "runbindable"});
  run_prepare();
  EXPECT_TRUE(contains_run(run_create_container(),
                           {
                               "mount $HOST/dir fd:$ROOT/data - MS_BIND|MS_REC -",
                               "mount - fd:$ROOT/data - MS_NODEV|MS_REMOUNT|MS_BIND -",
                               "mount_setattr fd:$ROOT/data AT_RECURSIVE "
                               "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID",
                               "mount - fd:$ROOT/data - MS_REC|MS_UNBINDABLE -",
                           }));
}

// runc makes a bundle's "ro" the top mount's alone; only "rro" reaches the mounts beneath.
TEST_F(StorageStageTest, ABundlesReadOnlyBindIsReadOnlyAtTheTopOnly) {
  spec_source = SpecSource::bundle;
  bind("dir", "/data", {"rbind", "ro"});
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_TRUE(contains_run(calls, {
                                      "mount $HOST/dir fd:$ROOT/data - MS_BIND|MS_REC -",
                                      "mount - fd:$ROOT/data - MS_RDONLY|MS_REMOUNT|MS_BIND -",
                                      "create_file $ROOT/etc/hostname 0644",
                                  }));
}

TEST_F(StorageStageTest, RrwAndTheOtherClearingOptionsClearRecursively) {
  spec_source = SpecSource::bundle;
  bind("dir", "/data", {"rbind", "rro", "rrw", "rsuid", "rnoexec"});
  run_prepare();
  EXPECT_TRUE(contains_run(run_create_container(),
                           {
                               "mount $HOST/dir fd:$ROOT/data - MS_BIND|MS_REC -",
                               "mount_setattr fd:$ROOT/data AT_RECURSIVE MOUNT_ATTR_NOEXEC clear "
                               "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID",
                           }));
}

// Before Linux 5.12: --mount HOST:CTR:ro is what it was, read-only at the top (docker falls
// back the same way); a bundle that asks for "rro" is refused, as runc refuses it.
TEST_F(StorageStageTest, WithoutMountSetattrAReadOnlyMountFlagKeepsItsTopMountReadOnly) {
  bind("dir", "/data", {"rbind", "ro"});
  fs->fail("mount_setattr fd:$ROOT/data", ENOSYS);
  run_prepare();
  EXPECT_TRUE(contains_run(run_create_container(),
                           {
                               "mount - fd:$ROOT/data - MS_RDONLY|MS_REMOUNT|MS_BIND -",
                               "mount_setattr fd:$ROOT/data AT_RECURSIVE MOUNT_ATTR_RDONLY",
                               "create_file $ROOT/etc/hostname 0644",
                           }));
  EXPECT_TRUE(
      log.contains("the kernel has no mount_setattr (Linux 5.12): only the top mount of "
                   "/data is read-only, not the mounts beneath it"));
}

TEST_F(StorageStageTest, WithoutMountSetattrABundlesRroIsAnError) {
  spec_source = SpecSource::bundle;
  bind("dir", "/data", {"rbind", "rro"});
  fs->fail("mount_setattr fd:$ROOT/data", ENOSYS);
  run_prepare();
  EXPECT_EQ(create_container_error(),
            "cannot make /data (recursively) read-only: Function not implemented (mount_setattr "
            "needs Linux 5.12 or later)");
}

TEST_F(StorageStageTest, ReadWriteBindIsNotRemounted) {
  bind("dir", "/data", {"bind", "rw", "shared"});
  run_prepare();
  EXPECT_TRUE(contains_run(run_create_container(), {
                                                       "mount $HOST/dir fd:$ROOT/data - MS_BIND -",
                                                       "mount - fd:$ROOT/data - MS_SHARED -",
                                                   }));
}

TEST_F(StorageStageTest, DevptsAndMqueueOptionsPassAsFlagsAndData) {
  rootfs.make_dir("mnt");
  spec.mounts = {
      {"/mnt/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/mnt/mq", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/mnt/ro", "tmpfs", "tmpfs", {"ro", "strictatime", "mode=755", "size=65536k"}},
  };
  run_prepare();
  EXPECT_TRUE(contains_run(
      run_create_container(),
      {
          "mkdir $ROOT/mnt/pts 0755",
          "mount devpts fd:$ROOT/mnt/pts devpts MS_NOSUID|MS_NOEXEC "
          "newinstance,ptmxmode=0666,mode=0620,gid=5",
          "mkdir $ROOT/mnt/mq 0755",
          "mount mqueue fd:$ROOT/mnt/mq mqueue MS_NOSUID|MS_NODEV|MS_NOEXEC -",
          "mkdir $ROOT/mnt/ro 0755",
          "mount tmpfs fd:$ROOT/mnt/ro tmpfs MS_RDONLY|MS_STRICTATIME mode=755,size=65536k",
      }));
}

constexpr std::int64_t tmpfs_magic = 0x01021994;

// tmpcopyup: the directory is opened before the tmpfs covers it and copied from once the tmpfs
// is there (the copy goes to the new mount, pinned again); without the option, no copy.
TEST_F(StorageStageTest, TmpcopyupCopiesTheCoveredDirectoryIntoTheNewTmpfs) {
  rootfs.make_dir("run");
  rootfs.make_dir("var/tmp");
  spec.mounts = {
      {"/run", "tmpfs", "tmpfs", {"rw", "rprivate", "nosuid", "nodev", "tmpcopyup"}},
      {"/var/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev", "notmpcopyup"}},
      {"/var/cache", "tmpfs", "tmpfs", {"nosuid", "size=1m"}},
  };
  fs->filesystem_types[rootfs.path() + "/run"] = tmpfs_magic;
  run_prepare();
  Lines calls = run_create_container();
  EXPECT_TRUE(contains_run(calls, {
                                      "open_directory fd:$ROOT/run",
                                      "mount tmpfs fd:$ROOT/run tmpfs MS_NOSUID|MS_NODEV -",
                                      "copy_tree fd:$ROOT/run fd:$ROOT/run",
                                      "mount - fd:$ROOT/run - MS_REC|MS_PRIVATE -",
                                      "mount tmpfs fd:$ROOT/var/tmp tmpfs MS_NOSUID|MS_NODEV -",
                                      "mkdir $ROOT/var/cache 0755",
                                      "mount tmpfs fd:$ROOT/var/cache tmpfs MS_NOSUID size=1m",
                                  }));
  EXPECT_EQ(std::count_if(calls.begin(), calls.end(),
                          [](const std::string& line) {
                            return line.starts_with("open_directory") ||
                                   line.starts_with("copy_tree");
                          }),
            2)
      << "only /run asked for tmpcopyup";
}

// A read-only tmpfs is filled first, then made read-only (with its other per-mount flags).
TEST_F(StorageStageTest, ReadOnlyTmpfsWithTmpcopyupIsMadeReadOnlyAfterTheCopy) {
  rootfs.make_dir("srv");
  spec.mounts = {{"/srv", "tmpfs", "tmpfs", {"ro", "nosuid", "nodev", "mode=755", "tmpcopyup"}}};
  fs->filesystem_types[rootfs.path() + "/srv"] = tmpfs_magic;
  run_prepare();
  EXPECT_TRUE(contains_run(run_create_container(),
                           {
                               "open_directory fd:$ROOT/srv",
                               "mount tmpfs fd:$ROOT/srv tmpfs MS_NOSUID|MS_NODEV mode=755",
                               "copy_tree fd:$ROOT/srv fd:$ROOT/srv",
                               "mount - fd:$ROOT/srv - MS_RDONLY|MS_NOSUID|MS_NODEV|MS_REMOUNT|"
                               "MS_BIND -",
                           }));
}

TEST_F(StorageStageTest, AFailedCopyUpNamesTheMountAndTheReason) {
  rootfs.make_dir("run");
  spec.mounts = {{"/run", "tmpfs", "tmpfs", {"nosuid", "size=1k", "tmpcopyup"}}};
  fs->filesystem_types[rootfs.path() + "/run"] = tmpfs_magic;
  run_prepare();
  fs->fail("copy_tree", ENOSPC);
  EXPECT_EQ(create_container_error(),
            "cannot copy the contents of /run into its tmpfs (tmpcopyup): No space left on device");
}

// Reaching the new tmpfs resolves the path again: should it lead somewhere else than a tmpfs
// (a component swapped meanwhile), nothing is copied into the image.
TEST_F(StorageStageTest, CopyUpIsRefusedWhereThePathNoLongerLeadsToATmpfs) {
  rootfs.make_dir("run");
  spec.mounts = {{"/run", "tmpfs", "tmpfs", {"nosuid", "tmpcopyup"}}};
  fs->filesystem_types[rootfs.path() + "/run"] = 0xEF53;  // ext4's, where the image lies
  run_prepare();
  EXPECT_EQ(create_container_error(),
            "cannot copy the contents of /run into its tmpfs (tmpcopyup): /run no longer leads to "
            "a tmpfs (the rootfs changed during the mount; retry)");
  EXPECT_TRUE(std::none_of(fs->calls.begin(), fs->calls.end(),
                           [](const std::string& line) { return line.starts_with("copy_tree"); }));
}

TEST_F(StorageStageTest, RefusedMknodBindsTheHostNode) {
  run_prepare();
  fs->fail("mknod fd:$ROOT/dev/null", EPERM);
  Lines calls = run_create_container();
  Lines fallback{
      "mknod fd:$ROOT/dev/null c 0666 1:3",
      "create_file fd:$ROOT/dev/null 0666",
      "mount /dev/null fd:$ROOT/dev/null - MS_BIND -",
      "mknod fd:$ROOT/dev/zero c 0666 1:5",
  };
  EXPECT_TRUE(contains_run(calls, fallback));
}

TEST_F(StorageStageTest, RefusedSysfsFallsBackToReadOnlyRbind) {
  run_prepare();
  fs->fail("mount sysfs", EPERM);
  Lines calls = run_create_container();
  Lines fallback{
      "mount sysfs fd:$ROOT/sys sysfs MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC -",
      "mount /sys fd:$ROOT/sys - MS_BIND|MS_REC -",
      "mount_setattr fd:$ROOT/sys AT_RECURSIVE "
      "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC",
      "mount tmpfs fd:$ROOT/tmp tmpfs MS_NOSUID|MS_NODEV mode=1777",
  };
  EXPECT_TRUE(contains_run(calls, fallback));
}

TEST_F(StorageStageTest, DevptsWithoutGroupFiveRetriesWithoutGid) {
  run_prepare();
  fs->fail("mount devpts", EINVAL, 1);
  Lines calls = run_create_container();
  Lines retry{
      "mount devpts fd:$ROOT/dev/pts devpts MS_NOSUID|MS_NOEXEC "
      "newinstance,ptmxmode=0666,mode=0620,gid=5",
      "mount devpts fd:$ROOT/dev/pts devpts MS_NOSUID|MS_NOEXEC "
      "newinstance,ptmxmode=0666,mode=0620",
      "symlink pts/ptmx fd:$ROOT/dev/ptmx",
  };
  EXPECT_TRUE(contains_run(calls, retry));
}

TEST_F(StorageStageTest, MountFailureNamesTheMountAndTheReason) {
  run_prepare();
  fs->fail("mount proc", EPERM);
  EXPECT_EQ(create_container_error(), "cannot mount proc on /proc: Operation not permitted");
}

TEST_F(StorageStageTest, RefusesToRunInTheHostMountNamespace) {
  run_prepare();
  fs->host_mount_namespace = true;
  EXPECT_EQ(create_container_error(),
            "refusing to set up mounts in the caller's or the host's mount namespace (the "
            "pipeline needs a namespaces stage that creates a mount namespace before the storage "
            "stage)");
  EXPECT_EQ(fs->calls, Lines{});
}

TEST_F(StorageStageTest, RefusesToRunInTheCallersMountNamespace) {
  // The caller is not PID 1's namespace (an engine's, a test's): still never mounted into.
  run_prepare();
  fs->current_mount_namespace = "0:1";  // the container process did not get a new one
  EXPECT_EQ(create_container_error(),
            "refusing to set up mounts in the caller's or the host's mount namespace (the "
            "pipeline needs a namespaces stage that creates a mount namespace before the storage "
            "stage)");
  EXPECT_EQ(fs->calls, Lines{});
}

TEST_F(StorageStageTest, ASpecWithoutAMountNamespaceOfItsOwnIsRefused) {
  spec.namespaces = {{"network", ""}};
  Context ctx{"c1", state.path(), spec, config, journal, log};
  try {
    stage->validate(ctx);
    ADD_FAILURE() << "validate accepted a spec without a mount namespace";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "linux.namespaces has no mount namespace: the storage stage mounts the rootfs and "
              "switches root only in a mount namespace of its own (add {\"type\": \"mount\"})");
  }
  spec.namespaces = {{"mount", "/proc/1/ns/mnt"}};
  try {
    stage->validate(ctx);
    ADD_FAILURE() << "validate accepted joining a mount namespace";
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("joining the mount namespace"), std::string::npos);
  }
}

TEST_F(StorageStageTest, CreateContainerWithoutPrepareIsAnError) {
  EXPECT_EQ(create_container_error(),
            "create_container ran without prepare (the core must run prepare first)");
}

TEST_F(StorageStageTest, TeardownDoesNothing) {
  Context ctx{"c1", state.path(), spec, config, journal, log};
  stage->teardown(ctx);
  EXPECT_EQ(fs->calls, Lines{});
}

}  // namespace
}  // namespace nsrun::storage
