/* The HTTP API against a model: sequences of case openings, payments and
 * events — refs and keys reused across cases, amounts above the balance,
 * events only the core may emit — sent to the real service, each answer
 * checked against what the model expects, and every balance, overpaid
 * amount and report total compared with the model's.
 *
 * Each file of the corpus is one sequence (its bytes choose the steps);
 * seeded sequences follow. A new sequence that found a bug goes into the
 * corpus.
 *
 * usage: test_api_model RECOUP CORPUS_DIR */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

enum { NCASES = 4, NREFS = 8, NKEYS = 6, SEEDS = 24, SEED_STEPS = 160 };

static harness srv;
static int failures;

typedef harness_answer answer;

static answer *call(const char *method, const char *path, const char *body) {
  return harness_call(&srv, method, path, "model-admin", body, 0);
}

static void failf(const char *seq, int step, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "FAIL %s step %d: ", seq, step);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  failures++;
}

/* An integer field of a JSON answer ("balance":123), or -1. */
static long long field(const char *body, const char *name) {
  char key[64];
  const char *p;
  snprintf(key, sizeof key, "\"%s\":", name);
  if (!(p = strstr(body, key))) return -1;
  return strtoll(p + strlen(key), NULL, 10);
}

/* --- the model ---------------------------------------------------------- */

typedef struct model {
  char prefix[32];
  int opened[NCASES];
  long long balance[NCASES], overpaid[NCASES];
  int ref_case[NREFS]; /* -1: unknown */
  long long ref_amount[NREFS];
  int key_case[NKEYS], key_type[NKEYS];
} model;

static long long applied_total, overpaid_total;

static const char *const types[] = {"poke", "ping"};
static const char *const core_types[] = {"promise_broken", "payment",
                                         "task_done", "plan_completed"};

static void model_init(model *m, const char *prefix) {
  memset(m, 0, sizeof *m);
  snprintf(m->prefix, sizeof m->prefix, "%s", prefix);
  for (int i = 0; i < NREFS; i++) m->ref_case[i] = -1;
  for (int i = 0; i < NKEYS; i++) m->key_case[i] = -1;
}

/* One step, chosen by four bytes. */
static void step(model *m, const char *seq, int n, const uint8_t b[4]) {
  char path[256], body[512];
  int c = b[1] % NCASES;
  answer *a;
  switch (b[0] % 7) {
    case 0: { /* open a case (once) */
      long long balance = (long long)(b[2] % 40 + 1) * 100;
      if (m->opened[c]) return;
      snprintf(body, sizeof body,
               "{\"id\":\"%s-C%d\",\"balance\":%lld,\"amount_due\":%lld,"
               "\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"%s-B%d\","
               "\"name\":\"N\"}}",
               m->prefix, c, balance, balance, m->prefix, c);
      a = call("POST", "/v1/cases", body);
      if (a->status != 201)
        failf(seq, n, "open %s-C%d: %ld %s", m->prefix, c, a->status, a->body);
      m->opened[c] = 1;
      m->balance[c] = balance;
      return;
    }
    case 1:
    case 2:
    case 6: { /* a payment, refs reused across cases and amounts */
      long long amount = (long long)(b[2] % 20) * 50 - 50;
      int r = b[3] % NREFS;
      long want;
      snprintf(body, sizeof body,
               "{\"case\":\"%s-C%d\",\"amount\":%lld,\"ref\":\"%s-R%d\"}",
               m->prefix, c, amount, m->prefix, r);
      if (amount <= 0)
        want = 422;
      else if (m->ref_case[r] >= 0)
        want = m->ref_case[r] == c && m->ref_amount[r] == amount ? 200 : 409;
      else if (!m->opened[c])
        want = 404;
      else
        want = 201;
      a = call("POST", "/v1/payments", body);
      if (a->status != want) {
        failf(seq, n, "pay %s: %ld %s, model wants %ld", body, a->status,
              a->body, want);
        return;
      }
      if (want == 200 && !strstr(a->body, "\"duplicate\""))
        failf(seq, n, "pay %s: 200 without duplicate: %s", body, a->body);
      if (want == 201) {
        long long take = amount < m->balance[c] ? amount : m->balance[c];
        applied_total += take;
        overpaid_total += amount - take;
        m->balance[c] -= take;
        m->overpaid[c] += amount - take;
        m->ref_case[r] = c;
        m->ref_amount[r] = amount;
      }
      return;
    }
    case 3: { /* an event, keys reused across cases and types */
      int t = b[2] % 2, k = b[3] % (NKEYS + 1);
      long want;
      if (k == NKEYS)
        snprintf(body, sizeof body, "{\"type\":\"%s\"}", types[t]);
      else
        snprintf(body, sizeof body, "{\"type\":\"%s\",\"key\":\"%s-K%d\"}",
                 types[t], m->prefix, k);
      snprintf(path, sizeof path, "/v1/cases/%s-C%d/events", m->prefix, c);
      if (!m->opened[c])
        want = 404;
      else if (k < NKEYS && m->key_case[k] >= 0)
        want = m->key_case[k] == c && m->key_type[k] == t ? 200 : 409;
      else
        want = 202;
      a = call("POST", path, body);
      if (a->status != want) {
        failf(seq, n, "event %s %s: %ld %s, model wants %ld", path, body,
              a->status, a->body, want);
        return;
      }
      if (want == 202 && k < NKEYS) {
        m->key_case[k] = c;
        m->key_type[k] = t;
      }
      return;
    }
    case 4: { /* events only the core emits are refused */
      snprintf(body, sizeof body, "{\"type\":\"%s\"}", core_types[b[2] % 4]);
      snprintf(path, sizeof path, "/v1/cases/%s-C%d/events", m->prefix, c);
      a = call("POST", path, body);
      if (a->status != 422 || !strstr(a->body, "\"field\":\"type\""))
        failf(seq, n, "core event %s: %ld %s", body, a->status, a->body);
      return;
    }
    case 5: { /* the case as stored equals the model */
      snprintf(path, sizeof path, "/v1/cases/%s-C%d", m->prefix, c);
      a = call("GET", path, NULL);
      if (!m->opened[c]) {
        if (a->status != 404) failf(seq, n, "%s: %ld", path, a->status);
        return;
      }
      if (a->status != 200 || field(a->body, "balance") != m->balance[c] ||
          field(a->body, "overpaid") != m->overpaid[c])
        failf(seq, n, "%s: %ld %s; model: balance %lld overpaid %lld", path,
              a->status, a->body, m->balance[c], m->overpaid[c]);
      return;
    }
  }
}

static void final_check(model *m, const char *seq) {
  uint8_t b[4] = {5, 0, 0, 0};
  for (int c = 0; c < NCASES; c++) {
    b[1] = (uint8_t)c;
    step(m, seq, -1, b);
  }
}

static void run_bytes(const char *seq, const char *prefix, const uint8_t *data,
                      size_t size) {
  model m;
  int n = 0;
  model_init(&m, prefix);
  for (size_t i = 0; i + 4 <= size; i += 4) step(&m, seq, n++, data + i);
  final_check(&m, seq);
}

/* --- the server --------------------------------------------------------- */

/* One token for every role; one kept connection for the thousands of
 * requests. */
static const char *const model_env[] = {"M_ADMIN=model-admin", NULL};

int main(int argc, char **argv) {
  int sequences = 0;
  answer *a;
  if (argc != 3) {
    fprintf(stderr, "usage: %s RECOUP CORPUS_DIR\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "model");
  srv.env = model_env;
  srv.reuse_connection = 1;
  harness_write(
      &srv, "recoup.lua",
      "institution { name = 'Model', timezone = 'UTC', currency = 'USD' "
      "}\n"
      "tokens { ingest = 'env:M_ADMIN', agent = 'env:M_ADMIN', "
      "read = 'env:M_ADMIN', admin = 'env:M_ADMIN' }\n"
      "workflow(recoup.workflow { name = 'm', version = 1, "
      "initial = 'open',\n"
      "  states = { open = { on = { poke = function() end,\n"
      "                             ping = function() end } },\n"
      "             paid = { final = true } },\n"
      "  transitions = { open = { 'paid' } },\n"
      "  on = { payment = function(case) if case.balance <= 0 then "
      "return 'paid' end end } })\n");
  harness_start(&srv);

  {
    DIR *d = opendir(argv[2]);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
      char path[4096], prefix[32];
      uint8_t buf[4096];
      size_t size;
      FILE *f;
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", argv[2], e->d_name);
      if (!(f = fopen(path, "rb"))) continue;
      size = fread(buf, 1, sizeof buf, f);
      fclose(f);
      snprintf(prefix, sizeof prefix, "f%d", sequences);
      run_bytes(e->d_name, prefix, buf, size);
      sequences++;
    }
    if (d) closedir(d);
  }
  for (int seed = 1; seed <= SEEDS; seed++) {
    uint8_t buf[SEED_STEPS * 4];
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)seed;
    char name[32], prefix[32];
    for (size_t i = 0; i < sizeof buf; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
      buf[i] = (uint8_t)(x >> 24);
    }
    snprintf(name, sizeof name, "seed %d", seed);
    snprintf(prefix, sizeof prefix, "s%d", seed);
    run_bytes(name, prefix, buf, sizeof buf);
    sequences++;
  }

  /* The report adds up to the model: recovered is what reduced balances,
   * overpaid what is owed back. */
  a = call("GET", "/v1/reports/summary", NULL);
  if (a->status != 200 || field(a->body, "recovered") != applied_total ||
      field(a->body, "overpaid") != overpaid_total) {
    fprintf(stderr, "FAIL report: %s; model: recovered %lld overpaid %lld\n",
            a->body, applied_total, overpaid_total);
    failures++;
  }

  harness_stop(&srv);
  /* A failing run keeps its directory (database and log) to be read. */
  if (!failures) harness_close(&srv);
  printf("%d sequences, %d failures\n", sequences, failures);
  return failures ? 1 : 0;
}
