/* Serves the console's embedded files. Paths are looked up verbatim in the
 * generated table, never decoded or joined to a directory: "/assets/../x"
 * and "%2e%2e" are simply names that are not in it, so there is nothing to
 * traverse. */
#include <stdint.h>
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

/* Appends s to buf at *at, escaped for HTML text and attribute values
 * (an institution's name is the lender's text: "A&B <Finance>"); 0 when
 * it does not fit. */
static int put_escaped(unsigned char *buf, size_t size, size_t *at,
                       const char *s) {
  for (; *s; s++) {
    const char *w = *s == '&'    ? "&amp;"
                    : *s == '<'  ? "&lt;"
                    : *s == '>'  ? "&gt;"
                    : *s == '"'  ? "&quot;"
                    : *s == '\'' ? "&#39;"
                                 : NULL;
    size_t n = w ? strlen(w) : 1;
    if (*at + n >= size) return 0;
    memcpy(buf + *at, w ? w : s, n);
    *at += n;
  }
  return 1;
}

/* index.html with {lang}, {title} and {loading} put in, into out->page,
 * and its entity tag, the page's own (a tag of the file alone would
 * answer 304 to a browser holding the page in another language). */
static int fill_page(const console_asset *a, const console_page *words,
                     console_answer *out) {
  const char *lang = words && words->lang && *words->lang ? words->lang : "en";
  const char *title =
      words && words->title && *words->title ? words->title : "recoup";
  const char *loading = strncmp(lang, "zh", 2) == 0
                            ? "\xe5\x8a\xa0\xe8\xbd\xbd\xe4\xb8\xad\xe2\x80\xa6"
                            : "Loading\xe2\x80\xa6";
  size_t at = 0, i = 0;
  uint64_t hash = 14695981039346656037ULL; /* FNV-1a */
  while (i < a->len) {
    const char *rest = (const char *)a->bytes + i;
    size_t left = a->len - i;
    const char *with = NULL;
    size_t skip = 0;
    if (left >= 6 && memcmp(rest, "{lang}", 6) == 0)
      with = lang, skip = 6;
    else if (left >= 7 && memcmp(rest, "{title}", 7) == 0)
      with = title, skip = 7;
    else if (left >= 9 && memcmp(rest, "{loading}", 9) == 0)
      with = loading, skip = 9;
    if (with) {
      if (!put_escaped(out->page, sizeof out->page, &at, with)) return 0;
      i += skip;
      continue;
    }
    if (at + 1 >= sizeof out->page) return 0;
    out->page[at++] = a->bytes[i++];
  }
  for (size_t k = 0; k < at; k++) {
    hash ^= out->page[k];
    hash *= 1099511628211ULL;
  }
  snprintf(out->etag, sizeof out->etag, "\"%016llx\"",
           (unsigned long long)hash);
  out->body = out->page;
  out->len = at;
  return 1;
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
                        const char *if_none_match, const console_page *words,
                        console_answer *out) {
  const console_asset *a = NULL;
  const char *etag;
  int head = strcmp(method, "HEAD") == 0, page = 0;
  if (!head && strcmp(method, "GET") != 0) {
    plain(out, 405, "method not allowed\n", "Allow: GET, HEAD\r\n");
    return;
  }
  /* The page is one document; its routes live after '#', so only "/"
   * (and its usual name) is the page: any other path is a missing file,
   * answered plainly rather than with the page. */
  if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
    a = find("index.html");
    page = 1;
  } else if (starts_with(path, "/assets/")) {
    a = find(path + strlen("/assets/"));
  }
  if (!a) {
    plain(out, 404, "not found\n", NULL);
    return;
  }
  out->body = a->bytes;
  out->len = a->len;
  etag = a->etag;
  if (page) {
    if (!fill_page(a, words, out)) {
      plain(out, 500, "the page's words do not fit\n", NULL);
      return;
    }
    etag = out->etag;
  }
  out->type = a->type;
  /* Asked again each time, answered cheaply by the ETag: index.html names
   * the assets without a version, so a cached module could outlive the
   * binary that served it. */
  snprintf(out->headers, sizeof out->headers,
           CONSOLE_HEADERS "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
  if (if_none_match && etag_matches(if_none_match, etag)) {
    out->status = 304;
    out->body = NULL;
    out->len = 0;
    return;
  }
  /* A HEAD gets the GET's length; the transport leaves the body out. */
  out->status = 200;
}

void console_handle(http_request *req, const console_page *words) {
  console_answer a;
  console_answer_for(req->method, req->path, req->if_none_match, words, &a);
  http_respond(req, a.status, a.type, (const char *)a.body, a.len, a.headers);
}
