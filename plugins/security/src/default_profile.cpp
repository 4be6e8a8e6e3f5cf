// nsrun's default seccomp profile: an allowlist in the spirit of Docker's default profile, for
// x86_64 with its x86 and x32 ABIs.
//
// Three kinds of syscall:
//   allowed   what ordinary programs use (the table `allowed`, after Docker's list);
//   refused   known and dangerous: they fail with EPERM, as a missing privilege would, so that
//             programs report "Operation not permitted" (the table `refused`, each group with
//             why it is refused);
//   unknown   everything else, including syscalls newer than this table: the default action,
//             ENOSYS, which tells libc and programs to fall back (glibc's clone3 falls back to
//             clone) rather than report a refusal.
//
// Some syscalls are allowed only with some arguments (clone without namespace flags, ioctl but
// TIOCSTI and TIOCLINUX, personality with the values Docker allows); clone's and ioctl's other
// arguments get EPERM, personality's ENOSYS. libseccomp cannot give one syscall both an
// unconditional rule and conditional ones (the unconditional one wins), so the complement of the
// allowed (or refused) values is spelled out as masked comparisons, one per bit where it departs
// from them (see masked_complement).
//
// Unlike Docker's, this profile does not depend on the container's capabilities: --privileged
// runs unconfined, and a container given CAP_SYS_ADMIN still cannot mount (the stage's prepare
// decides which profile a container gets).
#include <sched.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "nsrun/security/seccomp.hpp"

namespace nsrun::security {

namespace {

constexpr const char* allowed[] = {"accept",
                                   "accept4",
                                   "access",
                                   "alarm",
                                   "arch_prctl",
                                   "bind",
                                   "brk",
                                   "cachestat",
                                   "capget",
                                   "capset",
                                   "chdir",
                                   "chmod",
                                   "chown",
                                   "chown32",
                                   "chroot",
                                   "clock_getres",
                                   "clock_getres_time64",
                                   "clock_gettime",
                                   "clock_gettime64",
                                   "clock_nanosleep",
                                   "clock_nanosleep_time64",
                                   "close",
                                   "close_range",
                                   "connect",
                                   "copy_file_range",
                                   "creat",
                                   "dup",
                                   "dup2",
                                   "dup3",
                                   "epoll_create",
                                   "epoll_create1",
                                   "epoll_ctl",
                                   "epoll_ctl_old",
                                   "epoll_pwait",
                                   "epoll_pwait2",
                                   "epoll_wait",
                                   "epoll_wait_old",
                                   "eventfd",
                                   "eventfd2",
                                   "execve",
                                   "execveat",
                                   "exit",
                                   "exit_group",
                                   "faccessat",
                                   "faccessat2",
                                   "fadvise64",
                                   "fadvise64_64",
                                   "fallocate",
                                   "fanotify_mark",
                                   "fchdir",
                                   "fchmod",
                                   "fchmodat",
                                   "fchmodat2",
                                   "fchown",
                                   "fchown32",
                                   "fchownat",
                                   "fcntl",
                                   "fcntl64",
                                   "fdatasync",
                                   "fgetxattr",
                                   "flistxattr",
                                   "flock",
                                   "fork",
                                   "fremovexattr",
                                   "fsetxattr",
                                   "fstat",
                                   "fstat64",
                                   "fstatat64",
                                   "fstatfs",
                                   "fstatfs64",
                                   "fsync",
                                   "ftruncate",
                                   "ftruncate64",
                                   "futex",
                                   "futex_requeue",
                                   "futex_time64",
                                   "futex_wait",
                                   "futex_waitv",
                                   "futex_wake",
                                   "futimesat",
                                   "get_mempolicy",
                                   "get_robust_list",
                                   "get_thread_area",
                                   "getcpu",
                                   "getcwd",
                                   "getdents",
                                   "getdents64",
                                   "getegid",
                                   "getegid32",
                                   "geteuid",
                                   "geteuid32",
                                   "getgid",
                                   "getgid32",
                                   "getgroups",
                                   "getgroups32",
                                   "getitimer",
                                   "getpeername",
                                   "getpgid",
                                   "getpgrp",
                                   "getpid",
                                   "getppid",
                                   "getpriority",
                                   "getrandom",
                                   "getresgid",
                                   "getresgid32",
                                   "getresuid",
                                   "getresuid32",
                                   "getrlimit",
                                   "getrusage",
                                   "getsid",
                                   "getsockname",
                                   "getsockopt",
                                   "gettid",
                                   "gettimeofday",
                                   "getuid",
                                   "getuid32",
                                   "getxattr",
                                   "inotify_add_watch",
                                   "inotify_init",
                                   "inotify_init1",
                                   "inotify_rm_watch",
                                   "io_cancel",
                                   "io_destroy",
                                   "io_getevents",
                                   "io_pgetevents",
                                   "io_pgetevents_time64",
                                   "io_setup",
                                   "io_submit",
                                   "ioprio_get",
                                   "ioprio_set",
                                   "ipc",
                                   "kill",
                                   "landlock_add_rule",
                                   "landlock_create_ruleset",
                                   "landlock_restrict_self",
                                   "lchown",
                                   "lchown32",
                                   "lgetxattr",
                                   "link",
                                   "linkat",
                                   "listen",
                                   "listxattr",
                                   "llistxattr",
                                   "_llseek",
                                   "lremovexattr",
                                   "lseek",
                                   "lsetxattr",
                                   "lstat",
                                   "lstat64",
                                   "madvise",
                                   "map_shadow_stack",
                                   "mbind",
                                   "membarrier",
                                   "memfd_create",
                                   "memfd_secret",
                                   "mincore",
                                   "mkdir",
                                   "mkdirat",
                                   "mknod",
                                   "mknodat",
                                   "mlock",
                                   "mlock2",
                                   "mlockall",
                                   "mmap",
                                   "mmap2",
                                   "modify_ldt",
                                   "mprotect",
                                   "mq_getsetattr",
                                   "mq_notify",
                                   "mq_open",
                                   "mq_timedreceive",
                                   "mq_timedreceive_time64",
                                   "mq_timedsend",
                                   "mq_timedsend_time64",
                                   "mq_unlink",
                                   "mremap",
                                   "msgctl",
                                   "msgget",
                                   "msgrcv",
                                   "msgsnd",
                                   "msync",
                                   "munlock",
                                   "munlockall",
                                   "munmap",
                                   "nanosleep",
                                   "newfstatat",
                                   "_newselect",
                                   "open",
                                   "openat",
                                   "openat2",
                                   "pause",
                                   "pidfd_open",
                                   "pidfd_send_signal",
                                   "pipe",
                                   "pipe2",
                                   "pkey_alloc",
                                   "pkey_free",
                                   "pkey_mprotect",
                                   "poll",
                                   "ppoll",
                                   "ppoll_time64",
                                   "prctl",
                                   "pread64",
                                   "preadv",
                                   "preadv2",
                                   "prlimit64",
                                   "process_mrelease",
                                   "pselect6",
                                   "pselect6_time64",
                                   "pwrite64",
                                   "pwritev",
                                   "pwritev2",
                                   "read",
                                   "readahead",
                                   "readlink",
                                   "readlinkat",
                                   "readv",
                                   "recv",
                                   "recvfrom",
                                   "recvmmsg",
                                   "recvmmsg_time64",
                                   "recvmsg",
                                   "remap_file_pages",
                                   "removexattr",
                                   "rename",
                                   "renameat",
                                   "renameat2",
                                   "restart_syscall",
                                   "rmdir",
                                   "rseq",
                                   "rt_sigaction",
                                   "rt_sigpending",
                                   "rt_sigprocmask",
                                   "rt_sigqueueinfo",
                                   "rt_sigreturn",
                                   "rt_sigsuspend",
                                   "rt_sigtimedwait",
                                   "rt_sigtimedwait_time64",
                                   "rt_tgsigqueueinfo",
                                   "sched_get_priority_max",
                                   "sched_get_priority_min",
                                   "sched_getaffinity",
                                   "sched_getattr",
                                   "sched_getparam",
                                   "sched_getscheduler",
                                   "sched_rr_get_interval",
                                   "sched_rr_get_interval_time64",
                                   "sched_setaffinity",
                                   "sched_setattr",
                                   "sched_setparam",
                                   "sched_setscheduler",
                                   "sched_yield",
                                   "seccomp",
                                   "select",
                                   "semctl",
                                   "semget",
                                   "semop",
                                   "semtimedop",
                                   "semtimedop_time64",
                                   "send",
                                   "sendfile",
                                   "sendfile64",
                                   "sendmmsg",
                                   "sendmsg",
                                   "sendto",
                                   "set_mempolicy",
                                   "set_mempolicy_home_node",
                                   "set_robust_list",
                                   "set_thread_area",
                                   "set_tid_address",
                                   "setfsgid",
                                   "setfsgid32",
                                   "setfsuid",
                                   "setfsuid32",
                                   "setgid",
                                   "setgid32",
                                   "setgroups",
                                   "setgroups32",
                                   "setitimer",
                                   "setpgid",
                                   "setpriority",
                                   "setregid",
                                   "setregid32",
                                   "setresgid",
                                   "setresgid32",
                                   "setresuid",
                                   "setresuid32",
                                   "setreuid",
                                   "setreuid32",
                                   "setrlimit",
                                   "setsid",
                                   "setsockopt",
                                   "setuid",
                                   "setuid32",
                                   "setxattr",
                                   "shmat",
                                   "shmctl",
                                   "shmdt",
                                   "shmget",
                                   "shutdown",
                                   "sigaltstack",
                                   "signalfd",
                                   "signalfd4",
                                   "sigprocmask",
                                   "sigreturn",
                                   "socket",
                                   "socketcall",
                                   "socketpair",
                                   "splice",
                                   "stat",
                                   "stat64",
                                   "statfs",
                                   "statfs64",
                                   "statx",
                                   "symlink",
                                   "symlinkat",
                                   "sync",
                                   "sync_file_range",
                                   "syncfs",
                                   "sysinfo",
                                   "tee",
                                   "tgkill",
                                   "time",
                                   "timer_create",
                                   "timer_delete",
                                   "timer_getoverrun",
                                   "timer_gettime",
                                   "timer_gettime64",
                                   "timer_settime",
                                   "timer_settime64",
                                   "timerfd_create",
                                   "timerfd_gettime",
                                   "timerfd_gettime64",
                                   "timerfd_settime",
                                   "timerfd_settime64",
                                   "times",
                                   "tkill",
                                   "truncate",
                                   "truncate64",
                                   "ugetrlimit",
                                   "umask",
                                   "uname",
                                   "unlink",
                                   "unlinkat",
                                   "utime",
                                   "utimensat",
                                   "utimensat_time64",
                                   "utimes",
                                   "vfork",
                                   "vmsplice",
                                   "wait4",
                                   "waitid",
                                   "waitpid",
                                   "write",
                                   "writev"};

// ptrace could bypass seccomp before Linux 4.8 (a tracer could change a syscall after the
// filter had allowed it); Docker allows these from 4.8 on, and so does nsrun.
constexpr const char* ptrace_family[] = {"ptrace", "process_vm_readv", "process_vm_writev"};

struct RefusedGroup {
  const char* why;
  std::vector<const char*> names;
};

const std::vector<RefusedGroup> refused = {
    {"keyrings are not namespaced: the host's keys would be readable and writable",
     {"keyctl", "add_key", "request_key"}},
    {"kernel-wide introspection: BPF programs, performance counters and the kernel log read "
     "other processes' data and the kernel's memory layout",
     {"bpf", "perf_event_open", "lookup_dcookie", "syslog"}},
    {"mounts and namespaces: a new mount or user namespace is the first step of most escapes, "
     "and the mount table is the container's boundary",
     {"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
      "open_tree", "move_mount", "mount_setattr", "unshare", "setns"}},
    {"kernel code: modules and kexec load code into the host's kernel",
     {"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
      "create_module", "get_kernel_syms", "query_module"}},
    {"file handles open any inode of a filesystem, outside the container's root (the 'shocker' "
     "attack)",
     {"open_by_handle_at", "name_to_handle_at"}},
    {"userfaultfd stalls the kernel on a page fault at will, the usual aid to exploiting kernel "
     "races",
     {"userfaultfd"}},
    {"the host's machine, which no namespace isolates: reboot, swap, the clock, process "
     "accounting, quotas, terminals, raw I/O ports, the host name",
     {"reboot",
      "swapon",
      "swapoff",
      "clock_settime",
      "clock_settime64",
      "clock_adjtime",
      "clock_adjtime64",
      "settimeofday",
      "stime",
      "adjtimex",
      "acct",
      "quotactl",
      "quotactl_fd",
      "vhangup",
      "iopl",
      "ioperm",
      "vm86",
      "vm86old",
      "sethostname",
      "setdomainname"}},
    {"other processes' files and memory beyond ptrace's rules",
     {"kcmp", "pidfd_getfd", "process_madvise", "move_pages", "migrate_pages"}},
    {"obsolete, and only a risk: nfsservctl, uselib and sysctl(2)",
     {"nfsservctl", "uselib", "_sysctl"}},
};

// clone's flags that make new namespaces: refused, as unshare(2) is.
constexpr std::uint64_t namespace_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

// The personalities Docker allows: PER_LINUX, PER_LINUX32 (0x8), UNAME26 (0x20000), both, and
// 0xffffffff, which only queries the current one.
constexpr std::uint64_t allowed_personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// The terminal ioctls that push input into a terminal or drive the console: TIOCSTI types into
// the caller's terminal when the container shares it, TIOCLINUX (subcode 2/3) does the same on
// a virtual console.
constexpr std::uint64_t refused_ioctls[] = {0x5412 /* TIOCSTI */, 0x541C /* TIOCLINUX */};

// ioctl's request and personality's argument are unsigned int in the kernel, which drops the
// high 32 bits (0x100005412 is TIOCSTI): they are compared through this mask.
constexpr std::uint64_t low32 = 0xffffffff;

struct MaskedValue {
  std::uint64_t mask;
  std::uint64_t value;
};

// Masked comparisons that together match every argument whose bits under `mask` equal none of
// `values` (each already within `mask`): walking `mask`'s bits from the highest, each bit at
// which some of `values` go one way and none the other gives one comparison, on the bits so far.
void masked_complement(const std::vector<std::uint64_t>& values, std::uint64_t mask,
                       std::uint64_t prefix_mask, std::uint64_t prefix_value,
                       std::vector<MaskedValue>& out) {
  if (values.empty()) {
    out.push_back({prefix_mask, prefix_value});
    return;
  }
  std::uint64_t remaining = mask & ~prefix_mask;
  if (remaining == 0) return;  // every bit fixed: this is one of `values`
  std::uint64_t bit = std::uint64_t{1} << (63 - __builtin_clzll(remaining));
  for (std::uint64_t side : {std::uint64_t{0}, bit}) {
    std::vector<std::uint64_t> matching;
    for (std::uint64_t v : values)
      if ((v & bit) == side) matching.push_back(v);
    masked_complement(matching, mask, prefix_mask | bit, prefix_value | side, out);
  }
}

std::vector<MaskedValue> masked_complement(const std::vector<std::uint64_t>& values,
                                           std::uint64_t mask) {
  std::vector<MaskedValue> out;
  masked_complement(values, mask, 0, 0, out);
  return out;
}

SeccompSyscallSpec masked_rule(const char* name, const char* action, std::uint32_t index,
                               MaskedValue mv) {
  SeccompSyscallSpec rule{
      {name}, action, std::nullopt, {{index, mv.mask, mv.value, "SCMP_CMP_MASKED_EQ"}}};
  if (std::string(action) == "SCMP_ACT_ERRNO") rule.errno_ret = EPERM;
  return rule;
}

bool kernel_at_least(int major, int minor) {
  utsname name{};
  if (::uname(&name) != 0) return false;
  int running_major = 0, running_minor = 0;
  if (std::sscanf(name.release, "%d.%d", &running_major, &running_minor) != 2) return false;
  return running_major > major || (running_major == major && running_minor >= minor);
}

}  // namespace

bool default_profile_allows_ptrace() {
  static const bool allows = kernel_at_least(4, 8);  // asked in every run; the kernel stays
  return allows;
}

SeccompSpec default_seccomp_profile() {
  SeccompSpec spec;
  spec.default_action = "SCMP_ACT_ERRNO";
  spec.default_errno_ret = ENOSYS;
  spec.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};

  SeccompSyscallSpec allow{{std::begin(allowed), std::end(allowed)}, "SCMP_ACT_ALLOW", {}, {}};
  if (default_profile_allows_ptrace())
    allow.names.insert(allow.names.end(), std::begin(ptrace_family), std::end(ptrace_family));
  spec.syscalls.push_back(std::move(allow));

  SeccompSyscallSpec refuse{{}, "SCMP_ACT_ERRNO", EPERM, {}};
  for (const auto& group : refused)
    refuse.names.insert(refuse.names.end(), group.names.begin(), group.names.end());
  if (!default_profile_allows_ptrace())
    refuse.names.insert(refuse.names.end(), std::begin(ptrace_family), std::end(ptrace_family));
  spec.syscalls.push_back(std::move(refuse));

  // clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes glibc fall back
  // to clone, whose flags it can.
  spec.syscalls.push_back({{"clone3"}, "SCMP_ACT_ERRNO", ENOSYS, {}});

  // clone (flags are argument 0 on x86_64, x86 and x32) without namespace flags; with any, EPERM.
  spec.syscalls.push_back(masked_rule("clone", "SCMP_ACT_ALLOW", 0, {namespace_flags, 0}));
  for (const auto& mv : masked_complement({0}, namespace_flags))
    spec.syscalls.push_back(masked_rule("clone", "SCMP_ACT_ERRNO", 0, mv));

  // ioctl, but the refused requests (argument 1).
  for (std::uint64_t request : refused_ioctls)
    spec.syscalls.push_back(masked_rule("ioctl", "SCMP_ACT_ERRNO", 1, {low32, request}));
  for (const auto& mv :
       masked_complement({std::begin(refused_ioctls), std::end(refused_ioctls)}, low32))
    spec.syscalls.push_back(masked_rule("ioctl", "SCMP_ACT_ALLOW", 1, mv));

  // personality, with the allowed values only. The others get the default, ENOSYS, rather than
  // EPERM: their complement would take some 85 rules per ABI and double the time libseccomp
  // takes to build the filter, for a call nothing but setarch makes.
  for (std::uint64_t persona : allowed_personalities)
    spec.syscalls.push_back(masked_rule("personality", "SCMP_ACT_ALLOW", 0, {low32, persona}));
  return spec;
}

}  // namespace nsrun::security
