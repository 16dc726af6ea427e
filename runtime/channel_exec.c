/* The exec driver: runs the channel's command with the message as JSON on
 * stdin. Exit status 0 means the gateway took it; anything else, or no exit
 * within the timeout (the process is killed), is a failed attempt. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"

typedef struct exec_job {
  uv_process_t proc;
  uv_pipe_t in;
  uv_timer_t timer;
  uv_write_t write;
  delivery *d;
  int open_handles;
  int64_t exit_status;
  int term_signal;
  int exited, timed_out, timeout_ms;
  char reason[200];
} exec_job;

static void finish(exec_job *job) {
  delivery *d = job->d;
  int ok = job->exited && job->exit_status == 0 && !job->timed_out;
  if (!ok && !job->reason[0]) {
    if (job->timed_out)
      snprintf(job->reason, sizeof job->reason, "timed out after %d ms",
               job->timeout_ms);
    else if (job->term_signal)
      snprintf(job->reason, sizeof job->reason, "killed by signal %d",
               job->term_signal);
    else
      snprintf(job->reason, sizeof job->reason, "exit status %lld",
               (long long)job->exit_status);
  }
  d->done(d, ok, 0, ok ? NULL : job->reason);
  free(job);
}

static void on_close(uv_handle_t *h) {
  exec_job *job = h->data;
  if (--job->open_handles == 0) finish(job);
}

static void close_all(exec_job *job) {
  if (!uv_is_closing((uv_handle_t *)&job->proc))
    uv_close((uv_handle_t *)&job->proc, on_close);
  if (!uv_is_closing((uv_handle_t *)&job->timer))
    uv_close((uv_handle_t *)&job->timer, on_close);
  if (!uv_is_closing((uv_handle_t *)&job->in))
    uv_close((uv_handle_t *)&job->in, on_close);
}

static void on_process_exit(uv_process_t *p, int64_t status, int signal) {
  exec_job *job = p->data;
  job->exited = 1;
  job->exit_status = status;
  job->term_signal = signal;
  close_all(job);
}

static void on_timeout(uv_timer_t *t) {
  exec_job *job = t->data;
  job->timed_out = 1;
  /* on_process_exit follows; a process already gone is reaped anyway */
  if (uv_process_kill(&job->proc, SIGKILL) != 0 && !job->exited)
    snprintf(job->reason, sizeof job->reason, "could not be killed");
}

static void on_written(uv_write_t *w, int status) {
  exec_job *job = w->data;
  (void)status; /* a command that ignores stdin may close it early */
  /* End of input: the command sees EOF. */
  if (!uv_is_closing((uv_handle_t *)&job->in))
    uv_close((uv_handle_t *)&job->in, on_close);
}

void channel_exec_send(uv_loop_t *loop, delivery *d) {
  exec_job *job = calloc(1, sizeof *job);
  uv_process_options_t opts;
  uv_stdio_container_t stdio[3];
  char *argv[CHANNEL_MAX_ARGS + 1];
  uv_buf_t buf;
  int rc;
  if (!job) {
    d->done(d, 0, 0, "out of memory");
    return;
  }
  job->d = d;
  /* The answer may come after the outbox let the delivery's channel go
   * (a service stopping): what finish needs of it is kept here. */
  job->timeout_ms = d->ch->timeout_ms;
  for (int i = 0; i < d->ch->nargs; i++) argv[i] = (char *)d->ch->args[i];
  argv[d->ch->nargs] = NULL;
  job->in.data = job->timer.data = job->proc.data = job->write.data = job;
  if ((rc = uv_pipe_init(loop, &job->in, 0)) != 0) {
    free(job);
    d->done(d, 0, 0, uv_strerror(rc));
    return;
  }
  if ((rc = uv_timer_init(loop, &job->timer)) != 0) {
    snprintf(job->reason, sizeof job->reason, "%s", uv_strerror(rc));
    job->open_handles = 1;
    uv_close((uv_handle_t *)&job->in, on_close);
    return;
  }
  memset(&opts, 0, sizeof opts);
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&job->in;
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_IGNORE;
  opts.file = argv[0];
  opts.args = argv;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  opts.exit_cb = on_process_exit;
  rc = uv_spawn(loop, &job->proc, &opts);
  if (rc != 0) {
    snprintf(job->reason, sizeof job->reason, "cannot run %s: %s", argv[0],
             uv_strerror(rc));
    /* The process handle was never started: close the two others. */
    job->open_handles = 2;
    uv_close((uv_handle_t *)&job->timer, on_close);
    uv_close((uv_handle_t *)&job->in, on_close);
    return;
  }
  job->open_handles = 3;
  if (uv_timer_start(&job->timer, on_timeout, (uint64_t)d->ch->timeout_ms, 0) !=
      0)
    on_timeout(&job->timer); /* no timeout to wait for: do not wait */
  buf = uv_buf_init(d->payload, (unsigned)strlen(d->payload));
  if (uv_write(&job->write, (uv_stream_t *)&job->in, &buf, 1, on_written) != 0)
    uv_close((uv_handle_t *)&job->in, on_close);
}
