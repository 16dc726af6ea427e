/* What the outbox hands a channel driver, and how the driver answers. */
#ifndef RECOUP_CHANNEL_H
#define RECOUP_CHANNEL_H

#include <uv.h>

#include "recoup/script.h"

typedef struct delivery delivery;
/* ok: the gateway took it. permanent: a failure no retry will fix. */
typedef void (*delivery_done)(delivery *d, int ok, int permanent,
                              const char *reason);

struct delivery {
  int64_t id;
  char *case_id;             /* owned */
  char *payload;             /* owned: the message as JSON */
  char key[64];              /* idempotency key */
  int attempts;              /* including this one */
  const channel_config *ch;  /* borrowed from the script */
  delivery_done done;
  void *owner;               /* the outbox */
};

/* File channels, a batch at a time: each message is appended as it comes,
 * and the batch ends with one fsync per file, then every answer. One
 * fsync for a pump's worth of messages instead of one each. */
typedef struct file_batch file_batch;
file_batch *file_batch_new(void);
void file_batch_add(file_batch *b, delivery *d);
void file_batch_finish(file_batch *b); /* answers and frees */
/* Runs the command with the message on stdin; answers from the loop. */
void channel_exec_send(uv_loop_t *loop, delivery *d);

typedef struct webhook webhook;
webhook *webhook_open(uv_loop_t *loop);
void webhook_close(webhook *w);
/* POSTs the message with an Idempotency-Key header; answers from the loop. */
void webhook_send(webhook *w, delivery *d);

#endif
