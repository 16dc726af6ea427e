/* Console users: the rules their names, roles, queues and passwords follow,
 * and their password hashes. The engine writes users (engine_user_*) after
 * these checks; `recoup user` (user_main) is the command that asks it. */
#ifndef RECOUP_USER_H
#define RECOUP_USER_H

#include <stddef.h>

#include "recoup/recoup.h"

enum {
  USER_PASSWORD_MIN = 10,   /* bytes */
  USER_PASSWORD_MAX = 1024, /* bytes: hashing is the cost, not the length */
  USER_QUEUES_MAX = 64,
  USER_HASH_SIZE = 128, /* crypto_pwhash_STRBYTES */
};

/* 1..64 bytes of [a-z0-9._-]: a user or a queue. err names field, and
 * user_name_meant's guess when there is one. */
int user_check_name(const char *name, const char *field, rc_error *err);
/* What a login or queue name out of that rule most likely meant: its
 * capitals lowered, spaces at its ends dropped and the others as '_'
 * ("Call Queue": call_queue; " visits": visits), into
 * out[size]. 1 when that is a name of the rule, 0 when no spelling can
 * be guessed (外勤) or text is within the rule already. The one hint of
 * `recoup user`, `recoup check` and case:task at run time. */
int user_name_meant(const char *text, char *out, size_t size);
/* A display name as people read it ("张敏", "Zhang Min"); NULL or "" is
 * none. At most 64 characters of UTF-8, no control character, no
 * invisible or bidirectional formatting character or joiner (one name
 * made to look like another, or a line of the journal turned around), no
 * space at either end; err names "display_name" and says which character
 * and where. */
int user_check_display(const char *display, rc_error *err);
/* The same rules for any name people read, at most `most` characters: err
 * names field, and so does the message ("institution.name holds ..."). */
int user_check_shown(const char *text, const char *field, int most,
                     rc_error *err);
/* The skeleton of a name (Unicode TR 39, ICU's spoof checker) into
 * out[size]: two names whose skeletons are equal look alike on screen
 * ("Ii.wei" with a capital I, or "li.wеi" with a Cyrillic е, and li.wei).
 * 1 when made, 0 when it cannot be (then nothing is compared). */
int user_skeleton(const char *name, char *out, size_t size);
/* agent, supervisor, read or admin; err names "role". */
int user_check_role(const char *role, rc_error *err);
/* "q1,q2" (NULL or "": none) as a JSON array into *json (the caller
 * frees it); err names "queues". */
int user_queues_json(const char *list, char **json, rc_error *err);
/* USER_PASSWORD_MIN..MAX bytes of UTF-8 without NUL; err names
 * "password" and never holds the password. */
int user_check_password(const char *password, size_t len, rc_error *err);
/* Argon2id (libsodium crypto_pwhash_str, interactive limits) into
 * hash[USER_HASH_SIZE]. */
int user_hash(const char *password, char *hash, rc_error *err);
/* 1 when password matches hash, else 0. Unknown users are checked
 * against a hash of nothing anyone knows (hash NULL), so that a miss takes
 * as long as a wrong password. */
int user_verify(const char *hash, const char *password);

/* `recoup user add|list|disable|enable|passwd ...`; argv[0] is "user". */
int user_main(int argc, char **argv);

#endif
