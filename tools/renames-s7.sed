# Session 7's renames (issue 20, "Names"), one name a line, replayable
# after other branches merge:
#   git grep -lwE "$(sed -nE 's/^s\/\\b(struct )?([A-Za-z_0-9]+).*/\2/p' \
#     tools/renames-s7.sed | sort -u | paste -sd'|')" -- . ':!tools/renames-s7.sed' \
#     | xargs sed -i -E -f tools/renames-s7.sed
# Ours, out of Lua's lua_/luaL_ namespace: lua_case.c is lcase_, lua_rt.c
# lrt_, lua_match.c lmatch_, lua_format.c lformat_ (as lua_json.c is ljson_).
s/\blua_case_open\b/lcase_open/g
s/\blua_case_push\b/lcase_push/g
s/\blua_case_reader\b/lcase_reader/g
s/\blua_push_row\b/lcase_push_row/g
s/\blua_rt_open\b/lrt_open/g
s/\blua_rt_push\b/lrt_push/g
s/\blua_match_register\b/lmatch_register/g
s/\blua_format_money\b/lformat_money/g
s/\blua_format_date\b/lformat_date/g
# clock.c exports one prefix, clock_, zones and dates included.
s/\bzone_name\b/clock_zone_name/g
s/\bzone_add\b/clock_zone_add/g
s/\bzone_format\b/clock_zone_format/g
s/\bzone_date\b/clock_zone_date/g
s/\bzone_midnight\b/clock_zone_midnight/g
s/\bzone_time\b/clock_zone_time/g
s/\bzone_offset_ms\b/clock_zone_offset_ms/g
s/\bzone_minute_of_day\b/clock_zone_minute_of_day/g
s/\bdate_format\b/clock_date_format/g
s/\bdate_to_days\b/clock_date_to_days/g
s/\bdate_from_days\b/clock_date_from_days/g
# The channel drivers, one style: channel_<driver>_<verb>.
s/\bfile_batch\b/channel_file_batch/g
s/\bfile_batch_new\b/channel_file_batch_new/g
s/\bfile_batch_add\b/channel_file_batch_add/g
s/\bfile_batch_finish\b/channel_file_batch_finish/g
s/\bwebhook_open\b/channel_webhook_open/g
s/\bwebhook_close\b/channel_webhook_close/g
s/\bwebhook_send\b/channel_webhook_send/g
# The webhook driver's type: only its uses as a type (the driver's name
# "webhook" in scripts, docs and messages stays).
s/\bstruct webhook\b/struct channel_webhook/g
s/\bwebhook \*([^/])/channel_webhook *\1/g
s/\bwebhook;/channel_webhook;/g
