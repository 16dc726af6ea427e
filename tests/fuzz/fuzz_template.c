/* Money and date formatting with whatever locale, currency and values. */
#include <stdint.h>
#include <string.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char locale[16] = "", currency[8] = "", date[32] = "", out[128];
  int64_t minor = 0;
  size_t n = size;
  if (n >= 8) {
    memcpy(&minor, data, 8);
    data += 8;
    n -= 8;
  }
  /* locale \0 currency \0 date */
  {
    const char *p = (const char *)data, *end = p + n;
    char *slots[3] = {locale, currency, date};
    size_t caps[3] = {sizeof locale, sizeof currency, sizeof date};
    for (int i = 0; i < 3 && p < end; i++) {
      size_t k = 0;
      while (p < end && *p && k + 1 < caps[i]) slots[i][k++] = *p++;
      slots[i][k] = '\0';
      while (p < end && *p) p++;
      p++;
    }
  }
  template_format_money(locale, currency, minor, out, sizeof out);
  template_format_date(locale, date, out, sizeof out);
  return 0;
}
