/* Directories made on the way to a file the service writes (the database,
 * the outbox files, backups): mode 0700, since what lands in them names
 * borrowers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recoup/recoup.h"

/* mkdir -p; made[size], when given, gets the first directory of the
 * unbroken run of ones made that ends at dir ("" when dir was there).
 * One found there after one made ("x/../y" with y there, "x/.", or one
 * made meanwhile by someone else) starts the run again: rc_rmdir_parent_made
 * walks up dir's text to made and takes every folder on the way, so
 * none of those may be one it did not make. */
static int mkdirs(const char *dir, const char *field, char *made, size_t size,
                  rc_error *err) {
  char buf[4096];
  if (made && size) made[0] = '\0';
  if (strlen(dir) >= sizeof buf)
    return rc_error_set(err, RC_EINVAL, field, "path too long: %s", dir);
  rc_copy(buf, sizeof buf, dir);
  for (char *p = buf + 1;; p++) {
    /* "x//y", "x/": the empty name is no folder ("x/" is x again). */
    if (p[-1] == '/' && (*p == '/' || *p == '\0')) {
      if (!*p) break;
      continue;
    }
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      /* Only the last one's failure is said: an ancestor that exists may
       * still refuse mkdir (EACCES, EROFS), and one that truly failed
       * makes the last fail too. */
      if (mkdir(buf, 0700) == 0) {
        if (made && size && !made[0]) rc_copy(made, size, buf);
      } else if (errno != EEXIST && !c) {
        return rc_error_set(err, RC_EIO, field, "cannot create %s: %s", buf,
                            strerror(errno));
      } else if (made && size) {
        made[0] = '\0';
      }
      *p = c;
      if (!c) break;
    }
  }
  return RC_OK;
}

int rc_mkdirs(const char *dir, const char *field, rc_error *err) {
  return mkdirs(dir, field, NULL, 0, err);
}

int rc_mkdir_parent_made(const char *path, const char *field, char *made,
                         size_t size, rc_error *err) {
  char dir[4096];
  char *slash;
  if (made && size) made[0] = '\0';
  if (strlen(path) >= sizeof dir)
    return rc_error_set(err, RC_EINVAL, field, "path too long: %s", path);
  rc_copy(dir, sizeof dir, path);
  if (!(slash = strrchr(dir, '/')) || slash == dir) return RC_OK;
  *slash = '\0';
  return mkdirs(dir, field, made, size, err);
}

int rc_mkdir_parent(const char *path, const char *field, rc_error *err) {
  return rc_mkdir_parent_made(path, field, NULL, 0, err);
}

void rc_rmdir_parent_made(const char *path, const char *made) {
  char dir[4096];
  size_t n = made ? strlen(made) : 0;
  char *slash;
  if (!n || strlen(path) >= sizeof dir) return;
  rc_copy(dir, sizeof dir, path);
  /* Upwards from path's directory to made and no further; rmdir takes
   * only an empty one, so what anyone put there since stays. */
  while ((slash = strrchr(dir, '/')) && slash != dir) {
    while (slash > dir + 1 && slash[-1] == '/') slash--;
    *slash = '\0';
    if (strlen(dir) < n || strncmp(dir, made, n) != 0 ||
        (dir[n] != '\0' && dir[n] != '/') || rmdir(dir) != 0)
      return;
    if (dir[n] == '\0') return;
  }
}
