/* Directories made on the way to a file the service writes (the database,
 * the outbox files, backups): mode 0700, since what lands in them names
 * borrowers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "recoup/recoup.h"

int rc_mkdirs(const char *dir, const char *field, rc_error *err) {
  char buf[4096];
  if (strlen(dir) >= sizeof buf)
    return rc_error_set(err, RC_EINVAL, field, "path too long: %s", dir);
  rc_copy(buf, sizeof buf, dir);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      /* Only the last one's failure is said: an ancestor that exists may
       * still refuse mkdir (EACCES, EROFS), and one that truly failed
       * makes the last fail too. */
      if (mkdir(buf, 0700) != 0 && errno != EEXIST && !c)
        return rc_error_set(err, RC_EIO, field, "cannot create %s: %s", buf,
                            strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  return RC_OK;
}

int rc_mkdir_parent(const char *path, const char *field, rc_error *err) {
  char dir[4096];
  char *slash;
  if (strlen(path) >= sizeof dir)
    return rc_error_set(err, RC_EINVAL, field, "path too long: %s", path);
  rc_copy(dir, sizeof dir, path);
  if (!(slash = strrchr(dir, '/')) || slash == dir) return RC_OK;
  *slash = '\0';
  return rc_mkdirs(dir, field, err);
}
