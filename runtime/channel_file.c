/* The file driver: one JSON line per message, appended and fsync'd before
 * the message counts as sent. A crash between the two writes it again under
 * the same idempotency key, which is how readers of the file dedupe. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"

/* As many files as a script may declare channels, and the outbox has
 * fewer messages in flight than a batch holds (outbox.c asserts it): a
 * pump's batch is never full, so "file batch full" below cannot count
 * as a failed attempt. */
enum {
  BATCH_FILES = CHANNEL_MAX,
  BATCH_MESSAGES = CHANNEL_FILE_BATCH_MESSAGES
};

struct channel_file_batch {
  struct {
    /* Owned: under `recoup serve` the batch is finished on another
     * thread (outbox.c), which may outlive the scripts it came from. */
    char *path;
    int fd;
    int failed; /* errno of the first failure, or 0 */
  } files[BATCH_FILES];
  int nfiles;
  delivery *items[BATCH_MESSAGES];
  int file_of[BATCH_MESSAGES];
  int nitems;
};

channel_file_batch *channel_file_batch_new(void) {
  return calloc(1, sizeof(channel_file_batch));
}

static int open_file(channel_file_batch *b, const char *path) {
  int fd;
  for (int i = 0; i < b->nfiles; i++)
    if (strcmp(b->files[i].path, path) == 0) return i;
  if (b->nfiles == BATCH_FILES) return -1;
  if (!(b->files[b->nfiles].path = strdup(path))) return -1;
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    /* a failure here shows as the file's own open error below */
    rc_mkdir_parent(path, "path", NULL);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  }
  b->files[b->nfiles].fd = fd;
  b->files[b->nfiles].failed = fd < 0 ? errno : 0;
  return b->nfiles++;
}

void channel_file_batch_add(channel_file_batch *b, delivery *d) {
  size_t len = strlen(d->payload);
  int f;
  if (b->nitems == BATCH_MESSAGES || (f = open_file(b, d->ch->path)) < 0) {
    /* Full: this one waits for the next pump. */
    d->done(d, 0, 0, "file batch full");
    return;
  }
  if (!b->files[f].failed) {
    /* One write of the whole line: O_APPEND keeps concurrent writers'
     * lines whole. */
    d->payload[len] = '\n';
    if (write(b->files[f].fd, d->payload, len + 1) != (ssize_t)(len + 1))
      b->files[f].failed = errno ? errno : EIO;
    d->payload[len] = '\0';
  }
  b->items[b->nitems] = d;
  b->file_of[b->nitems++] = f;
}

void channel_file_batch_finish(channel_file_batch *b) {
  if (!b) return;
  for (int i = 0; i < b->nfiles; i++) {
    if (b->files[i].fd >= 0) {
      if (!b->files[i].failed && fsync(b->files[i].fd) != 0)
        b->files[i].failed = errno;
      close(b->files[i].fd);
    }
  }
  for (int i = 0; i < b->nitems; i++) {
    delivery *d = b->items[i];
    int failed = b->files[b->file_of[i]].failed;
    if (failed) {
      char reason[300];
      snprintf(reason, sizeof reason, "cannot write %s: %s",
               b->files[b->file_of[i]].path, strerror(failed));
      d->done(d, 0, 0, reason);
    } else {
      d->done(d, 1, 0, NULL);
    }
  }
  for (int i = 0; i < b->nfiles; i++) free(b->files[i].path);
  free(b);
}
