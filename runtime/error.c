#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "recoup/recoup.h"

void rc_error_clear(rc_error *err) {
  memset(err, 0, sizeof *err);
}

int rc_error_set(rc_error *err, int code, const char *field, const char *fmt,
                 ...) {
  va_list ap;
  if (!err) return code;
  err->code = code;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}

void rc_error_print(const rc_error *err, FILE *stream) {
  if (err->file[0] && err->line > 0)
    fprintf(stream, "recoup: %s:%d: %s\n", err->file, err->line, err->message);
  else if (err->file[0])
    fprintf(stream, "recoup: %s: %s\n", err->file, err->message);
  else
    fprintf(stream, "recoup: %s\n", err->message);
}

const char *rc_strerror(int code) {
  switch (code) {
    case RC_OK:
      return "ok";
    case RC_EINVAL:
      return "invalid";
    case RC_ENOTFOUND:
      return "not_found";
    case RC_ECONFLICT:
      return "conflict";
    case RC_ESTORE:
      return "store";
    case RC_ESCRIPT:
      return "script";
    case RC_ENOMEM:
      return "no_memory";
    case RC_EIO:
      return "io";
    case RC_EINTERNAL:
      return "internal";
  }
  return "error";
}

void rc_errlist_add(rc_errlist *list, const rc_error *err) {
  if (list->count == list->cap) {
    int cap = list->cap ? list->cap * 2 : 8;
    rc_error *items = realloc(list->items, (size_t)cap * sizeof *items);
    if (!items) return; /* dropping a report beats crashing the checker */
    list->items = items;
    list->cap = cap;
  }
  list->items[list->count++] = *err;
}

void rc_errlist_free(rc_errlist *list) {
  free(list->items);
  list->items = NULL;
  list->count = list->cap = 0;
}
