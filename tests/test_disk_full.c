/* A full disk under the service: writes answer 503 with Retry-After,
 * nothing acknowledged is lost, and writes succeed again once space
 * returns. The database lives on a 2 MB tmpfs this test mounts (it needs
 * root; without it the test reports itself skipped): a new book's schema
 * steps take about 700 kB of WAL before its first answer, so 1 MB left
 * the service no room for its lock file.
 *
 * usage: test_disk_full RECOUP WORK_DIR */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

static int port;

static size_t sink(char *p, size_t s, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return s * n;
}

static long request(const char *method, const char *path, const char *body) {
  char url[128];
  long status = 0;
  struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer i");
  CURL *c = curl_easy_init();
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

int main(int argc, char **argv) {
  char dir[512], data[600], db[700], path[700], line[256] = "", body[4096];
  char pad[2001];
  static char acked[4000][16];
  int nacked = 0, full_seen = 0, failed = 0, out[2];
  pid_t server;
  FILE *f;
  sqlite3 *s;
  if (argc != 3) return 2;
  snprintf(dir, sizeof dir, "%s", argv[2]);
  snprintf(data, sizeof data, "%s/data", dir);
  mkdir(dir, 0700);
  mkdir(data, 0700);
  umount(data);
  if (geteuid() != 0 ||
      mount("tmpfs", data, "tmpfs", 0, "size=2m,mode=0700") != 0) {
    printf("skipped: cannot mount a small filesystem here\n");
    return 77;
  }
  snprintf(db, sizeof db, "%s/d.db", data);
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  f = fopen(path, "w");
  fputs(
      "institution { name = 'Full', timezone = 'UTC', currency = 'USD' }\n"
      "tokens { ingest = 'env:T_INGEST' }\n"
      "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
      " states = { a = {} } })\n",
      f);
  fclose(f);
  /* Ballast, freed later to give the space back. */
  snprintf(path, sizeof path, "%s/ballast", data);
  f = fopen(path, "w");
  for (int i = 0; i < 300; i++) fwrite(pad, 1, 1000, f);
  fclose(f);

  if (pipe(out) != 0) return 2;
  server = fork();
  if (server == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(out[1], 1);
    dup2(null, 2);
    setenv("T_INGEST", "i", 1);
    execl(argv[1], argv[1], "serve", dir, "--listen", "127.0.0.1:0", "--db", db,
          (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  f = fdopen(out[0], "r");
  if (!fgets(line, sizeof line, f) ||
      sscanf(line, "listening on http://127.0.0.1:%d", &port) != 1) {
    umount(data);
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  memset(pad, 'x', sizeof pad - 1);
  pad[sizeof pad - 1] = '\0';
  for (int i = 0; i < 4000 && !full_seen; i++) {
    long st;
    snprintf(body, sizeof body,
             "{\"id\":\"F%d\",\"balance\":1,\"due_date\":\"2026-01-01\",\"notes\":\"%s\",\"borrower\":"
             "{\"id\":\"B%d\"}}",
             i, pad, i);
    st = request("POST", "/v1/cases", body);
    if (st == 201)
      snprintf(acked[nacked++], 16, "F%d", i);
    else if (st == 503)
      full_seen = 1;
    else {
      printf("unexpected status %ld\n", st);
      failed = 1;
      break;
    }
  }
  printf("disk full after %d acknowledged cases: %s\n", nacked,
         full_seen ? "503" : "never");
  failed |= !full_seen;
  unlink(path); /* space returns */
  if (!failed) {
    long st = 0;
    for (int tries = 0; tries < 20 && st != 201; tries++) {
      st = request("POST", "/v1/cases",
                   "{\"id\":\"AFTER\",\"balance\":1,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":"
                   "\"BA\"}}");
      if (st != 201) usleep(200000);
    }
    printf("after space returned: %ld\n", st);
    failed |= st != 201;
    if (st == 201) snprintf(acked[nacked++], 16, "AFTER");
  }
  kill(server, SIGTERM);
  waitpid(server, NULL, 0);
  curl_global_cleanup();
  if (sqlite3_open(db, &s) == SQLITE_OK) {
    int lost = 0;
    for (int i = 0; i < nacked; i++) {
      sqlite3_stmt *q;
      sqlite3_prepare_v2(s, "SELECT 1 FROM cases WHERE id = ?1", -1, &q, NULL);
      sqlite3_bind_text(q, 1, acked[i], -1, SQLITE_STATIC);
      lost += sqlite3_step(q) != SQLITE_ROW;
      sqlite3_finalize(q);
    }
    printf("acknowledged %d, lost %d\n", nacked, lost);
    failed |= lost != 0;
    sqlite3_close(s);
  } else {
    failed = 1;
  }
  umount(data);
  printf("%d passed, %d failed\n", !failed, failed);
  return failed;
}
