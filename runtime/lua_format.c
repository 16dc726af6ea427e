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

int lformat_money(lua_State *L) {
  lua_Integer minor = luaL_checkinteger(L, 1);
  const char *currency = luaL_optstring(L, 2, NULL);
  template_ctx ctx;
  template_value v = {TEMPLATE_MONEY, NULL, minor, 0};
  char buf[128];
  rc_error err;
  if (currency && (strlen(currency) != 3 ||
                   strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
    return luaL_argerror(L, 2, "an ISO 4217 code such as \"CNY\"");
  reader(L, &ctx);
  if (currency) ctx.currency = currency;
  if (template_format_value(TEMPLATE_FMT_MONEY, &v, &ctx, buf, sizeof buf,
                            &err) != RC_OK)
    return luaL_error(L, "recoup.money: %s", err.message);
  lua_pushstring(L, buf);
  return 1;
}

int lformat_date(lua_State *L) {
  template_ctx ctx;
  template_value v = {TEMPLATE_TEXT, luaL_checkstring(L, 1), 0, 0};
  char buf[128];
  rc_error err;
  reader(L, &ctx);
  if (template_format_value(TEMPLATE_FMT_DATE, &v, &ctx, buf, sizeof buf,
                            &err) != RC_OK)
    return luaL_error(L, "recoup.date: %s", err.message);
  lua_pushstring(L, buf);
  return 1;
}
