/* A borrower's contacts packed on its row (borrowers.contacts_packed,
 * schema 23; sqlite.h): a reminder reads its borrower with one look-up
 * instead of two (the borrower's key, then the contacts' key), which was
 * 4k of a step's 87k instructions. The contacts table stays the truth
 * for look-ups by value and name and for reports; the packed copy is
 * written wherever the store writes contacts. Since schema 28 the
 * table is keyed by value, so the copy is the only read of a borrower's
 * contacts by borrower: a NULL one (a row written another way) or one
 * that does not read fails closed, the borrower read with no contacts
 * (ncontacts -1), and nothing is sent to them; `recoup check --db` names
 * it (sqlite_contacts_differ).
 *
 * The format, a contact after another in position order, nothing between:
 *   kind   one letter: p phone, e email, t third_party
 *   value, name, relation, each:
 *          -                      NULL
 *          LENGTH ':' BYTES       a text of LENGTH bytes (decimal, 0 for
 *                                 an empty text)
 * and after the last, '.' (SQLITE_CONTACTS_NONE, the whole text of no
 * contacts). No byte inside a text is special, so nothing is escaped: a
 * text is skipped by its length, never searched for a separator. The end
 * mark makes a text cut short anywhere not read: a cut between contacts
 * read as fewer of them, the borrower's other numbers then never sent
 * to (a contact never begins with '.'). */
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "recoup/query.h"
#include "store/sqlite.h"

static const char kind_letter[] = "pet";
static const char *const kind_name[] = {"phone", "email", "third_party"};

/* The length written by hand: snprintf was 760 instructions a contact,
 * more than the rest of an imported row's packing. */
static void pack_text(jbuf *out, const char *v, size_t n) {
  char len[24];
  size_t at = sizeof len, left = n;
  if (!v) {
    jb_raw(out, "-", 1);
    return;
  }
  len[--at] = ':';
  do len[--at] = (char)('0' + left % 10);
  while ((left /= 10) > 0);
  jb_raw(out, len + at, sizeof len - at);
  jb_raw(out, v, n);
}

static int pack_one(jbuf *out, const char *kind, const char *value,
                    size_t nvalue, const char *name, size_t nname,
                    const char *relation, size_t nrelation) {
  int k = 0;
  while (k < 3 && !(kind && !strcmp(kind, kind_name[k]))) k++;
  if (k == 3) return -1;
  jb_raw(out, &kind_letter[k], 1);
  pack_text(out, value, nvalue);
  pack_text(out, name, nname);
  pack_text(out, relation, nrelation);
  return 0;
}

static size_t len_of(const char *v) { return v ? strlen(v) : 0; }

int sqlite_contacts_pack(jbuf *out, const store_contact *c, int n) {
  out->len = 0;
  out->oom = 0;
  for (int i = 0; i < n; i++)
    if (pack_one(out, c[i].kind, c[i].value, len_of(c[i].value), c[i].name,
                 len_of(c[i].name), c[i].relation, len_of(c[i].relation)))
      return -1;
  jb_raw(out, SQLITE_CONTACTS_NONE, 1);
  return out->oom ? -1 : 0;
}

/* One field at p: its text (NULL for '-') and length; the position after
 * it, or NULL when it does not read. At most 9 digits: no overflow, and
 * SQLite holds no text of 10^9 bytes. */
static const char *field(const char *p, const char *end, const char **text,
                         size_t *len) {
  size_t n = 0;
  int digits = 0;
  if (p < end && *p == '-') {
    *text = NULL;
    *len = 0;
    return p + 1;
  }
  for (; p < end && *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
    n = n * 10 + (size_t)(*p - '0');
  if (!digits || p >= end || *p != ':' || n > (size_t)(end - p - 1))
    return NULL;
  *text = p + 1;
  *len = n;
  return p + 1 + n;
}

/* A contact at p: its kind, its three texts in t and their lengths in n;
 * the position after it, or NULL when it does not read. */
static const char *contact(const char *p, const char *end, const char **t,
                           size_t *n, int *kind) {
  const char *k = p < end ? memchr(kind_letter, *p, 3) : NULL;
  if (!k) return NULL;
  *kind = (int)(k - kind_letter);
  p++;
  for (int f = 0; f < 3 && p; f++) p = field(p, end, &t[f], &n[f]);
  return p;
}

static char *copy(const char *t, size_t n, int *oom) {
  char *v;
  if (!t) return NULL;
  if (!(v = malloc(n + 1))) {
    *oom = 1;
    return NULL;
  }
  memcpy(v, t, n);
  v[n] = '\0';
  return v;
}

int sqlite_contacts_unpack(const char *p, size_t len, store_contact **out,
                           int *nout) {
  const char *end = p + len, *q = p, *t[3];
  size_t n[3];
  int count = 0, kind, oom = 0;
  store_contact *c;
  *out = NULL;
  *nout = 0;
  if (len == 0 || *--end != SQLITE_CONTACTS_NONE[0]) return RC_EINVAL;
  while (q < end) {
    if (!(q = contact(q, end, t, n, &kind))) return RC_EINVAL;
    count++;
  }
  if (count == 0) return RC_OK;
  if (!(c = calloc((size_t)count, sizeof *c))) return RC_ENOMEM;
  for (int i = 0; i < count; i++) {
    p = contact(p, end, t, n, &kind);
    c[i].kind = copy(kind_name[kind], strlen(kind_name[kind]), &oom);
    c[i].value = copy(t[0], n[0], &oom);
    c[i].name = copy(t[1], n[1], &oom);
    c[i].relation = copy(t[2], n[2], &oom);
  }
  *out = c;
  *nout = count;
  return oom ? RC_ENOMEM : RC_OK;
}

/* Text t of n bytes (NULL stays NULL) at *at in the room's text. */
static char *place(const char *t, size_t n, char **at) {
  char *v = *at;
  if (!t) return NULL;
  memcpy(v, t, n);
  v[n] = '\0';
  *at += n + 1;
  return v;
}

int sqlite_contacts_lend(const char *p, size_t len, sqlite_contacts_room *room,
                         store_contact **out, int *nout) {
  const char *end = p + len, *q = p, *t[3];
  size_t n[3], size = 0;
  int count = 0, kind;
  char *at;
  *out = NULL;
  *nout = 0;
  if (len == 0 || *--end != SQLITE_CONTACTS_NONE[0]) return RC_EINVAL;
  while (q < end) {
    if (!(q = contact(q, end, t, n, &kind))) return RC_EINVAL;
    size += strlen(kind_name[kind]) + 1;
    for (int f = 0; f < 3; f++)
      if (t[f]) size += n[f] + 1;
    count++;
  }
  if (count == 0) return RC_OK;
  if (count > room->cap) {
    store_contact *v = realloc(room->v, (size_t)count * sizeof *v);
    if (!v) return RC_ENOMEM;
    room->v = v;
    room->cap = count;
  }
  if (size > room->size) {
    char *text = realloc(room->text, size);
    if (!text) return RC_ENOMEM;
    room->text = text;
    room->size = size;
  }
  at = room->text;
  for (int i = 0; i < count; i++) {
    store_contact *c = &room->v[i];
    p = contact(p, end, t, n, &kind);
    c->kind = place(kind_name[kind], strlen(kind_name[kind]), &at);
    c->value = place(t[0], n[0], &at);
    c->name = place(t[1], n[1], &at);
    c->relation = place(t[2], n[2], &at);
  }
  *out = room->v;
  *nout = count;
  return RC_OK;
}

void sqlite_contacts_room_free(sqlite_contacts_room *room) {
  free(room->v);
  free(room->text);
  memset(room, 0, sizeof *room);
}

/* The column's bytes as written (a text holding a NUL keeps its length:
 * the read copies the bytes and sees the text up to the NUL, as
 * sqlite3_column_text's reader did). */
static const char *col(sqlite3_stmt *s, int i, size_t *n) {
  const char *v = (const char *)sqlite3_column_text(s, i);
  *n = v ? (size_t)sqlite3_column_bytes(s, i) : 0;
  return v;
}

/* Writes the packed text of the borrower whose contacts were read (NULL
 * when one has a kind the format does not know: read from the table). */
static int put_one(sqlite3_stmt *put, const jbuf *borrower, jbuf *packed,
                   int unknown) {
  int rc;
  jb_raw(packed, SQLITE_CONTACTS_NONE, 1); /* the end mark */
  sqlite3_bind_text(put, 1, borrower->p, (int)borrower->len, SQLITE_STATIC);
  if (unknown || packed->oom)
    sqlite3_bind_null(put, 2);
  else
    sqlite3_bind_text(put, 2, packed->p, (int)packed->len, SQLITE_STATIC);
  rc = sqlite3_step(put);
  sqlite3_reset(put);
  return rc != SQLITE_DONE;
}

int sqlite_contacts_pack_all(sqlite3 *db, char **msg) {
  sqlite3_stmt *read = NULL, *put = NULL;
  jbuf packed = {0}, borrower = {0};
  int rc = SQLITE_ERROR, unknown = 0, failed = 0, have = 0;
  /* One walk of the contacts in key order; a borrower's text is written
   * when the next borrower's contacts begin, and after the last. Ids are
   * compared and bound with their lengths: 'B' || char(0) || 'x', put in
   * by hand, is not 'B' (whose copy then held both's numbers). */
  if (sqlite3_prepare_v2(db,
                         "SELECT borrower_id, kind, nullif(value, X''), "
                         "name, relation FROM contacts "
                         "ORDER BY borrower_id, position",
                         -1, &read, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db,
                         "UPDATE borrowers SET contacts_packed = ?2 "
                         "WHERE id = ?1",
                         -1, &put, NULL) == SQLITE_OK)
    rc = sqlite3_step(read);
  for (; rc == SQLITE_ROW; rc = sqlite3_step(read)) {
    const char *v, *nm, *r;
    size_t nid, nv, nn, nr;
    const char *id = col(read, 0, &nid);
    if (have && (nid != borrower.len || memcmp(id, borrower.p, nid) != 0)) {
      if ((failed = put_one(put, &borrower, &packed, unknown))) break;
      have = 0;
    }
    if (!have) {
      borrower.len = 0;
      jb_raw(&borrower, id ? id : "", nid);
      if (borrower.oom) break;
      have = 1;
      packed.len = 0;
      packed.oom = 0;
      unknown = 0;
    }
    v = col(read, 2, &nv);
    nm = col(read, 3, &nn);
    r = col(read, 4, &nr);
    if (pack_one(&packed, (const char *)sqlite3_column_text(read, 1), v, nv,
                 nm, nn, r, nr))
      unknown = 1;
  }
  if (rc == SQLITE_DONE && have)
    failed = put_one(put, &borrower, &packed, unknown);
  else if (rc != SQLITE_DONE)
    failed = 1;
  if (failed)
    *msg = sqlite3_mprintf("packing contacts: %s", sqlite_why(db));
  free(borrower.p);
  free(packed.p);
  sqlite3_finalize(read);
  sqlite3_finalize(put);
  /* The borrowers without contacts: none, known, whatever their row said
   * (a copy is the table's, never its own). NOT IN reads the table once:
   * keyed by value (28), a look-up by borrower would be a scan each. */
  return failed ||
         sqlite3_exec(db,
                      "UPDATE borrowers SET contacts_packed = '"
                      SQLITE_CONTACTS_NONE "' "
                      "WHERE contacts_packed IS NOT '" SQLITE_CONTACTS_NONE
                      "' AND id NOT IN (SELECT borrower_id FROM contacts)",
                      NULL, NULL, msg) != SQLITE_OK;
}

/* The text p re-made from what it reads as ("007:" reads as "7:"): 0, or
 * -1 when it does not read (the table is read then, so nothing differs). */
static int canonical(const char *p, size_t len, jbuf *out) {
  const char *end = p + len, *t[3];
  size_t n[3];
  int kind;
  out->len = 0;
  if (len == 0 || *--end != SQLITE_CONTACTS_NONE[0]) return -1;
  while (p < end) {
    if (!(p = contact(p, end, t, n, &kind))) return -1;
    pack_one(out, kind_name[kind], t[0], n[0], t[1], n[1], t[2], n[2]);
  }
  jb_raw(out, SQLITE_CONTACTS_NONE, 1);
  return 0;
}

/* Told when the borrower's stored text reads and says other than the
 * table's rows packed (table, its end mark still to add), or with
 * unread_too when it is NULL (null) or does not read. */
static void told(const jbuf *id, const jbuf *stored, int null, jbuf *table,
                 int unknown, jbuf *canon, int unread_too,
                 sqlite_contacts_differ_fn fn, void *ud) {
  jb_raw(table, SQLITE_CONTACTS_NONE, 1);
  if (null ||
      canonical(stored->p ? stored->p : "", stored->len, canon) != 0) {
    if (unread_too) fn(ud, id->p ? id->p : "", 1);
    return;
  }
  if (unknown || canon->len != table->len ||
      memcmp(canon->p, table->p, table->len) != 0)
    fn(ud, id->p ? id->p : "", 0);
}

int sqlite_contacts_differ(sqlite3 *db, int unread_too,
                           sqlite_contacts_differ_fn fn, void *ud) {
  sqlite3_stmt *s = NULL;
  jbuf id = {0}, stored = {0}, table = {0}, canon = {0};
  int rc, have = 0, unknown = 0, null = 0;
  /* A scan of every borrower and its contacts, in the borrowers' order:
   * this is a command's look (recoup check), never a step's. Keyed by
   * value (28), the contacts are copied once and found through an
   * automatic index on the copy (a plain join scanned the table for
   * every borrower). */
  if (sqlite3_prepare_v2(db,
                         "WITH k AS MATERIALIZED (SELECT borrower_id, "
                         "position, kind, nullif(value, X'') AS value, "
                         "name, relation FROM contacts) "
                         "SELECT b.id, b.contacts_packed, k.kind, k.value, "
                         "k.name, k.relation FROM borrowers b LEFT JOIN "
                         "k ON k.borrower_id = b.id "
                         "ORDER BY b.id, k.position",
                         -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    size_t nid, np, nv, nn, nr;
    const char *b = col(s, 0, &nid), *p = col(s, 1, &np), *v, *nm, *r;
    /* Ids by their bytes, as pack_all's: 'B' || char(0) is not 'B'. */
    if (!have || nid != id.len || (nid && memcmp(b, id.p, nid) != 0)) {
      if (have)
        told(&id, &stored, null, &table, unknown, &canon, unread_too, fn, ud);
      id.len = stored.len = table.len = 0;
      jb_raw(&id, b ? b : "", nid);
      jb_raw(&stored, p ? p : "", np);
      null = sqlite3_column_type(s, 1) == SQLITE_NULL;
      unknown = 0;
      have = 1;
    }
    if (sqlite3_column_type(s, 2) == SQLITE_NULL) continue; /* none */
    v = col(s, 3, &nv);
    nm = col(s, 4, &nn);
    r = col(s, 5, &nr);
    if (pack_one(&table, (const char *)sqlite3_column_text(s, 2), v, nv, nm, nn,
                 r, nr))
      unknown = 1;
  }
  if (rc == SQLITE_DONE && have)
    told(&id, &stored, null, &table, unknown, &canon, unread_too, fn, ud);
  if (rc == SQLITE_DONE && (id.oom || stored.oom || table.oom || canon.oom))
    rc = SQLITE_NOMEM;
  sqlite3_finalize(s);
  free(id.p);
  free(stored.p);
  free(table.p);
  free(canon.p);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
