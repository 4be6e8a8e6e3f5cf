/* The few system calls bin/nsrun makes (see nsrun.c), each returning its result or -errno.
 *
 * On x86-64 the launcher is built without a C library (NSRUN_LAUNCHER_FREESTANDING): its whole
 * start is the kernel's exec. A static glibc program first asks the CPU what it is, cache by cache
 * (glibc's init_cpu_features), before main; in a virtual machine every CPUID instruction traps to
 * the hypervisor. On the machine nsrun is developed on, an empty static glibc program took 1.28 ms
 * to spawn and wait for against 0.49 ms without a C library (docs/benchmarks.md), and every
 * `nsrun run` starts the launcher once. Elsewhere the same calls go through glibc's syscall(). */
#ifndef NSRUN_LAUNCHER_SYSTEM_H
#define NSRUN_LAUNCHER_SYSTEM_H

#include <asm/unistd.h>
#include <linux/time_types.h>
#include <stddef.h>

#ifdef NSRUN_LAUNCHER_FREESTANDING
#if !defined(__x86_64__)
#error "the freestanding launcher is written for x86-64 only; build it with glibc elsewhere"
#endif

static inline long system_call(long number, long a, long b, long c, long d, long e) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  long result;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  return result;
}

/* The compiler may turn a copy or a clearing into a call of these, even here. */
void* memcpy(void* to, const void* from, size_t n);
void* memset(void* to, int byte, size_t n);

#else /* with glibc */
#include <errno.h>
#include <time.h>
#include <unistd.h>

static inline long system_call(long number, long a, long b, long c, long d, long e) {
  long result = syscall(number, a, b, c, d, e);
  return result < 0 ? -errno : result;
}
#endif

static inline long sys_write(int fd, const void* data, size_t size) {
  return system_call(__NR_write, fd, (long)data, (long)size, 0, 0);
}

static inline long sys_readlink(const char* path, char* buffer, size_t size) {
  return system_call(__NR_readlinkat, -100 /* AT_FDCWD */, (long)path, (long)buffer, (long)size,
                     0);
}

/* faccessat(2) checks with the real ids: for root, W_OK fails only on a read-only mount (EROFS). */
static inline long sys_access(const char* path, int mode) {
  return system_call(__NR_faccessat, -100 /* AT_FDCWD */, (long)path, mode, 0, 0);
}

static inline long sys_geteuid(void) { return system_call(__NR_geteuid, 0, 0, 0, 0, 0); }

static inline long sys_open_tree(const char* path, unsigned flags) {
  return system_call(__NR_open_tree, -100 /* AT_FDCWD */, (long)path, flags, 0, 0);
}

static inline long sys_mount_setattr(int tree, const void* attributes, size_t size) {
  return system_call(__NR_mount_setattr, tree, (long)"", 0x1000 /* AT_EMPTY_PATH */,
                     (long)attributes, (long)size);
}

static inline long sys_execveat(int fd, char* const* argv, char* const* envp) {
  return system_call(__NR_execveat, fd, (long)"", (long)argv, (long)envp,
                     0x1000 /* AT_EMPTY_PATH */);
}

static inline long sys_execve(const char* path, char* const* argv, char* const* envp) {
  return system_call(__NR_execve, (long)path, (long)argv, (long)envp, 0, 0);
}

/* CLOCK_MONOTONIC in nanoseconds, 0 if it cannot be read. */
static inline unsigned long long monotonic_ns(void) {
#ifdef NSRUN_LAUNCHER_FREESTANDING
  struct __kernel_timespec now;
  if (system_call(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&now, 0, 0, 0) != 0) return 0;
#else
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return 0;
#endif
  return (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec;
}

#endif
