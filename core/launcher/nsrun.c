/* bin/nsrun: starts the nsrun program (lib/nsrun/nsrun), from a read-only mount of it when the
 * command puts an nsrun process into a container.
 *
 * CVE-2019-5736: a process of the container that gets hold of /proc/PID/exe of such an nsrun
 * process could reopen the host's binary for writing once no nsrun runs it. So `run`, `create`
 * and `exec` must run nsrun from a read-only mount of its binary (open_tree(OPEN_TREE_CLONE),
 * mount_setattr read-only, execveat; see core/include/nsrun/core/read_only_self.hpp). nsrun can
 * re-execute itself that way, but that costs a second start of a C++ program with its shared
 * libraries (about 5 ms); this launcher is C without a C library (system.h), so the start it adds
 * is the kernel's exec alone. It does nothing else: nsrun parses the arguments and reports every
 * error.
 *
 * The program finds its installation from the launcher's path, passed as NSRUN_BINARY. */
#define _GNU_SOURCE
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/limits.h>
#include <linux/mount.h>
#include <stdint.h>

#include "system.h"

/* struct mount_attr as of Linux 5.12 (MOUNT_ATTR_SIZE_VER0). */
struct mount_attributes {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static size_t length_of(const char* text) {
  size_t n = 0;
  while (text[n]) ++n;
  return n;
}

static int same_text(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

static int starts_with(const char* text, const char* prefix) {
  while (*prefix && *text == *prefix) ++text, ++prefix;
  return *prefix == '\0';
}

/* Appends text at *end, within limit; 0 when it does not fit. */
static int append(char** end, const char* limit, const char* text) {
  size_t n = length_of(text);
  if ((size_t)(limit - *end) <= n) return 0;
  for (size_t i = 0; i < n; ++i) (*end)[i] = text[i];
  *end += n;
  **end = '\0';
  return 1;
}

/* The words glibc's strerror gives, for the errors these calls can meet. */
static const char* error_text(long error) {
  switch (error) {
    case EPERM: return "Operation not permitted";
    case ENOENT: return "No such file or directory";
    case EIO: return "Input/output error";
    case E2BIG: return "Argument list too long";
    case ENOEXEC: return "Exec format error";
    case EBADF: return "Bad file descriptor";
    case ENOMEM: return "Cannot allocate memory";
    case EACCES: return "Permission denied";
    case EFAULT: return "Bad address";
    case EBUSY: return "Device or resource busy";
    case ENOTDIR: return "Not a directory";
    case EISDIR: return "Is a directory";
    case EINVAL: return "Invalid argument";
    case ENFILE: return "Too many open files in system";
    case EMFILE: return "Too many open files";
    case ETXTBSY: return "Text file busy";
    case EROFS: return "Read-only file system";
    case ENAMETOOLONG: return "File name too long";
    case ENOSYS: return "Function not implemented";
    case ELOOP: return "Too many levels of symbolic links";
    case ELIBBAD: return "Accessing a corrupted shared library";
    default: return "unknown error";
  }
}

/* "nsrun: " and the parts, one line on stderr. */
static void report(const char* a, const char* b, const char* c, const char* d, const char* e) {
  char line[3 * PATH_MAX];
  char* end = line;
  const char* limit = line + sizeof line - 1;
  const char* parts[] = {"nsrun: ", a, b, c, d, e};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; ++i)
    if (parts[i] && !append(&end, limit, parts[i])) break;
  *end++ = '\n';
  for (const char* at = line; at < end;) {
    long n = sys_write(2, at, (size_t)(end - at));
    if (n == -EINTR) continue;
    if (n <= 0) return;
    at += n;
  }
}

/* The global options that take a value as the next argument (`--root DIR`); with `=` they are
 * one argument. Kept in step with core/cli/main.cpp. */
static int takes_value(const char* arg) {
  static const char* const options[] = {"--root", "--log", "--log-format", "--log-level",
                                        "--plugin-dir"};
  for (size_t i = 0; i < sizeof options / sizeof options[0]; ++i)
    if (same_text(arg, options[i])) return 1;
  return 0;
}

/* Whether the command is one that puts an nsrun process into a container. */
static int enters_a_container(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') {
      if (takes_value(argv[i])) ++i;
      continue;
    }
    return same_text(argv[i], "run") || same_text(argv[i], "create") ||
           same_text(argv[i], "exec");
  }
  return 0;
}

static int launch(int argc, char** argv, char** envp) {
  /* For `nsrun run --trace`: the start of nsrun as the user sees it (see core/.../trace.hpp). */
  char launched_at[64] = "NSRUN_LAUNCHED_AT=";
  unsigned long long ns = monotonic_ns();
  if (ns) {
    char digits[24];
    char* first = digits + sizeof digits - 1;
    *first = '\0';
    for (unsigned long long rest = ns; rest; rest /= 10) *--first = (char)('0' + rest % 10);
    char* end = launched_at + length_of(launched_at);
    append(&end, launched_at + sizeof launched_at, first);
  }
  char launcher[PATH_MAX];
  long len = sys_readlink("/proc/self/exe", launcher, sizeof launcher - 1);
  if (len <= 0) {
    report("cannot read /proc/self/exe: ", error_text(len == 0 ? EINVAL : -len), 0, 0, 0);
    return 125;
  }
  launcher[len] = '\0';
  /* <prefix>/bin/nsrun -> <prefix>/NSRUN_PROGRAM_SUBPATH */
  char program[PATH_MAX];
  char* end = program;
  append(&end, program + sizeof program, launcher);
  for (int up = 0; up < 2; ++up) {
    while (end > program && *end != '/') --end;
    *end = '\0';
  }
  if (!append(&end, program + sizeof program, "/") ||
      !append(&end, program + sizeof program, NSRUN_PROGRAM_SUBPATH)) {
    report("the installation path is too long", 0, 0, 0, 0);
    return 125;
  }

  /* The environment, with NSRUN_BINARY and NSRUN_LAUNCHED_AT set (replaced if inherited). */
  char binary[PATH_MAX + 16] = "NSRUN_BINARY=";
  end = binary + length_of(binary);
  append(&end, binary + sizeof binary, launcher);
  size_t count = 0;
  while (envp[count]) ++count;
  char* environment[count + 3];
  size_t kept = 0;
  for (size_t i = 0; i < count; ++i)
    if (!starts_with(envp[i], "NSRUN_BINARY=") && !starts_with(envp[i], "NSRUN_LAUNCHED_AT="))
      environment[kept++] = envp[i];
  if (ns) environment[kept++] = launched_at;
  environment[kept++] = binary;
  environment[kept] = 0;

  if (sys_geteuid() == 0 && enters_a_container(argc, argv) && sys_access(program, 2) != -EROFS) {
    long tree = sys_open_tree(program, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    struct mount_attributes read_only = {MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                                         0, 0, 0};
    long failed = tree < 0 ? tree : sys_mount_setattr((int)tree, &read_only, sizeof read_only);
    if (failed < 0) {
      report("cannot protect nsrun's binary from the container (CVE-2019-5736): ",
             tree < 0 ? "open_tree" : "mount_setattr", ": ", error_text(-failed), 0);
      return 125;
    }
    long error = sys_execveat((int)tree, argv, environment);
    report("cannot run ", program, ": ", error_text(-error), 0);
    return 125;
  }
  long error = -sys_execve(program, argv, environment);
  /* Installed in a directory only root may enter (a build beneath a 0700 one): for anyone else
   * the program is out of reach, and root is what nsrun needs anyway. */
  if (error == EACCES && sys_geteuid() != 0) {
    report("cannot run ", program, ": ", error_text(error),
           " (nsrun needs root: run it with sudo)");
    return 125;
  }
  report("cannot run ", program, ": ", error_text(error), 0);
  return error == ENOENT ? 127 : 126;
}

#ifdef NSRUN_LAUNCHER_FREESTANDING
void* memcpy(void* to, const void* from, size_t n) {
  char* out = to;
  const char* in = from;
  while (n--) *out++ = *in++;
  return to;
}

void* memset(void* to, int byte, size_t n) {
  char* out = to;
  while (n--) *out++ = (char)byte;
  return to;
}

/* The kernel's initial stack: argc, argv[], NULL, envp[], NULL. */
__attribute__((used, noreturn)) void start_launcher(long* stack);
void start_launcher(long* stack) {
  int argc = (int)stack[0];
  char** argv = (char**)(stack + 1);
  system_call(__NR_exit_group, launch(argc, argv, argv + argc + 1), 0, 0, 0, 0);
  __builtin_unreachable();
}

/* The entry point: the stack pointer, 16-byte aligned, as the first argument. */
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call start_launcher\n"
        "  hlt\n");
#else
int main(int argc, char** argv, char** envp) { return launch(argc, argv, envp); }
#endif
