#!/bin/sh
# Generates a sample portfolio of delinquent loans from a fixed seed, so
# every run sees the same book:
#   sh scripts/gen_portfolio.sh PROFILE [N] > portfolio.csv
# PROFILE is microfinance (individuals), business (small businesses, met at
# work) or auto (car loans). The random numbers come from the Park-Miller
# generator, done by hand so that any awk gives the same file.
profile=${1:-microfinance}
n=${2:-500}
awk -v n="$n" -v profile="$profile" 'BEGIN {
  seed = 20260105
  split("王 李 张 刘 陈 杨 赵 黄 周 吴", family, " ")
  split("芳 伟 娜 敏 静 磊 洋 艳 勇 军", given, " ")
  split("海淀 朝阳 东城 西城 丰台", district, " ")
  split("餐饮 五金 服装 物流 超市", trade, " ")
  split("轩逸 卡罗拉 朗逸 宝来 思域", model, " ")
  print "id,borrower_id,borrower_name,phone,address,employer_name,employer_phone,locale,product,principal,balance,amount_due,fees,due_date,score,branch,visit_at,vehicle"
  for (i = 1; i <= n; i++) {
    if (profile == "business") { lo = 5000; span = 45000; prefix = "SB" }   # CNY
    else if (profile == "auto") { lo = 40000; span = 110000; prefix = "AU" }
    else { lo = 5000; span = 20000; prefix = "MF" }
    principal = (lo + rnd(span)) * 100                  # in fen
    balance = int(principal * (40 + rnd(60)) / 100)
    due = int(balance / (3 + rnd(9)))
    fees = int(due * rnd(8) / 100)
    day = 1 + rnd(28); month = 10 + rnd(3)
    name = family[1 + rnd(10)] given[1 + rnd(10)]
    employer = ""; work_phone = ""; visit = ""; vehicle = ""
    if (profile == "business") {
      employer = name trade[1 + rnd(5)] "店"; work_phone = "+8610" sprintf("%08d", rnd(100000000))
      visit = "work"
    } else if (rnd(3) > 0) {
      employer = "某某贸易有限公司"; work_phone = "+8610" sprintf("%08d", rnd(100000000))
    }
    if (profile == "auto") vehicle = model[1 + rnd(5)] " 京A" sprintf("%05d", rnd(100000))
    printf "%s%05d,P%s%05d,%s,+86138%08d,北京市%s区%d号,%s,%s,%s,%s,%d,%d,%d,%d,2025-%02d-%02d,%d,%s,%s,%s\n", \
      prefix, i, prefix, i, name, rnd(100000000), district[1 + rnd(5)], 1 + rnd(300), \
      employer, work_phone, (rnd(10) == 0 ? "en" : "zh-CN"), \
      (profile == "microfinance" ? "personal" : profile), \
      principal, balance, due + fees, fees, month, day, 450 + rnd(400), \
      district[1 + rnd(5)], visit, vehicle
  }
}
function rnd(k) { seed = (seed * 16807) % 2147483647; return int(seed / 2147483647 * k) }'
