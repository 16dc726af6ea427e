/* The file driver: one JSON line per message, appended and fsync'd before
 * the message counts as sent. A crash between the two sends it again under
 * the same idempotency key, which is how readers of the file dedupe. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"

/* Creates the directories above path (mkdir -p of its parent). */
static void make_parent(const char *path) {
  char dir[4096];
  char *slash;
  snprintf(dir, sizeof dir, "%s", path);
  if (!(slash = strrchr(dir, '/')) || slash == dir) return;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(dir, 0700);
    *p = '/';
  }
  mkdir(dir, 0700);
}

void channel_file_send(delivery *d) {
  char reason[300];
  size_t len = strlen(d->payload);
  int fd = open(d->ch->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    make_parent(d->ch->path);
    fd = open(d->ch->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    snprintf(reason, sizeof reason, "cannot open %s: %s", d->ch->path,
             strerror(errno));
    d->done(d, 0, 0, reason);
    return;
  }
  /* One write of the whole line: O_APPEND keeps concurrent writers' lines
   * whole. */
  d->payload[len] = '\n';
  if (write(fd, d->payload, len + 1) != (ssize_t)(len + 1) || fsync(fd) != 0) {
    snprintf(reason, sizeof reason, "cannot write %s: %s", d->ch->path,
             strerror(errno));
    d->payload[len] = '\0';
    close(fd);
    d->done(d, 0, 0, reason);
    return;
  }
  d->payload[len] = '\0';
  close(fd);
  d->done(d, 1, 0, NULL);
}
