/* Message texts: picking the template's text for a channel and locale,
 * filling {placeholders}, formatting money and dates for the reader. */
#ifndef RECOUP_TEMPLATE_H
#define RECOUP_TEMPLATE_H

#include <stddef.h>

#include "recoup/clock.h"
#include "recoup/recoup.h"

/* 100000 fen, "CNY", "zh-CN" -> "¥1,000.00". Never through a double. */
int template_format_money(const char *locale, const char *currency,
                          rc_money minor, char *buf, size_t size);
/* 2026-01-31 -> "2026年1月31日" / "January 31, 2026". */
int template_format_date(const char *locale, const char *iso_date, char *buf,
                         size_t size);

#endif
