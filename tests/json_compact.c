/* Reads JSON on stdin and writes it as the service encodes its answers
 * (jansson, compact, keys in the order read): a test compares an answer
 * sent as stored bytes with what encoding it would have given. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

int main(void) {
  json_error_t e;
  json_t *v = json_loadf(stdin, 0, &e);
  char *text;
  if (!v) {
    fprintf(stderr, "json_compact: line %d: %s\n", e.line, e.text);
    return 1;
  }
  text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!text) return 1;
  fputs(text, stdout);
  free(text);
  json_decref(v);
  return 0;
}
