/* bin/nsrun: starts the nsrun program (lib/nsrun/nsrun), from a read-only mount of it when the
 * command puts an nsrun process into a container.
 *
 * CVE-2019-5736: a process of the container that gets hold of /proc/PID/exe of such an nsrun
 * process could reopen the host's binary for writing once no nsrun runs it. So `run`, `create`
 * and `exec` must run nsrun from a read-only mount of its binary (open_tree(OPEN_TREE_CLONE),
 * mount_setattr read-only, execveat; see core/include/nsrun/core/read_only_self.hpp). nsrun can
 * re-execute itself that way, but that costs a second start of a C++ program with its shared
 * libraries (about 5 ms); this launcher is static C, so the start it adds is a fraction of a
 * millisecond. It does nothing else: nsrun parses the arguments and reports every error.
 *
 * The program finds its installation from the launcher's path, passed as NSRUN_BINARY. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

/* struct mount_attr as of Linux 5.12 (MOUNT_ATTR_SIZE_VER0). */
struct mount_attributes {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The global options that take a value as the next argument (`--root DIR`); with `=` they are
 * one argument. Kept in step with core/cli/main.cpp. */
static int takes_value(const char* arg) {
  static const char* const options[] = {"--root", "--log", "--log-format", "--log-level",
                                        "--plugin-dir"};
  for (size_t i = 0; i < sizeof options / sizeof options[0]; ++i)
    if (strcmp(arg, options[i]) == 0) return 1;
  return 0;
}

/* Whether the command is one that puts an nsrun process into a container. */
static int enters_a_container(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') {
      if (takes_value(argv[i])) ++i;
      continue;
    }
    return strcmp(argv[i], "run") == 0 || strcmp(argv[i], "create") == 0 ||
           strcmp(argv[i], "exec") == 0;
  }
  return 0;
}

int main(int argc, char** argv) {
  /* For `nsrun run --trace`: the start of nsrun as the user sees it (see core/.../trace.hpp). */
  struct timespec launched;
  if (clock_gettime(CLOCK_MONOTONIC, &launched) == 0) {
    char value[32];
    snprintf(
        value, sizeof value, "%llu",
        (unsigned long long)launched.tv_sec * 1000000000ULL + (unsigned long long)launched.tv_nsec);
    setenv("NSRUN_LAUNCHED_AT", value, 1);
  }
  char launcher[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", launcher, sizeof launcher - 1);
  if (len <= 0) {
    fprintf(stderr, "nsrun: cannot read /proc/self/exe: %s\n", strerror(errno));
    return 125;
  }
  launcher[len] = '\0';
  /* <prefix>/bin/nsrun -> <prefix>/NSRUN_PROGRAM_SUBPATH */
  char prefix[PATH_MAX];
  memcpy(prefix, launcher, (size_t)len + 1);
  for (int up = 0; up < 2; ++up) {
    char* slash = strrchr(prefix, '/');
    if (slash) *slash = '\0';
  }
  char program[PATH_MAX];
  if (snprintf(program, sizeof program, "%s/%s", prefix, NSRUN_PROGRAM_SUBPATH) >=
      (int)sizeof program) {
    fprintf(stderr, "nsrun: the installation path is too long\n");
    return 125;
  }
  setenv("NSRUN_BINARY", launcher, 1);

  struct statvfs where;
  if (geteuid() == 0 && enters_a_container(argc, argv) &&
      !(statvfs(program, &where) == 0 && (where.f_flag & ST_RDONLY))) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, program, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    struct mount_attributes read_only = {MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                                         0, 0, 0};
    if (tree < 0 ||
        syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &read_only, sizeof read_only) != 0) {
      fprintf(stderr,
              "nsrun: cannot protect nsrun's binary from the container (CVE-2019-5736): %s: %s\n",
              tree < 0 ? "open_tree" : "mount_setattr", strerror(errno));
      return 125;
    }
    syscall(SYS_execveat, tree, "", argv, environ, AT_EMPTY_PATH);
    fprintf(stderr, "nsrun: cannot run %s: %s\n", program, strerror(errno));
    return 125;
  }
  execv(program, argv);
  int err = errno;
  /* Installed in a directory only root may enter (a build beneath a 0700 one): for anyone else
   * the program is out of reach, and root is what nsrun needs anyway. */
  if (err == EACCES && geteuid() != 0) {
    fprintf(stderr, "nsrun: cannot run %s: %s (nsrun needs root: run it with sudo)\n", program,
            strerror(err));
    return 125;
  }
  fprintf(stderr, "nsrun: cannot run %s: %s\n", program, strerror(err));
  return err == ENOENT ? 127 : 126;
}
