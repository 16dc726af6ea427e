/* `recoup serve`: one libuv loop for everything. Writes from HTTP wait in a
 * queue and are applied together — one transaction, one fsync, then every
 * answer (group commit). Due timers and queued events run in slices so the
 * loop keeps answering while a big sweep runs: a thousand steps when no
 * write came lately, ended early by a request that comes, and while
 * writes come, what took about 2 ms at the last slices' pace (at most
 * 250), ended by a request once 2 ms went by; the outbox delivers after
 * each slice,
 * and while writes come, in a turn of its own at most every 100 ms.
 * The WAL is copied back into the database on the store's own thread,
 * never inside a commit of the loop's, and file channels' fsyncs on
 * libuv's thread pool. SIGTERM drains and exits 0;
 * SIGHUP reloads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "mask.h"
#include "serve.h"
#include "service.h"
#include "slowdown.h"
#include "store/where.h"

/* A request waits for the slice running when it came: with a thousand
 * steps, 35 ms at p50 and 85 ms at p99 during a million-case sweep, and
 * 400 payments/s over 16 connections; with 250 when requests wait, 12 ms,
 * 26 ms and 1,100/s, while the sweep keeps about 70% of its pace
 * (measured; 100 would give 6 ms and 2,300/s, and the sweep about half). */
enum { SLICE = 1000, BUSY_SLICE = 250, WAKE_MAX_MS = 60000 };
/* A step's time is not fixed: a loaded machine, a slow disk or a
 * handler's work make 250 steps take 20 ms or 400. So while writes come
 * (one waits, or one came in the last RECENT_MS) a slice is bounded by
 * time too: as many steps as took about BUSY_MS at the pace of the last
 * slices (its commit included), at least BUSY_MIN. On this 2-core machine
 * at a load of 15, 200k cases: p99 during the sweep 675 -> 205 ms at 16
 * connections, 1,073 -> 319 at 64; with the WAL copied back apart too,
 * 116 and 146 ms, and payments/s 109 -> 505 and 390 -> 1,006. */
enum { BUSY_MIN = 8, BUSY_MS = 6, RECENT_MS = 1000 };
/* A slice's commit no longer waits for the disk (store_begin_unsynced),
 * so its BUSY_MS were all CPU, which a payment waits for on a loaded
 * machine: while writes come a slice takes about SLICE_BUSY_MS. */
enum { SLICE_BUSY_MS = 2 };
static double ms_a_step, last_write_ms;
/* The outbox's delivery after a slice is a query, a file's fsync and a
 * commit of the deliveries (19 ms at p99 during a 200k-case sweep, once
 * 182), and it ran after every slice, and again at the next turn of the
 * loop while deliveries started: a write that came in between waited for
 * it. While writes come, it runs at most every PUMP_BUSY_MS, in a turn
 * without a slice, and not again on its own: a write waits for a slice
 * or a delivery, never both. */
enum { PUMP_BUSY_MS = 100 };
static double last_pump_ms;
static int pump_owed; /* a slice ran, or messages wait, since the last */

/* While writes come, a delivery starts as many messages as took about
 * BUSY_MS at the pace of the last ones, at least BUSY_MIN (the rest wait
 * for the next); else as many as the outbox holds in flight. */
static double ms_a_message;

static int pump_most(int writes) {
  double n;
  if (!writes) return INT_MAX;
  if (ms_a_message <= 0) return BUSY_MIN;
  n = BUSY_MS / ms_a_message;
  return n < BUSY_MIN ? BUSY_MIN : n > INT_MAX / 2 ? INT_MAX / 2 : (int)n;
}

/* The writes committed since the loop last found no work left: each may
 * have queued an event (a payment does). A slice while writes come runs
 * at least that many steps, or events come faster than slices handle
 * them when a step is dear (PostgreSQL: a slice of 2 ms is 8-10 steps
 * for a group of 16 payments), and the backlog makes each claim dearer,
 * so steps slower and slices shorter still: 5,500 events waited after
 * 8 s of payments. */
static int64_t steps_owed;

static int64_t slice_steps(int busy) {
  double n;
  if (!busy) return SLICE;
  n = ms_a_step <= 0 ? BUSY_MIN : SLICE_BUSY_MS / ms_a_step;
  if (n < (double)steps_owed) n = (double)steps_owed;
  return n < BUSY_MIN ? BUSY_MIN : n > BUSY_SLICE ? BUSY_SLICE : (int64_t)n;
}

/* The steps a slice while writes come runs whatever its time: the events
 * the last commits queued (as slice_steps), at least BUSY_MIN. */
static int64_t busy_floor(void) {
  return steps_owed < BUSY_MIN     ? BUSY_MIN
         : steps_owed > BUSY_SLICE ? BUSY_SLICE
                                   : steps_owed;
}

/* The pace of a slice that ran `steps` in `ms` (its commit included),
 * averaged over the last few. */
static void slice_paced(int64_t steps, double ms) {
  double pace = ms / (double)steps;
  ms_a_step = ms_a_step <= 0 ? pace : 0.75 * ms_a_step + 0.25 * pace;
}

/* Every string in a log line, however deep, is masked: a message may
 * quote what a client or a script sent. */
static void mask_strings(json_t *v) {
  const char *key;
  json_t *item;
  size_t i;
  if (json_is_string(v)) {
    size_t len = json_string_length(v) * 3 + 1;
    char small[1024], *out = len <= sizeof small ? small : malloc(len);
    if (!out) {
      json_string_set(v, "(not logged: out of memory)");
      return;
    }
    mask_contacts(json_string_value(v), out, len);
    json_string_set(v, out);
    if (out != small) free(out);
  } else if (json_is_object(v)) {
    json_object_foreach(v, key, item) mask_strings(item);
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, item) mask_strings(item);
  }
}

/* service.log_level: lines below it are not written. */
static int log_threshold = 1;
static const char *const log_levels[] = {"debug", "info", "warn", "error"};

static int level_of(const char *level) {
  for (int i = 0; i < 4; i++)
    if (strcmp(level, log_levels[i]) == 0) return i;
  return 3; /* an unknown level is never dropped */
}

/* RFC 3339 in the machine's zone, with milliseconds and the offset
 * ("2026-12-02T10:01:08.123+08:00"): journald and a reader in the
 * lender's office see the same instant. */
static void log_time(char *buf, size_t size) {
  struct timespec ts;
  struct tm tm;
  char date[32];
  long off;
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  off = tm.tm_gmtoff / 60;
  snprintf(buf, size, "%s.%03ld%c%02ld:%02ld", date, ts.tv_nsec / 1000000,
           off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
           (off < 0 ? -off : off) % 60);
}

void service_log(const char *level, json_t *fields) {
  char when[48];
  char *text;
  if (level_of(level) < log_threshold) {
    json_decref(fields);
    return;
  }
  if (!fields) fields = json_pack("{s:s}", "msg", "(a log line failed)");
  mask_strings(fields);
  log_time(when, sizeof when);
  json_object_set_new(fields, "ts", json_string(when));
  json_object_set_new(fields, "level", json_string(level));
  text = json_dumps(fields,
                    JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
  if (text) {
    fprintf(stderr, "%s\n", text);
    free(text);
  }
  json_decref(fields);
}

void service_mask(const char *in, char *out, size_t size) {
  mask_contacts(in, out, size);
}

/* An error before the service runs (loading, listening), masked too. */
static void print_error(const rc_error *err) {
  rc_error masked = *err;
  mask_contacts(err->message, masked.message, sizeof masked.message);
  rc_error_print(&masked, stderr);
}

static void on_work(uv_idle_t *h);

/* A write whose case another transaction holds (engine_case_busy: on
 * PostgreSQL an import, a psql session, another node's group) would stop
 * the loop, every request and the sweep, if it waited for it: it is left
 * out of its group, nothing written, and waits in svc->held for a later
 * one, first HELD_FIRST_MS later, then twice as long each time it is
 * still held, up to HELD_MAX_MS. The writes after it to the same case
 * wait behind it, so that one case's writes keep their order. It is
 * answered once it ran, or 503 when its case is still held
 * HELD_LIMIT_MS after it came (RECOUP_HELD_LIMIT seconds, for tests). */
enum { HELD_FIRST_MS = 10, HELD_MAX_MS = 1000, HELD_LIMIT_MS = 30000 };

/* RECOUP_HELD_LIMIT: whole seconds, 1 to an hour; otherwise (unset, or
 * not such a number, said in the log) HELD_LIMIT_MS. */
static int held_limit_env(void) {
  const char *v = getenv("RECOUP_HELD_LIMIT");
  char *end;
  long n;
  if (!v || !*v) return HELD_LIMIT_MS;
  errno = 0;
  n = strtol(v, &end, 10);
  if (errno || *end || n < 1 || n > 3600) {
    service_log("warn", json_pack("{s:s, s:i}", "msg",
                                  "RECOUP_HELD_LIMIT is not a number of "
                                  "seconds from 1 to 3600; using the default",
                                  "seconds", HELD_LIMIT_MS / 1000));
    return HELD_LIMIT_MS;
  }
  return (int)n * 1000;
}
static void on_wake(uv_timer_t *t);

/* What the loop's turns cost while it works, so that a slow answer can be
 * traced to what it waited for: a request that comes while a turn runs
 * waits for the rest of it. Turns by how long they took (the bucket's
 * upper bound in ms; the last is everything longer), the longest slice
 * of due work, the longest group commit, the longest delivery of the
 * outbox after a slice, and the longest a write waited in the queue
 * before its commit began (the rest of a turn, and the gaps between
 * turns where the machine ran something else). Logged when the loop goes
 * idle and every minute while it works: at info after a sweep (a slice's
 * worth of steps or more), else at debug (a line a write would bury the
 * log). */
static const int loop_bounds[] = {5, 10, 15, 25, 50, 100};
/* A write answered SLOW_MS or more after it was queued (its wait and its
 * commit) is a slow one: the loop figures say where their time went. */
enum { LOOP_BUCKETS = 7, LOOP_LOG_MS = 60000, SLOW_MS = 15 };
static struct {
  int64_t turns[LOOP_BUCKETS], steps, commits, slow;
  double slice_max, commit_max, pump_max, wait_max, since;
  /* The slow writes' waits and what the loop did while they waited, and
   * their own commits and how long the loop waited for a CPU and off one
   * (the disk) in them (summed over the writes). */
  double slow_wait, slow_commit, slow_commit_cpu_wait, slow_commit_off_cpu;
  loop_spent slow_spent;
} loop_fig;

static double ms_now(void) {
  return (double)uv_hrtime() / 1e6;
}

static loop_spent spent;
/* The loop thread's /proc/thread-self/schedstat (Linux), opened on the
 * loop; -1 elsewhere. Its second number, the ns it waited for a CPU, is
 * up to date whenever the thread reads it (it runs); its first, the ns it
 * ran, lags by up to a scheduler tick, so CLOCK_THREAD_CPUTIME_ID says
 * that. */
static int schedstat_fd = -1;

static loop_spent spent_now(service *svc) {
  loop_spent now = spent;
  char buf[96];
  ssize_t n;
  unsigned long long run, wait;
  struct timespec cpu;
  now.pumps = outbox_get_stats(svc->ob)->pump_ms;
  if (schedstat_fd < 0) return now;
  if ((n = pread(schedstat_fd, buf, sizeof buf - 1, 0)) > 0) {
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu", &run, &wait) == 2)
      now.cpu_wait = (double)wait / 1e6;
  }
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
    now.on_cpu = (double)cpu.tv_sec * 1e3 + (double)cpu.tv_nsec / 1e6;
  return now;
}

/* The writes of the coming commit, as they were queued: what the loop
 * did while each waited is known once the commit has run (kept on the
 * loop's thread only). */
static struct {
  double *queued_ms;
  loop_spent *spent;
  int n, cap;
} marks;

static void mark_writes(service *svc) {
  marks.n = 0;
  for (job *j = svc->queue; j; j = j->next) {
    if (marks.n == marks.cap) {
      int cap = marks.cap ? 2 * marks.cap : 64;
      double *q = realloc(marks.queued_ms, (size_t)cap * sizeof *q);
      loop_spent *sp;
      if (q) marks.queued_ms = q;
      sp = q ? realloc(marks.spent, (size_t)cap * sizeof *sp) : NULL;
      if (!sp) return; /* out of memory: the figures miss these */
      marks.spent = sp;
      marks.cap = cap;
    }
    marks.queued_ms[marks.n] = j->queued_ms;
    marks.spent[marks.n++] = j->spent;
  }
}

/* The marked writes whose wait and commit (began at began_ms, took
 * commit_ms; the loop's sums before and after it) came to SLOW_MS or
 * more: what the loop did meanwhile is added to the figures. */
static void note_slow_writes(double began_ms, double commit_ms,
                             const loop_spent *at_commit,
                             const loop_spent *after) {
  double cpu_wait = after->cpu_wait - at_commit->cpu_wait,
         off_cpu = commit_ms - (after->on_cpu - at_commit->on_cpu) - cpu_wait;
  for (int i = 0; i < marks.n; i++) {
    const loop_spent *was = &marks.spent[i];
    double wait = began_ms - marks.queued_ms[i];
    if (wait + commit_ms < SLOW_MS) continue;
    loop_fig.slow++;
    loop_fig.slow_wait += wait;
    loop_fig.slow_commit += commit_ms;
    loop_fig.slow_commit_cpu_wait += cpu_wait;
    loop_fig.slow_commit_off_cpu += off_cpu;
    loop_fig.slow_spent.slices += at_commit->slices - was->slices;
    loop_fig.slow_spent.pumps += at_commit->pumps - was->pumps;
    loop_fig.slow_spent.commits += at_commit->commits - was->commits;
    loop_fig.slow_spent.on_cpu += at_commit->on_cpu - was->on_cpu;
    loop_fig.slow_spent.cpu_wait += at_commit->cpu_wait - was->cpu_wait;
  }
  marks.n = 0;
}

/* Where the slow writes' time went: their waits split by what the loop
 * did (slices, the outbox, other commits, the rest: other requests, and
 * gaps), the same waits split by whether the loop's thread ran, waited
 * for a CPU or for the disk, and their own commits. */
static json_t *slow_writes_json(void) {
  const loop_spent *s = &loop_fig.slow_spent;
  json_t *o = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "count",
                        (json_int_t)loop_fig.slow, "waited_ms",
                        loop_fig.slow_wait, "slices_ms", s->slices, "outbox_ms",
                        s->pumps, "commits_ms", s->commits, "other_ms",
                        loop_fig.slow_wait - s->slices - s->pumps - s->commits,
                        "own_commits_ms", loop_fig.slow_commit);
  if (o && schedstat_fd >= 0) {
    json_object_set_new(o, "loop_waiting_for_cpu_ms", json_real(s->cpu_wait));
    json_object_set_new(
        o, "loop_off_cpu_ms",
        json_real(loop_fig.slow_wait - s->on_cpu - s->cpu_wait));
    json_object_set_new(o, "own_commits_waiting_for_cpu_ms",
                        json_real(loop_fig.slow_commit_cpu_wait));
    json_object_set_new(o, "own_commits_off_cpu_ms",
                        json_real(loop_fig.slow_commit_off_cpu));
  }
  return o;
}

static void loop_fig_log(void) {
  json_t *turns;
  char name[16];
  int level = loop_fig.steps >= SLICE ? 1 : 0; /* info, debug */
  if ((!loop_fig.steps && !loop_fig.commits) || level < log_threshold) {
    memset(&loop_fig, 0, sizeof loop_fig);
    return;
  }
  turns = json_object();
  for (int i = 0; i < LOOP_BUCKETS; i++) {
    if (i < LOOP_BUCKETS - 1)
      snprintf(name, sizeof name, "le_%d", loop_bounds[i]);
    else
      snprintf(name, sizeof name, "over_%d", loop_bounds[i - 1]);
    json_object_set_new(turns, name, json_integer(loop_fig.turns[i]));
  }
  service_log(
      log_levels[level],
      json_pack("{s:s, s:I, s:I, s:o, s:f, s:f, s:f, s:f, s:o}", "msg",
                "loop figures", "steps", (json_int_t)loop_fig.steps, "commits",
                (json_int_t)loop_fig.commits, "turns_ms", turns, "slice_max_ms",
                loop_fig.slice_max, "commit_max_ms", loop_fig.commit_max,
                "pump_max_ms", loop_fig.pump_max, "write_wait_max_ms",
                loop_fig.wait_max, "slow_writes", slow_writes_json()));
  memset(&loop_fig, 0, sizeof loop_fig);
}

static void loop_fig_turn(double ms) {
  int i = 0;
  while (i < LOOP_BUCKETS - 1 && ms > loop_bounds[i]) i++;
  loop_fig.turns[i]++;
}

/* A libuv call that cannot fail on a live handle failed: say so. */
static void log_uv(const char *what, int rc) {
  service_log("error", json_pack("{s:s, s:s, s:s}", "msg", "libuv call failed",
                                 "call", what, "error", uv_strerror(rc)));
}

void service_kick(service *svc) {
  int rc;
  if (!svc->work_active) {
    if ((rc = uv_idle_start(&svc->work, on_work)) != 0) {
      log_uv("uv_idle_start", rc);
      return;
    }
    svc->work_active = 1;
  }
}

void service_enqueue(service *svc, job *j) {
  j->queued_ms = ms_now();
  j->spent = spent_now(svc);
  *svc->queue_tail = j;
  svc->queue_tail = &j->next;
  svc->queued++;
  service_kick(svc);
}

/* Two nodes' groups that write the same cases in different orders wait
 * for each other until the database ends one of them (PostgreSQL: a
 * deadlock, a second later): a group whose jobs all name their case is
 * applied in case order, so that groups take their cases' locks in one
 * order. One case's jobs keep the order they came in. */
typedef struct {
  job *j;
  int at; /* its place in the queue */
} placed_job;

static int by_case(const void *a, const void *b) {
  const placed_job *x = a, *y = b;
  int c = strcmp(x->j->case_key, y->j->case_key);
  return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* The group's jobs as a list in the order they are applied; NULL when
 * memory ran out. */
static job **group_order(job *jobs, int n) {
  job **order = calloc((size_t)n, sizeof *order), *j;
  placed_job *p;
  int i = 0, keyed = 1;
  if (!order) return NULL;
  for (j = jobs; j; j = j->next) {
    order[i++] = j;
    keyed = keyed && j->case_key;
  }
  if (!keyed || n < 2 || !(p = calloc((size_t)n, sizeof *p))) return order;
  for (i = 0; i < n; i++) p[i] = (placed_job){order[i], i};
  qsort(p, (size_t)n, sizeof *p, by_case);
  for (i = 0; i < n; i++) order[i] = p[i].j;
  free(p);
  return order;
}

/* A job's mark in a group: run, refused (answered with its error), or
 * held (not answered; it runs in a later group). */
enum { JOB_RUN, JOB_REFUSED, JOB_HELD };

static int same_case(const job *a, const job *b) {
  return a->case_key && b->case_key && strcmp(a->case_key, b->case_key) == 0;
}

/* Whether the group's i-th job comes after a held write to its case. */
static int waits_behind(const service *svc, job **order, const char *refused,
                        int i, int held) {
  if (!order[i]->case_key) return 0;
  for (const job *h = svc->held; h; h = h->next)
    if (same_case(h, order[i])) return 1;
  for (int k = 0; held && k < i; k++)
    if (refused[k] == JOB_HELD && same_case(order[k], order[i])) return 1;
  return 0;
}

/* Runs the group's jobs in one transaction, but those refused already:
 * RC_OK when it committed. A job refused after it wrote (the store made
 * no savepoint for it: engine_group_replay) ends the transaction there
 * with *replay set and the job marked refused, its error kept: the group
 * runs again without it. */
/* The payments that open the group name their cases and refs before the
 * first job runs: the store reads all they look up in one round trip,
 * not one a payment. Up to the first other write (which may change what
 * they read); a case or ref a payment before it named, or held behind
 * an earlier write, is read by its own job. */
static void pays_ahead(service *svc, job **order, int n,
                       const char *refused) {
  enum { MOST = 64 };
  const char *cases[MOST], *refs[MOST], *seen[MOST];
  int m = 0;
  for (int i = 0; i < n && i < MOST; i++) {
    const char *ref = seen[i] = api_payment_ref(order[i]);
    int named;
    if (!ref) break;
    named = !order[i]->case_key || refused[i] ||
            waits_behind(svc, order, refused, i, 1);
    for (int k = 0; !named && k < i; k++)
      named = same_case(order[k], order[i]) || !strcmp(seen[k], ref);
    if (named) continue;
    cases[m] = order[i]->case_key;
    refs[m++] = ref;
  }
  if (m > 1) engine_pays_ahead(svc->eng, m, cases, refs);
}

static int apply_group(service *svc, job **order, int n, char *refused,
                       json_t **replies, int *statuses, rc_error *errors,
                       int *replay, rc_error *err) {
  int rc = engine_begin(svc->eng, err), held = 0;
  *replay = 0;
  if (rc != RC_OK) return rc;
  pays_ahead(svc, order, n, refused);
  for (int i = 0; i < n; i++) held += refused[i] == JOB_HELD;
  for (int i = 0; i < n; i++) {
    job *j = order[i];
    int r;
    if (refused[i]) continue;
    if (waits_behind(svc, order, refused, i, held)) {
      refused[i] = JOB_HELD;
      held++;
      continue;
    }
    rc_error_clear(&errors[i]);
    engine_set_actor(svc->eng, j->who.user);
    if ((r = engine_group_job_begin(svc->eng, &errors[i])) == RC_OK)
      r = engine_job_end(
          svc->eng, j->apply(svc, j, &replies[i], &statuses[i], &errors[i]),
          &errors[i]);
    engine_set_actor(svc->eng, NULL);
    if (r != RC_OK) {
      json_decref(replies[i]);
      replies[i] = NULL;
      statuses[i] = -1;
      if (!errors[i].code) errors[i].code = r;
      if (engine_group_replay(svc->eng) == ENGINE_REPLAY_GROUP &&
          !engine_contended(svc->eng)) {
        /* An earlier job's write, read only now: the caller runs the
         * group again checked, to find it. */
        engine_rollback(svc->eng);
        return rc_error_set(err, RC_ESTORE, NULL, "group rolled back");
      }
      if (engine_group_replay(svc->eng) || engine_contended(svc->eng)) {
        /* A deadlock's victim runs again as it came (flush). */
        refused[i] = engine_contended(svc->eng) ? JOB_RUN
                     : engine_case_busy(svc->eng) ? JOB_HELD
                                                  : JOB_REFUSED;
        *replay = refused[i] != JOB_RUN;
        engine_rollback(svc->eng);
        return rc_error_set(err, RC_ESTORE, NULL, "group rolled back");
      }
      if (engine_case_busy(svc->eng)) {
        refused[i] = JOB_HELD;
        held++;
      }
    }
  }
  return engine_commit(svc->eng, err);
}

/* Times a group is run again after the database ended it to break a
 * deadlock with another node, before its writers are told to retry. */
enum { GROUP_TRIES = 5 };

static void on_retry(uv_timer_t *t);

static void job_free(job *j) {
  json_decref(j->body);
  free(j->arg);
  free(j);
}

/* A write left out of its group for its held case waits for a later one
 * (nothing of it was written); past the limit it is answered 503. */
static void hold_job(service *svc, job *j, double now) {
  if (now - j->queued_ms >= svc->held_limit_ms) {
    service_log("warn", json_pack("{s:s, s:s?, s:i}", "msg",
                                  "a write gave up waiting for its case, "
                                  "which another writer holds",
                                  "case", j->case_key, "waited_s",
                                  svc->held_limit_ms / 1000));
    api_error(svc, j->req, j->route, 503, "unavailable", "case",
              "another writer (an import, another node) holds this case; "
              "nothing was written; retry");
    job_free(j);
    return;
  }
  j->next = NULL;
  *svc->held_tail = j;
  svc->held_tail = &j->next;
}

/* The held writes go to a later group, in the order they came and before
 * the writes that came since; the wait before the next try grows while
 * some stay held. */
static void arm_retry(service *svc) {
  int rc;
  if (!svc->held) {
    svc->held_wait = HELD_FIRST_MS;
    return;
  }
  if (uv_is_active((uv_handle_t *)&svc->retry)) return;
  if (svc->held_wait == HELD_FIRST_MS) /* once while writes stay held */
    service_log("info",
                json_pack("{s:s, s:s?}", "msg",
                          "writes wait for a case another writer holds "
                          "(an import, another node); the node goes on",
                          "case", svc->held->case_key));
  if ((rc = uv_timer_start(&svc->retry, on_retry, (uint64_t)svc->held_wait,
                           0)) != 0)
    log_uv("uv_timer_start", rc);
  svc->held_wait =
      svc->held_wait * 2 > HELD_MAX_MS ? HELD_MAX_MS : svc->held_wait * 2;
}

static void on_retry(uv_timer_t *t) {
  service *svc = t->data;
  if (!svc->held) return;
  for (job *j = svc->held; j; j = j->next) svc->queued++;
  *svc->held_tail = svc->queue;
  if (!svc->queue) svc->queue_tail = svc->held_tail;
  svc->queue = svc->held;
  svc->held = NULL;
  svc->held_tail = &svc->held;
  service_kick(svc);
}

/* Applies every queued write in one transaction, then answers them all. */
static void flush(service *svc) {
  job *jobs = svc->queue, *j, **order;
  rc_error err;
  int rc, n = 0;
  json_t **replies;
  int *statuses;
  rc_error *errors;
  char *refused;
  double began = ms_now();
  if (!jobs) return;
  svc->queue = NULL;
  svc->queue_tail = &svc->queue;
  for (j = jobs; j; j = j->next) {
    if (began - j->queued_ms > loop_fig.wait_max)
      loop_fig.wait_max = began - j->queued_ms;
    n++;
  }
  svc->queued = 0;
  replies = calloc((size_t)n, sizeof *replies);
  statuses = calloc((size_t)n, sizeof *statuses);
  errors = calloc((size_t)n, sizeof *errors);
  refused = calloc((size_t)n, 1);
  order = group_order(jobs, n);
  if (replies && statuses && errors && refused && order) {
    engine_stats stats = *engine_get_stats(svc->eng);
    /* A replay refuses one more job each time: it ends. */
    for (int tries = 1, replay, checked = 0;;) {
      rc = apply_group(svc, order, n, refused, replies, statuses, errors,
                       &replay, &err);
      /* The database refused a write the node kept for the whole group
       * (a DBA's statement_timeout, a trigger): once, the group runs
       * again with each job's writes read at its end, where the one
       * refused is a replay of its own. */
      if (rc != RC_OK && !replay && !checked && engine_group_replay(svc->eng) &&
          !engine_contended(svc->eng)) {
        checked = replay = 1;
        engine_group_checked(svc->eng, 1);
      }
      /* The answers may rest on a slice left unsynced: a group that wrote
       * has synced it with its own commit, one that wrote nothing (every
       * write refused) syncs it here. */
      if (!replay && rc == RC_OK) rc = engine_sync(svc->eng, &err);
      if (!replay && (rc == RC_OK || !engine_contended(svc->eng) ||
                      tries++ >= GROUP_TRIES))
        break;
      /* Nothing of it was kept: run it again as it came. */
      engine_set_stats(svc->eng, &stats);
      for (int i = 0; i < n; i++) {
        if (refused[i]) continue;
        json_decref(replies[i]);
        replies[i] = NULL;
        statuses[i] = 0;
      }
    }
    engine_group_checked(svc->eng, 0);
    if (rc == RC_OK) {
      svc->commits++;
      svc->jobs_committed += n;
      steps_owed += n;
    }
  } else {
    rc = rc_error_set(&err, RC_ENOMEM, NULL, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    /* Without the order (memory ran out), the queue as it came. */
    j = order ? order[i] : jobs;
    if (!order) jobs = jobs->next;
    if (order && refused[i] == JOB_HELD) {
      hold_job(svc, j, began);
      continue;
    }
    if (rc != RC_OK) {
      /* Nothing of the batch is durable: say so, and keep nothing. */
      api_error(svc, j->req, j->route, 503, "unavailable", NULL,
                "the database refused the write; retry");
      if (replies) json_decref(replies[i]);
    } else if (statuses[i] < 0) {
      api_error(svc, j->req, j->route, api_status_of(errors[i].code),
                api_code_of(errors[i].code), errors[i].field,
                errors[i].message);
    } else {
      api_reply(svc, j->req, j->route, statuses[i], replies[i], NULL);
    }
    job_free(j);
  }
  if (rc != RC_OK) {
    char masked[1024];
    service_mask(err.message, masked, sizeof masked);
    service_log("error", json_pack("{s:s, s:s}", "msg", "commit failed",
                                   "error", masked));
  }
  arm_retry(svc);
  free(order);
  free(refused);
  free(replies);
  free(statuses);
  free(errors);
}

/* A run that fails would fail again at once: its timers are due still
 * (a case whose step the book refuses, and its error too, a trigger on
 * journal_runs, say; a store that cannot be reached), and the loop woke
 * every 8 ms to fail again, a log line each. After a failure the next run
 * waits RETRY_FIRST_MS, doubling to RETRY_MAX_MS, until a run succeeds
 * (not where the run did the others' work and left one case's in the
 * book: see run_failed); a cause is logged when it changes, not at each
 * failure. Requests are answered meanwhile: only the slice waits. */
enum { RETRY_FIRST_MS = 10, RETRY_MAX_MS = 4000 };
static struct {
  double wait_ms;   /* 0: the last run succeeded */
  double at_ms;     /* no run before this time (ms_now) */
  int64_t failures; /* since the last run that succeeded */
  char said[1024];  /* the cause last logged, masked */
} failing;

static void run_failed(service *svc, const rc_error *err) {
  char masked[1024];
  const char *case_id = engine_failed_case(svc->eng);
  json_t *line;
  failing.failures++;
  /* One case's work left in the book, the others' done: the run passed
   * over it and would not fail faster than the writes come. A wait would
   * hold back every write's handlers behind that one case. */
  if (case_id) {
    failing.wait_ms = failing.at_ms = 0;
  } else {
    failing.wait_ms = failing.wait_ms == 0 ? RETRY_FIRST_MS
                      : failing.wait_ms * 2 > RETRY_MAX_MS
                          ? RETRY_MAX_MS
                          : failing.wait_ms * 2;
    failing.at_ms = ms_now() + failing.wait_ms;
  }
  service_mask(err->message, masked, sizeof masked);
  if (strcmp(masked, failing.said) == 0) return;
  snprintf(failing.said, sizeof failing.said, "%s", masked);
  /* What comes next, as it is: a wait only where the run did not get
   * past the failure. */
  if (case_id)
    line = json_pack("{s:s, s:s, s:s, s:s}", "msg", "engine run failed",
                     "error", masked, "case", case_id, "then",
                     "the case's step stays in the book, passed over by each "
                     "run; the other cases go on, no back-off");
  else
    line = json_pack("{s:s, s:s, s:i}", "msg", "engine run failed", "error",
                     masked, "retry_max_ms", (int)RETRY_MAX_MS);
  service_log("error", line);
}

static void run_succeeded(void) {
  if (!failing.failures) return;
  service_log("info", json_pack("{s:s, s:I}", "msg", "engine run succeeded again",
                                "failures", (json_int_t)failing.failures));
  failing.failures = 0;
  failing.wait_ms = failing.at_ms = 0;
  failing.said[0] = '\0';
}

/* How long a run that failed still waits (0: none). */
static double run_retry_in(void) {
  double left = failing.wait_ms ? failing.at_ms - ms_now() : 0;
  return left > 0 ? left : 0;
}

/* A case set aside by a run (its step refused by the book): one line, as
 * the journal and `recoup errors` have it. */
static void on_set_aside(void *ud, const char *case_id, const rc_error *why) {
  char masked[1024];
  (void)ud;
  service_mask(why->message, masked, sizeof masked);
  service_log("warn", json_pack("{s:s, s:s, s:s}", "msg", "case set aside",
                                "case", case_id, "error", masked));
}

/* Arms the wake-up timer for the next due timer (or a minute, to notice
 * a changed clock). */
static void arm_wake(service *svc) {
  rc_time due, now = clock_now(engine_clock(svc->eng));
  int64_t ms = WAKE_MAX_MS;
  rc_error err;
  int rc = engine_next_due(svc->eng, &due, &err);
  if (rc == RC_OK) {
    ms = due - now;
    if (ms < 0) ms = 0;
    /* Due at once yet only waiting (PostgreSQL: this node's own claim on
     * it has not run out): not a busy loop. */
    if (ms > WAKE_MAX_MS || (svc->only_waiting && ms == 0)) ms = WAKE_MAX_MS;
  } else if (rc != RC_ENOTFOUND) {
    /* Not idleness: the due timers are unknown. Look again soon. */
    char masked[1024];
    service_mask(err.message, masked, sizeof masked);
    service_log("error", json_pack("{s:s, s:s}", "msg", "next timer unreadable",
                                   "error", masked));
    ms = 1000;
  }
  /* A run waiting after a failure runs when its wait ends, not before,
   * nor only at the next due timer: writes answered meanwhile have events
   * to handle that no timer announces. */
  if (failing.wait_ms) ms = (int64_t)run_retry_in() + 1;
  if ((rc = uv_timer_start(&svc->wake, on_wake, (uint64_t)ms, 0)) != 0)
    log_uv("uv_timer_start", rc);
}

static void finish_if_drained(service *svc);

/* The store connected to its database server again (the server was
 * restarted, or ended this node's session): one line each time. */
static void log_reconnects(service *svc) {
  int n = engine_reconnects(svc->eng);
  if (n == svc->reconnects) return;
  svc->reconnects = n;
  service_log("warn", json_pack("{s:s, s:i}", "msg",
                                "database connection lost and made again",
                                "reconnects", n));
}

/* What the store found odd in the book and worked around: one line. */
static void log_store_notice(service *svc) {
  const char *notice = engine_store_notice(svc->eng);
  if (notice)
    service_log("warn", json_pack("{s:s, s:s}", "msg",
                                  "the book holds something odd", "detail",
                                  notice));
}

/* What the engine did of another node's reloads since the last look: one
 * line each (a generation followed or refused, work left waiting). */
static void log_reloads(service *svc) {
  const engine_reloads *r = engine_reload_state(svc->eng);
  if (r->failed && r->failed != svc->reload_failed) {
    service_log("error",
                json_pack("{s:s, s:s, s:I, s:s, s:i, s:s}", "msg",
                          "reload refused", "by", "another node", "generation",
                          (json_int_t)r->failed, "file", r->why.file, "line",
                          r->why.line, "error", r->why.message));
  } else if (r->generation != svc->reload_generation) {
    if (svc->reload_generation >= 0) /* else: the first look, at start */
      service_log("info", json_pack("{s:s, s:s, s:I}", "msg", "reloaded", "by",
                                    "another node", "generation",
                                    (json_int_t)r->generation));
    if (r->behind[0])
      service_log(
          "error",
          json_pack("{s:s, s:s, s:I, s:s}", "msg",
                    "scripts behind the book: another node reloaded "
                    "versions this node's directory does not have",
                    "missing", r->behind, "generation",
                    (json_int_t)r->generation, "hint",
                    "copy the scripts the other nodes run here, then reload"));
  }
  if (r->waiting != svc->reload_waiting)
    service_log("warn",
                json_pack("{s:s, s:s, s:I}", "msg",
                          "cases left for a node that has their workflow "
                          "version",
                          "version", r->missing, "waiting",
                          (json_int_t)(r->waiting - svc->reload_waiting)));
  svc->reload_generation = r->generation;
  svc->reload_failed = r->failed;
  svc->reload_waiting = r->waiting;
}

/* Another node's reload reaches this one: one read of the book's
 * generation a second. One that does not read (a row written by hand, a
 * store gone) is logged once, not a second, and once when it reads again;
 * /health says whether the store is there. */
static void follow_reloads(service *svc) {
  rc_error err;
  if (engine_follow(svc->eng, &err) != RC_OK) {
    char masked[1024];
    if (svc->generation_unread) return;
    svc->generation_unread = 1;
    service_mask(err.message, masked, sizeof masked);
    service_log("error",
                json_pack("{s:s, s:s}", "msg", "reload generation unreadable",
                          "error", masked));
    return;
  }
  if (svc->generation_unread) {
    svc->generation_unread = 0;
    service_log("info",
                json_pack("{s:s}", "msg", "reload generation readable again"));
  }
  if (engine_reload_state(svc->eng)->generation != svc->reload_generation)
    service_kick(svc); /* cases waiting for a version may run now */
  log_reloads(svc);
}

/* The outbox delivers what is due (after slices: what they queued). */
static void pump_outbox(service *svc, int writes) {
  rc_error err;
  double t0 = ms_now(), took;
  int most = pump_most(writes), started = outbox_pump_most(svc->ob, most, &err);
  if (started < 0)
    service_log("error",
                json_pack("{s:s, s:s}", "msg", "outbox", "error", err.message));
  took = ms_now() - t0;
  if (started > 0) {
    double pace = took / started;
    ms_a_message = ms_a_message <= 0 ? pace : 0.75 * ms_a_message + 0.25 * pace;
  }
  if (took > loop_fig.pump_max) loop_fig.pump_max = took;
  last_pump_ms = t0 + took;
  pump_owed = started >= most; /* it stopped short of what is due */
}

/* A request that came during a slice of a thousand steps, begun while no
 * write came, waited for all of it: 60-170 ms during a million-case
 * sweep, the first request of each of 16 connections. The engine asks
 * between steps (engine_set_yield), and once the slice ran what it would
 * have run had writes been coming (slice_steps), it ends as soon as the
 * loop has something to read: its steps are committed, the loop answers,
 * and the next slice goes on. While writes come a slice is that small
 * already, and ends early only when it overran its time (below).
 * Whether a request waits is one poll of the TCP sockets (the listener
 * and each connection) at most every LOOK_MS: a clock read a step, a
 * syscall every few. Not of the loop's backend (epoll): a file's fsync
 * done on the thread pool makes it ready too, and cut slices that no
 * request waited for (callgrind, a 3,000-step sweep without a request:
 * the engine's instructions +14%, main's again without it);
 * and a connection accepted in the last turn is not in it yet (libuv
 * adds it at its next wait, after this turn's slice), where its first
 * request is the one that waited. Such a connection is read a turn after
 * it is accepted: the turn after a slice so ended runs no slice, or the
 * request waited for two. Sockets past the first LOOK_FDS are not
 * looked at: their requests wait for the slice, as all did before.
 * A request read with the one before it (pipelined) is in no socket:
 * the HTTP server says that one waits, once the answer before it went.
 * A slice while writes come is sized to take SLICE_BUSY_MS at the last
 * slices' pace, but it runs 10-25 ms when the loop loses its CPU on a
 * busy machine (session 17), and the writes that came meanwhile wait for
 * all of it. So it too ends for a request, once it ran its steps owed
 * (at least BUSY_MIN: the sweep goes on) and SLICE_BUSY_MS of the wall
 * clock: a slice that keeps its pace runs whole, as before. */
enum { LOOK_MS = 1, LOOK_FDS = 256 };
static struct {
  int64_t floor;   /* steps a slice runs before it may end (INT64_MAX: all) */
  double until_ms; /* nor before this time (ms_now) */
  int ended;       /* the last slice ended for what the loop had to read */
  double looked_ms;
  struct pollfd fds[LOOK_FDS];
  int n;
} cut;

static void look_at(uv_handle_t *h, void *ud) {
  uv_os_fd_t fd;
  (void)ud;
  if (h->type != UV_TCP || uv_is_closing(h) || cut.n == LOOK_FDS) return;
  if (uv_fileno(h, &fd) == 0)
    cut.fds[cut.n++] = (struct pollfd){.fd = fd, .events = POLLIN};
}

static int on_step(void *ud, int64_t steps) {
  service *svc = ud;
  double now;
  if (steps < cut.floor) return 0;
  now = ms_now();
  if (now < cut.until_ms) return 0;
  if (http_server_read_ahead(svc->http) > 0) return cut.ended = 1;
  if (now - cut.looked_ms < LOOK_MS) return 0;
  cut.looked_ms = now;
  cut.n = 0;
  uv_walk(svc->loop, look_at, NULL);
  return cut.ended = poll(cut.fds, (nfds_t)cut.n, 0) > 0;
}

/* A slice of due timers and events (an error is logged). */
static void run_slice(service *svc, double t1, int writes, int64_t *steps,
                      int *more) {
  rc_error err;
  int64_t waiting = engine_reload_state(svc->eng)->waiting;
  double t2;
  cut.floor = writes ? busy_floor() : slice_steps(1);
  cut.until_ms = writes ? t1 + SLICE_BUSY_MS : 0;
  cut.looked_ms = t1;
  cut.ended = 0;
  if (engine_run_some(svc->eng, clock_now(engine_clock(svc->eng)),
                      slice_steps(writes), steps, more, &err) != RC_OK) {
    run_failed(svc, &err);
    *more = 0; /* tried again at the next wake, run_retry_in from now */
  } else if (!*more) {
    /* A slice that ended before its due work (its size, a request) may
     * not have come to what failed. */
    run_succeeded();
  }
  t2 = ms_now();
  steps_owed = *more && *steps < steps_owed ? steps_owed - *steps : 0;
  svc->only_waiting =
      *steps > 0 && *steps == engine_reload_state(svc->eng)->waiting - waiting;
  log_reloads(svc);
  spent.slices += t2 - t1;
  if (!*steps) return;
  slice_paced(*steps, t2 - t1);
  loop_fig.steps += *steps;
  if (t2 - t1 > loop_fig.slice_max) loop_fig.slice_max = t2 - t1;
  pump_owed = 1;
}

static void on_work(uv_idle_t *h) {
  service *svc = h->data;
  int64_t steps = 0;
  int more = 0, busy = svc->queue != NULL, writes;
  double t0 = ms_now(), t1;
  loop_spent at_commit = {0}, after;
  if (!loop_fig.since) loop_fig.since = t0;
  if (busy) {
    last_write_ms = t0;
    at_commit = spent_now(svc);
    mark_writes(svc);
  }
  flush(svc);
  t1 = ms_now();
  if (busy) {
    loop_fig.commits++;
    if (t1 - t0 > loop_fig.commit_max) loop_fig.commit_max = t1 - t0;
    spent.commits += t1 - t0;
    after = spent_now(svc);
    note_slow_writes(t0, t1 - t0, &at_commit, &after);
  }
  writes = busy || t0 - last_write_ms < RECENT_MS;
  /* Draining, the outbox pumps no more of its own: a file batch it
   * synced would start the next on its loop turn, and a stop would
   * wait for the whole backlog (on_term). */
  outbox_hold(svc->ob, writes || svc->draining);
  if (writes && pump_owed && t1 - last_pump_ms >= PUMP_BUSY_MS) {
    pump_outbox(svc, writes);
    more = 1; /* the slice's turn is the next */
  } else if (cut.ended && !busy) {
    cut.ended = 0;
    more = 1; /* the loop reads first what ended the last slice */
  } else if (run_retry_in() > 0) {
    /* A run failed: the next waits (arm_wake); writes are answered. */
  } else {
    run_slice(svc, t1, writes, &steps, &more);
    if (pump_owed && !writes) pump_outbox(svc, writes);
  }
  log_reconnects(svc);
  log_store_notice(svc);
  if (busy || steps) loop_fig_turn(ms_now() - t0);
  if ((!more && !svc->queue) || ms_now() - loop_fig.since > LOOP_LOG_MS)
    loop_fig_log();
  if (!more && !svc->queue) {
    if (pump_owed) pump_outbox(svc, 0);
    outbox_hold(svc->ob, svc->draining);
    (void)uv_idle_stop(&svc->work); /* cannot fail */
    svc->work_active = 0;
    arm_wake(svc);
    finish_if_drained(svc);
  }
}

static void on_wake(uv_timer_t *t) {
  service_kick(t->data);
}

static void on_pump(uv_timer_t *t) {
  service *svc = t->data;
  follow_reloads(svc);
  /* Draining: no new deliveries; a file batch that was syncing when the
   * rest was done has been recorded by now, or is looked at again. */
  if (svc->draining) {
    finish_if_drained(svc);
    return;
  }
  if (svc->work_active)
    pump_owed = 1; /* in a turn of its own, not before waiting writes */
  else
    pump_outbox(svc, 0);
}

static void finish_if_drained(service *svc) {
  if (!svc->draining || svc->work_active || svc->queue || svc->held ||
      http_server_in_flight(svc->http) > 0 || outbox_files_syncing(svc->ob))
    return;
  service_log("info", json_pack("{s:s}", "msg", "drained; stopping"));
  /* The loop's last turn starts no delivery it would leave unrecorded. */
  outbox_hold(svc->ob, 1);
  uv_stop(svc->loop);
}

static void on_term(uv_signal_t *s, int signum) {
  service *svc = s->data;
  if (svc->draining) return;
  svc->draining = 1;
  /* The deliveries started go on, and are recorded; no more start of
   * the outbox's own (each synced file batch started the next: a stop
   * waited for the whole backlog to be written). */
  outbox_hold(svc->ob, 1);
  /* A file batch syncing apart ends on the thread pool, which tells the
   * loop nothing: looked at every 10 ms while draining, not every second
   * (a stop took 1.0 s where it took 0.23). */
  uv_timer_start(&svc->pump, on_pump, 10, 10);
  service_log("info", json_pack("{s:s, s:i}", "msg",
                                "stopping: no new connections, draining",
                                "signal", signum));
  http_server_stop_accepting(svc->http);
  loop_fig_log(); /* what the loop did until now; a big sweep drains long */
  service_kick(svc);
}

static void log_check_warnings(engine *eng, int hold);
static json_t *unloaded_versions(engine *eng);

int service_reload(service *svc, const char *by, json_t **result) {
  rc_errlist errors = {0};
  int migrated = 0, rc;
  flush(svc); /* writes queued so far run on the scripts they came under */
  rc = engine_reload(svc->eng, &errors, &migrated);
  if (rc != RC_OK) {
    json_t *list = json_array();
    for (int i = 0; i < errors.count; i++)
      json_array_append_new(
          list,
          json_pack("{s:s, s:i, s:s}", "file", errors.items[i].file, "line",
                    errors.items[i].line, "message", errors.items[i].message));
    *result = json_pack("{s:{s:s, s:s, s:n, s:o}}", "error", "code", "invalid",
                        "message",
                        "the new scripts do not load; the running ones stay",
                        "field", "errors", list);
    service_log("error", json_pack("{s:s, s:i, s:s}", "msg", "reload refused",
                                   "problems", errors.count, "by", by));
    rc_errlist_free(&errors);
    return rc;
  }
  log_check_warnings(svc->eng, 0); /* a reload holds nothing: a start does */
  *result = json_pack("{s:s, s:i}", "status", "reloaded", "migrated", migrated);
  {
    const rc_errlist *w = engine_check_warnings(svc->eng);
    json_t *list = w->count ? json_array() : NULL;
    for (int i = 0; i < w->count; i++)
      json_array_append_new(
          list, json_pack("{s:s, s:i, s:s, s:i}", "file", w->items[i].file,
                          "line", w->items[i].line, "message",
                          w->items[i].message, "check_generation",
                          w->items[i].since));
    json_t *unloaded = unloaded_versions(svc->eng);
    if (unloaded && !list) list = json_array();
    if (unloaded) json_array_append_new(list, unloaded);
    if (list) json_object_set_new(*result, "warnings", list);
  }
  svc->reload_generation = engine_reload_state(svc->eng)->generation;
  service_log("info", json_pack("{s:s, s:i, s:s, s:I}", "msg", "reloaded",
                                "migrated", migrated, "by", by, "generation",
                                (json_int_t)svc->reload_generation));
  service_kick(svc);
  return RC_OK;
}

static void on_hup(uv_signal_t *s, int signum) {
  json_t *result = NULL;
  (void)signum;
  service_reload(s->data, "SIGHUP", &result);
  json_decref(result);
}

static void read_tokens(service *svc) {
  static const char *const roles[4] = {"ingest", "agent", "read", "admin"};
  const institution_config *cfg = script_config(engine_script(svc->eng));
  for (int i = 0; i < 4; i++) {
    const char *v = cfg->token_env[i][0] ? getenv(cfg->token_env[i]) : NULL;
    snprintf(svc->tokens[i], sizeof svc->tokens[i], "%s", v ? v : "");
    if (!v || !*v)
      service_log(
          "warn",
          json_pack(
              "{s:s, s:s, s:s}", "msg", "role disabled: its token is not set",
              "role", roles[i], "variable",
              cfg->token_env[i][0] ? cfg->token_env[i] : "(none in tokens{})"));
  }
}

/* The service's own handles, initialised and started in order; on a
 * failure the ones initialised so far are closed by close_handles. */
static int start_handles(service *svc, uv_loop_t *loop) {
  static const int signals[3] = {SIGTERM, SIGINT, SIGHUP};
  uv_signal_t *sig[3] = {&svc->sigterm, &svc->sigint, &svc->sighup};
  int rc;
  if ((rc = uv_idle_init(loop, &svc->work)) != 0) goto fail;
  svc->handles |= 1;
  if ((rc = uv_timer_init(loop, &svc->wake)) != 0) goto fail;
  svc->handles |= 2;
  if ((rc = uv_timer_init(loop, &svc->pump)) != 0) goto fail;
  svc->handles |= 4;
  if ((rc = uv_timer_init(loop, &svc->retry)) != 0) goto fail;
  svc->handles |= 64;
  svc->work.data = svc->wake.data = svc->pump.data = svc->retry.data = svc;
  for (int i = 0; i < 3; i++) {
    if ((rc = uv_signal_init(loop, sig[i])) != 0) goto fail;
    svc->handles |= 8 << i;
    sig[i]->data = svc;
    if ((rc = uv_signal_start(sig[i], signals[i] == SIGHUP ? on_hup : on_term,
                              signals[i])) != 0)
      goto fail;
  }
  if ((rc = uv_timer_start(&svc->pump, on_pump, 1000, 1000)) != 0) goto fail;
  return 0;
fail:
  log_uv("starting the service's handles", rc);
  return rc;
}

static void close_handles(service *svc) {
  uv_handle_t *h[7] = {
      (uv_handle_t *)&svc->work,   (uv_handle_t *)&svc->wake,
      (uv_handle_t *)&svc->pump,   (uv_handle_t *)&svc->sigterm,
      (uv_handle_t *)&svc->sigint, (uv_handle_t *)&svc->sighup,
      (uv_handle_t *)&svc->retry};
  for (int i = 0; i < 7; i++)
    if (svc->handles & (1 << i)) uv_close(h[i], NULL);
  svc->handles = 0;
}

static void close_stray(uv_handle_t *h, void *arg) {
  (void)arg;
  service_log("error", json_pack("{s:s, s:s}", "msg",
                                 "a handle was left open at exit; closing it",
                                 "type", uv_handle_type_name(h->type)));
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Runs the loop until every closed handle is let go, then closes it. */
static void finish_loop(uv_loop_t *loop) {
  int rc;
  uv_run(loop, UV_RUN_DEFAULT);
  if ((rc = uv_loop_close(loop)) == UV_EBUSY) {
    uv_walk(loop, close_stray, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(loop);
  }
  if (rc != 0) log_uv("uv_loop_close", rc);
}

/* A check newer than the book found something in the scripts: the
 * service starts all the same (an upgrade must not stop it), says which
 * check and where, and when it will refuse. Scripts that pass every
 * check hold the book to today's generation. */
static void log_check_warnings(engine *eng, int hold) {
  const rc_errlist *w = engine_check_warnings(eng);
  rc_error err;
  int book = 1, raised = 0;
  rc_error_clear(&err);
  if (w->count == 0) {
    if (!hold) return;
    if (engine_checks_hold(eng, &raised, &err) != RC_OK)
      service_log("error", json_pack("{s:s, s:s}", "msg",
                                     "could not record the book's checks "
                                     "generation",
                                     "error", err.message));
    else if (raised)
      service_log(
          "info",
          json_pack("{s:s, s:i, s:i}", "msg",
                    "the scripts pass every check: the book is held "
                    "to today's checks generation",
                    "from", raised, "generation", RECOUP_CHECKS_GENERATION));
    return;
  }
  engine_checks_generation(eng, &book, &err);
  for (int i = 0; i < w->count; i++) {
    const rc_error *e = &w->items[i];
    char file[sizeof e->file], problem[sizeof e->message];
    rc_printable(file, sizeof file, e->file);
    rc_printable(problem, sizeof problem, e->message);
    service_log(
        "warn",
        json_pack("{s:s, s:s, s:i, s:s, s:i, s:i, s:s}", "msg",
                  "a script check newer than the book found a problem; "
                  "starting all the same",
                  "file", file, "line", e->line, "problem", problem,
                  "check_generation", e->since, "book_generation", book, "hint",
                  "fix the script: the next start that finds the scripts "
                  "clean holds the book to today's checks generation, and "
                  "from then on this refuses to start"));
  }
}

/* Open cases on a workflow version the loaded scripts do not hold wait
 * unworked (a version bumped and its file dropped): said once at start
 * and at each reload, as tick and check say it, with the warning a
 * reload answers (NULL when there are none). */
static json_t *unloaded_versions(engine *eng) {
  /* Room for the whole advice after the longest list (it lost its end,
   * "load it beside the new on", past some 12 versions). */
  char versions[400], msg[sizeof versions + 400];
  int64_t cases = 0;
  rc_error err;
  rc_error_clear(&err);
  if (engine_unloaded_versions(eng, &cases, versions, sizeof versions, &err) !=
      RC_OK) {
    service_log("error", json_pack("{s:s, s:s}", "msg",
                                   "could not count open cases by workflow "
                                   "version",
                                   "error", err.message));
    return NULL;
  }
  if (cases == 0) return NULL;
  snprintf(msg, sizeof msg,
           "%lld open case%s run%s a workflow version these scripts do not "
           "load: %s. Nothing runs for %s (no timer fires, no event is "
           "handled) until it is loaded: keep that version's file and load "
           "it beside the new one, with a migrate in the new version to "
           "move %s on (docs/lua.md, \"Changing a workflow\")",
           (long long)cases, cases == 1 ? "" : "s", cases == 1 ? "s" : "",
           versions, cases == 1 ? "it" : "them", cases == 1 ? "it" : "them");
  service_log("warn", json_pack("{s:s, s:I, s:s}", "msg", msg, "cases",
                                (json_int_t)cases, "versions", versions));
  return json_pack("{s:s, s:I, s:s}", "message", msg, "cases",
                   (json_int_t)cases, "versions", versions);
}

int serve_main(const char *dir, const char *db, const char *listen,
               int real_time) {
  service svc;
  uv_loop_t loop;
  engine_options opts = {.dir = dir, .db = db};
  rc_errlist errors = {0};
  rc_error err;
  http_limits limits;
  const institution_config *cfg;
  int rc = 1, urc, lock = -1;
  const char *db_path;

  memset(&svc, 0, sizeof svc);
  rc_error_clear(&err); /* rc_error_set leaves file and line as they were */
  if (engine_open(&svc.eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++) print_error(&errors.items[i]);
    rc_errlist_free(&errors);
    return 1;
  }
  log_check_warnings(svc.eng, 1);
  json_decref(unloaded_versions(svc.eng));
  /* A rehearsal's messages must not reach real borrowers by a slip. */
  if (engine_clock_real(svc.eng, real_time, &err) != RC_OK) {
    service_log(
        "error",
        json_pack("{s:s, s:s, s:s}", "msg", err.message, "db", err.file, "hint",
                  real_time ? "go on rehearsing with recoup tick --now"
                            : "go on rehearsing with recoup tick "
                              "--now, or start the service with "
                              "--real-time to put this database on "
                              "the real clock for good (it then "
                              "delivers its messages)"));
    engine_close(svc.eng);
    return 1;
  }
  /* The WAL copied back on the store's thread, or each copy would be a
   * pause every request waits out (engine_copy_apart). */
  if (engine_copy_apart(svc.eng, &err) != RC_OK) {
    print_error(&err);
    engine_close(svc.eng);
    return 1;
  }
  cfg = script_config(engine_script(svc.eng));
  log_threshold = cfg->log_level;
  /* One service a database file; the lock tells `recoup backup` and
   * `recoup restore` that this one holds it (backup.h). */
  db_path = db ? db : cfg->db;
  if (store_where(db_path) == STORE_FILE &&
      backup_lock_hold(db_path, &lock, &err) != RC_OK) {
    print_error(&err);
    engine_close(svc.eng);
    return 1;
  }
  if ((urc = uv_loop_init(&loop)) != 0) {
    log_uv("uv_loop_init", urc);
    engine_close(svc.eng);
    return 1;
  }
  svc.loop = &loop;
  engine_set_yield(svc.eng, on_step, &svc);
  engine_on_set_aside(svc.eng, on_set_aside, NULL);
  svc.queue_tail = &svc.queue;
  svc.held_tail = &svc.held;
  svc.held_wait = HELD_FIRST_MS;
  svc.held_limit_ms = held_limit_env();
  /* 4,096 names and addresses (about 150 KB): a month of an office's
   * mistyped passwords; an attacker's flood pushes out only entries with
   * fewer failures than the ones under attack (slowdown.c). */
  if (!(svc.slow = slowdown_new(4096))) {
    service_log("error", json_pack("{s:s}", "msg", "out of memory"));
    goto close;
  }
  if (outbox_open(&svc.ob, svc.eng, &loop, &err) != RC_OK) {
    print_error(&err);
    goto close;
  }
  /* A file channel's fsync kept the loop 20 ms or more under load, and
   * every request that came meanwhile waited for it: it runs apart. */
  outbox_files_apart(svc.ob, 1);
  limits.body_limit = cfg->body_limit;
  limits.header_limit = 16384;
  limits.url_limit = 8192;
  limits.max_connections = cfg->max_connections;
  limits.max_per_address = cfg->max_per_address;
  limits.idle_timeout_ms = cfg->idle_timeout_ms;
  limits.header_timeout_ms = cfg->header_timeout_ms;
  limits.request_timeout_ms = cfg->request_timeout_ms;
  /* The contract tests check every answer against docs/openapi.json. */
  limits.trace_path = getenv("RECOUP_HTTP_TRACE");
  if (http_server_start(&svc.http, &loop, listen ? listen : cfg->listen,
                        &limits, api_handle, &svc, &err) != RC_OK) {
    print_error(&err);
    goto close;
  }
  read_tokens(&svc);
  if (start_handles(&svc, &loop) != 0) goto close;
  {
    char where[200], shown[PATH_MAX];
    const char *host = listen ? listen : cfg->listen;
    snprintf(where, sizeof where, "%.*s:%d", (int)(strrchr(host, ':') - host),
             host, http_server_port(svc.http));
    /* A PostgreSQL URL may carry its password: logs never do. */
    store_where_shown(db_path, shown, sizeof shown);
    service_log("info",
                json_pack("{s:s, s:s, s:s, s:s}", "msg", "listening", "address",
                          where, "institution", cfg->name, "db", shown));
    if (lock >= 0) {
      if (backup_service_start(&svc, db_path, cfg->backup_to,
                               cfg->backup_every_ms, cfg->backup_keep,
                               &svc.backup, &err) != RC_OK ||
          backup_lock_announce(lock, where, backup_service_dir(svc.backup),
                               &err) != RC_OK) {
        print_error(&err);
        goto close;
      }
    }
    sim_service_start(&svc, db_path, &err);
    /* Tests and scripts read the port from this line on stdout. */
    printf("listening on http://%s\n", where);
    fflush(stdout);
  }
  schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  svc.reload_generation = -1; /* the first look takes the book's as loaded */
  follow_reloads(&svc);
  service_kick(&svc); /* overdue timers fire on start, in order */
  if ((urc = uv_run(&loop, UV_RUN_DEFAULT)) < 0)
    log_uv("uv_run", urc);
  else
    rc = 0;

close:
  /* Drained (or failed to start): close everything, then let libuv
   * release the handles, then the loop. */
  http_server_close(svc.http);
  outbox_close(svc.ob);
  close_handles(&svc);
  backup_service_stop(svc.backup);
  sim_service_stop(svc.sim);
  finish_loop(&loop);
  backup_service_free(svc.backup);
  sim_service_free(svc.sim);
  slowdown_free(svc.slow);
  engine_close(svc.eng);
  if (lock >= 0) close(lock);
  if (schedstat_fd >= 0) close(schedstat_fd);
  schedstat_fd = -1;
  free(marks.queued_ms);
  free(marks.spent);
  memset(&marks, 0, sizeof marks);
  service_log("info", json_pack("{s:s}", "msg", "stopped"));
  return rc;
}
