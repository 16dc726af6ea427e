/* Starting a child of the service from a libuv worker thread (backup.c's
 * copy, api_simulate.c's copy and simulation): posix_spawn, glibc's
 * vfork-like clone, so starting takes the same time whatever the
 * service's size (libuv's uv_spawn forks on the loop: 35 ms with a 1.4 GB
 * book open, measured). */
#ifndef RECOUP_CHILD_H
#define RECOUP_CHILD_H

#include <sys/types.h>

/* Starts exe with args (args[0] included) and env (NULL: this process's
 * environment): stdin /dev/null, stdout onto out_fd, stderr onto err_fd
 * (-1: the service's own), no signal blocked and SIGPIPE, SIGTERM, SIGINT
 * and SIGHUP at their default (a worker thread blocks them all; the
 * service ignores SIGPIPE), and with nice > 0 that much lower a priority.
 * Sets *pid; returns 0 or the errno posix_spawn gave. */
int child_spawn(pid_t *pid, const char *exe, char *const args[],
                char *const env[], int out_fd, int err_fd, int nice);

/* Waits for pid and returns its exit status, 128 + the signal that ended
 * it, or 1 when it neither exited nor was killed. */
int child_wait(pid_t pid);

/* The exit status waitpid gave, as child_wait returns it. */
int child_status(int status);

#endif
