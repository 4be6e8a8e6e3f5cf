// resolve_in_root against a real temporary rootfs: symlinks and ".." must never leave it.
#include <gtest/gtest.h>

#include "fake_host_fs.hpp"
#include "nsrun/storage/secure_join.hpp"

namespace nsrun::storage {
namespace {

using testing::TempDir;

class ResolveInRoot : public ::testing::Test {
 protected:
  std::string resolve(const std::string& path) {
    return resolve_in_root(root.path(), path).host_path();
  }
  std::string at(const std::string& relative) { return root.path() + relative; }
  TempDir root;
};

TEST_F(ResolveInRoot, ExistingPathResolvesToItself) {
  root.make_dir("a/b");
  ResolvedPath resolved = resolve_in_root(root.path(), "/a/b");
  EXPECT_EQ(resolved.host_path(), at("/a/b"));
  EXPECT_EQ(resolved.in_root(), "/a/b");
  EXPECT_TRUE(resolved.exists());
}

TEST_F(ResolveInRoot, RootItself) {
  ResolvedPath resolved = resolve_in_root(root.path(), "/");
  EXPECT_EQ(resolved.host_path(), root.path());
  EXPECT_EQ(resolved.in_root(), "/");
  EXPECT_TRUE(resolved.exists());
}

TEST_F(ResolveInRoot, CountsTheExistingPrefixOfAMissingPath) {
  root.make_dir("a");
  ResolvedPath resolved = resolve_in_root(root.path(), "/a/x/y");
  EXPECT_EQ(resolved.host_path(), at("/a/x/y"));
  EXPECT_EQ(resolved.existing, 1u);
  EXPECT_FALSE(resolved.exists());
}

TEST_F(ResolveInRoot, AbsoluteSymlinkToSlashStaysInTheRoot) {
  root.make_symlink("etc", "/");
  EXPECT_EQ(resolve("/etc/passwd"), at("/passwd"));
  EXPECT_EQ(resolve("/etc"), root.path());
}

TEST_F(ResolveInRoot, AbsoluteSymlinkIsReadRelativeToTheRoot) {
  root.make_dir("srv/etc");
  root.make_symlink("etc", "/srv/etc");
  ResolvedPath resolved = resolve_in_root(root.path(), "/etc/hosts");
  EXPECT_EQ(resolved.host_path(), at("/srv/etc/hosts"));
  EXPECT_EQ(resolved.existing, 2u);  // srv, etc
}

TEST_F(ResolveInRoot, RelativeDotDotSymlinkIsClampedAtTheRoot) {
  root.make_dir("a/b");
  root.make_symlink("a/b/up", "../../../../../../..");
  EXPECT_EQ(resolve("/a/b/up/etc/shadow"), at("/etc/shadow"));
}

TEST_F(ResolveInRoot, RelativeSymlinkFollowsFromItsDirectory) {
  root.make_dir("a/real");
  root.make_symlink("a/link", "real/../real");
  EXPECT_EQ(resolve("/a/link/f"), at("/a/real/f"));
}

TEST_F(ResolveInRoot, NestedSymlinksAreFollowedInsideTheRoot) {
  root.make_dir("real/sub");
  root.make_symlink("l3", "/real");
  root.make_symlink("l2", "/l3/sub");
  root.make_symlink("l1", "l2");
  EXPECT_EQ(resolve("/l1/f"), at("/real/sub/f"));
}

TEST_F(ResolveInRoot, SymlinkAsLastComponentIsFollowed) {
  root.make_dir("run/systemd/resolve");
  root.make_dir("etc");
  root.make_symlink("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
  ResolvedPath resolved = resolve_in_root(root.path(), "/etc/resolv.conf");
  EXPECT_EQ(resolved.host_path(), at("/run/systemd/resolve/stub-resolv.conf"));
  EXPECT_EQ(resolved.existing, 3u);
}

TEST_F(ResolveInRoot, SymlinkLoopIsAnError) {
  root.make_symlink("loop1", "loop2");
  root.make_symlink("loop2", "/loop1");
  try {
    resolve("/loop1/x");
    FAIL() << "no error";
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(),
                 "cannot resolve \"/loop1/x\" inside the rootfs: too many levels of symbolic "
                 "links (fix the symlink loop in the rootfs)");
  }
}

TEST_F(ResolveInRoot, SelfLoopIsAnError) {
  root.make_symlink("self", "self");
  EXPECT_THROW(resolve("/self"), StageError);
}

TEST_F(ResolveInRoot, FortyHopsAreAllowed) {
  for (int i = 0; i < 40; ++i)
    root.make_symlink("s" + std::to_string(i), "s" + std::to_string(i + 1));
  root.make_dir("s40");
  EXPECT_EQ(resolve("/s0"), at("/s40"));
  root.make_symlink("t", "s0");
  EXPECT_THROW(resolve("/t"), StageError);  // 41 hops
}

TEST_F(ResolveInRoot, DotDotIsClampedAtTheRoot) {
  EXPECT_EQ(resolve("/../../etc"), at("/etc"));
  EXPECT_EQ(resolve("/a/../../b"), at("/b"));
  EXPECT_EQ(resolve("../x"), at("/x"));
}

TEST_F(ResolveInRoot, DotDotAfterASymlinkIsTheTargetsParent) {
  root.make_dir("dir");
  root.make_dir("other/inner");
  root.make_symlink("dir/link", "/other/inner");
  EXPECT_EQ(resolve("/dir/link/.."), at("/other"));
}

TEST_F(ResolveInRoot, DotDotOutOfAMissingDirectoryChecksAgain) {
  root.make_dir("a");
  root.make_symlink("a/link", "/b");
  EXPECT_EQ(resolve("/a/nope/../link/f"), at("/b/f"));
  EXPECT_TRUE(resolve_in_root(root.path(), "/nope/../a").exists());
}

TEST_F(ResolveInRoot, PathThroughAFileIsMissing) {
  root.make_file("file");
  ResolvedPath resolved = resolve_in_root(root.path(), "/file/x");
  EXPECT_EQ(resolved.existing, 1u);
  EXPECT_FALSE(resolved.exists());
}

TEST(CleanContainerPath, CollapsesAndClamps) {
  EXPECT_EQ(clean_container_path("/a/./b/../c/"), "/a/c");
  EXPECT_EQ(clean_container_path("//a//b"), "/a/b");
  EXPECT_EQ(clean_container_path("/../etc"), "/etc");
  EXPECT_EQ(clean_container_path("/"), "/");
  EXPECT_EQ(clean_container_path("/a/.."), "/");
}

TEST(EscapesRootLexically, OnlyWhenDotDotClimbsAboveSlash) {
  EXPECT_TRUE(escapes_root_lexically("/../etc"));
  EXPECT_TRUE(escapes_root_lexically("/a/../../etc"));
  EXPECT_TRUE(escapes_root_lexically("/a/./../.."));
  EXPECT_FALSE(escapes_root_lexically("/a/../etc"));
  EXPECT_FALSE(escapes_root_lexically("/a/b/../../c"));
  EXPECT_FALSE(escapes_root_lexically("/a..b/..c"));
}

TEST(IsStrictlyBeneath, ComparesWholeComponents) {
  EXPECT_TRUE(is_strictly_beneath("/dev/pts", "/dev"));
  EXPECT_TRUE(is_strictly_beneath("/a", "/"));
  EXPECT_FALSE(is_strictly_beneath("/dev", "/dev"));
  EXPECT_FALSE(is_strictly_beneath("/devices", "/dev"));
  EXPECT_FALSE(is_strictly_beneath("/", "/"));
}

}  // namespace
}  // namespace nsrun::storage
