/* The outbox: messages leave only from here, after the transaction that
 * wrote them has committed. Each is handed to its channel's driver (file,
 * exec, webhook) on the libuv loop, with a stable idempotency key; failed
 * attempts are retried with exponential backoff up to the channel's limit. */
#ifndef RECOUP_OUTBOX_H
#define RECOUP_OUTBOX_H

#include <uv.h>

#include "recoup/engine.h"

typedef struct outbox outbox;

typedef struct outbox_stats {
  int64_t sent, retried, failed, in_flight;
  double pump_ms; /* the loop's time in outbox_pump, summed */
  /* due but not sent: deferred to the contact hours, blocked since it
   * was queued, or held by a guard that could not read */
  int64_t held;
} outbox_stats;

/* loop is borrowed and must outlive the outbox. */
int outbox_open(outbox **out, engine *eng, uv_loop_t *loop, rc_error *err);
/* Stops delivering; attempts in flight are abandoned (they are retried by
 * the next run, under the same idempotency key). Needs the loop to run
 * once more to release its handles. */
void outbox_close(outbox *ob);
/* Starts every delivery due now, up to the in-flight limit. */
int outbox_pump(outbox *ob, rc_error *err);
/* The same, starting at most `most` (a pump that must be short). */
int outbox_pump_most(outbox *ob, int most, rc_error *err);
/* While held, a pump that started deliveries is not followed by another
 * on the loop's next turn: the caller pumps when it can spare the time
 * (the service, while writes wait for the loop). */
void outbox_hold(outbox *ob, int held);
/* apart 1: a pump's file messages are synced to their files on libuv's
 * thread pool, and their sends recorded on the loop once that is done;
 * the pump no longer waits for the disk (the service, whose writes wait
 * for the loop). One such batch at a time, so lines keep their order. */
void outbox_files_apart(outbox *ob, int apart);
/* 1 while such a batch syncs: a service that stops waits for it, so that
 * what it wrote is recorded as sent, not sent again at the next start. */
int outbox_files_syncing(const outbox *ob);
/* Batch mode: pump and run the loop until nothing due now is left. */
int outbox_drain(outbox *ob, rc_error *err);
const outbox_stats *outbox_get_stats(const outbox *ob);
/* The backoff before attempt n+1 (n >= 1): 30 s doubling to at most 1 h. */
int64_t outbox_backoff_ms(int attempts);

#endif
