/* nsrun-probe: what a process in a container can do, for the attack suite (tests/security).
 *
 * Statically linked, so that it runs in any rootfs; bind-mounted into the container by the tests.
 * Each command tries one attack and prints KEY=RESULT lines, where RESULT is "ok" when the
 * attempt worked and the errno name (EPERM, EROFS, ...) when the kernel refused it. The tests
 * decide what is expected: the default pipeline must refuse, --privileged must not (so that a
 * probe that cannot see an attack is noticed). Every write is harmless: the value already there
 * is written back, and `h` (help) is the only byte written to /proc/sysrq-trigger.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const char* result(long rc) {
  if (rc >= 0) return "ok";
  const char* name = strerrorname_np(errno);
  return name ? name : "E?";
}

/* The same value back: read what is there, write it again. */
static void write_back(const char* path) {
  char value[4096];
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, value, sizeof value) : -1;
  if (fd >= 0) close(fd);
  if (n < 0) {
    printf("write %s=%s\n", path, result(-1));
    return;
  }
  fd = open(path, O_WRONLY);
  if (fd < 0) {
    printf("write %s=%s\n", path, result(-1));
    return;
  }
  /* An empty file takes a newline, as `echo > file` writes it. */
  if (n == 0) value[n++] = '\n';
  long rc = write(fd, value, (size_t)n);
  printf("write %s=%s\n", path, result(rc));
  close(fd);
}

static void sysrq(void) {
  int fd = open("/proc/sysrq-trigger", O_WRONLY);
  long rc = fd >= 0 ? write(fd, "h", 1) : -1;
  printf("write /proc/sysrq-trigger=%s\n", result(rc));
  if (fd >= 0) close(fd);
}

/* mkdir x; chroot x; cd ../../..; chroot . -- and the variant that keeps a descriptor of the old
 * root across the chroot. Then: is `marker` (a host path outside the container) reachable? */
static void chroot_escape(const char* marker) {
  pid_t pid = fork();
  if (pid == 0) {
    mkdir("probe-jail", 0700);
    if (chroot("probe-jail") != 0) {
      printf("chroot=%s\n", result(-1));
      _exit(0);
    }
    for (int i = 0; i < 64; ++i) (void)chdir("..");
    (void)chroot(".");
    printf("chroot-escape=%s\n", access(marker, F_OK) == 0 ? "ESCAPED" : "contained");
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  pid = fork();
  if (pid == 0) {
    int old_root = open("/", O_RDONLY | O_DIRECTORY);
    mkdir("probe-jail2", 0700);
    if (chroot("probe-jail2") != 0) _exit(0);
    if (fchdir(old_root) != 0) _exit(0);
    for (int i = 0; i < 64; ++i) (void)chdir("..");
    (void)chroot(".");
    printf("chroot-fd-escape=%s\n", access(marker, F_OK) == 0 ? "ESCAPED" : "contained");
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  fflush(stdout);
}

static void fds(void) {
  DIR* dir = opendir("/proc/self/fd");
  int own = dir ? dirfd(dir) : -1;
  printf("fds=");
  const char* separator = "";
  struct dirent* entry;
  while (dir && (entry = readdir(dir))) {
    int fd = atoi(entry->d_name);
    if (entry->d_name[0] == '.' || fd <= 2 || fd == own) continue;
    printf("%s%d", separator, fd);
    separator = ",";
  }
  printf("\n");
  if (dir) closedir(dir);
}

static void mknod_block(int major, int minor) {
  unlink("/tmp/probe-block");
  long rc = mknod("/tmp/probe-block", S_IFBLK | 0600, makedev(major, minor));
  printf("mknod-block=%s\n", result(rc));
  if (rc == 0) {
    int fd = open("/tmp/probe-block", O_RDONLY);
    printf("open-block=%s\n", result(fd));
    if (fd >= 0) close(fd);
    unlink("/tmp/probe-block");
  }
}

/* The release_agent escape: a cgroup v1 hierarchy mounted read-write, whose release_agent runs
 * as root on the host. Only the value already there is written back. */
static void cgroup_escape(void) {
  mkdir("/tmp/probe-cgroup", 0700);
  long rc = mount("cgroup", "/tmp/probe-cgroup", "cgroup", 0, "rdma");
  printf("mount-cgroup=%s\n", result(rc));
  if (rc == 0) {
    write_back("/tmp/probe-cgroup/release_agent");
    umount2("/tmp/probe-cgroup", MNT_DETACH);
  }
  write_back("/sys/fs/cgroup/memory/release_agent");
  rc = mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND, NULL);
  printf("remount-sys-rw=%s\n", result(rc));
}

static void keyring(const char* description) {
  long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", description, 0);
  printf("session-key=%s\n", id >= 0 ? "found" : result(-1));
  FILE* keys = fopen("/proc/keys", "r");
  int seen = 0;
  char line[512];
  while (keys && fgets(line, sizeof line, keys))
    if (strstr(line, description)) seen = 1;
  if (keys) fclose(keys);
  printf("proc-keys=%s\n", seen ? "found" : "absent");
}

static void tiocsti(void) {
  char c = ' ';
  long rc = ioctl(0, TIOCSTI, &c);
  printf("tiocsti=%s\n", result(rc));
  /* The kernel takes the command as an unsigned int: high bits set must not pass a filter that
   * compares all 64 bits. */
  rc = syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c);
  printf("tiocsti-high=%s\n", result(rc));
}

/* One privileged syscall per line, on each ABI, with arguments that make it fail harmlessly when
 * it is allowed (a missing path, a bad pointer, a wrong magic number): an allowed call then
 * gives ENOENT, EFAULT, EINVAL or EBADF, a refused one the profile's errno. */
struct call {
  const char* name;
  long x86_64, i386;
  long a[4];
};

static long syscall_i386(long nr, long a, long b, long c, long d) {
  long rc;
  __asm__ volatile("int $0x80" : "=a"(rc) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
  if (rc < 0 && rc > -4096) {
    errno = (int)-rc;
    return -1;
  }
  return rc;
}

/* Whether this kernel runs 32-bit syscalls (int $0x80) at all: without IA32 emulation the
 * instruction raises SIGSEGV, so it is tried once in a child. */
static int i386_works(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(syscall_i386(20 /* getpid */, 0, 0, 0, 0) > 0 ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void syscall_matrix(void) {
  static const char missing[] = "/nonexistent-probe-path";
  const int i386_available = i386_works();
  printf("i386=%s\n", i386_available ? "available" : "unavailable");
  const struct call calls[] = {
      {"keyctl", 250, 288, {KEYCTL_GET_KEYRING_ID, -100, 0, 0}},
      {"add_key", 248, 286, {0, 0, 0, 0}},
      {"unshare", 272, 310, {CLONE_NEWUSER | CLONE_NEWNS, 0, 0, 0}},
      {"setns", 308, 346, {-1, 0, 0, 0}},
      {"mount", 165, 21, {(long)missing, (long)missing, (long)"tmpfs", 0}},
      {"umount2", 166, 52, {(long)missing, 0, 0, 0}},
      {"pivot_root", 155, 217, {(long)missing, (long)missing, 0, 0}},
      {"open_by_handle_at", 304, 342, {-1, 0, 0, 0}},
      {"bpf", 321, 357, {5, 0, 0, 0}},
      {"perf_event_open", 298, 336, {0, 0, -1, -1}},
      {"kexec_load", 246, 283, {0, 0, 0, 0xdead}},
      {"init_module", 175, 128, {0, 0, 0, 0}},
      {"delete_module", 176, 129, {(long)"nsrun_probe_missing", O_NONBLOCK, 0, 0}},
      {"reboot", 169, 88, {0, 0, 0, 0}},
      {"swapoff", 168, 115, {(long)missing, 0, 0, 0}},
      {"clock_settime", 227, 264, {0, 0, 0, 0}},
      {"userfaultfd", 323, 374, {~0L, 0, 0, 0}},
      {"quotactl", 179, 131, {0, 0, 0, 0}},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) {
    const struct call* c = &calls[i];
    /* In a child: should a call succeed (unshare), the next ones still start from here. */
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
      char line[256];
      long rc = syscall(c->x86_64, c->a[0], c->a[1], c->a[2], c->a[3]);
      int n = snprintf(line, sizeof line, "x86_64.%s=%s\n", c->name, result(rc));
      /* x32: the x86_64 number with bit 30 set. */
      rc = syscall(c->x86_64 | 0x40000000L, c->a[0], c->a[1], c->a[2], c->a[3]);
      n += snprintf(line + n, sizeof line - (size_t)n, "x32.%s=%s\n", c->name, result(rc));
      if (write(pipe_fds[1], line, (size_t)n) < 0) _exit(1);
      if (i386_available) {
        rc = syscall_i386(c->i386, c->a[0], c->a[1], c->a[2], c->a[3]);
        n = snprintf(line, sizeof line, "i386.%s=%s\n", c->name, result(rc));
        if (write(pipe_fds[1], line, (size_t)n) < 0) _exit(1);
      }
      _exit(0);
    }
    close(pipe_fds[1]);
    char buffer[256];
    ssize_t n;
    while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) fwrite(buffer, 1, (size_t)n, stdout);
    close(pipe_fds[0]);
    waitpid(pid, NULL, 0);
  }
  /* A syscall no profile knows: ENOSYS, so that a libc falls back. */
  printf("x86_64.unknown=%s\n", result(syscall(1023, 0, 0, 0, 0)));
}

static void ids(void) {
  printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
}

/* CVE-2019-5736: a process of the container opening the host's nsrun binary through
 * /proc/PID/exe of an nsrun process in the container (O_PATH: nothing is written). */
static void exe_open(const char* pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/exe", pid);
  int fd = open(path, O_PATH);
  printf("exe-open=%s\n", result(fd));
  if (fd >= 0) close(fd);
}

/* CVE-2019-5736 itself: hold /proc/PID/exe (an nsrun in the container), and once no process
 * runs that file any more (ETXTBSY stops), reopen it for writing through the held descriptor.
 * Nothing is ever written: opening without O_TRUNC changes nothing. Runs in the background, so
 * that the nsrun that started it can go away; the outcome goes to RESULT. */
static void exe_write_later(const char* pid, const char* result_path) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/exe", pid);
  int fd = open(path, O_PATH);
  if (fd < 0) {
    printf("exe-held=%s\n", result(fd));
    return;
  }
  if (fork() != 0) {
    printf("exe-held=ok\n");
    return;
  }
  setsid();
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  char reopen[64];
  snprintf(reopen, sizeof reopen, "/proc/self/fd/%d", fd);
  const char* outcome = "timeout";
  for (int i = 0; i < 600; ++i) { /* 60 s */
    int writable = open(reopen, O_WRONLY);
    if (writable >= 0) close(writable);
    if (writable >= 0 || errno != ETXTBSY) {
      outcome = result(writable);
      break;
    }
    usleep(100000);
  }
  FILE* out = fopen(result_path, "w");
  if (out) {
    fprintf(out, "%s\n", outcome);
    fclose(out);
  }
  _exit(0);
}

static void status(void) {
  FILE* file = fopen("/proc/self/status", "r");
  char line[256];
  while (file && fgets(line, sizeof line, file))
    if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
        !strncmp(line, "Seccomp", 7))
      fputs(line, stdout);
  if (file) fclose(file);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr,
            "usage: nsrun-probe status|ids|fds|sysrq|write-back PATH|chroot-escape MARKER|"
            "mknod-block MAJOR MINOR|cgroup-escape|keyring DESCRIPTION|tiocsti|syscalls|"
            "exe-open PID|exe-write-later PID RESULT|hold SECONDS\n");
    return 2;
  }
  const char* command = argv[1];
  if (!strcmp(command, "status"))
    status();
  else if (!strcmp(command, "ids"))
    ids();
  else if (!strcmp(command, "fds"))
    fds();
  else if (!strcmp(command, "sysrq"))
    sysrq();
  else if (!strcmp(command, "write-back") && argc > 2)
    write_back(argv[2]);
  else if (!strcmp(command, "chroot-escape") && argc > 2)
    chroot_escape(argv[2]);
  else if (!strcmp(command, "mknod-block") && argc > 3)
    mknod_block(atoi(argv[2]), atoi(argv[3]));
  else if (!strcmp(command, "cgroup-escape"))
    cgroup_escape();
  else if (!strcmp(command, "keyring") && argc > 2)
    keyring(argv[2]);
  else if (!strcmp(command, "tiocsti"))
    tiocsti();
  else if (!strcmp(command, "syscalls"))
    syscall_matrix();
  else if (!strcmp(command, "exe-open") && argc > 2)
    exe_open(argv[2]);
  else if (!strcmp(command, "exe-write-later") && argc > 3)
    exe_write_later(argv[2], argv[3]);
  else if (!strcmp(command, "hold") && argc > 2)
    sleep((unsigned)atoi(argv[2]));
  else {
    fprintf(stderr, "nsrun-probe: unknown command %s\n", command);
    return 2;
  }
  return 0;
}
