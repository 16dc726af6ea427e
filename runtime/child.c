/* See child.h. */
#define _GNU_SOURCE /* syscall */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int spawn_now(pid_t *pid, const char *exe, char *const args[],
                     char *const env[], int out_fd, int err_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, def;
  int rc;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  /* A worker thread blocks signals; the child starts with none blocked
   * and the usual dispositions. */
  posix_spawnattr_init(&attr);
  sigemptyset(&none);
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGTERM);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGHUP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  rc = posix_spawn(pid, exe, &fa, &attr, args, env ? env : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc;
}

struct niced_spawn {
  pid_t *pid;
  const char *exe;
  char *const *args;
  char *const *env;
  int out_fd, err_fd, nice, rc;
};

/* posix_spawn has no priority attribute, and a setpriority on the child
 * after the start races with it: a short child ran and ended at ours (the
 * CI's test_child saw nice 0). On Linux a thread's nice is its own and a
 * child inherits its parent thread's, so a thread made for the start
 * lowers its own priority and spawns: the child is niced from its first
 * instruction, and the caller's thread (a libuv worker) keeps its own. */
static void *spawn_niced(void *arg) {
  struct niced_spawn *n = arg;
  if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), n->nice) != 0)
    n->rc = errno;
  else
    n->rc = spawn_now(n->pid, n->exe, n->args, n->env, n->out_fd, n->err_fd);
  return NULL;
}

int child_spawn(pid_t *pid, const char *exe, char *const args[],
                char *const env[], int out_fd, int err_fd, int nice) {
  struct niced_spawn n = {pid, exe, args, env, out_fd, err_fd, nice, 0};
  pthread_t t;
  int rc;
  if (nice <= 0) return spawn_now(pid, exe, args, env, out_fd, err_fd);
  /* The thread starts with the caller's signal mask: a worker's blocks
   * them all, so no signal meant for the service lands on it. */
  rc = pthread_create(&t, NULL, spawn_niced, &n);
  if (rc != 0) return rc;
  pthread_join(t, NULL);
  return n.rc;
}

int child_status(int status) {
  return WIFEXITED(status)     ? WEXITSTATUS(status)
         : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                               : 1;
}

int child_wait(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return child_status(status);
}
