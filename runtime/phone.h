/* Phone numbers to E.164 (+ country code and number, digits only), the
 * one form recoup stores, matches replies by and hands to gateways. */
#ifndef RECOUP_PHONE_H
#define RECOUP_PHONE_H

#include <stddef.h>

enum {
  PHONE_OK = 0,
  PHONE_NOT_A_NUMBER = -1, /* letters, or too few digits */
  PHONE_NO_COUNTRY = -2,   /* national form, and no institution country */
  PHONE_UNKNOWN_COUNTRY = -3, /* national form, a country without a rule */
  PHONE_BAD_LENGTH = -4,   /* not 8 to 15 digits in international form */
  PHONE_CN_MOBILE = -5,    /* +86 1[3-9]...: a mobile of China, not 11 digits */
};

/* Writes in, as E.164, to out (at least 17 bytes). International forms
 * ("+86 138-0000-0000", "0086 13800000000") are kept; a national form
 * ("138 0000 0000", "(212) 555-0100", "020 7946 0000") is read with the
 * institution's country (ISO 3166-1 alpha-2, may be "" or NULL): its
 * calling code added and its trunk prefix dropped. */
int phone_normalize(const char *in, const char *country, char *out,
                    size_t size);
const char *phone_problem(int rc);

#endif
