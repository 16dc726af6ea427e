/* recoup.money(minor [, currency]) and recoup.date(d): the formatters of
 * templates for scripts (a note, a task's text, a computed message), in
 * the locale of the borrower whose case is being handled, and in the
 * institution's outside a handler. */
#include <string.h>

#include "script_priv.h"
#include "template.h"

/* The reader's locale, currency and zone; the strings are pushed and stay
 * on the stack until the function returns. */
static void reader(lua_State *L, template_ctx *ctx) {
  script *sc = script_of(L);
  memset(ctx, 0, sizeof *ctx);
  ctx->locale = sc->cfg.locale;
  ctx->currency = sc->cfg.currency;
  ctx->clock = sc->clock;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sc->handler_case_ref); /* case, false */
  if (lua_isuserdata(L, -1)) lcase_reader(L, lua_gettop(L), ctx);
}

/* Arguments are read before the reader pushes its strings. */
static int format_money(lua_State *L, template_ctx *ctx, lua_Integer minor,
                        const char *currency) {
  template_value v = {TEMPLATE_MONEY, NULL, minor, 0};
  char buf[128];
  rc_error err;
  if (currency) ctx->currency = currency;
  if (template_format_value(TEMPLATE_FMT_MONEY, &v, ctx, buf, sizeof buf,
                            &err) != RC_OK)
    return luaL_error(L, "recoup.money: %s", err.message);
  lua_pushstring(L, buf);
  return 1;
}

/* The amount in minor units. A text of digits (a CSV column kept in
 * case.data, "120000") is one; a text with a point or a separator
 * ("1200.00", "1,200") is a figure in yuan or dollars, which
 * luaL_checkinteger took as 1200 minor units: ¥12.00, in a note or a
 * message, without a word. */
static lua_Integer money_arg(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 1);
    size_t i = s[0] == '-' ? 1 : 0;
    while (s[i] >= '0' && s[i] <= '9') i++;
    if (s[i] || i == (s[0] == '-' ? 1u : 0u))
      luaL_argerror(L, 1,
                    lua_pushfstring(L,
                                    "recoup.money takes minor units (fen, "
                                    "cents), not the text '%s': 1,200.00 "
                                    "is 120000",
                                    s));
  }
  return luaL_checkinteger(L, 1);
}

static const char *money_currency(lua_State *L) {
  const char *currency = luaL_optstring(L, 2, NULL), *why;
  if (currency && (why = template_currency_refused(currency)))
    luaL_argerror(L, 2, lua_pushfstring(L, "currency '%s' %s", currency, why));
  return currency;
}

static int format_date(lua_State *L, template_ctx *ctx, const char *d) {
  template_value v = {TEMPLATE_TEXT, d, 0, 0};
  char buf[128];
  rc_error err;
  if (template_format_value(TEMPLATE_FMT_DATE, &v, ctx, buf, sizeof buf,
                            &err) != RC_OK)
    return luaL_error(L, "recoup.date: %s", err.message);
  lua_pushstring(L, buf);
  return 1;
}

int lformat_money(lua_State *L) {
  lua_Integer minor = money_arg(L);
  const char *currency = money_currency(L);
  template_ctx ctx;
  reader(L, &ctx);
  return format_money(L, &ctx, minor, currency);
}

int lformat_date(lua_State *L) {
  const char *d = luaL_checkstring(L, 1);
  template_ctx ctx;
  reader(L, &ctx);
  return format_date(L, &ctx, d);
}

/* The institution's reader, as outside a handler. */
static void institution_reader(const institution_config *cfg, rc_clock *clk,
                               template_ctx *ctx) {
  memset(ctx, 0, sizeof *ctx);
  ctx->locale = cfg->locale;
  ctx->currency = cfg->currency;
  ctx->clock = clk;
}

int lformat_money_institution(lua_State *L, const institution_config *cfg,
                              rc_clock *clk) {
  lua_Integer minor = money_arg(L);
  const char *currency = money_currency(L);
  template_ctx ctx;
  institution_reader(cfg, clk, &ctx);
  return format_money(L, &ctx, minor, currency);
}

int lformat_date_institution(lua_State *L, const institution_config *cfg,
                             rc_clock *clk) {
  const char *d = luaL_checkstring(L, 1);
  template_ctx ctx;
  institution_reader(cfg, clk, &ctx);
  return format_date(L, &ctx, d);
}
