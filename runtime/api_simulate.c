/* What-if from the console (docs/simulate.md "From the console"):
 * GET /v1/strategies lists the candidates under DIR/strategies/,
 * POST /v1/simulations runs one, GET /v1/simulations[/{id}] shows them.
 *
 * A simulation never runs in the service's process or on its loop. A
 * libuv worker thread starts two children of the service's own binary one
 * after the other and waits for them: `recoup backup COPY --db DB
 * --direct --json` (VACUUM INTO in one read transaction, the way POST
 * /v1/admin/backup copies: SQLite's online backup restarts under the
 * service's writes), then `recoup simulate DIR --db COPY ... --json OUT`,
 * niced. The children are started with child_spawn from that thread, not
 * with uv_spawn on the loop (child.h says why).
 *
 * Everything lives in one directory beside the backups
 * (BACKUPS/simulations): for each simulation sim-N.json (who, when, what,
 * status) and, when done, sim-N.report.json (what --json wrote, encoded
 * once on the worker thread as GET /v1/simulations/{id} sends it: the
 * route sends the file's bytes, read off the loop; a 365-day report of
 * 10 runs is 1.7 MB, and decoding and encoding it on the loop took 1 s).
 * Work files are hidden names (.sim-N.*, .child) and are removed when the
 * children end, when the service stops, and at the next start after a
 * crash; .child names the child running (its pid and command line), so
 * that the start after a crash stops a child the killed service left
 * running. At most one simulation runs at a time; the last SIM_KEEP are
 * kept. */
#define _GNU_SOURCE /* pipe2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "child.h"
#include "input.h"
#include "recoup/clock.h"
#include "recoup/script.h"
#include "service.h"
#include "store/where.h"

extern char **environ;

enum {
  SIM_KEEP = 20,         /* reports kept; older ones are removed */
  SIM_OUT_MAX = 16384,   /* what a child says that we keep (its tail) */
  SIM_CANDIDATES = 50,   /* candidates listed: the first by name */
  SIM_SCANNED = 4096,    /* names read in strategies/ to find them */
  SIM_LIST_WAITERS = 64, /* GET /v1/strategies waiting for one listing */
  SIM_NAME_MAX = 64,     /* a candidate's name */
  SIM_NICE = 10,         /* the simulation yields the CPU to the service */
  SIM_ERRORS_LISTED = 20, /* a candidate's load errors listed */
  /* Wall-clock limits on the children. A candidate's handlers each have
   * an instruction budget, but a simulation calls them for every case
   * every day: one that spends its budget on each call (a loop) ran 15 s
   * on the 500-case example book for 3 days, hours on a large one, and
   * blocked every other what-if meanwhile with no way to stop it but a
   * restart. A check or a copy is seconds. RECOUP_WHATIF_TIMEOUT (whole
   * seconds) changes the simulation's limit. */
  SIM_TIMEOUT_S = 3600,
  SIM_CHECK_TIMEOUT_S = 120,
  SIM_CMDLINE_MAX = 4 * PATH_MAX + 256, /* .child's command line */
  SIM_REPORT_MAX = 256 << 20            /* a report GET sends */
};

/* What a POST asks for, checked before it is known whether one runs (a
 * bad body is 422 whatever runs), copied into sim_service when it starts. */
typedef struct sim_params {
  int days, runs;
  int64_t seed; /* -1: simulate's default */
  char against[PATH_MAX];
} sim_params;

struct sim_service {
  service *svc;
  char exe[PATH_MAX], db[PATH_MAX], scripts[PATH_MAX], dir[PATH_MAX];
  int ok;       /* the directory exists: simulations can run */
  char why[160]; /* when not ok: why, as the log and a 503 say it */
  json_t *list; /* every simulation's record, newest first */
  int64_t next_id;
  /* The one running: its record and work files. */
  json_t *running; /* borrowed from list; NULL when none */
  uv_work_t work;
  uv_mutex_t lock; /* guards stopping and child between loop and thread */
  int stopping;    /* the service stops: no new child, the current killed */
  int child;       /* the child's pid while one runs, else 0 */
  char against[PATH_MAX], copy[PATH_MAX + 32], out[PATH_MAX + 32],
      tmp[PATH_MAX + 32];
  int days, runs;
  int64_t seed;  /* -1: simulate's default */
  int timeout_s; /* the simulation's wall-clock limit */
  /* The GET /v1/strategies under way (api_simulate.c's sim_listing):
   * the requests that arrive meanwhile wait for its answer. */
  struct sim_listing *listing;
  /* A POST whose candidate is being checked (answered when it is). */
  int checking;
  http_request *pending;
  int pending_route;
  char by[USER_NAME_MAX + 1], against_name[SIM_NAME_MAX + 1];
  /* Written on the worker thread, read on the loop once it is done. */
  int failed_step; /* 0 none, 1 the copy, 2 the simulation, 3 its report */
  int64_t exit_status;
  int64_t report_seed; /* the seed the report says (-1: none) */
  int report_errno;    /* why the report could not be kept (step 3) */
  char said[SIM_OUT_MAX + 1];
  uint64_t started_ms;
};

/* --- files ------------------------------------------------------------- */

/* Now, RFC 3339 in the institution's zone with its offset, as the other
 * routes give times. On the loop (ICU's zone is the loop's). */
static void sim_now_text(const sim_service *s, char *buf, size_t size) {
  clock_zone_format(clock_zone(engine_clock(s->svc->eng)),
                    (rc_time)time(NULL) * 1000, buf, size);
}

static void sim_record_path(const sim_service *s, int64_t id, const char *tail,
                            char *buf, size_t size) {
  snprintf(buf, size, "%s/sim-%lld%s", s->dir, (long long)id, tail);
}

/* A record is written whole or not at all (a temporary name, renamed). */
static int sim_record_write(const sim_service *s, json_t *rec) {
  char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
  int64_t id = json_integer_value(json_object_get(rec, "id"));
  sim_record_path(s, id, ".json", path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s/.sim-%lld.record", s->dir, (long long)id);
  if (json_dump_file(rec, tmp, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
      rename(tmp, path) != 0) {
    unlink(tmp);
    service_log("error", json_pack("{s:s, s:s, s:s}", "msg",
                                   "cannot write a what-if record", "file",
                                   path, "error", strerror(errno)));
    return -1;
  }
  return 0;
}

/* Removes path and, for a directory, what it holds (two levels: our work
 * directory and simulate's own temporary directory in it). Symbolic links
 * are removed, never followed. */
static void sim_remove_tree(const char *path, int depth) {
  struct stat st;
  DIR *d;
  const struct dirent *e;
  if (lstat(path, &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    unlink(path);
    return;
  }
  if (depth > 0 && (d = opendir(path))) {
    while ((e = readdir(d))) {
      char sub[PATH_MAX + 300];
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      sim_remove_tree(sub, depth - 1);
    }
    closedir(d);
  }
  rmdir(path);
}

/* Work files left by a service that was killed: every hidden name. */
static void sim_remove_work_files(const sim_service *s) {
  DIR *d = opendir(s->dir);
  const struct dirent *e;
  if (!d) return;
  while ((e = readdir(d))) {
    char path[PATH_MAX + 300];
    if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") ||
        !strcmp(e->d_name, ".."))
      continue;
    snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
    sim_remove_tree(path, 3);
  }
  closedir(d);
}

static int sim_status_is(const json_t *rec, const char *status) {
  const char *s = json_string_value(json_object_get(rec, "status"));
  return s && strcmp(s, status) == 0;
}

static int sim_newest_first(const void *a, const void *b) {
  int64_t x = json_integer_value(json_object_get(*(json_t *const *)a, "id"));
  int64_t y = json_integer_value(json_object_get(*(json_t *const *)b, "id"));
  return x < y ? 1 : x > y ? -1 : 0;
}

/* .child: the tracked child's pid on its first line, then its command
 * line as /proc/PID/cmdline gives it (each argument ending in NUL). */
static void sim_child_path(const sim_service *s, char *buf, size_t size) {
  snprintf(buf, size, "%s/.child", s->dir);
}

/* args as /proc/PID/cmdline shows them, into buf; its length, or 0 when
 * it does not fit. */
static size_t sim_cmdline(char *const args[], char *buf, size_t size) {
  size_t len = 0;
  for (int i = 0; args[i]; i++) {
    size_t n = strlen(args[i]) + 1;
    if (len + n > size) return 0;
    memcpy(buf + len, args[i], n);
    len += n;
  }
  return len;
}

/* Records the child started (on the worker thread). Written whole or not
 * at all: a half-written one names no process. */
static void sim_child_record(const sim_service *s, pid_t pid,
                             char *const args[]) {
  char path[PATH_MAX + 16], tmp[PATH_MAX + 16], cmd[SIM_CMDLINE_MAX];
  size_t len = sim_cmdline(args, cmd, sizeof cmd);
  FILE *f;
  sim_child_path(s, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s/.child.new", s->dir);
  if (!len || !(f = fopen(tmp, "w"))) return;
  if (fprintf(f, "%d\n", (int)pid) < 0 || fwrite(cmd, 1, len, f) != len) {
    fclose(f);
    unlink(tmp);
    return;
  }
  if (fclose(f) != 0 || rename(tmp, path) != 0) unlink(tmp);
}

/* Reads at most size bytes of path; the count, -1 when it cannot. */
static ssize_t sim_read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  size_t len = 0;
  ssize_t n;
  if (fd < 0) return -1;
  while (len < size && ((n = read(fd, buf + len, size - len)) > 0 ||
                        (n < 0 && errno == EINTR)))
    if (n > 0) len += (size_t)n;
  close(fd);
  return (ssize_t)len;
}

/* A service killed with SIGKILL leaves its child running (a simulation
 * may run for an hour): the next start stops it, before the work files
 * go. Only the process .child names with the very command line recorded
 * there, which runs our binary on our work files: a pid reused by
 * another process since is left alone. */
static void sim_stop_orphan(const sim_service *s) {
  char path[PATH_MAX + 16], rec[SIM_CMDLINE_MAX + 32], proc[64],
      now[SIM_CMDLINE_MAX + 1];
  ssize_t len = 0, have;
  const char *cmd;
  char *end;
  long pid;
  sim_child_path(s, path, sizeof path);
  if ((len = sim_read_file(path, rec, sizeof rec - 1)) <= 0) return;
  rec[len] = '\0';
  errno = 0;
  pid = strtol(rec, &end, 10);
  if (errno || end == rec || *end != '\n' || pid <= 1 || pid > INT32_MAX ||
      pid == (long)getpid())
    return;
  cmd = end + 1;
  len -= cmd - rec;
  /* Our binary, as the command's first word. */
  if (len <= 0 || strcmp(cmd, s->exe) != 0) return;
  snprintf(proc, sizeof proc, "/proc/%ld/cmdline", pid);
  if ((have = sim_read_file(proc, now, sizeof now)) != len ||
      memcmp(now, cmd, (size_t)len) != 0)
    return;
  kill((pid_t)pid, SIGKILL);
  /* Gone before its files are removed: a zombie has no command line. */
  for (int i = 0; i < 100 && sim_read_file(proc, now, sizeof now) > 0; i++) {
    struct timespec nap = {0, 10 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  service_log("warn", json_pack("{s:s, s:I}", "msg",
                                "stopped the what-if child a killed service "
                                "left running",
                                "pid", (json_int_t)pid));
}

/* Reads the records back at start; one still running when the service
 * stopped is failed now (its child did not outlive the service). */
static void sim_load(sim_service *s) {
  DIR *d = opendir(s->dir);
  const struct dirent *e;
  json_t **recs = NULL;
  size_t n = 0, cap = 0;
  if (!d) return;
  while ((e = readdir(d))) {
    long long id;
    char tail, path[PATH_MAX + 300];
    json_t *rec;
    if (sscanf(e->d_name, "sim-%lld.jso%c", &id, &tail) != 2 || tail != 'n' ||
        strcmp(strchr(e->d_name, '.'), ".json") != 0 || id <= 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
    if (!(rec = json_load_file(path, 0, NULL)) || !json_is_object(rec) ||
        json_integer_value(json_object_get(rec, "id")) != id) {
      json_decref(rec);
      continue;
    }
    if (id >= s->next_id) s->next_id = id + 1;
    if (sim_status_is(rec, "running")) {
      json_object_set_new(rec, "status", json_string("failed"));
      json_object_set_new(rec, "error", json_string("service stopped"));
      sim_record_write(s, rec);
    }
    if (n == cap) {
      json_t **grown = realloc(recs, (cap = cap ? cap * 2 : 32) * sizeof *recs);
      if (!grown) {
        json_decref(rec);
        break;
      }
      recs = grown;
    }
    recs[n++] = rec;
  }
  closedir(d);
  if (n) qsort(recs, n, sizeof *recs, sim_newest_first);
  for (size_t i = 0; i < n; i++) json_array_append_new(s->list, recs[i]);
  free(recs);
}

/* Keeps the newest SIM_KEEP records (never the running one's). */
static void sim_prune(sim_service *s) {
  while (json_array_size(s->list) > SIM_KEEP) {
    size_t last = json_array_size(s->list) - 1;
    json_t *rec = json_array_get(s->list, last);
    int64_t id = json_integer_value(json_object_get(rec, "id"));
    char path[PATH_MAX + 64];
    if (rec == s->running) break;
    sim_record_path(s, id, ".report.json", path, sizeof path);
    unlink(path);
    sim_record_path(s, id, ".json", path, sizeof path);
    unlink(path);
    json_array_remove(s->list, last);
  }
}

/* --- start and stop ---------------------------------------------------- */

/* RECOUP_WHATIF_TIMEOUT: whole seconds, 1 to a week; otherwise (unset or
 * not such a number, said in the log) SIM_TIMEOUT_S. */
static int sim_timeout_env(void) {
  const char *v = getenv("RECOUP_WHATIF_TIMEOUT");
  char *end;
  long n;
  if (!v || !*v) return SIM_TIMEOUT_S;
  errno = 0;
  n = strtol(v, &end, 10);
  if (errno || *end || n < 1 || n > 7 * 24 * 3600) {
    service_log("warn", json_pack("{s:s, s:i}", "msg",
                                  "RECOUP_WHATIF_TIMEOUT is not a number of "
                                  "seconds from 1 to 604800; using the default",
                                  "seconds", SIM_TIMEOUT_S));
    return SIM_TIMEOUT_S;
  }
  return (int)n;
}

int sim_service_start(service *svc, const char *db, rc_error *err) {
  sim_service *s = calloc(1, sizeof *s);
  const institution_config *cfg = script_config(engine_script(svc->eng));
  size_t size = sizeof s->exe;
  int rc;
  svc->sim = NULL;
  if (!s) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  s->svc = svc;
  s->next_id = 1;
  s->timeout_s = sim_timeout_env();
  if (!(s->list = json_array()) || uv_mutex_init(&s->lock) != 0) {
    json_decref(s->list);
    free(s);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  snprintf(s->why, sizeof s->why,
           "what-if needs a database file and a backup directory");
  /* A what-if runs on a copy of the book (`recoup backup`, a file): a
   * PostgreSQL database has none to give (realpath of its URL failed
   * with "No such file or directory", which said nothing). */
  if (store_where(db) != STORE_FILE) {
    snprintf(s->why, sizeof s->why,
             "what-if runs on a copy of a database file; on %s run "
             "`recoup simulate` beside the service",
             store_where(db) == STORE_URL ? "PostgreSQL" : "an in-memory book");
    if (store_where(db) == STORE_URL)
      service_log("warn", json_pack("{s:s, s:s}", "msg",
                                    "what-if unavailable", "error", s->why));
  } else if ((rc = uv_exepath(s->exe, &size)) != 0 || !realpath(db, s->db) ||
             !realpath(cfg->dir, s->scripts)) {
    service_log("warn",
                json_pack("{s:s, s:s}", "msg",
                          "what-if unavailable: cannot resolve the "
                          "binary, the database or the scripts",
                          "error", rc ? uv_strerror(rc) : strerror(errno)));
  } else if (svc->backup) {
    snprintf(s->dir, sizeof s->dir, "%s/simulations",
             backup_service_dir(svc->backup));
    if (rc_mkdirs(s->dir, "backup.to", err) == RC_OK) {
      chmod(s->dir, 0700);
      s->ok = 1;
      sim_stop_orphan(s);
      sim_remove_work_files(s);
      sim_load(s);
    } else {
      service_log("warn", json_pack("{s:s, s:s}", "msg", "what-if unavailable",
                                    "error", err->message));
      rc_error_clear(err);
    }
  }
  svc->sim = s;
  return RC_OK;
}

/* The service stops: the running child is killed at once (its work files
 * go when the worker thread reports it gone, in the loop's last run). */
void sim_service_stop(sim_service *s) {
  if (!s) return;
  uv_mutex_lock(&s->lock);
  s->stopping = 1;
  if (s->child > 0) kill(s->child, SIGKILL);
  uv_mutex_unlock(&s->lock);
}

void sim_service_free(sim_service *s) {
  if (!s) return;
  json_decref(s->list);
  uv_mutex_destroy(&s->lock);
  free(s);
}

/* --- the children (on the worker thread) ------------------------------- */

/* The environment with TMPDIR pointing into our work directory, so that
 * simulate's own copies are where we clean up. */
static char **sim_env(const char *tmpdir, char *slot, size_t size) {
  size_t n = 0, k = 0;
  char **env;
  while (environ[n]) n++;
  if (!(env = calloc(n + 2, sizeof *env))) return NULL;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "TMPDIR=", 7) != 0) env[k++] = environ[i];
  snprintf(slot, size, "TMPDIR=%s", tmpdir);
  env[k++] = slot;
  env[k] = NULL;
  return env;
}

static uint64_t sim_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads the child's output into said (its tail) until it closes it or
 * the deadline passes; 0, or -ETIMEDOUT. */
static int sim_read_until(int fd, uint64_t deadline, char *said, size_t cap) {
  char chunk[4096];
  size_t len = strlen(said);
  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t now = sim_now_ms();
    ssize_t n;
    int ready;
    if (now >= deadline) return -ETIMEDOUT;
    ready = poll(&pfd, 1, (int)(deadline - now > 1000 ? 1000 : deadline - now));
    if (ready < 0 && errno != EINTR) return 0;
    if (ready <= 0) continue;
    if ((n = read(fd, chunk, sizeof chunk)) < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    /* Keep the tail: the error is said last. */
    if ((size_t)n > cap) n = (ssize_t)cap;
    if (len + (size_t)n > cap) {
      size_t drop = len + (size_t)n - cap;
      memmove(said, said + drop, len - drop);
      len -= drop;
    }
    memcpy(said + len, chunk, (size_t)n);
    len += (size_t)n;
    said[len] = '\0';
  }
}

/* Waits for the child, killing it once the deadline has passed (also one
 * that closed its output and carries on). */
static void sim_reap(pid_t pid, uint64_t deadline, int *status, int *late) {
  for (;;) {
    pid_t r = waitpid(pid, status, *late ? 0 : WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;
    if (r == 0 && sim_now_ms() >= deadline) {
      kill(pid, SIGKILL);
      *late = 1;
    } else if (r == 0) {
      struct timespec nap = {0, 20 * 1000 * 1000};
      nanosleep(&nap, NULL);
    }
  }
}

/* Runs args to its end, its stdin /dev/null, stdout and stderr into
 * said[cap + 1] (the tail when it says more), for timeout_s seconds at
 * most. With track, the child is the one sim_service_stop kills (the
 * simulation's), with TMPDIR in its work directory and, with nice, a
 * lower priority. Returns its exit status, 128 + signal when killed,
 * -errno when it could not start, -ECANCELED when the service is
 * stopping, -ETIMEDOUT when it ran out of time (it is killed). */
static int64_t sim_spawn(sim_service *s, char *const args[], int track,
                         int nice, int timeout_s, char *said, size_t cap) {
  char slot[PATH_MAX + 16],
      **env = track ? sim_env(s->tmp, slot, sizeof slot) : environ;
  int fds[2], status = 0, rc, late = 0;
  uint64_t deadline = sim_now_ms() + (uint64_t)timeout_s * 1000u;
  pid_t pid;
  said[0] = '\0';
  if (!env) return -ENOMEM;
  if (pipe2(fds, O_CLOEXEC) != 0) {
    if (track) free(env);
    return -errno;
  }
  /* The stop and the start exclude each other: a child is either never
   * started or known to the stop, which kills it. */
  if (track) uv_mutex_lock(&s->lock);
  rc = track && s->stopping
           ? ECANCELED
           : child_spawn(&pid, s->exe, args, env, fds[1], fds[1],
                         track && nice ? SIM_NICE : 0);
  if (rc == 0 && track) s->child = (int)pid;
  if (track) uv_mutex_unlock(&s->lock);
  if (rc == 0 && track) sim_child_record(s, pid, args);
  if (track) free(env);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -rc;
  }
  if (sim_read_until(fds[0], deadline, said, cap) != 0) {
    kill(pid, SIGKILL);
    late = 1;
  }
  close(fds[0]);
  sim_reap(pid, deadline, &status, &late);
  if (track) {
    char path[PATH_MAX + 16];
    uv_mutex_lock(&s->lock);
    s->child = 0;
    uv_mutex_unlock(&s->lock);
    sim_child_path(s, path, sizeof path);
    unlink(path);
  }
  if (late) return -ETIMEDOUT;
  return child_status(status);
}

static int64_t sim_run(sim_service *s, char *const args[], int nice,
                       int timeout_s) {
  return sim_spawn(s, args, 1, nice, timeout_s, s->said, SIM_OUT_MAX);
}

/* The report as GET /v1/simulations/{id} sends it (compact, in the
 * order written), encoded here on the worker thread once, not on the loop
 * for each GET; and the seed it says. 0, or -1 (errno) when it cannot be
 * read or written. */
static int sim_encode_report(sim_service *s) {
  char tmp[PATH_MAX + 48];
  json_t *r = json_load_file(s->out, 0, NULL), *seed;
  int rc;
  s->report_seed = -1;
  if (!r) {
    errno = EINVAL;
    return -1;
  }
  seed = json_object_get(r, "seed");
  if (json_is_integer(seed)) s->report_seed = json_integer_value(seed);
  snprintf(tmp, sizeof tmp, "%s.compact", s->out);
  rc = json_dump_file(r, tmp, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(r);
  if (rc != 0 || rename(tmp, s->out) != 0) {
    if (!errno) errno = EIO;
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void sim_work(uv_work_t *w) {
  sim_service *s = w->data;
  char days[16], runs[16], seed[32];
  char *copy_args[] = {s->exe, "backup",   s->copy,  "--db",
                       s->db,  "--direct", "--json", NULL};
  char *sim_args[16];
  int k = 0;
  s->failed_step = 0;
  s->report_seed = -1;
  if (mkdir(s->tmp, 0700) != 0) {
    s->failed_step = 1;
    s->exit_status = -errno;
    return;
  }
  if ((s->exit_status = sim_run(s, copy_args, 0, s->timeout_s)) != 0) {
    s->failed_step = 1;
    return;
  }
  snprintf(days, sizeof days, "%d", s->days);
  snprintf(runs, sizeof runs, "%d", s->runs);
  snprintf(seed, sizeof seed, "%lld", (long long)s->seed);
  sim_args[k++] = s->exe;
  sim_args[k++] = "simulate";
  sim_args[k++] = s->scripts;
  sim_args[k++] = "--db";
  sim_args[k++] = s->copy;
  if (s->against[0]) {
    sim_args[k++] = "--against";
    sim_args[k++] = s->against;
  }
  sim_args[k++] = "--days";
  sim_args[k++] = days;
  sim_args[k++] = "--runs";
  sim_args[k++] = runs;
  if (s->seed >= 0) {
    sim_args[k++] = "--seed";
    sim_args[k++] = seed;
  }
  sim_args[k++] = "--json";
  sim_args[k++] = s->out;
  sim_args[k] = NULL;
  if ((s->exit_status = sim_run(s, sim_args, 1, s->timeout_s)) != 0)
    s->failed_step = 2;
  else if (sim_encode_report(s) != 0) {
    s->failed_step = 3;
    s->report_errno = errno;
  }
}

/* The last line a child said that reads as an error ("recoup: ..."), or
 * its last line. */
static void sim_last_error(const char *said, char *out, size_t size) {
  const char *best = NULL, *last = NULL, *line = said;
  char buf[1024];
  size_t len;
  while (line && *line) {
    const char *end = strchr(line, '\n');
    len = end ? (size_t)(end - line) : strlen(line);
    if (len > 0) last = line;
    if (len > 0 && !strncmp(line, "recoup:", 7)) best = line;
    line = end ? end + 1 : NULL;
  }
  if (!best) best = last;
  if (!best) {
    snprintf(out, size, "(it said nothing)");
    return;
  }
  len = strcspn(best, "\n");
  if (len >= sizeof buf) len = sizeof buf - 1;
  memcpy(buf, best, len);
  buf[len] = '\0';
  rc_printable(out, size, buf);
}

/* The copy's --json error ({"error": {"message"}}) when it printed one. */
static void sim_copy_error(const char *said, char *out, size_t size) {
  const char *brace = strchr(said, '{');
  json_t *v = brace ? json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
  const char *msg = json_string_value(
      json_object_get(json_object_get(v, "error"), "message"));
  if (msg)
    rc_printable(out, size, msg);
  else
    sim_last_error(said, out, size);
  json_decref(v);
}

static void sim_done(uv_work_t *w, int status) {
  sim_service *s = w->data;
  json_t *rec = s->running;
  int64_t id = json_integer_value(json_object_get(rec, "id"));
  char report[PATH_MAX + 64], why[1200], at[48], said[1024];
  double secs = (double)(uv_now(s->svc->loop) - s->started_ms) / 1000.0;
  int ok = status == 0 && !s->failed_step;
  (void)status;
  sim_record_path(s, id, ".report.json", report, sizeof report);
  if (ok && rename(s->out, report) != 0) {
    ok = 0;
    snprintf(why, sizeof why, "cannot keep the report: %s", strerror(errno));
  } else if (!ok) {
    if (s->stopping)
      snprintf(why, sizeof why, "service stopped");
    else if (s->failed_step == 3)
      snprintf(why, sizeof why, "cannot keep the report: %s",
               strerror(s->report_errno ? s->report_errno : EIO));
    else if (s->exit_status == -ETIMEDOUT)
      snprintf(why, sizeof why,
               "the %s took longer than %d s and was stopped (the limit is "
               "RECOUP_WHATIF_TIMEOUT); a candidate whose handlers spend "
               "their instruction budget on every call is the usual cause",
               s->failed_step == 1 ? "copy of the book" : "simulation",
               s->timeout_s);
    else if (s->exit_status < 0)
      snprintf(why, sizeof why, "cannot start %s: %s", s->exe,
               strerror((int)-s->exit_status));
    else if (s->failed_step == 1) {
      sim_copy_error(s->said, said, sizeof said);
      snprintf(why, sizeof why, "the copy of the book failed: %s", said);
    } else {
      sim_last_error(s->said, said, sizeof said);
      snprintf(why, sizeof why, "the simulation failed (exit %lld): %s",
               (long long)s->exit_status, said);
    }
  }
  /* The work files go on every path: the copy, simulate's temporary
   * directory, an output left half-written. */
  sim_remove_tree(s->copy, 0);
  sim_remove_tree(s->out, 0);
  sim_remove_tree(s->tmp, 3);
  sim_remove_work_files(s);
  sim_now_text(s, at, sizeof at);
  json_object_set_new(rec, "status", json_string(ok ? "done" : "failed"));
  json_object_set_new(rec, "error", ok ? json_null() : json_string(why));
  json_object_set_new(rec, "finished_at", json_string(at));
  json_object_set_new(rec, "duration_ms",
                      json_integer((json_int_t)(secs * 1000.0 + 0.5)));
  if (ok && json_is_null(json_object_get(rec, "seed")) && s->report_seed >= 0)
    json_object_set_new(rec, "seed", json_integer((json_int_t)s->report_seed));
  sim_record_write(s, rec);
  service_log(ok ? "info" : "error",
              json_pack("{s:s, s:I, s:O, s:O, s:f, s:s?}", "msg",
                        ok ? "what-if done" : "what-if failed", "id",
                        (json_int_t)id, "by", json_object_get(rec, "by"),
                        "against", json_object_get(rec, "against"), "seconds",
                        secs, "error", ok ? NULL : why));
  s->running = NULL;
  sim_prune(s);
  /* A draining service stops once nothing is in flight; a stopped one's
   * handles are closing already. */
  if (!s->stopping) service_kick(s->svc);
}

/* --- candidates -------------------------------------------------------- */

/* The strategies directory, resolved; 0 when there is none. */
static int sim_strategies_dir(const sim_service *s, char *out, size_t size) {
  char path[PATH_MAX + 16], real[PATH_MAX];
  snprintf(path, sizeof path, "%s/strategies", s->scripts);
  if (!realpath(path, real)) return 0;
  rc_copy(out, size, real);
  return 1;
}

/* A candidate the client names: [A-Za-z0-9_.-], no "..", a directory
 * under DIR/strategies/ once every link is resolved. Never a path. */
static int sim_candidate(const sim_service *s, const char *name, char *out,
                         size_t size, rc_error *err) {
  char base[PATH_MAX], path[PATH_MAX + 80], real[PATH_MAX];
  size_t blen;
  struct stat st;
  if (!name[0] || strlen(name) > SIM_NAME_MAX || name[0] == '.' ||
      strstr(name, ".."))
    return rc_error_set(err, RC_EINVAL, "against",
                        "against names a candidate in the strategies "
                        "directory (1 to %d characters, not starting with "
                        "'.', no '..')",
                        SIM_NAME_MAX);
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
      return rc_error_set(err, RC_EINVAL, "against",
                          "against names a candidate: letters, digits, '.', "
                          "'-' and '_' only");
  if (!sim_strategies_dir(s, base, sizeof base))
    return rc_error_set(err, RC_ENOTFOUND, "against",
                        "there is no strategies directory beside the scripts");
  snprintf(path, sizeof path, "%s/%s", base, name);
  blen = strlen(base);
  if (!realpath(path, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
    return rc_error_set(err, RC_ENOTFOUND, "against",
                        "no candidate named %s in the strategies directory",
                        name);
  if (strncmp(real, base, blen) != 0 || real[blen] != '/' ||
      strchr(real + blen + 1, '/'))
    return rc_error_set(err, RC_EINVAL, "against",
                        "%s points outside the strategies directory", name);
  rc_copy(out, size, real);
  return RC_OK;
}

/* A path as the candidate's own (workflows/x.lua): what follows the
 * candidate's directory, also when the path was cut at its front ("..."
 * and the tail: an error's file is 255 bytes at most). */
static const char *sim_inside(const char *file, const char *dir) {
  const char *name = strrchr(dir, '/'), *hit = NULL, *at = file;
  char needle[SIM_NAME_MAX * 4 + 8];
  size_t dlen = strlen(dir);
  if (!strncmp(file, dir, dlen) && file[dlen] == '/') return file + dlen + 1;
  snprintf(needle, sizeof needle, "/%s/", name ? name + 1 : dir);
  while ((at = strstr(at, needle))) hit = at++;
  if (hit) return hit + strlen(needle);
  return strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
}

/* text with the candidate's directory, the server's layout, taken out of
 * it: "DIR/x.lua" reads "x.lua", DIR alone its name ("cannot read
 * /srv/recoup/strategies/empty/recoup.lua" reached the console whole). */
static void sim_strip_dir(char *text, const char *dir) {
  const char *name = strrchr(dir, '/');
  size_t dlen = strlen(dir);
  char *at;
  /* Each cut shortens text: DIR holds a '/' its name does not. */
  if (!name || !dlen) return;
  name++;
  while ((at = strstr(text, dir))) {
    size_t cut = dlen + (at[dlen] == '/');
    const char *put = at[dlen] == '/' ? "" : name;
    size_t plen = strlen(put);
    memmove(at + plen, at + cut, strlen(at + cut) + 1);
    memcpy(at, put, plen);
  }
}

/* Whether p is check's closing count, "N problem(s) in DIR": a problem's
 * own message may say "problem" and " in " too (a script's error("a
 * problem in the fee table", 0) has no file), and was dropped as one. */
static int sim_closing_count(const char *p, const char *dir) {
  const char *rest = p;
  while (*rest >= '0' && *rest <= '9') rest++;
  if (rest == p) return 0;
  if (!strncmp(rest, " problem in ", 12))
    rest += 12;
  else if (!strncmp(rest, " problems in ", 13))
    rest += 13;
  else
    return 0;
  return !strcmp(rest, dir);
}

/* What `recoup check DIR` said, as problems {file, line, message} with
 * paths inside the candidate (not the server's layout): its lines
 * "recoup: FILE:LINE: message", without its closing count. */
static json_t *sim_problems(const char *said, const char *dir) {
  json_t *list = json_array();
  const char *line = said;
  /* A copy: each line's text is gone when the next is read. */
  char last[1200] = "";
  while (line && *line && json_array_size(list) < SIM_ERRORS_LISTED) {
    const char *end = strchr(line, '\n'), *p, *colon;
    char text[1200], file[PATH_MAX], msg[1200];
    size_t len = end ? (size_t)(end - line) : strlen(line);
    long no = 0;
    if (len >= sizeof text) len = sizeof text - 1;
    memcpy(text, line, len);
    text[len] = '\0';
    line = end ? end + 1 : NULL;
    if (strncmp(text, "recoup: ", 8) != 0) continue;
    p = text + 8;
    snprintf(last, sizeof last, "%s", p);
    file[0] = '\0';
    /* FILE:LINE: message, or a message about no file. */
    if ((colon = strchr(p, ':')) && colon[1] >= '0' && colon[1] <= '9') {
      char *after;
      no = strtol(colon + 1, &after, 10);
      if (after[0] == ':' && after[1] == ' ') {
        char whole[PATH_MAX];
        snprintf(whole, sizeof whole, "%.*s", (int)(colon - p), p);
        rc_printable(file, sizeof file, sim_inside(whole, dir));
        p = after + 2;
      } else {
        no = 0;
      }
    }
    /* The closing count ("1 problem in DIR") is no problem of its own. */
    if (!file[0] && sim_closing_count(p, dir)) continue;
    rc_printable(msg, sizeof msg, p);
    sim_strip_dir(msg, dir);
    json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "file", file,
                                          "line", (int)no, "message", msg));
  }
  if (json_array_size(list) == 0) {
    char msg[1200];
    rc_printable(msg, sizeof msg, last[0] ? last : "does not load");
    sim_strip_dir(msg, dir);
    json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "file", "", "line",
                                          0, "message", msg));
  }
  return list;
}

static int sim_name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GET /v1/strategies: each candidate is checked by `recoup check` in a
 * child process of its own, one after the other on a worker thread (a
 * load is tens of milliseconds: too long for the loop); answered when
 * the last is done. */
enum { SIM_CHECK_SAID = 8192 };
typedef struct sim_listing {
  uv_work_t work;
  service *svc;
  int n, waiting;
  struct {
    http_request *req;
    int route;
  } w[SIM_LIST_WAITERS]; /* who asked, the first first */
  struct {
    char name[SIM_NAME_MAX * 4 + 8]; /* printable */
    char dir[PATH_MAX];              /* "" when refused: refusal says why */
    char refusal[1024];
    int64_t exit;
    char *said; /* owned */
  } c[SIM_CANDIDATES];
} sim_listing;

static void sim_listing_work(uv_work_t *w) {
  sim_listing *l = w->data;
  sim_service *s = l->svc->sim;
  for (int i = 0; i < l->n; i++) {
    char *args[] = {s->exe, "check", l->c[i].dir, NULL};
    int stopping;
    uv_mutex_lock(&s->lock);
    stopping = s->stopping;
    uv_mutex_unlock(&s->lock);
    if (stopping) l->c[i].exit = -ECANCELED;
    if (stopping || !l->c[i].dir[0]) continue;
    if (!(l->c[i].said = malloc(SIM_CHECK_SAID + 1))) {
      l->c[i].exit = -ENOMEM;
      continue;
    }
    l->c[i].exit =
        sim_spawn(l->svc->sim, args, 0, 0, SIM_CHECK_TIMEOUT_S, l->c[i].said,
                  SIM_CHECK_SAID);
  }
}

static void sim_listing_done(uv_work_t *w, int status) {
  sim_listing *l = w->data;
  json_t *list = json_array();
  (void)status;
  for (int i = 0; i < l->n; i++) {
    json_t *errors;
    if (!l->c[i].dir[0])
      errors = json_pack("[{s:s, s:i, s:s}]", "file", "", "line", 0, "message",
                         l->c[i].refusal);
    else if (l->c[i].exit == 0)
      errors = NULL;
    else if (l->c[i].exit == -ETIMEDOUT)
      errors = json_pack("[{s:s, s:i, s:s}]", "file", "", "line", 0, "message",
                         "its check took too long and was stopped");
    else if (l->c[i].exit < 0 || !l->c[i].said)
      errors = json_pack("[{s:s, s:i, s:s}]", "file", "", "line", 0, "message",
                         "cannot be checked now (see the service's log)");
    else
      errors = sim_problems(l->c[i].said, l->c[i].dir);
    json_array_append_new(
        list,
        json_pack("{s:s, s:b, s:o}", "name", l->c[i].name, "runnable",
                  errors == NULL, "errors", errors ? errors : json_array()));
    free(l->c[i].said);
  }
  l->svc->sim->listing = NULL;
  for (int i = 0; i < l->waiting; i++)
    api_reply(l->svc, l->w[i].req, l->w[i].route, 200,
              json_pack("{s:O}", "strategies", list), NULL);
  json_decref(list);
  if (!l->svc->sim->stopping) service_kick(l->svc);
  free(l);
}

void api_strategies(service *svc, http_request *req, int route, const char *arg,
                    const principal *who) {
  sim_service *s = svc->sim;
  char base[PATH_MAX], **names = NULL;
  sim_listing *l;
  int n = 0, rc;
  DIR *d;
  const struct dirent *e;
  (void)arg;
  (void)who;
  if (!s || !s->ok) {
    api_error(svc, req, route, 503, "unavailable", NULL,
              s ? s->why
                : "what-if needs a database file and a backup directory");
    return;
  }
  /* One listing at a time, whoever asks: eight supervisors opening the
   * page at once each had their own, four of them held every worker
   * thread (a what-if started meanwhile waited for them) and the last
   * answers took 29 s where one takes 2. */
  if ((l = s->listing)) {
    if (l->waiting == SIM_LIST_WAITERS) {
      api_error(svc, req, route, 503, "unavailable", NULL,
                "the candidates are being checked for many requests; try "
                "again");
      return;
    }
    l->w[l->waiting].req = req;
    l->w[l->waiting++].route = route;
    return;
  }
  if (!(l = calloc(1, sizeof *l)) ||
      !(names = calloc(SIM_SCANNED, sizeof *names))) {
    free(l);
    api_error(svc, req, route, 503, "unavailable", NULL, "out of memory");
    return;
  }
  /* The first SIM_CANDIDATES by name, whatever order the directory
   * gives: the same page each time. */
  if (sim_strategies_dir(s, base, sizeof base) && (d = opendir(base))) {
    while ((e = readdir(d)) && n < SIM_SCANNED)
      if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name))) n++;
    closedir(d);
  }
  if (n) qsort(names, (size_t)n, sizeof *names, sim_name_cmp);
  for (int i = 0; i < n; i++) {
    rc_error err;
    struct stat st;
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", base, names[i]);
    rc_error_clear(&err);
    /* Plain files beside the candidates are not candidates. */
    if (l->n < SIM_CANDIDATES && stat(path, &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      rc_printable(l->c[l->n].name, sizeof l->c[0].name, names[i]);
      if (sim_candidate(s, names[i], l->c[l->n].dir, sizeof l->c[0].dir,
                        &err) != RC_OK) {
        l->c[l->n].dir[0] = '\0';
        rc_printable(l->c[l->n].refusal, sizeof l->c[0].refusal, err.message);
      }
      l->n++;
    }
    free(names[i]);
  }
  free(names);
  l->svc = svc;
  l->w[0].req = req, l->w[0].route = route, l->waiting = 1;
  l->work.data = l;
  if ((rc = uv_queue_work(svc->loop, &l->work, sim_listing_work,
                          sim_listing_done)) != 0) {
    free(l);
    api_error(svc, req, route, 503, "unavailable", NULL, uv_strerror(rc));
    return;
  }
  s->listing = l;
}

/* --- the routes -------------------------------------------------------- */

static json_t *sim_find(const sim_service *s, const char *arg) {
  size_t i;
  json_t *rec;
  char *end;
  long long id;
  errno = 0;
  id = strtoll(arg, &end, 10);
  if (!arg[0] || *end || errno || id <= 0) return NULL;
  json_array_foreach(s->list, i, rec) {
    if (json_integer_value(json_object_get(rec, "id")) == id) return rec;
  }
  return NULL;
}

static int sim_unavailable(service *svc, http_request *req, int route) {
  if (svc->sim && svc->sim->ok) return 0;
  api_error(svc, req, route, 503, "unavailable", NULL,
            svc->sim ? svc->sim->why
                     : "what-if needs a database file and a backup directory");
  return 1;
}

void api_simulations(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  (void)arg;
  (void)who;
  if (sim_unavailable(svc, req, route)) return;
  api_reply(svc, req, route, 200,
            json_pack("{s:O}", "simulations", svc->sim->list), NULL);
}

/* GET /v1/simulations/{id} of a done one: the record and the report
 * file's bytes as they are (encoded once when it finished), read on a
 * worker thread. */
typedef struct sim_get {
  uv_work_t work;
  service *svc;
  http_request *req;
  int route;
  char path[PATH_MAX + 64];
  char *head; /* the record, encoded, its closing brace cut */
  char *text; /* head, ",\"report\":", the file's bytes, "}" */
  size_t len;
  int err; /* errno when the file cannot be read */
} sim_get;

static void sim_get_work(uv_work_t *w) {
  sim_get *g = w->data;
  static const char key[] = ",\"report\":";
  size_t head = strlen(g->head), size;
  struct stat st;
  ssize_t n;
  int fd = open(g->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || fstat(fd, &st) != 0) {
    g->err = errno;
    if (fd >= 0) close(fd);
    return;
  }
  if (st.st_size <= 0 || st.st_size > SIM_REPORT_MAX) {
    g->err = EFBIG;
    close(fd);
    return;
  }
  size = (size_t)st.st_size;
  if (!(g->text = malloc(head + sizeof key + size + 1))) {
    g->err = ENOMEM;
    close(fd);
    return;
  }
  memcpy(g->text, g->head, head);
  memcpy(g->text + head, key, sizeof key - 1);
  g->len = head + sizeof key - 1;
  while (size > 0 && ((n = read(fd, g->text + g->len, size)) > 0 ||
                      (n < 0 && errno == EINTR)))
    if (n > 0) g->len += (size_t)n, size -= (size_t)n;
  close(fd);
  /* A file that changed size as it was read is not the report. */
  if (size > 0) {
    g->err = EIO;
    return;
  }
  /* json_dump_file ends nothing with a newline; an older file may. */
  while (g->len > head && g->text[g->len - 1] == '\n') g->len--;
  g->text[g->len++] = '}';
}

static void sim_get_done(uv_work_t *w, int status) {
  sim_get *g = w->data;
  if (status == 0 && !g->err && g->text)
    api_reply_text(g->svc, g->req, g->route, 200, g->text, g->len, NULL);
  else
    api_error(g->svc, g->req, g->route, 503, "unavailable", "simulation",
              "the report's file cannot be read");
  free(g->head);
  free(g->text);
  free(g);
}

void api_simulation(service *svc, http_request *req, int route, const char *arg,
                    const principal *who) {
  json_t *rec;
  sim_get *g;
  size_t len;
  int rc;
  (void)who;
  if (sim_unavailable(svc, req, route)) return;
  if (!(rec = sim_find(svc->sim, arg))) {
    api_error(svc, req, route, 404, "not_found", "simulation",
              "no such simulation (the last 20 are kept)");
    return;
  }
  if (!sim_status_is(rec, "done")) {
    api_reply(svc, req, route, 200, json_deep_copy(rec), NULL);
    return;
  }
  if (!(g = calloc(1, sizeof *g)) ||
      !(g->head = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER)) ||
      (len = strlen(g->head)) < 2 || g->head[len - 1] != '}') {
    if (g) free(g->head);
    free(g);
    api_error(svc, req, route, 503, "unavailable", NULL, "out of memory");
    return;
  }
  g->head[len - 1] = '\0';
  g->svc = svc;
  g->req = req;
  g->route = route;
  sim_record_path(svc->sim, json_integer_value(json_object_get(rec, "id")),
                  ".report.json", g->path, sizeof g->path);
  g->work.data = g;
  if ((rc = uv_queue_work(svc->loop, &g->work, sim_get_work, sim_get_done)) !=
      0) {
    free(g->head);
    free(g);
    api_error(svc, req, route, 503, "unavailable", NULL, uv_strerror(rc));
  }
}

/* An integer field of the body within [lo, hi], or def when absent. */
static int sim_int_field(json_t *body, const char *key, int64_t lo, int64_t hi,
                         int64_t def, int64_t *out, rc_error *err) {
  json_t *v = json_object_get(body, key);
  *out = def;
  if (!v) return RC_OK;
  if (!json_is_integer(v) || json_integer_value(v) < lo ||
      json_integer_value(v) > hi)
    return rc_error_set(err, RC_EINVAL, key,
                        "%s must be a whole number from %lld to %lld", key,
                        (long long)lo, (long long)hi);
  *out = json_integer_value(v);
  return RC_OK;
}

static int sim_body(const sim_service *s, json_t *body, sim_params *p,
                    rc_error *err) {
  static const char *const known[] = {"against", "days", "runs", "seed", NULL};
  json_t *v;
  int64_t days, runs, seed;
  if (!json_is_object(body))
    return rc_error_set(err, RC_EINVAL, NULL, "the body must be a JSON object");
  if (input_json_known_keys(body, known, "a simulation", err) != RC_OK)
    return RC_EINVAL;
  if (sim_int_field(body, "days", 1, 365, 30, &days, err) != RC_OK ||
      sim_int_field(body, "runs", 1, 10, 1, &runs, err) != RC_OK ||
      sim_int_field(body, "seed", 0, INT64_MAX, -1, &seed, err) != RC_OK)
    return RC_EINVAL;
  p->days = (int)days;
  p->runs = (int)runs;
  p->seed = seed;
  p->against[0] = '\0';
  v = json_object_get(body, "against");
  if (v && !json_is_null(v)) {
    if (!json_is_string(v))
      return rc_error_set(err, RC_EINVAL, "against",
                          "against must be a candidate's name or null");
    if (sim_candidate(s, json_string_value(v), p->against, sizeof p->against,
                      err) != RC_OK)
      return err->code;
  }
  return RC_OK;
}

/* Starts the simulation s's fields describe (the body checked, the
 * candidate loading) and answers 202. */
static void sim_start(sim_service *s, http_request *req, int route) {
  service *svc = s->svc;
  json_t *rec;
  char at[48], location[80];
  int64_t id = s->next_id++;
  int rc;
  sim_now_text(s, at, sizeof at);
  rec = json_pack(
      "{s:I, s:s, s:s, s:s?, s:i, s:i, s:o, s:s, s:n}", "id", (json_int_t)id,
      "by", s->by, "at", at, "against", s->against[0] ? s->against_name : NULL,
      "days", s->days, "runs", s->runs, "seed",
      s->seed >= 0 ? json_integer((json_int_t)s->seed) : json_null(), "status",
      "running", "error");
  if (!rec) {
    api_error(svc, req, route, 503, "unavailable", NULL, "out of memory");
    return;
  }
  snprintf(s->copy, sizeof s->copy, "%s/.sim-%lld.copy.db", s->dir,
           (long long)id);
  snprintf(s->out, sizeof s->out, "%s/.sim-%lld.out.json", s->dir,
           (long long)id);
  snprintf(s->tmp, sizeof s->tmp, "%s/.sim-%lld.tmp", s->dir, (long long)id);
  if (sim_record_write(s, rec) != 0) {
    json_decref(rec);
    api_error(svc, req, route, 503, "unavailable", NULL,
              "cannot write in the simulations directory (see the log)");
    return;
  }
  json_array_insert_new(s->list, 0, rec);
  s->running = rec;
  s->work.data = s;
  s->started_ms = uv_now(svc->loop);
  if ((rc = uv_queue_work(svc->loop, &s->work, sim_work, sim_done)) != 0) {
    json_object_set_new(rec, "status", json_string("failed"));
    json_object_set_new(rec, "error", json_string(uv_strerror(rc)));
    sim_record_write(s, rec);
    s->running = NULL;
    api_error(svc, req, route, 503, "unavailable", NULL, uv_strerror(rc));
    return;
  }
  service_log("info", json_pack("{s:s, s:I, s:O, s:O, s:i, s:i}", "msg",
                                "what-if started", "id", (json_int_t)id, "by",
                                json_object_get(rec, "by"), "against",
                                json_object_get(rec, "against"), "days",
                                s->days, "runs", s->runs));
  sim_prune(s);
  snprintf(location, sizeof location, "Location: /v1/simulations/%lld\r\n",
           (long long)id);
  api_reply(svc, req, route, 202, json_deep_copy(rec), location);
}

/* The candidate is loaded by `recoup check` in a child, off the loop. */
static void sim_check_work(uv_work_t *w) {
  sim_service *s = w->data;
  char *args[] = {s->exe, "check", s->against, NULL};
  s->exit_status = sim_run(s, args, 0, SIM_CHECK_TIMEOUT_S);
}

static void sim_check_done(uv_work_t *w, int status) {
  sim_service *s = w->data;
  http_request *req = s->pending;
  int route = s->pending_route;
  (void)status;
  s->checking = 0;
  s->pending = NULL;
  if (s->stopping || s->svc->draining) {
    api_error(s->svc, req, route, 503, "shutting_down", NULL,
              "the service is shutting down");
  } else if (s->exit_status == 0) {
    sim_start(s, req, route);
  } else if (s->exit_status == -ETIMEDOUT) {
    api_error(s->svc, req, route, 422, "invalid", "against",
              "the candidate's check took too long and was stopped");
  } else if (s->exit_status < 0 || s->exit_status >= 128) {
    api_error(s->svc, req, route, 503, "unavailable", "against",
              "the candidate could not be checked now; try again");
  } else {
    json_t *errors = sim_problems(s->said, s->against);
    json_t *first = json_array_get(errors, 0);
    char msg[1400];
    const char *file = json_string_value(json_object_get(first, "file"));
    snprintf(msg, sizeof msg,
             "%s does not load (%zu problem%s), first: %s%s%.0d%s%s",
             s->against_name, json_array_size(errors),
             json_array_size(errors) == 1 ? "" : "s", file ? file : "",
             file && *file ? ":" : "",
             (int)json_integer_value(json_object_get(first, "line")),
             file && *file ? ": " : "",
             json_string_value(json_object_get(first, "message")));
    api_reply(s->svc, req, route, 422,
              json_pack("{s:{s:s, s:s, s:s, s:o}}", "error", "code", "invalid",
                        "message", msg, "field", "against", "errors", errors),
              NULL);
  }
  if (!s->stopping) service_kick(s->svc);
}

void api_simulate(service *svc, http_request *req, int route, const char *arg,
                  const principal *who) {
  sim_service *s = svc->sim;
  json_t *body = NULL, *against;
  sim_params p;
  rc_error err;
  int rc;
  (void)arg;
  rc_error_clear(&err);
  if (sim_unavailable(svc, req, route)) return;
  if (svc->draining || s->stopping) {
    api_error(svc, req, route, 503, "shutting_down", NULL,
              "the service is shutting down");
    return;
  }
  if (req->body_len > 0) {
    switch (input_json_load(req->body, req->body_len, 1, &body, &err)) {
      case INPUT_JSON_SYNTAX:
        api_error(svc, req, route, 400, "bad_json", err.field, err.message);
        return;
      case INPUT_JSON_REFUSED:
        api_error(svc, req, route, 422, "invalid", err.field, err.message);
        return;
    }
  } else {
    body = json_object();
  }
  /* The body first: a bad one is 422 whether or not one runs (p holds
   * this one's fields, not the running one's). */
  if (sim_body(s, body, &p, &err) != RC_OK) {
    json_decref(body);
    api_error(svc, req, route, 422, "invalid", err.field[0] ? err.field : NULL,
              err.message);
    return;
  }
  if (s->running || s->checking) {
    char msg[300];
    if (s->running)
      snprintf(msg, sizeof msg,
               "what-if %lld is running (started by %s at %s); one runs at a "
               "time",
               (long long)json_integer_value(json_object_get(s->running, "id")),
               json_string_value(json_object_get(s->running, "by")),
               json_string_value(json_object_get(s->running, "at")));
    else
      snprintf(msg, sizeof msg,
               "a what-if by %s is starting (its candidate %s is being "
               "checked); one runs at a time",
               s->by, s->against_name);
    json_decref(body);
    api_error(svc, req, route, 409, "conflict", NULL, msg);
    return;
  }
  s->days = p.days;
  s->runs = p.runs;
  s->seed = p.seed;
  rc_copy(s->against, sizeof s->against, p.against);
  against = json_object_get(body, "against");
  rc_copy(s->against_name, sizeof s->against_name,
          json_is_string(against) ? json_string_value(against) : "");
  rc_copy(s->by, sizeof s->by, who->user[0] ? who->user : "token");
  json_decref(body);
  if (!s->against[0]) {
    sim_start(s, req, route);
    return;
  }
  s->tmp[0] = '\0';
  s->work.data = s;
  if ((rc = uv_queue_work(svc->loop, &s->work, sim_check_work,
                          sim_check_done)) != 0) {
    api_error(svc, req, route, 503, "unavailable", NULL, uv_strerror(rc));
    return;
  }
  s->checking = 1;
  s->pending = req;
  s->pending_route = route;
}
