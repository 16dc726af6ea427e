/* The outbox pump. Rows written by handlers become deliveries here, never
 * before their transaction committed. The idempotency key is the
 * database's instance name and the message id: the same on every retry,
 * different across databases. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "lua_json.h"
#include "recoup/outbox.h"

enum { MAX_IN_FLIGHT = 256 };
_Static_assert((int)MAX_IN_FLIGHT <= (int)CHANNEL_FILE_BATCH_MESSAGES,
               "a pump's file messages fit one file batch");

/* A pump's file messages whose fsync runs on libuv's thread pool
 * (outbox_files_apart): the driver's answers are noted in `got` on that
 * thread and recorded on the loop's once it is done. */
typedef struct file_job {
  uv_work_t work;
  struct outbox *ob; /* NULL once the outbox closed: the job frees itself */
  channel_file_batch *files;
  struct {
    delivery *d;
    int ok, permanent;
    char reason[320];
  } got[MAX_IN_FLIGHT];
  int ngot, added;
} file_job;

struct outbox {
  engine *eng;
  uv_loop_t *loop; /* borrowed */
  uv_idle_t again; /* pumps again while a pump finds work and room */
  int again_active;
  int held;            /* outbox_hold: no pumping again of its own */
  int files_apart;     /* outbox_files_apart */
  file_job *file_job;  /* the file batch being synced apart, if any */
  channel_webhook *wh; /* owned, made on first webhook message */
  char instance[32];
  outbox_stats stats;
  delivery *flying[MAX_IN_FLIGHT]; /* owned */
  int nflying;
  int failed_store; /* a result could not be recorded: stop pumping */
  rc_error store_err;
  /* What the last pump held: its first and last message and how many. A
   * pump that held others than the one before it took them out of the
   * due ones (cancelled, blocked, put off to their window): more may
   * wait behind them (more). */
  int64_t held_first, held_last;
  int held_n, more;
};

int64_t outbox_backoff_ms(int attempts) {
  int64_t ms = 30000;
  for (int i = 1; i < attempts && ms < 3600000; i++) ms *= 2;
  return ms < 3600000 ? ms : 3600000;
}

int outbox_open(outbox **out, engine *eng, uv_loop_t *loop, rc_error *err) {
  outbox *ob = calloc(1, sizeof *ob);
  int rc;
  *out = NULL;
  if (!ob) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  /* A gateway command that exits before reading its stdin must be a failed
   * attempt (EPIPE), not the death of recoup by SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  ob->eng = eng;
  ob->loop = loop;
  if (engine_instance_id(eng, ob->instance, sizeof ob->instance, err) !=
      RC_OK) {
    free(ob);
    return err->code;
  }
  /* The last step that can fail, so that a failure has no handle to
   * close; from here on the outbox is freed by outbox_close. */
  if ((rc = uv_idle_init(loop, &ob->again)) != 0) {
    free(ob);
    return rc_error_set(err, RC_EIO, NULL, "outbox: %s", uv_strerror(rc));
  }
  ob->again.data = ob;
  *out = ob;
  return RC_OK;
}

static void free_delivery(delivery *d) {
  free(d->case_id);
  free(d->payload);
  free(d);
}

static void free_outbox(uv_handle_t *h) {
  free(h->data);
}

/* The answer of an exec command still running when its outbox closed:
 * the outbox, its engine and clock are gone (a service stopping), so it
 * is dropped and the message stays as the store has it, sent again by
 * the next run, as one a service stopped in any other way. */
static void done_closed(delivery *d, int ok, int permanent,
                        const char *reason) {
  (void)ok;
  (void)permanent;
  (void)reason;
  free_delivery(d);
}

void outbox_close(outbox *ob) {
  if (!ob) return;
  channel_webhook_close(ob->wh);
  /* A file batch still syncing uses its deliveries: it frees them. */
  if (ob->file_job) ob->file_job->ob = NULL;
  for (int i = 0; i < ob->nflying; i++) {
    delivery *d = ob->flying[i];
    if (ob->file_job && d->owner == ob->file_job) continue;
    /* An exec command's job holds its delivery until the command's
     * handles close, which the loop does after this (freed here, it was
     * read after free, then the outbox's clock: a service stopped while
     * a gateway command ran crashed). */
    if (d->ch && d->ch->driver == CHANNEL_EXEC) {
      d->done = done_closed;
      d->owner = NULL;
      d->ch = NULL;
    } else {
      free_delivery(d);
    }
  }
  ob->nflying = 0;
  /* Freed when libuv lets the idle handle go. */
  uv_close((uv_handle_t *)&ob->again, free_outbox);
}

/* While pumps find messages (and there is room), pump again on the next
 * turn of the loop: a backlog drains at the loop's pace, not one pump a
 * second, and requests are still answered in between. */
static void on_again(uv_idle_t *h) {
  outbox *ob = h->data;
  rc_error err;
  int started = ob->held ? 0 : outbox_pump(ob, &err);
  /* Held, its pumps are the service's to ask for: `more` is the last
   * pump's, and would turn the loop without end. */
  if (ob->held || (started <= 0 && !ob->more) ||
      ob->nflying >= MAX_IN_FLIGHT) {
    (void)uv_idle_stop(h); /* cannot fail (libuv's documentation) */
    ob->again_active = 0;
  }
}

static void pump_soon(outbox *ob) {
  if (ob->again_active) return;
  /* Fails only on a closing handle: the pump timer still comes by. */
  if (uv_idle_start(&ob->again, on_again) == 0) ob->again_active = 1;
}

void outbox_hold(outbox *ob, int held) {
  ob->held = held;
}

void outbox_files_apart(outbox *ob, int apart) {
  ob->files_apart = apart;
}

int outbox_files_syncing(const outbox *ob) {
  return ob->file_job != NULL;
}

const outbox_stats *outbox_get_stats(const outbox *ob) {
  return &ob->stats;
}

static int flying(const outbox *ob, int64_t id) {
  for (int i = 0; i < ob->nflying; i++)
    if (ob->flying[i]->id == id) return 1;
  return 0;
}

static void land(outbox *ob, delivery *d) {
  for (int i = 0; i < ob->nflying; i++)
    if (ob->flying[i] == d) {
      ob->flying[i] = ob->flying[--ob->nflying];
      break;
    }
  ob->stats.in_flight = ob->nflying;
}

static void on_done(delivery *d, int ok, int permanent, const char *reason) {
  outbox *ob = d->owner;
  rc_clock *clk = engine_clock(ob->eng);
  const channel_config *ch = d->ch;
  int final = ok || permanent || !ch || d->attempts > ch->retries;
  rc_time next = clock_now(clk) + outbox_backoff_ms(d->attempts);
  rc_error err;
  if (ok)
    ob->stats.sent++;
  else if (final)
    ob->stats.failed++;
  else
    ob->stats.retried++;
  if (engine_delivery(ob->eng, d->id, d->case_id, ok, final, d->attempts, next,
                      reason, &err) != RC_OK) {
    ob->failed_store = 1;
    ob->store_err = err;
  }
  land(ob, d);
  free_delivery(d);
}

static void done_later(delivery *d, int ok, int permanent, const char *reason) {
  outbox *ob = d->owner;
  on_done(d, ok, permanent, reason);
  pump_soon(ob); /* room again: there may be more waiting */
}

/* The file driver's answer, on whichever thread finishes the batch:
 * noted only (nothing here touches the engine). */
static void done_noted(delivery *d, int ok, int permanent, const char *reason) {
  file_job *job = d->owner;
  if (job->ngot == MAX_IN_FLIGHT) return; /* cannot be: one a delivery */
  job->got[job->ngot].d = d;
  job->got[job->ngot].ok = ok;
  job->got[job->ngot].permanent = permanent;
  snprintf(job->got[job->ngot].reason, sizeof job->got[0].reason, "%s",
           reason ? reason : "");
  job->ngot++;
}

static void file_work(uv_work_t *w) {
  file_job *job = w->data;
  channel_file_batch_finish(job->files);
  job->files = NULL;
}

/* Back on the loop: the sends are recorded in one transaction that waits
 * for no disk (as a pump's own: the files were synced first). */
static void file_after(uv_work_t *w, int status) {
  file_job *job = w->data;
  outbox *ob = job->ob;
  rc_error txn_err;
  int batched;
  uint64_t began = uv_hrtime();
  if (status != 0 && job->files) file_work(w); /* cancelled: not run */
  if (!ob) {
    for (int i = 0; i < job->ngot; i++) free_delivery(job->got[i].d);
    free(job);
    return;
  }
  ob->file_job = NULL;
  batched = !engine_in_transaction(ob->eng) &&
            engine_begin_unsynced(ob->eng, &txn_err) == RC_OK;
  for (int i = 0; i < job->ngot; i++) {
    delivery *d = job->got[i].d;
    d->owner = ob;
    d->done = done_later;
    on_done(d, job->got[i].ok, job->got[i].permanent,
            job->got[i].ok ? NULL : job->got[i].reason);
  }
  free(job);
  if (batched && engine_commit(ob->eng, &txn_err) != RC_OK) {
    ob->failed_store = 1;
    ob->store_err = txn_err;
  }
  /* The loop's time for the outbox, as a pump's own record was. */
  ob->stats.pump_ms += (double)(uv_hrtime() - began) / 1e6;
  pump_soon(ob); /* room again: there may be more waiting */
}

/* A pump's file batch, synced apart when it can be (else here). */
static void file_job_start(outbox *ob, file_job *job) {
  if (!job) return;
  job->work.data = job;
  if (job->added > 0 &&
      uv_queue_work(ob->loop, &job->work, file_work, file_after) == 0) {
    ob->file_job = job;
    return;
  }
  file_work(&job->work);
  ob->file_job = job; /* file_after clears it */
  file_after(&job->work, 0);
}

static char *payload(const outbox *ob, const store_outgoing *m,
                     const char *key) {
  char at[40];
  json_t *j;
  char *text;
  clock_zone_format(clock_zone(engine_clock(ob->eng)), m->at, at, sizeof at);
  j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s}", "id",
                (json_int_t)m->id, "idempotency_key", key, "case", m->case_id,
                "borrower", m->borrower_id, "channel", m->channel, "template",
                m->template_name, "to", m->recipient, "body", m->body,
                "created_at", at);
  text = ljson_dump(j);
  json_decref(j);
  if (text) {
    /* Room for the newline the file driver appends. */
    char *grown = realloc(text, strlen(text) + 2);
    if (grown) text = grown;
  }
  return text;
}

static int pump(outbox *ob, int most, rc_error *err) {
  store_outgoing *due;
  channel_file_batch *files;
  rc_error txn_err, check_err = {0};
  int n, started = 0, room = MAX_IN_FLIGHT - ob->nflying, batched;
  int checked = 0; /* a check failed: check_err says why */
  int held = 0;
  int64_t first_held = 0, last_held = 0;
  file_job *job = NULL;
  if (most < room) room = most;
  ob->more = 0;
  if (ob->failed_store) {
    *err = ob->store_err;
    return err->code;
  }
  if (room <= 0) return 0;
  if (query_outbox_due(engine_query(ob->eng), clock_now(engine_clock(ob->eng)),
                       room + ob->nflying, &due, &n, err) != RC_OK)
    return err->code;
  /* A message leaves only once the commit that wrote it is durable: a
   * sweep's batches are left unsynced, and a power cut that took one
   * back after its message went would have it sent again. */
  if (n == 0 || engine_sync(ob->eng, err) != RC_OK) {
    store_outgoing_free(due, n);
    return n == 0 ? 0 : err->code;
  }
  /* The answers that come at once (files, unknown channels) are recorded
   * in one transaction; slower gateways answer later, each in its own.
   * Its commit need not wait for the disk: the file the messages went to
   * is synced before it, and a power cut that took the record back has
   * them sent again with the same idempotency keys, as a crash between
   * the send and the record would. The next barrier makes it durable. */
  files = channel_file_batch_new();
  if (ob->files_apart && files && !ob->file_job &&
      (job = calloc(1, sizeof *job)) != NULL) {
    job->ob = ob;
    job->files = files;
  }
  batched = !engine_in_transaction(ob->eng) &&
            engine_begin_unsynced(ob->eng, &txn_err) == RC_OK;
  for (int i = 0; i < n && ob->nflying < MAX_IN_FLIGHT && started < room; i++) {
    delivery *d;
    const channel_config *ch =
        script_channel(engine_script(ob->eng), due[i].channel);
    if (flying(ob, due[i].id)) continue;
    /* A file batch still syncing apart: these wait for the next pump,
     * behind it in their file. */
    if (ob->file_job && ch && ch->driver == CHANNEL_FILE) continue;
    /* Allowed when queued is not allowed now: a stopped service, a
     * gateway's retries or a long backlog can bring it out at night,
     * after a cease, or after its case moved on. Held either way; a check
     * that could not be recorded (or a case gone) holds it too, and the
     * pump, once it has gone through the others, answers the store's
     * error, which its caller says (the service's log, `recoup tick`'s
     * stderr): the next pump asks again. */
    {
      int go = 0;
      rc_error why;
      if (engine_outbox_check(ob->eng, &due[i], &go, &why) != RC_OK) {
        check_err = why;
        checked = 1;
      }
      if (!go) {
        ob->stats.held++;
        if (!held++) first_held = due[i].id;
        last_held = due[i].id;
        continue;
      }
    }
    d = calloc(1, sizeof *d);
    if (!d) break;
    d->id = due[i].id;
    d->case_id = strdup(due[i].case_id);
    d->attempts = due[i].attempts + 1;
    d->ch = ch;
    d->done = done_later;
    d->owner = ob;
    snprintf(d->key, sizeof d->key, "%s-%lld", ob->instance, (long long)d->id);
    d->payload = payload(ob, &due[i], d->key);
    ob->flying[ob->nflying++] = d;
    ob->stats.in_flight = ob->nflying;
    started++;
    if (!d->ch) {
      char reason[96];
      snprintf(reason, sizeof reason, "no channel \"%s\" in recoup.lua",
               due[i].channel);
      on_done(d, 0, 1, reason);
    } else if (!d->payload) {
      on_done(d, 0, 0, "out of memory");
    } else if (d->ch->driver == CHANNEL_FILE) {
      if (job) {
        d->owner = job;
        d->done = done_noted;
        job->added++;
      }
      if (files)
        channel_file_batch_add(files, d);
      else
        on_done(d, 0, 0, "out of memory");
    } else if (d->ch->driver == CHANNEL_EXEC) {
      channel_exec_send(ob->loop, d);
    } else {
      if (!ob->wh) ob->wh = channel_webhook_open(ob->loop);
      if (ob->wh)
        channel_webhook_send(ob->wh, d);
      else
        on_done(d, 0, 0, "cannot start the HTTP client");
    }
  }
  store_outgoing_free(due, n);
  if (job && job->added == 0) {
    free(job);
    job = NULL;
  }
  if (!job) channel_file_batch_finish(files);
  /* A batch all held (a rehearsal's cancelled reminders before a day's
   * letters) started nothing, and the pump stopped there: `tick
   * --deliver` sent none of what waited behind it, the service one batch
   * a second. The same ones held again (a case gone, a check that cannot
   * be recorded) are no progress: the next pump is the timer's. */
  ob->more = held > 0 && (first_held != ob->held_first ||
                          last_held != ob->held_last || held != ob->held_n);
  ob->held_first = first_held;
  ob->held_last = last_held;
  ob->held_n = held;
  if (started > 0 || ob->more) pump_soon(ob);
  if (batched && engine_commit(ob->eng, &txn_err) != RC_OK) {
    ob->failed_store = 1;
    ob->store_err = txn_err;
  }
  /* After the pump's own transaction: a batch finished at once records
   * its sends in one of its own. */
  file_job_start(ob, job);
  if (ob->failed_store) {
    *err = ob->store_err;
    return err->code;
  }
  if (checked) {
    *err = check_err;
    return err->code;
  }
  return started;
}

int outbox_pump_most(outbox *ob, int most, rc_error *err) {
  uint64_t began = uv_hrtime();
  int started = pump(ob, most, err);
  ob->stats.pump_ms += (double)(uv_hrtime() - began) / 1e6;
  return started;
}

int outbox_pump(outbox *ob, rc_error *err) {
  return outbox_pump_most(ob, MAX_IN_FLIGHT, err);
}

int outbox_drain(outbox *ob, rc_error *err) {
  for (;;) {
    int started = outbox_pump(ob, err);
    /* What left before the failure lands first (recorded, or sent again
     * with its key by the next run if the store is gone). */
    if (started < 0) {
      while (ob->nflying > 0 && uv_run(ob->loop, UV_RUN_ONCE)) continue;
      return started;
    }
    if (started == 0 && ob->nflying == 0 && !ob->more) return RC_OK;
    if (ob->nflying > 0) uv_run(ob->loop, UV_RUN_ONCE);
  }
}
