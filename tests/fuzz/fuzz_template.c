/* Money and date formatting with whatever locale, currency and values;
 * the rest of the input is a template text filled into a small buffer. */
#include <stdint.h>
#include <string.h>

#include "template.h"

/* vars.a* are the input's date slot as text, case.* money, the rest
 * missing. */
static template_value lookup(void *ud, const char *name) {
  template_value v = {TEMPLATE_MISSING, NULL, 0, 0};
  if (strncmp(name, "vars.a", 6) == 0) {
    v.kind = TEMPLATE_TEXT;
    v.text = ud;
  } else if (strncmp(name, "case.", 5) == 0) {
    v.kind = TEMPLATE_MONEY;
    v.minor = (rc_money)strlen(name) * 99;
  }
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char locale[16] = "", currency[8] = "", date[32] = "", out[128];
  int64_t minor = 0;
  size_t n = size;
  if (n >= 8) {
    memcpy(&minor, data, 8);
    data += 8;
    n -= 8;
  }
  /* locale \0 currency \0 date \0 text */
  const char *p = (const char *)data, *end = p + n;
  {
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
  if (p < end) {
    char text[256], small[32];
    size_t k = (size_t)(end - p) < sizeof text - 1 ? (size_t)(end - p)
                                                   : sizeof text - 1,
           len;
    template_ctx ctx;
    rc_error err;
    memcpy(text, p, k);
    text[k] = '\0';
    memset(&ctx, 0, sizeof ctx);
    ctx.name = "fuzz";
    ctx.channel = "sms";
    ctx.locale = locale;
    ctx.currency = currency;
    ctx.lookup = lookup;
    ctx.ud = date;
    template_render(text, &ctx, small, sizeof small, &len, &err);
  }
  return 0;
}
