// What loading a seccomp filter costs the kernel: seccomp(SECCOMP_SET_MODE_FILTER) of a BPF
// program read from FILE (raw struct sock_filter, as bench/security.sh extracts from nsrun's
// cache), in a fresh child each time, as a container process loads it once.
// Usage: seccomp_load FILE [LOADS]   prints the median load in ms
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: seccomp_load FILE [LOADS]\n");
    return 2;
  }
  static struct sock_filter program[BPF_MAXINSNS];
  int fd = open(argv[1], O_RDONLY);
  ssize_t size = fd < 0 ? -1 : read(fd, program, sizeof program);
  if (size <= 0 || size % sizeof(struct sock_filter) != 0) {
    fprintf(stderr, "seccomp_load: %s is not a BPF program\n", argv[1]);
    return 2;
  }
  struct sock_fprog fprog = {(unsigned short)(size / sizeof(struct sock_filter)), program};
  int loads = argc > 2 ? atoi(argv[2]) : 200;
  if (loads < 1) loads = 1;
  double* times = calloc((size_t)loads, sizeof *times);
  for (int i = 0; i < loads; ++i) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return 2;
    pid_t child = fork();
    if (child == 0) {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      double start = now_ms();
      long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
      double took = rc == 0 ? now_ms() - start : -1;
      if (write(pipe_fds[1], &took, sizeof took) != sizeof took) _exit(1);
      _exit(0);
    }
    close(pipe_fds[1]);
    double took = -1;
    if (read(pipe_fds[0], &took, sizeof took) != sizeof took) took = -1;
    close(pipe_fds[0]);
    waitpid(child, NULL, 0);
    if (took < 0) {
      fprintf(stderr, "seccomp_load: the kernel refused the program\n");
      return 1;
    }
    times[i] = took;
  }
  qsort(times, (size_t)loads, sizeof *times, by_value);
  printf("%zu instructions: median load %.3f ms over %d loads\n",
         (size_t)fprog.len, times[loads / 2], loads);
  return 0;
}
