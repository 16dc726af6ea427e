/* HTTP ingestion: payments posted over keep-alive connections from this
 * second process to a running `recoup serve`, each one acknowledged only
 * once durable. Prints acknowledged payments per second and latency
 * percentiles for each connection count.
 *
 * usage: bench_http PORT TOKEN CASES SECONDS CONNECTIONS... */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

typedef struct slot {
  CURL *easy;
  char body[160];
  double started;
  int first; /* the first request its connection sent */
} slot;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t s, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return s * n;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* This process's threads, summed: seconds on a CPU and waiting for one
 * (Linux's schedstat; 0 elsewhere). The client shares the machine with
 * the service: what it takes, the service's loop may wait for. */
static void own_sched(double *run, double *wait) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  *run = *wait = 0;
  while (d && (e = readdir(d))) {
    char path[300];
    unsigned long long r, w;
    FILE *f;
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
    if (!(f = fopen(path, "r"))) continue;
    if (fscanf(f, "%llu %llu", &r, &w) == 2) {
      *run += (double)r / 1e9;
      *wait += (double)w / 1e9;
    }
    fclose(f);
  }
  if (d) closedir(d);
}

/* A payment's ref names this client too: two clients started in the same
 * second (pg.sh's two nodes) sent the same refs, and the second of each
 * pair was answered as a duplicate, not counted as a payment. */
static long ref_counter;

static void fire(CURLM *multi, slot *s, const char *url,
                 struct curl_slist *headers, int cases) {
  snprintf(s->body, sizeof s->body,
           "{\"case\":\"C%07ld\",\"amount\":1,\"ref\":\"H%ld-%ld-%ld\"}",
           ref_counter % cases, (long)getpid(), (long)time(NULL), ref_counter);
  ref_counter++;
  curl_easy_setopt(s->easy, CURLOPT_URL, url);
  curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
  curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
  s->started = now_s();
  curl_multi_add_handle(multi, s->easy);
}

static size_t keep(char *p, size_t s, size_t n, void *ud) {
  char *buf = ud;
  size_t have = strlen(buf), take = s * n;
  if (have + take >= 1 << 16) take = (1 << 16) - 1 - have;
  memcpy(buf + have, p, take);
  buf[have + take] = '\0';
  return s * n;
}

/* A gauge from /metrics (the name with its labels); -1 when the service
 * does not answer. */
static long gauge(const char *port, const char *name) {
  static char buf[1 << 16];
  char url[128], key[128];
  const char *p;
  CURL *c = curl_easy_init();
  buf[0] = '\0';
  snprintf(url, sizeof url, "http://127.0.0.1:%s/metrics", port);
  snprintf(key, sizeof key, "\n%s ", name);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)buf);
  if (curl_easy_perform(c) != CURLE_OK) buf[0] = '\0';
  curl_easy_cleanup(c);
  p = strstr(buf, key);
  return p ? atol(p + strlen(key)) : -1;
}

static long overdue(const char *port) {
  return gauge(port, "recoup_timers_overdue");
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  char url[128], auth[128];
  struct curl_slist *headers = NULL;
  int cases, seconds;
  if (argc < 6) {
    fprintf(stderr, "usage: %s PORT TOKEN CASES SECONDS CONNECTIONS...\n",
            argv[0]);
    return 2;
  }
  snprintf(url, sizeof url, "http://127.0.0.1:%s/v1/payments", argv[1]);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
  cases = atoi(argv[3]);
  seconds = atoi(argv[4]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  headers = curl_slist_append(headers, auth);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  for (int a = 5; a < argc; a++) {
    int conns = atoi(argv[a]), running = 0;
    const char *label = argv[a];
    char name[32];
    long due_at_start = -1;
    if (strcmp(argv[a], "wait") == 0) {
      /* Let a start-up sweep finish, and the outbox deliver what it
       * queued: the figures after that are steady. How long delivery
       * trails the sweep is a figure of its own. */
      double swept;
      for (int i = 0; i < 600 && overdue(argv[1]) != 0; i++) sleep_ms(1000);
      swept = now_s();
      for (int i = 0;
           i < 6000 &&
           gauge(argv[1], "recoup_outbox_messages{status=\"queued\"}") != 0;
           i++)
        sleep_ms(100);
      printf("outbox_trails_sweep_s %.1f s\n", now_s() - swept);
      continue;
    }
    if (strncmp(argv[a], "sweep:", 6) == 0) {
      conns = atoi(argv[a] + 6);
      label = "during_sweep";
      due_at_start = overdue(argv[1]);
      printf("sweep_overdue_at_start %ld timers\n", due_at_start);
    }
    /* sweep:16 keeps its old name; other counts during a sweep add theirs. */
    if (strcmp(label, "during_sweep") == 0 && conns != 16)
      snprintf(name, sizeof name, "during_sweep_%d", conns);
    else
      snprintf(name, sizeof name, "%s", label);
    size_t cap = 1 << 20, n = 0, errors = 0, slow = 0, slow_first = 0;
    double first_max = 0; /* the slowest first request of a connection */
    double *lat = malloc(cap * sizeof *lat), start, end, run0, wait0;
    CURLM *multi = curl_multi_init();
    slot *slots = calloc((size_t)conns, sizeof *slots);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conns);
    for (int i = 0; i < conns; i++) {
      slots[i].easy = curl_easy_init();
      fire(multi, &slots[i], url, headers, cases);
      slots[i].first = 1;
    }
    own_sched(&run0, &wait0);
    start = now_s();
    end = start + seconds;
    do {
      CURLMsg *m;
      int left, fired = 0;
      curl_multi_perform(multi, &running);
      while ((m = curl_multi_info_read(multi, &left))) {
        slot *s;
        long code = 0;
        if (m->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(multi, m->easy_handle);
        if (code == 201 && n < cap) {
          lat[n] = now_s() - s->started;
          /* The goal's slow ones, and those among the first requests of
           * each connection (a slice begun before any write came). */
          if (lat[n] >= 0.015) {
            slow++;
            slow_first += s->first;
          }
          if (s->first && lat[n] > first_max) first_max = lat[n];
          n++;
        } else
          errors++;
        s->first = 0;
        if (now_s() < end) {
          fire(multi, s, url, headers, cases);
          fired = 1;
        }
      }
      /* A new request must be started before waiting on its socket. */
      if (!fired) curl_multi_poll(multi, NULL, 0, 100, NULL);
    } while (running > 0 || now_s() < end);
    {
      double took = now_s() - start, run, wait;
      own_sched(&run, &wait);
      qsort(lat, n, sizeof *lat, cmp_double);
      printf("http_events_per_s_%s %.0f events/s\n", name, n / took);
      printf("http_p50_ms_%s %.2f ms\n", name, n ? lat[n / 2] * 1000 : 0);
      printf("http_p90_ms_%s %.2f ms\n", name,
             n ? lat[(size_t)(n * 0.9)] * 1000 : 0);
      printf("http_p99_ms_%s %.2f ms\n", name,
             n ? lat[(size_t)(n * 0.99)] * 1000 : 0);
      printf("http_max_ms_%s %.2f ms\n", name, n ? lat[n - 1] * 1000 : 0);
      if (errors) printf("http_errors_%s %zu requests\n", name, errors);
      /* The sweep's pace meanwhile: a p99 bought by starving it is no
       * gain. */
      if (due_at_start > 0)
        printf("sweep_timers_per_s_%s %.0f timers/s\n", name,
               (due_at_start - overdue(argv[1])) / took);
      printf(
          "http_over_15ms_%s %zu requests (%zu of them the first a "
          "connection sent)\n",
          name, slow, slow_first);
      printf("http_first_max_ms_%s %.2f ms\n", name, first_max * 1000);
      printf("client_on_cpu_share_%s %.0f %%\n", name,
             100 * (run - run0) / took);
      printf("client_waiting_for_cpu_share_%s %.0f %%\n", name,
             100 * (wait - wait0) / took);
      fflush(stdout);
    }
    for (int i = 0; i < conns; i++) curl_easy_cleanup(slots[i].easy);
    free(slots);
    curl_multi_cleanup(multi);
    free(lat);
  }
  curl_slist_free_all(headers);
  curl_global_cleanup();
  return 0;
}
