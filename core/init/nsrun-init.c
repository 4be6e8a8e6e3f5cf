/* nsrun-init: the container's PID 1 under `nsrun run --init`, as docker's tini.
 *
 * Usage: nsrun-init [--] CMD [ARG...]
 *
 * A workload that is PID 1 itself gets only the signals it installs a handler for (the kernel
 * shields a pid namespace's init from the others), and never reaps the orphans its children
 * leave. This init runs the workload as its child, forwards every signal it can catch to it,
 * reaps every process that ends up as its child, and exits with the workload's exit code, or
 * 128+N when signal N ended the workload.
 *
 * Signals are blocked and taken with sigwaitinfo, never by handlers: a blocked signal is queued
 * even for a namespace's init, and nothing runs asynchronously. Built static (no loader, no
 * library in the container's root needed), in C, with no allocation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Raised by the process itself for a fault it caused: left unblocked, so that they act on the
 * init (as they must) instead of being forwarded. */
static const int synchronous_signals[] = {SIGABRT, SIGBUS, SIGFPE, SIGILL,
                                          SIGSEGV, SIGSYS, SIGTRAP};

static int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) ++first;
  if (first >= argc) {
    fprintf(stderr, "nsrun-init: no command given (usage: nsrun-init [--] CMD [ARG...])\n");
    return 125;
  }

  sigset_t waited, original;
  sigfillset(&waited);
  for (size_t i = 0; i < sizeof synchronous_signals / sizeof synchronous_signals[0]; ++i)
    sigdelset(&waited, synchronous_signals[i]);
  if (sigprocmask(SIG_SETMASK, &waited, &original) != 0) {
    perror("nsrun-init: sigprocmask");
    return 125;
  }

  pid_t workload = fork();
  if (workload < 0) {
    perror("nsrun-init: fork");
    return 125;
  }
  if (workload == 0) {
    sigprocmask(SIG_SETMASK, &original, NULL);
    execvp(argv[first], argv + first);
    int error = errno;
    fprintf(stderr, "nsrun-init: %s: %s\n", argv[first],
            error == ENOENT ? "command not found in the container" : strerror(error));
    _exit(error == ENOENT || error == ENOTDIR ? 127 : 126);
  }

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waited, &info);
    if (sig < 0) continue; /* EINTR: a stop and continue */
    if (sig != SIGCHLD) {
      /* ESRCH: the workload is gone and its SIGCHLD is next in the queue. */
      kill(workload, sig);
      continue;
    }
    /* SIGCHLD is not queued per child: reap every child that has ended. */
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      /* The rest of the namespace is killed by the kernel when its init exits. */
      if (pid == workload) return exit_code_of(status);
    }
  }
}
