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
typedef struct channel_file_batch channel_file_batch;
enum { CHANNEL_FILE_BATCH_MESSAGES = 512 };
channel_file_batch *channel_file_batch_new(void);
void channel_file_batch_add(channel_file_batch *b, delivery *d);
void channel_file_batch_finish(channel_file_batch *b); /* answers and frees */
/* Runs the command with the message on stdin; answers from the loop. */
void channel_exec_send(uv_loop_t *loop, delivery *d);

typedef struct channel_webhook channel_webhook;
channel_webhook *channel_webhook_open(uv_loop_t *loop);
void channel_webhook_close(channel_webhook *w);
/* POSTs the message with an Idempotency-Key header; answers from the loop. */
void channel_webhook_send(channel_webhook *w, delivery *d);

#endif
