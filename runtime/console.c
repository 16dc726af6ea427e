/* Serves the console's embedded files. Paths are looked up verbatim in the
 * generated table, never decoded or joined to a directory: "/assets/../x"
 * and "%2e%2e" are simply names that are not in it, so there is nothing to
 * traverse. */
#include <stdio.h>
#include <string.h>

#include "console.h"

/* The contract's policy: no inline script or style anywhere, so an escape
 * slip in a page fails loudly instead of running. */
#define CONSOLE_CSP                                                      \
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src "    \
  "'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; " \
  "form-action 'self'; frame-ancestors 'none'"

/* nosniff, X-Frame-Options and Referrer-Policy come with every answer
 * from the transport (http.c); the policy is the console's own. */
#define CONSOLE_HEADERS "Content-Security-Policy: " CONSOLE_CSP "\r\n"

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The page and its files; every other path stays the API's, so an unknown
 * one still answers the API's JSON 404 (clients and the contract read it). */
int console_owns(const char *path) {
  if (!path) return 0;
  return strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0 ||
         starts_with(path, "/assets/");
}

static const console_asset *find(const char *name) {
  for (size_t i = 0; i < console_asset_count; i++)
    if (strcmp(console_assets[i].path, name) == 0) return &console_assets[i];
  return NULL;
}

/* If-None-Match holds "*" or a comma-separated list of entity tags, weak
 * ones prefixed W/ (RFC 9110 13.1.2: the comparison is weak). */
static int etag_matches(const char *header, const char *etag) {
  size_t n = strlen(etag);
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '*') return 1;
    if (p[0] == 'W' && p[1] == '/') p += 2;
    if (strncmp(p, etag, n) == 0 &&
        (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
      return 1;
    while (*p && *p != ',') p++;
  }
  return 0;
}

static void plain(console_answer *out, int status, const char *text,
                  const char *more_headers) {
  out->status = status;
  out->type = "text/plain; charset=utf-8";
  out->body = (const unsigned char *)text;
  out->len = strlen(text);
  snprintf(out->headers, sizeof out->headers, CONSOLE_HEADERS "%s",
           more_headers ? more_headers : "");
}

void console_answer_for(const char *method, const char *path,
                        const char *if_none_match, console_answer *out) {
  const console_asset *a = NULL;
  int head = strcmp(method, "HEAD") == 0;
  if (!head && strcmp(method, "GET") != 0) {
    plain(out, 405, "method not allowed\n", "Allow: GET, HEAD\r\n");
    return;
  }
  /* The page is one document; its routes live after '#', so only "/"
   * (and its usual name) is the page: any other path is a missing file,
   * answered plainly rather than with the page. */
  if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
    a = find("index.html");
  } else if (starts_with(path, "/assets/")) {
    a = find(path + strlen("/assets/"));
  }
  if (!a) {
    plain(out, 404, "not found\n", NULL);
    return;
  }
  out->type = a->type;
  /* Asked again each time, answered cheaply by the ETag: index.html names
   * the assets without a version, so a cached module could outlive the
   * binary that served it. */
  snprintf(out->headers, sizeof out->headers,
           CONSOLE_HEADERS "ETag: %s\r\nCache-Control: no-cache\r\n", a->etag);
  if (if_none_match && etag_matches(if_none_match, a->etag)) {
    out->status = 304;
    out->body = NULL;
    out->len = 0;
    return;
  }
  /* A HEAD gets the GET's length; the transport leaves the body out. */
  out->status = 200;
  out->body = a->bytes;
  out->len = a->len;
}

void console_handle(http_request *req) {
  console_answer a;
  console_answer_for(req->method, req->path, req->if_none_match, &a);
  http_respond(req, a.status, a.type, (const char *)a.body, a.len, a.headers);
}
