// linux.devices and --device: parsing, validation, and the node creation sequence.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fake_host_fs.hpp"
#include "nsrun/storage/devices.hpp"
#include "nsrun/storage/storage_stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::storage {
namespace {

using testing::FakeHostFs;
using testing::FakeLogger;
using testing::TempDir;

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const StageError& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceFlag, ParsesHostContainerAndPermissions) {
  auto one = parse_device_flag("/dev/fuse");
  EXPECT_EQ(one.host_path, "/dev/fuse");
  EXPECT_EQ(one.container_path, "/dev/fuse");
  EXPECT_EQ(one.permissions, "rwm");
  auto two = parse_device_flag("/dev/sdb:/dev/xvdb");
  EXPECT_EQ(two.container_path, "/dev/xvdb");
  auto perms = parse_device_flag("/dev/sdb:r");
  EXPECT_EQ(perms.container_path, "/dev/sdb");
  EXPECT_EQ(perms.permissions, "r");
  auto three = parse_device_flag("/dev/sdb:/dev/xvdb:rw");
  EXPECT_EQ(three.container_path, "/dev/xvdb");
  EXPECT_EQ(three.permissions, "rw");
}

TEST(DeviceFlag, BadSyntaxNamesTheFlag) {
  const char* usage = " (use HOST[:CONTAINER][:PERMS], e.g. /dev/fuse:/dev/fuse:rwm)";
  EXPECT_EQ(error_of([] { parse_device_flag("/dev/null:/dev/n:rwx"); }),
            std::string("--device \"/dev/null:/dev/n:rwx\": the permissions \"rwx\" are not a "
                        "subset of \"rwm\"") +
                usage);
  EXPECT_EQ(error_of([] { parse_device_flag("dev/null"); }),
            std::string("--device \"dev/null\": the host path must be absolute") + usage);
  EXPECT_EQ(error_of([] { parse_device_flag("/dev/null:/a/../b"); }),
            std::string("--device \"/dev/null:/a/../b\": the container path must be absolute, "
                        "without \"..\"") +
                usage);
  EXPECT_EQ(error_of([] { parse_device_flag("/a:/b:r:x"); }),
            std::string("--device \"/a:/b:r:x\": too many parts") + usage);
  EXPECT_NE(error_of([] { parse_device_flag("/dev/null:rr"); }), "");
}

TEST(DeviceFlag, TheHostPathMustBeADevice) {
  auto [device, rule] = device_from_flag(parse_device_flag("/dev/null:/dev/mynull:rw"));
  EXPECT_EQ(device.path, "/dev/mynull");
  EXPECT_EQ(device.type, "c");
  EXPECT_EQ(device.major, 1);
  EXPECT_EQ(device.minor, 3);
  EXPECT_TRUE(rule.allow);
  EXPECT_EQ(rule.type, "c");
  EXPECT_EQ(rule.major, 1);
  EXPECT_EQ(rule.minor, 3);
  EXPECT_EQ(rule.access, "rw");
  EXPECT_EQ(error_of([] { device_from_flag(parse_device_flag("/nonexistent-device")); }),
            "--device /nonexistent-device: No such file or directory (give a device node of the "
            "host, e.g. /dev/fuse)");
  EXPECT_EQ(error_of([] { device_from_flag(parse_device_flag("/etc/hostname")); }),
            "--device /etc/hostname is not a character or block device (give a device node of "
            "the host)");
}

DeviceSpec node(std::string path, std::string type, std::optional<std::int64_t> major,
                std::optional<std::int64_t> minor) {
  DeviceSpec d;
  d.path = std::move(path);
  d.type = std::move(type);
  d.major = major;
  d.minor = minor;
  return d;
}

TEST(LinuxDevices, ValidationNamesTheField) {
  EXPECT_EQ(error_of([] { validate_devices({node("/dev/fuse", "c", 10, 229)}); }), "");
  EXPECT_EQ(error_of([] { validate_devices({node("/dev/fifo", "p", {}, {})}); }), "");
  EXPECT_EQ(error_of([] {
              validate_devices({node("/dev/fuse", "c", 10, 229), node("/dev/x", "x", 1, 1)});
            }),
            "config.json: linux.devices[1].type: \"x\" is not a device type (use c, b, u or p)");
  EXPECT_EQ(error_of([] { validate_devices({node("dev/x", "c", 1, 1)}); }),
            "config.json: linux.devices[0].path: \"dev/x\" must be an absolute path inside the "
            "container, without \"..\"");
  EXPECT_EQ(error_of([] { validate_devices({node("/dev/../etc/x", "c", 1, 1)}); }),
            "config.json: linux.devices[0].path: \"/dev/../etc/x\" must be an absolute path "
            "inside the container, without \"..\"");
  EXPECT_EQ(error_of([] { validate_devices({node("/dev/x", "b", {}, 1)}); }),
            "config.json: linux.devices[0].major is required for a device of type \"b\"");
  EXPECT_EQ(error_of([] { validate_devices({node("/dev/x", "c", 1, 2000000)}); }),
            "config.json: linux.devices[0].minor: 2000000 is out of range (0-1048575)");
  auto bad_mode = node("/dev/x", "c", 1, 3);
  bad_mode.file_mode = 010000;
  EXPECT_NE(error_of([&] { validate_devices({bad_mode}); }).find("linux.devices[0].fileMode"),
            std::string::npos);
}

// Podman's fileMode is the host node's st_mode: 8630 is 020666, S_IFCHR|0666.
TEST(LinuxDevices, FileModeMayCarryTheNodesOwnTypeBits) {
  auto with_mode = [](std::string type, std::int64_t mode) {
    auto d = node("/dev/x", type, type == "p" ? std::nullopt : std::optional<std::int64_t>(1),
                  type == "p" ? std::nullopt : std::optional<std::int64_t>(3));
    d.file_mode = mode;
    return d;
  };
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", 8630)}); }), "");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("u", S_IFCHR | 0600)}); }), "");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("b", S_IFBLK | 0660)}); }), "");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("p", S_IFIFO | 0644)}); }), "");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", 07777)}); }), "");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", 0)}); }), "");

  EXPECT_EQ(error_of([&] {
              validate_devices({with_mode("c", 0), with_mode("b", 8630)});
            }),
            "config.json: linux.devices[1].fileMode: 8630 (020666) has the type bits of a "
            "character device, but type is \"b\" (give the permission bits only, e.g. 0666)");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", S_IFREG | 0644)}); }),
            "config.json: linux.devices[0].fileMode: 33188 (0100644) has the type bits of a "
            "regular file, but type is \"c\" (give the permission bits only, e.g. 0644)");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", 030666)}); }),
            "config.json: linux.devices[0].fileMode: 12726 (030666) has the type bits 030000, of "
            "no file type, but type is \"c\" (give the permission bits only, e.g. 0666)");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", -1)}); }),
            "config.json: linux.devices[0].fileMode: -1 is not a file mode (give the permission "
            "bits, 0 to 07777 octal, e.g. 0666)");
  EXPECT_EQ(error_of([&] { validate_devices({with_mode("c", 0200000)}); }),
            "config.json: linux.devices[0].fileMode: 65536 is not a file mode (give the "
            "permission bits, 0 to 07777 octal, e.g. 0666)");
}

// Only the permission bits reach mknod; the type is always linux.devices[].type's.
TEST(LinuxDevices, TypeBitsOfFileModeAreNotPassedOn) {
  TempDir root;
  root.make_dir("dev");
  FakeHostFs fs;
  fs.alias(root.path(), "$ROOT");
  FakeLogger log;
  auto xnull = node("/dev/xnull", "c", 1, 3);
  xnull.file_mode = 8630;
  create_device_nodes({{xnull, "/dev/null"}}, root.path(), fs, log);
  EXPECT_EQ(fs.calls, std::vector<std::string>{"mknod fd:$ROOT/dev/xnull c 0666 1:3"});
}

TEST(LinuxDevices, NodesAreMadeUnderTheRootWithParentsModeAndOwner) {
  TempDir root;
  root.make_dir("dev");
  FakeHostFs fs;
  fs.alias(root.path(), "$ROOT");
  FakeLogger log;
  auto fuse = node("/dev/fuse", "c", 10, 229);
  auto disk = node("/dev/disks/sdb", "b", 8, 16);
  disk.file_mode = 0600;
  disk.uid = 1000;
  disk.gid = 6;
  auto fifo = node("/dev/fifo", "p", {}, {});
  create_device_nodes({{fuse, "/dev/fuse"}, {disk, "/dev/sdb"}, {fifo, "/dev/fifo"}}, root.path(),
                      fs, log);
  std::vector<std::string> want = {
      "mknod fd:$ROOT/dev/fuse c 0666 10:229",    "mkdir $ROOT/dev/disks 0755",
      "mknod fd:$ROOT/dev/disks/sdb b 0600 8:16", "lchown fd:$ROOT/dev/disks/sdb 1000:6",
      "mknod fd:$ROOT/dev/fifo p 0666 0:0",
  };
  EXPECT_EQ(fs.calls, want);
}

TEST(LinuxDevices, ASymlinkInTheRootfsCannotLeadOut) {
  TempDir root;
  root.make_dir("dev");
  root.make_symlink("dev/evil", "/etc");
  FakeHostFs fs;
  fs.alias(root.path(), "$ROOT");
  FakeLogger log;
  create_device_nodes({{node("/dev/evil/x", "c", 1, 3), "/dev/null"}}, root.path(), fs, log);
  ASSERT_EQ(fs.calls.size(), 2u);
  EXPECT_EQ(fs.calls[0], "mkdir $ROOT/etc 0755");  // "/etc" resolved inside the root
  EXPECT_EQ(fs.calls[1], "mknod fd:$ROOT/etc/x c 0666 1:3");
}

TEST(LinuxDevices, RefusedMknodBindsTheHostsNode) {
  TempDir root;
  root.make_dir("dev");
  FakeHostFs fs;
  fs.alias(root.path(), "$ROOT");
  fs.fail("mknod", EPERM);
  FakeLogger log;
  create_device_nodes({{node("/dev/myzero", "c", 1, 5), "/dev/zero"}}, root.path(), fs, log);
  std::vector<std::string> want = {"mknod fd:$ROOT/dev/myzero c 0666 1:5",
                                   "create_file $ROOT/dev/myzero 0644",
                                   "mount /dev/zero fd:$ROOT/dev/myzero - MS_BIND -"};
  EXPECT_EQ(fs.calls, want);
}

TEST(DeviceFlagStage, ValidateChecksAndPrepareAppendsNodeAndRule) {
  TempDir root;
  root.make_dir("etc");
  nsrun::testing::StageHarness h;
  h.spec.root.path = root.path();
  h.spec.namespaces = {{"mount", ""}};
  h.spec.resources.devices = {DeviceRuleSpec{false, "a", {}, {}, "rwm"}};
  h.state_dir = root.path();  // the generated /etc files go there (through the fake)
  StorageStage stage(std::make_unique<FakeHostFs>(), "/nonexistent/resolv.conf");
  // validate refuses a bad flag first, before anything.
  h.flags["device"] = boost::json::array{"/dev/null:rwx"};
  EXPECT_NE(error_of([&] { h.run(stage, Phase::validate); }).find("--device \"/dev/null:rwx\""),
            std::string::npos);
  h.flags["device"] = boost::json::array{"/dev/null:/dev/mynull:rw"};
  h.run(stage, Phase::validate);
  EXPECT_TRUE(h.spec.devices.empty());  // validate changes nothing
  h.run(stage, Phase::prepare);
  ASSERT_EQ(h.spec.devices.size(), 1u);
  EXPECT_EQ(h.spec.devices[0].path, "/dev/mynull");
  EXPECT_EQ(h.spec.devices[0].type, "c");
  ASSERT_EQ(h.spec.resources.devices.size(), 2u);  // after the rules already there
  EXPECT_FALSE(h.spec.resources.devices[0].allow);
  const auto& added = h.spec.resources.devices[1];
  EXPECT_TRUE(added.allow);
  EXPECT_EQ(added.type, "c");
  EXPECT_EQ(added.major, 1);
  EXPECT_EQ(added.minor, 3);
  EXPECT_EQ(added.access, "rw");
}

}  // namespace
}  // namespace nsrun::storage
