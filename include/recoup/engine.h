/* The engine: the one path every event takes. Outside world (CLI, HTTP,
 * timer) -> engine -> Lua handler -> effects recorded here -> store, one
 * savepoint per event inside a batched transaction. */
#ifndef RECOUP_ENGINE_H
#define RECOUP_ENGINE_H

#include "recoup/clock.h"
#include "recoup/script.h"
#include "recoup/policy.h"
#include "recoup/query.h"

typedef struct engine engine;
typedef struct json_t json_t;

typedef struct engine_options {
  const char *dir; /* institution directory */
  const char *db;  /* database path; NULL: service.db of the config */
  int simulated;   /* start on a simulated clock */
  rc_time start;   /* simulated start time; 0: now */
  int quiet;
  /* A SQLite book must be there: RC_ENOTFOUND rather than make an empty
   * one (report, errors, retry: store_open_flags STORE_MUST_EXIST). */
  int must_exist;
} engine_options;

enum { ENGINE_POLICY_REASONS = 32 };

typedef struct engine_stats {
  int64_t events, transitions, timers_fired, errors;
  /* The guard's deferrals and refusals since start, by verdict and reason
   * (for /metrics without scanning the journal). */
  struct {
    char verdict[16], reason[96];
    int64_t count;
  } policy[ENGINE_POLICY_REASONS];
  int npolicy;
} engine_stats;

int engine_open(engine **out, const engine_options *opts, rc_errlist *errors);
/* Checks generations (recoup.h RECOUP_CHECKS_GENERATION): the book's,
 * 1 for a book made before they were kept; the findings of newer checks
 * the scripts loaded despite, for the command to warn of (empty when the
 * scripts pass every check); and holding the book to today's generation
 * when there are none (*raised: the generation it was at, 0 when it was
 * at today's already). serve, tick and import hold after a clean open. */
int engine_checks_generation(engine *eng, int *generation, rc_error *err);
const rc_errlist *engine_check_warnings(const engine *eng);
int engine_checks_hold(engine *eng, int *raised, rc_error *err);
/* A checks generation as meta stores it (a whole number from 1), or 0
 * when the text is none (edited by hand). */
int engine_checks_generation_parse(const char *text);
/* Whether engine_open made the book (a SQLite file that was not there). */
int engine_created_book(const engine *eng);
/* The first folder engine_open made on the way to the book, or "". */
const char *engine_created_dir(const engine *eng);
void engine_close(engine *eng);
/* The read side (query.h) over the engine's database: every reader asks
 * there; only the engine writes. */
query *engine_query(engine *eng);
rc_clock *engine_clock(engine *eng);
script *engine_script(engine *eng);
const engine_stats *engine_get_stats(const engine *eng);
/* Puts back the counters as they were (a group of writes the database
 * ended, run again: its counts are not counted twice). */
void engine_set_stats(engine *eng, const engine_stats *stats);

/* Rehearsals. A database run on a simulated clock remembers where that
 * clock stopped, and is a rehearsal from then on.
 * engine_clock_to: a simulated run up to until, from where the last one
 *   stopped (or from until); RC_ECONFLICT when until is earlier.
 * engine_clock_save: records where a simulated run stopped.
 * engine_rehearsal: whether the database is a rehearsal (*yes) and where
 *   its clock stopped (*at: the clock for work that does not move time,
 *   report and retry); a read that fails is an error, never "no".
 * engine_clock_real: the real clock. A rehearsal is refused
 *   (RC_ECONFLICT, naming the database) unless allowed, since its
 *   messages would go to real borrowers; allowed, it forgets the
 *   simulated clock for good, unless that is still ahead of real time. */
int engine_clock_to(engine *eng, rc_time until, rc_error *err);
int engine_clock_save(engine *eng, rc_time until, rc_error *err);
int engine_rehearsal(engine *eng, int *yes, rc_time *at, rc_error *err);
int engine_clock_real(engine *eng, int allowed, rc_error *err);

/* Ingest: each opens and commits its own transaction when none is open, so
 * a success means the input is durable. Nothing runs handlers; call
 * engine_run for that. */
int engine_begin(engine *eng, rc_error *err);
int engine_commit(engine *eng, rc_error *err);
/* A transaction whose commit need not reach the disk yet
 * (store_begin_unsynced): what it records was already done outside, and a
 * power cut that takes it back has it done again as after a crash. */
int engine_begin_unsynced(engine *eng, rc_error *err);
/* store_sync: every commit so far durable, before something leaves the
 * process that depends on one a sweep left unsynced (an answer, a
 * message handed to a gateway). */
int engine_sync(engine *eng, rc_error *err);
void engine_rollback(engine *eng);

/* Opens a case (routed, `opened` queued) or updates a known one (`updated`
 * queued with the changed fields) from the rt:open / import / HTTP shape.
 * *created tells which. */
int engine_upsert_case(engine *eng, json_t *fields, int text_values,
                       int *created, rc_error *err);
/* An import's transaction: it holds the opening of cases from its start,
 * before any row, so that two imports of the same cases (or an import
 * beside a node opening cases) wait for one another rather than lock the
 * rows in opposite orders and deadlock (PostgreSQL; SQLite's one writer
 * waits anyway). */
int engine_import_begin(engine *eng, rc_error *err);
/* Whether the database ended the last transaction to break a deadlock
 * with another writer (or a serialization conflict): nothing of it was
 * kept, and it may be run again as it was. */
int engine_contended(const engine *eng);
/* The same inside an import's transaction, except that a new case's
 * `opened` is not queued: the import hands the cases it opened, in file
 * order, to engine_import_opened once every row is in. */
int engine_import_case(engine *eng, json_t *fields, int text_values,
                       int *created, rc_error *err);
/* engine_import_case in two halves, so that a file's rows are parsed on
 * one thread while the engine writes them on another. A reading holds
 * what a row is parsed with, apart from the engine: the configuration's
 * currency and country, copied, and a clock of its own (the time zones
 * rows name are opened into it). */
typedef struct engine_reading engine_reading;
struct case_input;
engine_reading *engine_reading_new(engine *eng, rc_error *err);
void engine_reading_free(engine_reading *r);
/* case_input_parse for an import (its text already checked for NUL):
 * out is the caller's to free, whatever the result. */
int engine_reading_parse(engine_reading *r, json_t *fields, int text_values,
                         struct case_input *out, rc_error *err);
/* engine_import_case of a row engine_reading_parse read; in stays the
 * caller's. */
int engine_import_input(engine *eng, struct case_input *in, int *created,
                        rc_error *err);
/* A row engine_import_input will write a few rows from now: what the
 * store looks up for it is asked into the cache (store_import_ahead). */
void engine_import_ahead(engine *eng, const struct case_input *in);
/* Journals each case's opening and runs its `opened` handlers, in the
 * import's transaction: what the queued event did, without an event row
 * written and deleted, and one journal run a case. A handler that fails
 * leaves its case in error with `opened` parked as failed (recoup retry),
 * as from the queue; the others keep their effects. Errors: the store's. */
int engine_import_opened(engine *eng, const char *const *ids, int n,
                         rc_error *err);
/* Queues an event. A key names one event (its case and type): the same
 * again sets *duplicate and writes nothing; with another case or type it
 * is RC_ECONFLICT. Events only the core emits are refused (RC_EINVAL).
 * duplicate may be NULL. */
int engine_post(engine *eng, const char *case_id, const char *type,
                json_t *data, const char *key, int *duplicate, rc_error *err);
/* Records a payment, applies it to the balance (the excess beyond it is
 * kept as overpaid) and amount due, and queues the `payment` event. A ref
 * names one payment: the same ref, case and amount again sets *duplicate
 * and writes nothing; with another case or amount it is RC_ECONFLICT. */
int engine_pay(engine *eng, const char *case_id, rc_money amount,
               const char *ref, rc_time at, int *duplicate, rc_error *err);
/* engine_pay of a payment that names its currency (NULL: the case's). A
 * payment is recorded in its case's currency, never converted: another
 * currency is RC_EINVAL naming "currency", and nothing is written. A ref
 * already taken in another currency is RC_ECONFLICT, as another amount. */
int engine_pay_in(engine *eng, const char *case_id, rc_money amount,
                  const char *currency, const char *ref, rc_time at,
                  int *duplicate, rc_error *err);
/* A group's payments (engine_pay's cases and refs, in its order), named
 * before its first job: their reads may go to the store together. No
 * case or ref twice, and no other write before them. */
void engine_pays_ahead(engine *eng, int n, const char *const *cases,
                       const char *const *refs);
/* Completes a task with outcome (an object with an `outcome` string),
 * checked first against the workflow's declared outcomes (RC_EINVAL naming
 * the field; nothing written). The same body again for a done task sets
 * *duplicate; another body is RC_ECONFLICT. *result (a new reference, may
 * be NULL) receives what was stored. */
int engine_task_complete(engine *eng, int64_t task_id, json_t *outcome,
                         json_t **result, int *duplicate, rc_error *err);
/* An agent takes an open task; RC_ECONFLICT when it is not open. */
int engine_task_claim(engine *eng, int64_t task_id, const char *assignee,
                      rc_error *err);
/* A person's work on a case from the console, outside any handler; each
 * runs in the caller's transaction (a job of the group commit) or its own,
 * and journals the actor (engine_set_actor). */
enum { ENGINE_NOTE_MAX = 4096 }; /* bytes of a note */
/* A note: text of 1 to ENGINE_NOTE_MAX bytes (RC_EINVAL naming "text");
 * RC_ENOTFOUND for an unknown case. key (or NULL) names the note, as an
 * event's key names it: the same key, case and text again writes nothing
 * and gives the note taken (duplicate set, its time and user); the key
 * with another case or text, or a key an event holds, is RC_ECONFLICT
 * naming "key", nothing written. */
typedef struct engine_note_taken {
  rc_time at;
  char user[USER_NAME_MAX + 1]; /* "" for a machine token */
  int duplicate;
} engine_note_taken;
int engine_case_note(engine *eng, const char *case_id, const char *text,
                     const char *key, engine_note_taken *out, rc_error *err);
/* A promise to pay amount by `by` (a date, date-time or duration from
 * now), as case:promise makes one: the open promise is superseded. The
 * same amount and day as the open promise again sets *duplicate and
 * writes nothing; *id is the promise, by_date (16 bytes) its day. A closed
 * case is RC_ECONFLICT; amount, by are RC_EINVAL naming the field. */
int engine_case_promise(engine *eng, const char *case_id, rc_money amount,
                        const char *by, int64_t *id, char *by_date,
                        int *duplicate, rc_error *err);
/* Gives a waiting task to a user (claimed by them), journaled with who
 * had it before. RC_EINVAL naming "user" for an unknown or disabled user,
 * a read-only one, or an agent whose queues lack the task's; RC_ECONFLICT
 * for a task done or cancelled. */
int engine_task_assign(engine *eng, int64_t task_id, const char *user,
                       rc_error *err);
/* The declared outcomes of a task kind on the case's workflow version,
 * for the console's forms (script_task_outcomes); NULL when undeclared. */
json_t *engine_task_outcomes(engine *eng, const store_case *c,
                             const char *kind);
/* What the guard would decide now for a contact with case c (of
 * borrower b, both as the caller read them: a console's card or page has
 * them already, and asks no second read) on each of the n channels, with
 * its caps' counts (policy_explain), writing nothing; *zone (may be NULL)
 * gets the borrower's zone. The same request the engine asks when it
 * sends or makes a task. to_third_party: the contact is with the
 * employer or a named contact, spoken as a third_party template is
 * written (no debt details): blocked under third_parties = "none", else
 * the borrower's own decision. */
int engine_guard_explain(engine *eng, const store_case *c,
                         const store_borrower *b, const char (*channels)[24],
                         int n, int to_third_party, policy_explanation *out,
                         rc_zone **zone, rc_error *err);
/* The gateway's word on a message: "delivered" or "failed", once. The
 * same receipt again sets *duplicate (may be NULL) and queues nothing; the
 * other one for a message it already settled is a conflict naming the
 * status, since a status never goes back. */
int engine_receipt(engine *eng, int64_t message_id, const char *status,
                   int *duplicate, rc_error *err);
/* One delivery attempt's outcome, from the outbox: sent; or a retry at
 * next_attempt; or, when final, failed for good — then `message_failed`
 * is queued for the case. A receipt that came first keeps its status
 * (and its event is the only one). */
int engine_delivery(engine *eng, int64_t message_id, const char *case_id,
                    int ok, int final, int attempts, rc_time next_attempt,
                    const char *reason, rc_error *err);
/* A queued message about to leave the outbox (each attempt), asked again
 * of what can change after it was queued, from what store_outbox_due
 * read with it: *go 1 sends it; 0 when it was deferred to the borrower's
 * next contact hours (attempts unchanged), blocked (a cease,
 * do-not-contact or dispute since, unless legal_notice) or cancelled (its
 * case moved on since, by another step than the one that wrote it:
 * case_closed, case_moved_on), journaled as `policy` with the rule. A
 * failed write, or a case not in the book, is the store's error and *go
 * 0: the message waits. */
int engine_outbox_check(engine *eng, const store_outgoing *m, int *go,
                        rc_error *err);
/* An inbound reply (an SMS back, an email): queues `reply` {text, from}
 * on the case given, or on the sender's open case most recently written
 * to. *case_out (at least 160 bytes) receives the case. */
int engine_reply(engine *eng, const char *case_id, const char *from,
                 const char *text, char *case_out, rc_error *err);
/* Clears a case's error and re-queues its failed event; RC_ENOTFOUND for
 * an unknown case, RC_ECONFLICT for a case not in error. */
int engine_retry(engine *eng, const char *case_id, rc_error *err);
typedef void (*engine_case_fn)(void *ud, const char *case_id);
/* engine_retry for every case in error, in one transaction (or the
 * caller's); each (may be NULL) is told every case re-queued and *count
 * how many. */
int engine_retry_all(engine *eng, engine_case_fn each, void *ud, int *count,
                     rc_error *err);

/* Runs queued events and every timer due at or before until, in order,
 * with group commit. On a simulated clock the clock steps to each timer's
 * due time and ends at until. *steps counts events handled. Its batches'
 * commits are durable when it returns (one sync at the end). */
int engine_run(engine *eng, rc_time until, int64_t *steps, rc_error *err);
/* Like engine_run, but returns after about max_steps events so that a
 * service can answer requests between slices; *more is 1 when due work
 * remains. Its commits are left unsynced: the caller syncs (engine_sync,
 * or any plain commit) before acting on them. */
int engine_run_some(engine *eng, rc_time until, int64_t max_steps,
                    int64_t *steps, int *more, rc_error *err);
/* The earliest pending timer; RC_ENOTFOUND when there is none, and the
 * store's failure when it cannot be read (which is not idleness). */
int engine_next_due(engine *eng, rc_time *due, rc_error *err);
/* How many times the store connected to its database server again after
 * the server dropped the connection (store_reconnects). */
int engine_reconnects(engine *eng);
/* Something odd the store found in the book and worked around, once
 * (store_notice): for the log. NULL when nothing new. */
const char *engine_store_notice(engine *eng);
/* One input of many in a group commit: a savepoint, so that a refused
 * input undoes only itself. end takes the input's result and returns it
 * (or a store failure). */
int engine_job_begin(engine *eng, rc_error *err);
int engine_job_end(engine *eng, int rc, rc_error *err);
/* The same for a group that can run again without an input: the store
 * may make no savepoint (store_savepoint_light). After an input refused
 * with engine_group_replay set, what it wrote is still there: the caller
 * rolls the group back and runs it again without that input. */
int engine_group_job_begin(engine *eng, rc_error *err);
int engine_group_replay(const engine *eng);
/* engine_group_replay's answer when the write refused was an earlier
 * input's, read only while a later one ran: which one is not known. */
enum { ENGINE_REPLAY_GROUP = 2 };
/* store_group_checked: a group whose commit was refused with
 * engine_group_replay set, or an input refused with ENGINE_REPLAY_GROUP,
 * runs again so, to find the input whose write the database refused. */
void engine_group_checked(engine *eng, int on);
/* Whether the last input of a group was refused because another
 * transaction holds its case (PostgreSQL: an import, a psql session,
 * another node's group): inside a group a writer does not wait for the
 * case, which would stop the node's loop, HTTP included, for as long as
 * the holder holds it. It read nothing and wrote nothing of its own;
 * the caller runs it again later. Never set on SQLite (one writer). */
int engine_case_busy(const engine *eng);
/* Loads the institution's scripts anew beside the running ones: new cases
 * get the new workflow versions, running cases keep theirs unless the
 * workflow declares migrate. Refused — the old scripts keep running — when
 * the new ones fail to load; errors then lists why. */
int engine_reload(engine *eng, rc_errlist *errors, int *migrated);

/* Reloads reaching every node on one book. A successful engine_reload
 * bumps the book's reload generation (with its migrations, in one
 * transaction); engine_follow, called on each wake of a node, reads it
 * (one small read) and, when another node moved it on, loads this node's
 * own directory beside the running scripts, once a generation: no
 * migration, nothing written. A load that fails is not tried again until
 * the generation moves. The first call only takes the generation as
 * loaded (the scripts were loaded at open). A case whose workflow version
 * this node has not loaded makes it follow first (once a generation);
 * if the version is still missing, the case's event or timer is left as
 * it was, for a node that has it (on PostgreSQL another node takes it
 * when this node's claim ends, or at once when this node stops). */
typedef struct engine_reloads {
  int64_t generation; /* the book's reload this node has loaded; -1 unread */
  int64_t failed;     /* a generation whose scripts did not load here, or 0 */
  rc_error why;       /* the first problem of that load */
  int64_t followed;   /* reloads made for another node's, since start */
  /* The versions the book's last reload names that this node has not
   * loaded ("standard v3, ..."; "" when none): its files are behind. */
  char behind[256];
  int64_t waiting;  /* events and timers left for another node, total */
  char missing[96]; /* the last version missing ("standard v3") */
} engine_reloads;
int engine_follow(engine *eng, rc_error *err);
const engine_reloads *engine_reload_state(const engine *eng);
/* Open cases on a workflow version no loaded script holds (a version
 * bumped and its file dropped): they wait, unworked. *cases counts
 * them, versions lists them ("standard v1 (412 cases), ..."; cut to
 * size). One scan of the open cases. */
int engine_unloaded_versions(engine *eng, int64_t *cases, char *versions,
                             size_t size, rc_error *err);
/* A what-if candidate's start (DESIGN.md "What-if and versions"): every
 * open case on an older version of a workflow the loaded scripts declare
 * moves to the newest, by its migrate when it declares one, else to the
 * state of the same name when that exists and is not final; the others
 * stay where they are. *moved counts the cases moved. */
int engine_adopt(engine *eng, int *moved, rc_error *err);
/* The database is a throwaway copy (a what-if arm): commits stop waiting
 * for the disk. */
int engine_scratch(engine *eng);
/* Whether a transaction is open (a batch or an ingest call's own). */
int engine_in_transaction(const engine *eng);
/* How many WAL pages a commit may leave before they are copied back into
 * the database: fewer for shorter pauses (the service), more for
 * throughput (batch runs, the default). */
void engine_checkpoint_every(engine *eng, int pages);
/* store_checkpoint_apart: the copy back on a thread of the store's own. */
int engine_checkpoint_apart(engine *eng, int pages, int most, rc_error *err);
/* How the service and `recoup tick` copy the WAL back: on the store's
 * thread, 1000 pages (4 MB) at a time, while the loop or the sweep goes on. */
int engine_copy_apart(engine *eng, rc_error *err);
/* Writes the journal rows the running event holds back, so that a read
 * of the journal (case:history) sees them. */
int engine_journal_flush(engine *eng, rc_error *err);
/* A value kept in the database beside the data (the simulated clock of
 * `recoup tick`); query_meta reads it. */
int engine_meta_put(engine *eng, const char *key, const char *value,
                    rc_error *err);
/* Console users (DESIGN.md "People and the console"). Each call checks
 * its input first (RC_EINVAL naming the field: name, role, queues,
 * password; the message never holds the password), runs in its own
 * transaction (or the caller's), and touches no case: the change goes to
 * users_log, not to a case's journal. queues is "q1,q2", NULL or "" for
 * none. A name already taken is RC_ECONFLICT; an unknown one
 * RC_ENOTFOUND. */
int engine_user_add(engine *eng, const char *name, const char *role,
                    const char *queues, const char *password,
                    const char *display, rc_error *err);
/* The name people read for a user ("张敏"; "" removes it): checked as
 * user_check_display says, noted in users_log. The login stays the key
 * and what the journal keeps. */
int engine_user_set_display(engine *eng, const char *name, const char *display,
                            rc_error *err);
/* The queues an agent works ("q1,q2"; NULL or "" for none), in place of
 * those it had, noted in users_log ("queues"); a signed-in agent's next
 * request follows them. */
int engine_user_set_queues(engine *eng, const char *name, const char *queues,
                           rc_error *err);
/* RC_ECONFLICT when display (NULL or "": none) reads as another user's
 * login, naming display_name, or (added: name is a new user) name is
 * another user's display name, naming name; both calls above ask it
 * again in their transaction. For `recoup user add` to say so before a
 * password is typed. */
int engine_user_names_apart(engine *eng, const char *name, const char *display,
                            int added, rc_error *err);
/* Disabling a user ends its sessions at once; so does a new password
 * (set from `recoup user passwd`: no session of the user is the one
 * asking). */
int engine_user_set_disabled(engine *eng, const char *name, int disabled,
                             rc_error *err);
int engine_user_passwd(engine *eng, const char *name, const char *password,
                       rc_error *err);
/* Sign-in: RC_OK with the user in *out (the caller frees it with
 * store_user_free) when the password matches and the user is enabled.
 * Otherwise RC_EINVAL, "wrong name or password" alike for an unknown name
 * and a wrong password, and taking as long (Argon2id against a decoy);
 * "user NAME is disabled" only to the one who gave its password. */
int engine_user_check(engine *eng, const char *name, const char *password,
                      store_user *out, rc_error *err);
/* engine_user_check in two halves, for the service: Argon2id takes a
 * tenth of a second on purpose, and must not stop the loop. _prepare
 * reads the user (on the engine's thread; an unknown name is no error:
 * found is 0); _verify runs on any thread and touches no engine: 1 when
 * the password matches an enabled user, 0 otherwise, as long either way
 * (an unknown name is checked against a decoy). _free wipes the hash. */
typedef struct engine_sign_in {
  store_user user; /* when found */
  int found;
  char hash[128]; /* the stored Argon2id string (user.h USER_HASH_SIZE) */
} engine_sign_in;
int engine_sign_in_prepare(engine *eng, const char *name, engine_sign_in *s,
                           rc_error *err);
int engine_sign_in_verify(const engine_sign_in *s, const char *password);
void engine_sign_in_free(engine_sign_in *s);
/* Console sessions (the service's session.c), each in its own
 * transaction (or the caller's), journaled in users_log with the client
 * address, never in a case's journal. Times are wall-clock ms: a session
 * lasts real hours even while the book runs on a rehearsal clock. id is
 * the hex SHA-256 of the cookie's token.
 * _create ends stale sessions (past expires_at, or idle since
 * idle_before) first, then adds this one ("signed_in"). */
int engine_session_create(engine *eng, const char *id, const char *name,
                          rc_time now, rc_time expires_at, rc_time idle_before,
                          const char *address, rc_error *err);
int engine_session_touch(engine *eng, const char *id, rc_time now,
                         rc_error *err);
/* Ends a session ("signed_out" for name when there was one). */
int engine_session_end(engine *eng, const char *id, const char *name,
                       rc_time now, const char *address, rc_error *err);
/* A failed sign-in, for the record ("sign_in_failed"); name as given when
 * it is a valid user name, else (NULL too) "?". */
int engine_sign_in_failed(engine *eng, const char *name, rc_time now,
                          const char *address, rc_error *err);
/* This database's random name, made once: it prefixes idempotency keys
 * so that two databases never send the same key. */
int engine_instance_id(engine *eng, char *buf, size_t size, rc_error *err);
/* A cheap write, rolled back: can the database take writes now? */
int engine_writable(engine *eng, rc_error *err);
/* The database argument the engine was opened on (a file, ":memory:" or
 * a postgresql:// URL): /health names the store by it. */
const char *engine_database(const engine *eng);
/* Copies the database at src into a new file dst, consistently even
 * while another process writes to src (the REPL's scratch copy). */
int engine_copy_database(const char *src, const char *dst, rc_error *err);
/* Stop after the current batch (a signal handler may call it). */
void engine_interrupt(engine *eng);
/* Called after every committed batch with the steps run so far (progress
 * on a terminal). */
typedef void (*engine_progress_fn)(void *ud, int64_t steps);
void engine_set_progress(engine *eng, engine_progress_fn fn, void *ud);
/* Asked by engine_run_some between claims and between the timers a claim
 * gave (not between the events of one claim: on PostgreSQL those are
 * leased), with the steps it ran so far; never before its first step,
 * nor while it replays a failed batch. Nonzero ends the batch there,
 * committed, and the run returns with *more set; the timers it claimed
 * and did not run are due still, and the next run claims them again in
 * their order. A service answers a request that came meanwhile. */
typedef int (*engine_yield_fn)(void *ud, int64_t steps);
void engine_set_yield(engine *eng, engine_yield_fn fn, void *ud);
/* Called once a case whose step the book refused is set aside (put in
 * error, committed) by a run, with its case and the refusal: the service
 * logs it, as the journal and `recoup errors` show it. */
typedef void (*engine_case_error_fn)(void *ud, const char *case_id,
                                     const rc_error *why);
void engine_on_set_aside(engine *eng, engine_case_error_fn fn, void *ud);
/* The case the last run failed on (a step the book refused, and putting
 * its case in error refused too), or NULL when it failed for another
 * cause or did not fail. Valid until the next run. */
const char *engine_failed_case(const engine *eng);

/* --- called by the Lua bindings while a handler runs --- */

/* The stored case, reloaded whenever anything wrote to it. Valid until
 * the next engine call. */
const store_case *engine_case_view(engine *eng, const char *id, rc_error *err);
/* The stored borrower, cached like the case view. */
const store_borrower *engine_borrower_view(engine *eng, const char *id,
                                           rc_error *err);
int engine_case_dpd(engine *eng, const store_case *c);
/* The case whose handler is running, or NULL outside a handler. Effects
 * are refused for any other case. */
const char *engine_current_case(const engine *eng);
int engine_timer(engine *eng, const char *case_id, rc_time due,
                 const char *event, const char *data_json, int keep,
                 rc_error *err);
int engine_cancel(engine *eng, const char *case_id, const char *event,
                  int *count, rc_error *err);
int engine_set_data(engine *eng, const char *case_id, const char *key,
                    const char *data_json, rc_error *err);
int engine_set_tags(engine *eng, const char *case_id, const char *tag,
                    const char *tags_json, rc_error *err);
int engine_assign(engine *eng, const char *case_id, const char *queue,
                  rc_error *err);
/* Names the console user whose write the engine applies next (NULL or ""
 * for none): every journal row written until it is changed carries
 * "user": NAME in its detail. The service sets it around each job. */
void engine_set_actor(engine *eng, const char *user);
int engine_note(engine *eng, const char *case_id, const char *text,
                rc_error *err);
int engine_variant(engine *eng, const char *case_id, const char *experiment,
                   const char *const *arms, const int *weights, int n,
                   char *arm, size_t size, rc_error *err);
/* A rendered message on its way to the outbox. The guard decides: queued,
 * deferred to the next contact window, or blocked with a reason; the row
 * is written whichever it is, and *d says which. */
typedef struct engine_message {
  const char *channel, *template_name, *body;
  const char *to_kind;   /* "borrower", "home", "employer" or a contact */
  const char *recipient; /* number or address; NULL when there is none */
  int legal_notice, third_party_template, to_third_party;
} engine_message;
int engine_send(engine *eng, const char *case_id, const engine_message *m,
                policy_decision *d, int64_t *id, rc_error *err);
/* A task. Contact kinds (call, visit, workplace_visit) ask the guard: the
 * due time moves into the borrower's contact hours, and a refusal leaves
 * *id 0 with the reason in *d. */
int engine_task(engine *eng, const char *case_id, const char *kind,
                const char *queue, rc_time due, const char *assignee,
                const char *fields_json, int keep, int64_t *id,
                policy_decision *d, rc_error *err);
/* A promise to pay amount by the end of by_date (institution's zone). */
int engine_promise(engine *eng, const char *case_id, rc_money amount,
                   const char *by_date, int64_t *id, rc_error *err);
/* An installment plan: n installments with their due dates and amounts;
 * an installment is missed when grace has passed after its due day. */
typedef struct engine_installment {
  char due_date[16];
  rc_money amount;
} engine_installment;
int engine_plan(engine *eng, const char *case_id,
                const engine_installment *items, int n,
                const rc_duration *grace, int64_t *id, rc_error *err);

/* Computes once the roll-rate matrix of a month that has ended ("2026-10")
 * and keeps it (query_rolls_month reads it); does nothing when it is
 * kept already. RC_ENOTFOUND naming "month" for a month before the roll
 * log began (a book upgraded during it) or older than one settled. Reads
 * every case once (those opened since the month began) and the log of
 * those whose due date changed or that closed since; then drops the log
 * before the next month. */
int engine_rolls_settle(engine *eng, const char *month, rc_error *err);

/* The workflows of the newest scripts, each as script_workflow_describe
 * gives its latest version, with "name", "version" and "versions" (every
 * version a loaded script holds: cases keep the version they started
 * on). The caller's. */
struct json_t *engine_workflows(engine *eng);

#endif
