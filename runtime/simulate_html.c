/* The HTML report of `recoup simulate`: one self-contained file to
 * download and open, with its charts drawn here as inline SVG (no script,
 * no outside request). Every name from the book or the scripts is
 * escaped. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "simulate.h"
#include "template.h"

enum { W = 680, H = 240, PAD_L = 70, PAD_R = 16, PAD_T = 16, PAD_B = 28 };
enum { MAX_SERIES = 24 };

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c",
                                      "#ff7f0e", "#9467bd", "#8c564b",
                                      "#e377c2", "#7f7f7f"};

/* s as HTML text, printable first (rc_printable_line): a directory's
 * path or a state a script named may hold a terminal's escape, which the
 * report, opened in a terminal or sent on, would carry. */
static void esc(FILE *f, const char *text) {
  size_t n = text ? strlen(text) + 1 : 1;
  char *clean = malloc(n), *s;
  if (!clean) return;
  rc_printable_line(clean, n, text ? text : "");
  for (s = clean; *s; s++) switch (*s) {
      case '&':
        fputs("&amp;", f);
        break;
      case '<':
        fputs("&lt;", f);
        break;
      case '>':
        fputs("&gt;", f);
        break;
      case '"':
        fputs("&quot;", f);
        break;
      case '\'':
        fputs("&#39;", f);
        break;
      default:
        fputc(*s, f);
    }
  free(clean);
}

typedef struct series {
  char label[128];
  double *v; /* owned, n values */
  int dashed;
} series;

/* A line chart of the series over n days. */
static void line_chart(FILE *f, const char *title, series *s, int ns, int n,
                       double scale) {
  double max = 0;
  fprintf(f, "<figure><figcaption>");
  esc(f, title);
  fprintf(f,
          "</figcaption>\n<svg viewBox=\"0 0 %d %d\" width=\"%d\" "
          "height=\"%d\" role=\"img\">\n",
          W, H, W, H);
  for (int i = 0; i < ns; i++)
    for (int d = 0; d < n; d++)
      if (s[i].v[d] > max) max = s[i].v[d];
  if (max <= 0) max = 1;
  fprintf(f,
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>"
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n",
          PAD_L, H - PAD_B, W - PAD_R, H - PAD_B, PAD_L, PAD_T, PAD_L,
          H - PAD_B);
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">"
          "%.0f</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
          "font-size=\"11\">0</text>\n",
          PAD_L - 4, PAD_T + 10, max / scale, PAD_L - 4, H - PAD_B);
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" font-size=\"11\">day 1</text>"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">day "
          "%d</text>\n",
          PAD_L, H - 8, W - PAD_R, H - 8, n);
  for (int i = 0; i < ns; i++) {
    fprintf(f,
            "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\"%s "
            "points=\"",
            palette[i % 8], s[i].dashed ? " stroke-dasharray=\"6 3\"" : "");
    for (int d = 0; d < n; d++) {
      double x =
          PAD_L + (n > 1 ? (double)d * (W - PAD_L - PAD_R) / (n - 1) : 0);
      double y = (H - PAD_B) - s[i].v[d] / max * (H - PAD_B - PAD_T);
      fprintf(f, "%.1f,%.1f ", x, y);
    }
    fputs("\"/>\n", f);
  }
  fputs("</svg>\n<ul class=\"legend\">", f);
  for (int i = 0; i < ns; i++) {
    fprintf(f, "<li><span style=\"color:%s\">&#9632;</span> ", palette[i % 8]);
    esc(f, s[i].label);
    fputs(s[i].dashed ? " (dashed)" : "", f);
    fputs("</li>", f);
  }
  fputs("</ul></figure>\n", f);
}

static int add_series(series *s, int *ns, int n, const char *label,
                      int dashed) {
  if (*ns == MAX_SERIES) return -1;
  snprintf(s[*ns].label, sizeof s[0].label, "%s", label);
  s[*ns].dashed = dashed;
  if (!(s[*ns].v = calloc((size_t)(n ? n : 1), sizeof(double)))) return -1;
  return (*ns)++;
}

static void free_series(series *s, int ns) {
  for (int i = 0; i < ns; i++) free(s[i].v);
}

/* Sums of a day's object (messages by channel) or one key of it. */
static double day_value(json_t *day, const char *field, const char *key) {
  json_t *v = json_object_get(day, field), *x;
  const char *k;
  double sum = 0;
  if (!json_is_object(v)) return json_number_value(v);
  if (key) return json_number_value(json_object_get(v, key));
  json_object_foreach(v, k, x) {
    sum += json_number_value(x);
  }
  return sum;
}

/* "recovered" is the institution's currency's: with money in others,
 * a row for each currency apart (a sum of yuan and dollars is neither). */
static void recovered_rows(FILE *f, json_t *arms, const sim_report *rep) {
  json_t *keys = sim_currencies(arms, rep), *a, *v;
  const char *k;
  size_t i;
  if (!keys) return;
  json_object_foreach(keys, k, v) {
    sim_report in = rep ? *rep : (sim_report){0};
    (void)v;
    in.currency = k;
    fputs("<tr><td>recovered ", f);
    esc(f, k);
    fputs("</td>", f);
    json_array_foreach(arms, i, a) {
      char money[64];
      fputs("<td>", f);
      esc(f, sim_money(&in,
                       json_number_value(json_object_get(
                           json_object_get(json_object_get(a, "summary"),
                                           "recovered_by_currency"),
                           k)),
                       money, sizeof money));
      fputs("</td>", f);
    }
    fputs("</tr>\n", f);
  }
  json_decref(keys);
}

static void summary_table(FILE *f, json_t *arms, const sim_report *rep) {
  static const struct {
    const char *key, *label;
    int money;
  } rows[] = {{"recovered", "recovered", 1},
              {"payments", "payments", 0},
              {"refusals", "guard refusals", 0},
              {"replies", "replies", 0},
              {"legal", "legal referrals", 0},
              {"moved", "cases moved to the workflow", 0},
              {"stayed", "cases that stayed", 0},
              {"held", "cases held (in error)", 0}};
  json_t *a;
  size_t i;
  fputs("<table><tr><th></th>", f);
  json_array_foreach(arms, i, a) {
    fputs("<th>", f);
    esc(f, json_string_value(json_object_get(a, "name")));
    fputs("</th>", f);
  }
  fputs("</tr>\n", f);
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    fprintf(f, "<tr><td>%s</td>", rows[r].label);
    json_array_foreach(arms, i, a) {
      double v = json_number_value(
          json_object_get(json_object_get(a, "summary"), rows[r].key));
      char money[64];
      fputs("<td>", f);
      if (rows[r].money)
        esc(f, sim_money(rep, v, money, sizeof money));
      else
        fprintf(f, "%.0f", v);
      fputs("</td>", f);
    }
    fputs("</tr>\n", f);
    if (r == 0) recovered_rows(f, arms, rep);
  }
  {
    /* Peak backlog against capacity, flagged when it keeps rising. */
    json_t *first = json_object_get(json_array_get(arms, 0), "summary");
    const char *q;
    json_t *v;
    json_t *qs = json_object();
    json_array_foreach(arms, i, a) {
      json_t *peak =
          json_object_get(json_object_get(a, "summary"), "peak_backlog");
      json_object_foreach(peak, q, v) {
        json_object_set(qs, q, v);
      }
    }
    (void)first;
    json_object_foreach(qs, q, v) {
      fputs("<tr><td>peak backlog ", f);
      esc(f, q);
      fputs("</td>", f);
      json_array_foreach(arms, i, a) {
        json_t *s = json_object_get(a, "summary"), *x;
        size_t j;
        int up = 0;
        json_t *rise = json_object_get(s, "backlog_rising");
        json_array_foreach(rise, j, x) {
          up |= !strcmp(json_string_value(x), q);
        }
        fprintf(f, "<td%s>%.0f / %.0f a day%s</td>",
                up ? " class=\"warn\"" : "",
                json_number_value(
                    json_object_get(json_object_get(s, "peak_backlog"), q)),
                json_number_value(
                    json_object_get(json_object_get(s, "capacity"), q)),
                up ? " &#8593; rising" : "");
      }
      fputs("</tr>\n", f);
    }
    json_decref(qs);
  }
  fputs("</table>\n", f);
}

/* Cases by state at the end: a bar per state and arm. */
static void state_bars(FILE *f, json_t *arms) {
  json_t *states = json_object(), *a, *v;
  size_t i, na = json_array_size(arms), ns;
  const char *k;
  double max = 1;
  int idx = 0, bh = 14;
  json_array_foreach(arms, i, a) {
    json_t *st = json_object_get(json_object_get(a, "summary"), "states");
    json_object_foreach(st, k, v) {
      json_object_set_new(states, k, json_true());
      if (json_number_value(v) > max) max = json_number_value(v);
    }
  }
  ns = json_object_size(states);
  fprintf(f,
          "<figure><figcaption>Cases by state at the end</figcaption>\n"
          "<svg viewBox=\"0 0 %d %zu\" width=\"%d\" height=\"%zu\" "
          "role=\"img\">\n",
          W, ns * (na * bh + 8) + 8, W, ns * (na * bh + 8) + 8);
  json_object_foreach(states, k, v) {
    int y0 = 8 + idx * (int)(na * bh + 8);
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
            "font-size=\"11\">",
            PAD_L + 50, y0 + bh);
    esc(f, k);
    fputs("</text>\n", f);
    json_array_foreach(arms, i, a) {
      double n = json_number_value(json_object_get(
          json_object_get(json_object_get(a, "summary"), "states"), k));
      double w = n / max * (W - PAD_L - 120);
      fprintf(f,
              "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
              "fill=\"%s\"/><text x=\"%.1f\" y=\"%d\" font-size=\"10\">%.0f"
              "</text>\n",
              PAD_L + 56, y0 + (int)i * bh, w, bh - 2, palette[i % 8],
              PAD_L + 60 + w, y0 + (int)i * bh + bh - 3, n);
    }
    idx++;
  }
  json_decref(states);
  fputs("</svg><ul class=\"legend\">", f);
  json_array_foreach(arms, i, a) {
    fprintf(f, "<li><span style=\"color:%s\">&#9632;</span> ", palette[i % 8]);
    esc(f, json_string_value(json_object_get(a, "name")));
    fputs("</li>", f);
  }
  fputs("</ul></figure>\n", f);
}

/* Adds x / n into o[key] (a number). */
static void add_share(json_t *o, const char *key, double x, double n) {
  json_t *have = json_object_get(o, key);
  json_object_set_new(o, key,
                      json_real((have ? json_number_value(have) : 0) + x / n));
}

/* An arm's days averaged over its runs, each figure and each key of a
 * figure by channel, queue or state (a key a run lacks counts 0): the
 * charts show what the table's means are made of. One run: its days. */
static json_t *mean_days(json_t *arm) {
  json_t *runs = json_object_get(arm, "runs"), *run, *out;
  size_t nruns = json_array_size(runs), r, j;
  size_t ndays = json_array_size(json_object_get(arm, "days"));
  if (nruns < 2) return json_incref(json_object_get(arm, "days"));
  out = json_array();
  for (j = 0; j < ndays; j++) {
    json_t *day = json_object();
    json_object_set(
        day, "date",
        json_object_get(json_array_get(json_object_get(arm, "days"), j),
                        "date"));
    json_array_foreach(runs, r, run) {
      json_t *d = json_array_get(json_object_get(run, "days"), j), *v, *x;
      const char *k, *key;
      json_object_foreach(d, k, v) {
        if (json_is_number(v)) {
          add_share(day, k, json_number_value(v), (double)nruns);
        } else if (json_is_object(v)) {
          json_t *sub = json_object_get(day, k);
          if (!sub) json_object_set_new(day, k, sub = json_object());
          json_object_foreach(v, key, x)
              add_share(sub, key, json_number_value(x), (double)nruns);
        }
      }
    }
    json_array_append_new(out, day);
  }
  return out;
}

int sim_html_write(const json_t *result_c, const char *path,
                   const sim_report *rep, rc_error *err) {
  json_t *result = (json_t *)result_c; /* jansson's getters are not const */
  json_t *arms = json_object_get(result, "arms"), *a, *d, *v;
  size_t i, j;
  int n =
      (int)json_array_size(json_object_get(json_array_get(arms, 0), "days"));
  series s[MAX_SERIES];
  int ns = 0;
  char *model, title[96];
  json_t *means;
  FILE *f = fopen(path, "w");
  if (!f) return rc_error_set(err, RC_EIO, "html", "cannot write %s", path);
  means = json_array();
  json_array_foreach(arms, i, a) json_array_append_new(means, mean_days(a));
  fputs(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>recoup simulate</title>\n<style>body{font:14px system-ui,"
      "sans-serif;margin:2em;max-width:760px}table{border-collapse:"
      "collapse}td,th{border-bottom:1px solid #ddd;padding:4px 10px;"
      "text-align:right}td:first-child{text-align:left}.warn{color:#b00;"
      "font-weight:bold}.legend{list-style:none;padding:0;display:flex;"
      "flex-wrap:wrap;gap:1em;font-size:12px}figure{margin:1.5em 0}"
      "figcaption{font-weight:bold}pre{font-size:11px;background:#f6f6f6;"
      "padding:1em;overflow:auto}</style></head><body>\n"
      "<h1>What-if: recoup simulate</h1>\n",
      f);
  fprintf(f,
          "<p>%d days, %lld run(s), seed %lld. Nothing was delivered. With "
          "more than one run the table and the charts show the means of the "
          "runs.</p>\n",
          n, (long long)json_integer_value(json_object_get(result, "runs")),
          (long long)json_integer_value(json_object_get(result, "seed")));
  json_array_foreach(arms, i, a) {
    /* The directory as given is "." when simulate ran in it: the
     * report, opened later or sent on, says which one it was. */
    const char *dir = json_string_value(json_object_get(a, "dir"));
    char *where = dir ? realpath(dir, NULL) : NULL;
    fputs("<p>", f);
    esc(f, json_string_value(json_object_get(a, "name")));
    fputs(" strategy: the scripts in ", f);
    esc(f, where ? where : dir ? dir : "");
    fputs("</p>\n", f);
    free(where);
  }
  summary_table(f, arms, rep);
  if (json_array_size(arms) == 2 && sim_arms_alike(result))
    fputs(
        "<p class=\"warn\">The candidate did day by day what the current "
        "strategy did: its change reached no case in these days. A change "
        "to a state's <code>enter</code> reaches only cases that enter "
        "that state after the start; cases already there keep the timers "
        "and tasks the current strategy gave them (docs/simulate.md, "
        "&ldquo;Things to know&rdquo;).</p>\n",
        f);

  /* Recovered, cumulative. */
  json_array_foreach(arms, i, a) {
    int k =
        add_series(s, &ns, n, json_string_value(json_object_get(a, "name")), 0);
    double sum = 0;
    if (k < 0) break;
    json_array_foreach(json_array_get(means, i), j, d) {
      if ((int)j >= n) break;
      sum += json_number_value(json_object_get(d, "recovered"));
      s[k].v[j] = sum;
    }
  }
  snprintf(title, sizeof title, "Recovered, cumulative (%s)",
           rep && rep->currency && rep->currency[0] ? rep->currency
                                                    : "currency units");
  /* The axis in the currency's major units: yen have no minor unit (a
   * hundredth of the yen recovered was labelled JPY), dinars 1000. */
  {
    static const double units[] = {1, 10, 100, 1000, 10000};
    double unit = rep && rep->currency && rep->currency[0]
                      ? units[template_currency_digits(rep->currency)]
                      : 100.0;
    line_chart(f, title, s, ns, n, unit);
  }
  free_series(s, ns), ns = 0;

  /* Backlog per queue. */
  json_array_foreach(arms, i, a) {
    json_t *last = json_array_get(json_array_get(means, i), (size_t)n - 1);
    const char *q;
    json_object_foreach(
        json_object_get(json_object_get(a, "summary"), "peak_backlog"), q, v) {
      char label[128];
      int k;
      snprintf(label, sizeof label, "%s: %s",
               json_string_value(json_object_get(a, "name")), q);
      if ((k = add_series(s, &ns, n, label, (int)i)) < 0) break;
      json_t *days = json_array_get(means, i);
      json_array_foreach(days, j, d) {
        if ((int)j < n) s[k].v[j] = day_value(d, "backlog", q);
      }
    }
    (void)last;
  }
  line_chart(f, "Backlog per queue (tasks waiting at the end of each day)", s,
             ns, n, 1.0);
  free_series(s, ns), ns = 0;

  /* Messages and refusals. */
  json_array_foreach(arms, i, a) {
    char label[128];
    int km, kr;
    snprintf(label, sizeof label, "%s: messages",
             json_string_value(json_object_get(a, "name")));
    km = add_series(s, &ns, n, label, 0);
    snprintf(label, sizeof label, "%s: guard refusals",
             json_string_value(json_object_get(a, "name")));
    kr = add_series(s, &ns, n, label, 1);
    if (km < 0 || kr < 0) break;
    json_array_foreach(json_array_get(means, i), j, d) if ((int)j < n) {
      s[km].v[j] = day_value(d, "messages", NULL);
      s[kr].v[j] = day_value(d, "refusals", NULL);
    }
  }
  line_chart(f, "Messages and guard refusals per day", s, ns, n, 1.0);
  free_series(s, ns), ns = 0;

  state_bars(f, arms);
  fputs(
      "<h2>Behaviour model</h2>\n<p>What the simulated borrowers and "
      "collectors do, counted from the book's own history; a rate seen "
      "too few times there is the stated default, marked "
      "<code>default</code> (docs/simulate.md, &ldquo;The behaviour "
      "model&rdquo;).</p>\n<pre>",
      f);
  json_decref(means);
  /* The lines the command prints, not the JSON: a reader of the report
   * reads rates, not 0.029999999999999999. */
  if (rep && rep->model_text) {
    esc(f, rep->model_text);
  } else {
    model = json_dumps(json_object_get(result, "model"),
                       JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    esc(f, model);
    free(model);
  }
  fputs("</pre>\n</body></html>\n", f);
  if (fclose(f) != 0)
    return rc_error_set(err, RC_EIO, "html", "cannot write %s", path);
  return RC_OK;
}
