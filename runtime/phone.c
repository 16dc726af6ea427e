/* Phone numbers to E.164. A lender's export writes numbers as its clerks
 * typed them: "138 0000 0000", "+86-138-0000-0000", "0086 13800000000".
 * recoup stores one form so that the guard counts one borrower's contacts
 * once, a reply finds its case, and a gateway gets what it expects. This
 * is not a numbering-plan database: a national number gets its country's
 * calling code and loses its trunk prefix, and the length is checked
 * against E.164's bounds; anything it cannot place is refused, not
 * guessed. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "phone.h"

/* Calling codes of the markets recoup's lenders work in, and the trunk
 * prefix a national number is dialled with ("" when none is dropped:
 * Italy keeps its leading 0). */
static const struct {
  char country[3], code[5], trunk[2];
} plans[] = {
    {"CN", "86", "0"},  {"HK", "852", ""},  {"MO", "853", ""},
    {"TW", "886", "0"}, {"US", "1", "1"},   {"CA", "1", "1"},
    {"GB", "44", "0"},  {"IE", "353", "0"}, {"IN", "91", "0"},
    {"ID", "62", "0"},  {"PH", "63", "0"},  {"VN", "84", "0"},
    {"TH", "66", "0"},  {"MY", "60", "0"},  {"SG", "65", ""},
    {"KH", "855", "0"}, {"MM", "95", "0"},  {"LA", "856", "0"},
    {"BD", "880", "0"}, {"PK", "92", "0"},  {"LK", "94", "0"},
    {"NP", "977", "0"}, {"KE", "254", "0"}, {"NG", "234", "0"},
    {"GH", "233", "0"}, {"UG", "256", "0"}, {"TZ", "255", "0"},
    {"RW", "250", "0"}, {"ET", "251", "0"}, {"ZA", "27", "0"},
    {"EG", "20", "0"},  {"MA", "212", "0"}, {"MX", "52", ""},
    {"BR", "55", "0"},  {"CO", "57", ""},   {"PE", "51", "0"},
    {"AR", "54", "0"},  {"CL", "56", ""},   {"DE", "49", "0"},
    {"FR", "33", "0"},  {"ES", "34", ""},   {"IT", "39", ""},
    {"NL", "31", "0"},  {"RU", "7", "8"},   {"KZ", "7", "8"},
    {"TR", "90", "0"},  {"AE", "971", "0"}, {"SA", "966", "0"},
    {"JP", "81", "0"},  {"KR", "82", "0"},  {"AU", "61", "0"},
    {"NZ", "64", "0"},
};

const char *phone_problem(int rc) {
  switch (rc) {
    case PHONE_NOT_A_NUMBER:
      return "is not a phone number";
    case PHONE_NO_COUNTRY:
      return "has no country code (+86...); set institution{ country = } to "
             "read national numbers";
    case PHONE_UNKNOWN_COUNTRY:
      return "has no country code (+...), and recoup has no rule for the "
             "institution's country: give it with its country code";
    case PHONE_BAD_LENGTH:
      return "is not 8 to 15 digits with its country code";
    case PHONE_CN_MOBILE:
      return "is not a mobile number of China: those are 11 digits after "
             "+86 (138 0000 1234)";
  }
  return "is not a phone number";
}

/* 86 and a mobile of China's 11 digits (1, then 3 to 9). */
static int is_cn_mobile(const char *digits, size_t n) {
  return n == 13 && strncmp(digits, "861", 3) == 0 && digits[3] >= '3' &&
         digits[3] <= '9';
}

int phone_normalize(const char *in, const char *country, char *out,
                    size_t size) {
  char digits[32];
  size_t n = 0;
  int plus = 0;
  const char *p = in;
  while (*p == ' ') p++;
  /* "(+86) 138 0000 0000", as Chinese business cards and signatures
   * write it: the country code in brackets, its '+' inside them. */
  if (p[0] == '(' && p[1] == '+') p++;
  if (*p == '+') plus = 1, p++;
  for (; *p; p++) {
    if (isdigit((unsigned char)*p)) {
      if (n + 1 >= sizeof digits) return PHONE_BAD_LENGTH;
      digits[n++] = *p;
    } else if (!strchr(" -().", *p)) {
      return PHONE_NOT_A_NUMBER;
    }
  }
  digits[n] = '\0';
  if (n < 3) return PHONE_NOT_A_NUMBER;
  if (!plus && n > 2 && digits[0] == '0' && digits[1] == '0') {
    /* 0086...: the international prefix most of the world dials */
    memmove(digits, digits + 2, n - 1);
    n -= 2;
    plus = 1;
  }
  if (plus) {
    /* "+86 0871 6123 4567", "+44 (0)20 7946 0000": the trunk 0 kept
     * after the country code is never part of the number where the
     * trunk prefix is 0 (Italy's 0 is its number's, and has no trunk
     * here); kept, the number is one nobody answers and a reply from the
     * borrower's own phone finds no case. Calling codes are prefix-free,
     * so the first code the digits start with is theirs. */
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
      size_t len = strlen(plans[i].code);
      if (strncmp(digits, plans[i].code, len) != 0) continue;
      if (plans[i].trunk[0] == '0' && digits[len] == '0') {
        memmove(digits + len, digits + len + 1, n - len);
        n--;
      }
      break;
    }
  } else {
    size_t i;
    char national[32];
    if (!country || !*country) return PHONE_NO_COUNTRY;
    for (i = 0; i < sizeof plans / sizeof plans[0]; i++)
      if (strcmp(plans[i].country, country) == 0) break;
    if (i == sizeof plans / sizeof plans[0]) return PHONE_UNKNOWN_COUNTRY;
    snprintf(national, sizeof national, "%s", digits);
    /* "8613800001234": China's calling code written without its '+', as
     * exports from Chinese systems often keep it. Read as national it
     * became +868613800001234, a number nobody answers, without a word.
     * No national number of China is 86 and a mobile's 11 digits. */
    if (strcmp(country, "CN") == 0 && is_cn_mobile(digits, n)) {
      goto checked;
    }
    if (plans[i].trunk[0] && national[0] == plans[i].trunk[0] &&
        strlen(national) > 7)
      memmove(national, national + 1, strlen(national));
    if (snprintf(digits, sizeof digits, "%s%s", plans[i].code, national) >=
        (int)sizeof digits)
      return PHONE_BAD_LENGTH;
    n = strlen(digits);
  }
checked:
  if (n < 8 || n > 15) return PHONE_BAD_LENGTH;
  /* A mobile of China (+86 13x-19x) is 11 digits: one typed a digit short
   * or long was taken, and its reminders went nowhere. Landlines (area
   * codes 10 and 2x-9xx) are left to the length above. */
  if (strncmp(digits, "861", 3) == 0 && digits[3] >= '3' && digits[3] <= '9' &&
      n != 13)
    return PHONE_CN_MOBILE;
  if (size < n + 2) return PHONE_BAD_LENGTH;
  out[0] = '+';
  memcpy(out + 1, digits, n + 1);
  return PHONE_OK;
}
