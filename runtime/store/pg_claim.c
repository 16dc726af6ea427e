/* How several nodes share one PostgreSQL book (DESIGN.md "Beyond one
 * machine: PostgreSQL"): due timers, queued events and the outbox are
 * claimed row by row with FOR UPDATE SKIP LOCKED under a lease, and the
 * guard's decision is serialised per borrower by a row lock. Every
 * statement of that kind is here, proven by tests/test_pg_claims.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pg.h"

/* The lease's clock: the caller's time, or the database's when the
 * caller passes none (PG_CLOCK_DB, a negative number). */
/* clang-format off */
#define NOW(p)                                                          \
  "(CASE WHEN " p "::bigint >= 0 THEN " p "::bigint ELSE "              \
  "(extract(epoch FROM clock_timestamp()) * 1000)::bigint END)"
/* clang-format on */

/* Not claimed, or its claimer's lease ended. */
#define FREE(t, now) \
  "(" t ".claimed_until IS NULL OR " t ".claimed_until < " now ")"

/* A claim's cases, looked up by key: their ids go in a list whose
 * length the planner does not guess from the CTE (a join on it, planned
 * by the estimate of an unanalysed book, read every case of a 5,000-case
 * book at each batch to find a thousand). */
#define HELD(cte) "id = ANY(ARRAY(SELECT case_id FROM " cte "))"

/* A timer up to the walk's last, by (due, id), that the walk (`due`)
 * did not take: one locked or leased elsewhere. Without one, no timer
 * the walk took has an earlier one it did not (lock_timers_sql says
 * more). */
#define GAP                                                               \
  "gap AS (SELECT 1 FROM timers o WHERE (o.due, o.id) <= (SELECT d.due, " \
  "d.id FROM due d ORDER BY d.due DESC, d.id DESC LIMIT 1) AND o.id NOT " \
  "IN (SELECT id FROM due) ORDER BY o.due, o.id LIMIT 1), "

/* $1 node, $2 until, $3 max, $4 lease_ms, $5 now, $6 the wait (ms). The
 * inner SELECT locks the rows it picks and skips those another claimer
 * has locked; the UPDATE then marks them. `held` locks their cases,
 * skipping those another transaction holds (a timer's claim is not undone
 * for that: its step reads the case itself, as before). Not the
 * borrowers: a step's borrower is read as the step before it runs (pg.c,
 * borrower_ahead), and the guard's decision on it is checked later still
 * (op_borrower_decided), so that a cease or do-not-contact another node
 * commits during this batch stops its next message (a borrower read with
 * the claim would be up to a batch old, and send the batch round again
 * more often). A case's timers run in their due order, as in a batch
 * (lock_timers_sql says how): a later timer whose case has an earlier one
 * held elsewhere is not claimed but leased for the wait, and not
 * returned; without the check a second node took a case's escalation
 * while the first held its release. The look-ups of earlier timers run
 * only when the walk left a gap (GAP). The UPDATE finds the walk's timers
 * by their key in a list as well as by the join: by the join alone, a
 * claim of 1,000 on an analysed 100,000-case book hashed every timer
 * (100,000 rows, half its time). With both, 147.7k → 138.7k of the
 * server's instructions a timer claimed (a claim of 1,000 on the bench's
 * book, rolled back). RETURNING comes in no stated order: the outer
 * SELECT puts the batch in the order the sweep fires it. */
static const char claim_timers_sql[] =
    "WITH due AS (SELECT id, case_id, due FROM timers t WHERE due <= $2 AND "
    FREE("t", NOW("$5")) " ORDER BY due, id LIMIT $3 "
    "FOR UPDATE SKIP LOCKED), " GAP
    "claimed AS (UPDATE timers t SET claimed_by = $1, "
    "claimed_until = " NOW("$5") " + CASE WHEN k.waits THEN $6::bigint ELSE "
    "$4::bigint END FROM (SELECT d.id, EXISTS (SELECT 1 FROM gap) AND "
    "EXISTS (SELECT 1 FROM (SELECT o.id "
    "FROM timers o WHERE o.case_id = d.case_id AND (o.due, o.id) < (d.due, "
    "d.id) OFFSET 0) o WHERE o.id NOT IN (SELECT id FROM due)) AS waits "
    "FROM due d) k WHERE t.id = k.id AND t.id = ANY(ARRAY(SELECT id FROM "
    "due)) RETURNING t.id, t.case_id, t.due, t.event, t.data, k.waits), "
    "held AS (SELECT " PG_CASE_COLS " FROM cases WHERE "
    HELD("claimed WHERE NOT waits") " FOR NO KEY UPDATE SKIP LOCKED) "
    "SELECT k.id, k.case_id, k.due, k.event, k.data, h.* "
    "FROM claimed k LEFT JOIN held h ON h.id = k.case_id WHERE NOT k.waits "
    "ORDER BY k.due, k.id";

/* The same inside a batch's transaction, without the mark: the row lock
 * alone keeps the timers this batch's until it commits, and the batch
 * deletes each it runs. Marking them cost an UPDATE a timer (a third of
 * the server's work a reminder) for a claim that a commit ends anyway; a
 * node killed mid-batch loses them at once (its transaction rolls back)
 * rather than at its lease's end. What outlives the batch (a busy case's
 * timers) is claimed apart, under a lease (timers_retry_sql). Whether a
 * held case has tasks its move would cancel comes along (most have none:
 * the move then sends no cancel). The due timers come from timers_due
 * (schema 9), which walks the index in order and stops at the batch:
 * on a book not analysed, as after an import, the planner read every
 * remaining timer and sorted them all at each batch (the sort sits under
 * the row locks, so no top-N sort could stop early), 7 ms a batch of
 * 1,000 on the bench's 5,000 where the walk takes 1.
 * A case's timers run in their due order. Its earlier timer missing from
 * the walk is held elsewhere: in another batch, whose node found the case
 * taken (a payment's writer held it) and passed over it, or under a
 * lease; the later one waits for it (`waits`: leased for a moment, its
 * case not locked for it, so that the earlier one's node can take the
 * case). Taken, it ran first: three nodes sweeping reminders ran a fourth
 * case's escalation before the release of its deferred reminder, which
 * then found the case moved on and cancelled it (pg_serve_nodes: 36 of
 * 200 in one run of 15). One look-up by case a timer (OFFSET 0: by the
 * case's key, not a hash of every timer), through timers_case (schema
 * 12: case_id, due, id), which holds the earlier ones first: the look-up
 * stops at the timer's own entry, most often the case's first, and reads
 * no row (it read each of the case's timers to compare their due times:
 * rows read 1,003 → 2,003 a batch of 1,000). The walk's ids hashed once.
 * Those look-ups run only when the walk has a `gap`: a timer up to its
 * last, by (due, id), that it did not take. Without one, every timer
 * earlier than one taken was taken with it, and none waits. Most walks
 * have none (a gap is a timer locked or leased elsewhere): one read of
 * the walk's stretch of timers_due in place of a look-up a timer, 4.4k
 * instructions of the server's a timer claimed (a batch of 1,000 on the
 * bench's book, 64k → 59.5k). The timers that wait are marked through
 * the primary key from a list (as HELD): joined with the walk, they were
 * marked by a hash of every timer of the book once the planner had
 * statistics (auto_explain of a 100,000-case sweep: a sequential scan of
 * 36,696 rows planned at each batch), whenever one timer waited.
 * Each timer's case is looked up and locked beside it (LATERAL), not
 * gathered first: a CTE that locks rows is never inlined, so its 23
 * columns were copied into a store of rows and copied again into a hash
 * for the join back to the timers, 10k of the server's instructions a
 * timer claimed (a batch of 1,000 on the bench's book, 59k → 48.8k).
 * SKIP LOCKED is the same row by row; a case with two timers in the walk
 * is locked at the first and found ours at the second. $1 until, $2 max,
 * $3 now, $4 node, $5 the wait (ms). */
const char pg_lock_timers_sql[] =
    "WITH due AS (SELECT id, case_id, due, event, data FROM "
    "timers_due($1, $2, " NOW("$3") ")), " GAP
    "waits AS (UPDATE timers t SET claimed_by = $4, claimed_until = "
    NOW("$3") " + $5 WHERE t.id = ANY(ARRAY(SELECT k.id FROM due k WHERE "
    "EXISTS (SELECT 1 FROM gap) AND EXISTS (SELECT 1 "
    "FROM (SELECT o.id FROM timers o WHERE o.case_id = k.case_id AND "
    "(o.due, o.id) < (k.due, k.id) OFFSET 0) o WHERE o.id NOT IN "
    "(SELECT id FROM due)))) RETURNING t.id), "
    "first AS (SELECT * FROM due WHERE id NOT IN (SELECT id FROM waits)) "
    "SELECT k.id, k.case_id, k.due, k.event, k.data, h.*, "
    "EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = h.id AND t.keep = 0 "
    "AND t.status IN ('open', 'claimed')) AS " PG_CLAIM_TASKS " "
    "FROM first k LEFT JOIN LATERAL (SELECT " PG_CASE_COLS " FROM cases c "
    "WHERE c.id = k.case_id FOR NO KEY UPDATE SKIP LOCKED) h ON true "
    "ORDER BY k.due, k.id";

/* The due messages come from outbox_due (schema 6), which plans its walk
 * with bitmap and sequential scans off, so that it reads messages_outbox
 * in order and stops at the batch, whatever the statistics. The messages
 * table is seldom analysed during a run (a sweep's messages come and are
 * sent within minutes), and without statistics the planner took the
 * queued for a handful: it read every one through a bitmap and sorted
 * them, at every claim. Worse, each message sent since the last vacuum
 * leaves dead entries among the queued in messages_outbox, which a bitmap
 * reads again at every claim (1.3 ms a claim with none due, after a
 * 5,000-message sweep); an index scan marks them dead once and passes
 * them after. A limit the planner cannot see (a sub-select) was not
 * enough: with a handful expected, the bitmap still looked cheaper. */
const char pg_claim_outbox_sql[] =
    "WITH due AS (SELECT id FROM outbox_due($2, $3, " NOW("$5") ") id), "
    "claimed AS (UPDATE messages m SET claimed_by = $1, "
    "claimed_until = " NOW("$5") " + $4 FROM due WHERE m.id = due.id "
    "RETURNING m.id, m.case_id, m.borrower_id, m.channel, m.template, "
    "m.recipient, m.body, m.attempts, m.at, m.next_attempt, m.state, "
    "m.step) "
    "SELECT m.id, m.case_id, m.borrower_id, m.channel, m.template, "
    "m.recipient, m.body, m.attempts, m.at, m.state, m.step, c.state, "
    "c.closed, c.mover, c.on_hold, b.timezone, b.ceased, b.do_not_contact "
    "FROM claimed m LEFT JOIN cases c ON c.id = m.case_id "
    "LEFT JOIN borrowers b ON b.id = c.borrower_id "
    "ORDER BY m.next_attempt, m.id";

/* Events, first statement: the cases with free pending events, oldest
 * first, each case's row locked (skipped when another claimer holds it),
 * and whether it is in error (the second statement is for those only).
 * Only the oldest free events are looked at, four for each case asked
 * for: payments coming faster than the node handles their events leave
 * thousands queued, and grouping them all cost each claim more than the
 * payments it served (1.4 ms at 1,300 queued). A case's first event is
 * among them or the case is not taken this time; fewer cases are taken
 * when the oldest events name few, and the next claim takes the rest.
 * When they name only cases in error, or only cases another transaction
 * holds (a node working through one case's backlog, a DBA's session: a
 * row with no id says so), the claim looks at every queued event
 * (pg_claim_event_cases_all_sql), as such a case can have thousands
 * queued and a healthy case's event must not wait behind them.
 * Not parked is "status <> 'failed'", not "= 'pending'" (the same rows:
 * the column holds one or the other): the events table is seldom
 * analysed (it is mostly empty, its rows come and go), and without
 * statistics the planner takes "= 'pending'" for one row in 200, reads
 * every queued event through a bitmap and sorts them (9.6 ms at 5,500
 * queued), so a node that fell behind fell further behind at every
 * claim. "<>" it takes for nearly all: it reads the oldest few in id
 * order from events_unparked (schema 5), statistics or none. Their
 * cases are looked up by key (HELD): joined alone, an unanalysed book's
 * cases were all read at each claim, most often to find none.
 * $1 max, $2 now. */
#define EVENT_CASES(set, when)                                           \
  "WITH w AS (SELECT case_id, min(id) AS first FROM (SELECT case_id, id " \
  "FROM events e WHERE status <> 'failed' AND " FREE("e", NOW("$2"))      \
  " ORDER BY id LIMIT $1::bigint * 4) o "                                 \
  "GROUP BY case_id ORDER BY first LIMIT $1::bigint), "                   \
  "t AS (SELECT c.id, c.error IS NOT NULL AS e, w.first FROM cases c "    \
  "JOIN w ON w.case_id = c.id WHERE " HELD("w")                           \
  " FOR NO KEY UPDATE OF c SKIP LOCKED) " set                             \
  "SELECT id, e, first FROM t " when "UNION ALL SELECT NULL, true, NULL " \
  "WHERE NOT EXISTS (SELECT 1 FROM t) AND EXISTS (SELECT 1 FROM w) "      \
  "ORDER BY first"
const char pg_claim_event_cases_sql[] = EVENT_CASES("", "");
/* The same, also leaving the ids of the cases it took that are not in
 * error in the transaction's setting named $3 (a text[] literal, '{}'
 * for none), where pg_claim_events_set_sql, sent with it, reads them: a
 * node's batch claims its events in one round trip, not two (a slice of
 * a payment group's events made four: its BEGIN, these two, its
 * commit). The events statement still runs after the cases are locked,
 * with a snapshot of its own. The setting is made whether the claim
 * took cases or not (the first branch's one-time filter). */
const char pg_claim_event_cases_set_sql[] = EVENT_CASES(
    ", s AS (SELECT set_config($3, coalesce((SELECT array_agg(id)::text "
    "FROM t WHERE NOT e), '{}'), true) AS v) ",
    "WHERE (SELECT v FROM s) IS NOT NULL ");
#undef EVENT_CASES

/* The same, looking at every queued event. */
const char pg_claim_event_cases_all_sql[] =
    "SELECT c.id, c.error IS NOT NULL FROM cases c JOIN (SELECT case_id, "
    "min(id) AS first "
    "FROM events e WHERE status = 'pending' AND " FREE("e", NOW("$2"))
    " GROUP BY case_id ORDER BY first LIMIT $1) w ON w.case_id = c.id "
    "ORDER BY w.first FOR NO KEY UPDATE OF c SKIP LOCKED";

/* Events, second statement: the events of those cases in error are
 * parked beside the case's failed one (the retry brings them back, in
 * order), so that no claim steps over them again. $1 case ids. */
const char pg_park_events_sql[] =
    "UPDATE events e SET status = 'failed', claimed_by = NULL, "
    "claimed_until = NULL FROM cases c WHERE c.id = e.case_id AND "
    "c.error IS NOT NULL AND e.case_id = ANY($1::text[]) AND "
    "e.status = 'pending'";

/* Events, third statement, run with a snapshot taken after the case rows
 * are ours: any earlier claimer of these cases held the same row lock and
 * has committed, so its claims are seen. A case with an event claimed by
 * another node whose lease is alive is left to it (the node would
 * otherwise handle that case's later events before the earlier ones); a
 * case's events this node holds already do not stop it taking the later
 * ones. Each event comes with its case, as the timer claim's do, read
 * under the lock the first statement took: its step need not read it.
 * $1 node, $2 case ids (a text[]), $3 lease_ms, $4 now, $5 max. */
#define CLAIM_EVENTS(ids)                                                  \
  "WITH pick AS (SELECT e.id FROM events e WHERE "                        \
  "e.case_id = ANY(" ids ") AND e.status = 'pending' AND "                \
  FREE("e", NOW("$4")) " AND NOT EXISTS (SELECT 1 FROM events o WHERE "   \
  "o.case_id = e.case_id AND o.status = 'pending' AND NOT "               \
  FREE("o", NOW("$4")) " AND o.claimed_by <> $1) "                        \
  "ORDER BY e.id LIMIT $5 FOR UPDATE), "                                  \
  "claimed AS (UPDATE events e SET claimed_by = $1, "                     \
  "claimed_until = " NOW("$4") " + $3 FROM pick WHERE e.id = pick.id "    \
  "RETURNING e.id, e.case_id, e.type, e.data, e.at) "                     \
  "SELECT k.id, k.case_id, k.type, k.data, k.at, h.* FROM claimed k "     \
  "LEFT JOIN LATERAL (SELECT " PG_CASE_COLS " FROM cases c WHERE "        \
  "c.id = k.case_id) h ON true ORDER BY k.id"
const char pg_claim_events_sql[] = CLAIM_EVENTS("$2::text[]");
/* The same, its case ids read from the setting named $2, which
 * pg_claim_event_cases_set_sql just made. */
const char pg_claim_events_set_sql[] =
    CLAIM_EVENTS("current_setting($2)::text[]");
#undef CLAIM_EVENTS

/* When this node can next claim a timer. $1 now. First part: the earliest
 * free timer no other transaction holds. A node's claim is in its batch's
 * transaction until the commit, so the rows it is working on look free to
 * others; FOR KEY SHARE SKIP LOCKED passes over them (the lock is taken by
 * the claim's FOR UPDATE) where a plain read would name them, and the
 * asking node would wake at once, find nothing to claim and ask again for
 * as long as that batch lasts. The one row it locks is the one this node
 * claims next, if it is due; the lock ends with the caller's transaction
 * (at once outside one), and blocks no other claim's SKIP LOCKED long.
 * Second part: a claim committed by a node that then died, free when its
 * lease ends (claimed_until, by the database's clock). Timers another
 * node's open batch holds are in neither: that batch deletes them when it
 * commits, or gives them back at once if its node dies (its transaction
 * rolls back), and the asker sees them at its next look. They are read
 * through timers_claimed (schema 8), by a time computed once (a sub-
 * select): compared with the database's clock row by row, a volatile
 * expression, no index can serve them and every timer was read. */
const char pg_timer_next_due_sql[] =
    "WITH free AS (SELECT due FROM timers t WHERE " FREE("t", NOW("$1"))
    " ORDER BY due, id LIMIT 1 FOR KEY SHARE SKIP LOCKED) "
    "SELECT least((SELECT due FROM free), (SELECT min(greatest(due, "
    "claimed_until + 1)) FROM timers t WHERE claimed_until >= (SELECT "
    NOW("$1") ")))";

/* Counting timers in other nodes' open batches (no SKIP LOCKED): a
 * simulation must not run past them (pg_timer_first_due). Nor past one
 * that waits, leased for PG_TIMER_WAIT_MS ($2) because its case's
 * earlier timer was held elsewhere: once that has run, the one that
 * waits is the case's next, and a clock that passed it ran it late (a
 * node of `tick --now` moved on to the next due time meanwhile). A
 * longer lease, a node's claim outside a batch, is passed over. */
const char pg_timer_first_due_sql[] =
    "SELECT min(due) FROM timers t WHERE t.claimed_until IS NULL OR "
    "t.claimed_until <= " NOW("$1") " + $2::bigint";

static const char timer_finish_sql[] =
    "DELETE FROM timers WHERE id = $1 AND claimed_by = $2";

static const char claims_release_sql[] =
    "WITH t AS (UPDATE timers SET claimed_by = NULL, claimed_until = NULL "
    "WHERE claimed_by = $1 RETURNING 1), "
    "e AS (UPDATE events SET claimed_by = NULL, claimed_until = NULL "
    "WHERE claimed_by = $1 RETURNING 1), "
    "m AS (UPDATE messages SET claimed_by = NULL, claimed_until = NULL "
    "WHERE claimed_by = $1 RETURNING 1) "
    "SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM e) + "
    "(SELECT count(*) FROM m)";

/* $1 node, $2 case, $3 ms, $4 now. Free or this node's: another node's claim
 * alive is that node's to finish; its open batch's rows are skipped. */
static const char timers_retry_sql[] =
    "WITH mine AS (SELECT id FROM timers t WHERE case_id = $2 AND "
    "(claimed_by = $1 OR " FREE("t", NOW("$4")) ") FOR UPDATE SKIP LOCKED) "
    "UPDATE timers t SET claimed_by = $1, claimed_until = " NOW("$4")
    " + $3 FROM mine WHERE t.id = mine.id";

static const char borrower_lock_sql[] =
    "SELECT 1 FROM borrowers WHERE id = $1 FOR NO KEY UPDATE";

/* Runs sql with text parameters; the rows, or NULL with err set. */
static PGresult *claim_query(PGconn *c, const char *sql, int n,
                             const char *const *params, const char *doing,
                             rc_error *err) {
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    pg_fail(c, r, doing, err);
    PQclear(r);
    return NULL;
  }
  return r;
}

/* The shared shape of the timer and outbox claims; the timers' has a
 * sixth parameter, their wait. */
static PGresult *claim_due(PGconn *c, const char *sql, const char *node,
                           int64_t until, int max, int64_t lease_ms,
                           int64_t now, const char *doing, rc_error *err) {
  char until_s[24], max_s[16], lease_s[24], now_s[24], wait_s[24];
  const char *params[6] = {node, until_s, max_s, lease_s, now_s, wait_s};

  if (!node || !*node || max < 1 || lease_ms < 1) {
    rc_error_set(err, RC_EINTERNAL, NULL,
                 "%s: a claim needs a node, a batch and a lease", doing);
    return NULL;
  }
  snprintf(until_s, sizeof until_s, "%" PRId64, until);
  snprintf(max_s, sizeof max_s, "%d", max);
  snprintf(lease_s, sizeof lease_s, "%" PRId64, lease_ms);
  snprintf(now_s, sizeof now_s, "%" PRId64, now < 0 ? (int64_t)-1 : now);
  snprintf(wait_s, sizeof wait_s, "%d", (int)PG_TIMER_WAIT_MS);
  return claim_query(c, sql, sql == claim_timers_sql ? 6 : 5, params, doing,
                     err);
}

PGresult *pg_claim_timers(PGconn *c, const char *node, int64_t until, int max,
                          int64_t lease_ms, int64_t now, rc_error *err) {
  return claim_due(c, claim_timers_sql, node, until, max, lease_ms, now,
                   "claiming due timers", err);
}

PGresult *pg_lock_timers(PGconn *c, const char *node, int64_t until, int max,
                         int64_t now, rc_error *err) {
  char until_s[24], max_s[16], now_s[24], wait_s[24];
  const char *params[5] = {until_s, max_s, now_s, node, wait_s};

  if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
    rc_error_set(err, RC_EINTERNAL, NULL,
                 "claiming due timers: needs the caller's transaction");
    return NULL;
  }
  snprintf(until_s, sizeof until_s, "%" PRId64, until);
  snprintf(max_s, sizeof max_s, "%d", max);
  snprintf(now_s, sizeof now_s, "%" PRId64, now < 0 ? (int64_t)-1 : now);
  snprintf(wait_s, sizeof wait_s, "%d", (int)PG_TIMER_WAIT_MS);
  return claim_query(c, pg_lock_timers_sql, 5, params, "claiming due timers",
                     err);
}

PGresult *pg_claim_outbox(PGconn *c, const char *node, int64_t until, int max,
                          int64_t lease_ms, int64_t now, rc_error *err) {
  return claim_due(c, pg_claim_outbox_sql, node, until, max, lease_ms, now,
                   "claiming the outbox", err);
}

static int due_query(PGconn *c, const char *sql, int64_t now, int64_t *due,
                     rc_error *err) {
  char now_s[24], wait_s[24];
  const char *params[2] = {now_s, wait_s};
  PGresult *r;
  int rc = RC_OK;

  snprintf(now_s, sizeof now_s, "%" PRId64, now < 0 ? (int64_t)-1 : now);
  snprintf(wait_s, sizeof wait_s, "%d", (int)PG_TIMER_WAIT_MS);
  if (!(r = claim_query(c, sql, sql == pg_timer_first_due_sql ? 2 : 1, params,
                        "reading the next timer", err)))
    return RC_ESTORE;
  if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
    rc = RC_ENOTFOUND;
  else
    *due = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return rc;
}

int pg_timer_next_due(PGconn *c, int64_t now, int64_t *due, rc_error *err) {
  return due_query(c, pg_timer_next_due_sql, now, due, err);
}

int pg_timer_first_due(PGconn *c, int64_t now, int64_t *due, rc_error *err) {
  return due_query(c, pg_timer_first_due_sql, now, due, err);
}

char *pg_claim_id_array(const PGresult *r) {
  size_t len = 3, at = 0;
  char *out;
  int i;

  for (i = 0; i < PQntuples(r); i++)
    len += 2 * (size_t)PQgetlength(r, i, 0) + 3;
  if (!(out = malloc(len))) return NULL;
  out[at++] = '{';
  for (i = 0; i < PQntuples(r); i++) {
    const char *s = PQgetvalue(r, i, 0);
    if (i) out[at++] = ',';
    out[at++] = '"';
    for (; *s; s++) {
      if (*s == '"' || *s == '\\') out[at++] = '\\';
      out[at++] = *s;
    }
    out[at++] = '"';
  }
  out[at++] = '}';
  out[at] = '\0';
  return out;
}

int pg_claim_event_cases_wider(const PGresult *cases) {
  int i = 0;

  while (i < PQntuples(cases) && PQgetvalue(cases, i, 1)[0] == 't') i++;
  return PQntuples(cases) > 0 && i == PQntuples(cases);
}

char *pg_claim_event_cases(PGresult *cases, int *in_error, rc_error *err) {
  char *ids = pg_claim_id_array(cases);
  *in_error = 0;
  /* Read under the lock just taken: no case's error changes meanwhile. */
  for (int i = 0; i < PQntuples(cases); i++)
    *in_error = *in_error || PQgetvalue(cases, i, 1)[0] == 't';
  PQclear(cases);
  if (!ids)
    rc_error_set(err, RC_ENOMEM, NULL, "claiming events: out of memory");
  return ids;
}

PGresult *pg_claim_events(PGconn *c, const char *node, int max,
                          int64_t lease_ms, int64_t now, rc_error *err) {
  char max_s[16], lease_s[24], now_s[24], *ids;
  const char *cases_params[2] = {max_s, now_s};
  PGresult *cases, *events;
  int in_error;

  if (!node || !*node || max < 1 || lease_ms < 1) {
    rc_error_set(err, RC_EINTERNAL, NULL,
                 "claiming events: a claim needs a node, a batch and a lease");
    return NULL;
  }
  if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
    rc_error_set(err, RC_EINTERNAL, NULL,
                 "claiming events: needs the caller's transaction");
    return NULL;
  }
  snprintf(max_s, sizeof max_s, "%d", max);
  snprintf(lease_s, sizeof lease_s, "%" PRId64, lease_ms);
  snprintf(now_s, sizeof now_s, "%" PRId64, now < 0 ? (int64_t)-1 : now);
  cases = claim_query(c, pg_claim_event_cases_sql, 2, cases_params,
                      "claiming the cases of queued events", err);
  if (cases && pg_claim_event_cases_wider(cases)) {
    PQclear(cases);
    cases = claim_query(c, pg_claim_event_cases_all_sql, 2, cases_params,
                        "claiming the cases of queued events", err);
  }
  if (!cases) return NULL;
  if (!(ids = pg_claim_event_cases(cases, &in_error, err))) return NULL;
  {
    const char *park[1] = {ids};
    PGresult *r = in_error ? PQexecParams(c, pg_park_events_sql, 1, NULL, park,
                                          NULL, NULL, 0)
                           : NULL;
    if (in_error && PQresultStatus(r) != PGRES_COMMAND_OK) {
      pg_fail(c, r, "parking the events of cases in error", err);
      events = NULL;
    } else {
      const char *params[5] = {node, ids, lease_s, now_s, max_s};
      events = claim_query(c, pg_claim_events_sql, 5, params,
                           "claiming queued events", err);
    }
    PQclear(r);
  }
  free(ids);
  return events;
}

/* Runs a statement that answers with a count: the count, or an RC code. */
static int claim_count(PGconn *c, const char *sql, int n,
                       const char *const *params, const char *doing,
                       rc_error *err) {
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
  int rc;

  if (PQresultStatus(r) == PGRES_COMMAND_OK)
    rc = atoi(PQcmdTuples(r));
  else if (PQresultStatus(r) == PGRES_TUPLES_OK)
    rc = PQntuples(r) == 1 && PQnfields(r) == 1 ? atoi(PQgetvalue(r, 0, 0))
                                                : PQntuples(r);
  else
    rc = pg_fail(c, r, doing, err);
  PQclear(r);
  return rc;
}

int pg_timer_finish(PGconn *c, int64_t id, const char *node, rc_error *err) {
  char id_s[24];
  const char *params[2] = {id_s, node};

  snprintf(id_s, sizeof id_s, "%" PRId64, id);
  return claim_count(c, timer_finish_sql, 2, params, "ending a timer", err);
}

int pg_claims_release(PGconn *c, const char *node, rc_error *err) {
  const char *params[1] = {node};
  return claim_count(c, claims_release_sql, 1, params,
                     "giving back the node's claims", err);
}

int pg_timers_retry(PGconn *c, const char *case_id, const char *node,
                    int64_t ms, int64_t now, rc_error *err) {
  char ms_s[24], now_s[24];
  const char *params[4] = {node, case_id, ms_s, now_s};

  snprintf(ms_s, sizeof ms_s, "%" PRId64, ms);
  snprintf(now_s, sizeof now_s, "%" PRId64, now < 0 ? (int64_t)-1 : now);
  return claim_count(c, timers_retry_sql, 4, params,
                     "claiming a held case's timers for later", err);
}

int pg_borrower_lock(PGconn *c, const char *borrower_id, rc_error *err) {
  const char *params[1] = {borrower_id};
  PGresult *r = claim_query(c, borrower_lock_sql, 1, params,
                            "locking the borrower for the guard", err);
  int rc;

  if (!r) return RC_ESTORE;
  rc = PQntuples(r) == 1;
  PQclear(r);
  return rc;
}
