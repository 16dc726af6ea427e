#!/bin/sh
# Generates the sample portfolio: N delinquent loans (default 500) from a
# fixed seed, so every run of `make run` sees the same book.
#   sh generate.sh [N] > portfolio.csv
# The random numbers come from the Park-Miller generator, done by hand so
# that any awk gives the same file.
n=${1:-500}
awk -v n="$n" 'BEGIN {
  seed = 20260105
  split("王 李 张 刘 陈 杨 赵 黄 周 吴", family, " ")
  split("芳 伟 娜 敏 静 磊 洋 艳 勇 军", given, " ")
  split("personal personal personal business auto", product, " ")
  split("海淀 朝阳 东城 西城 丰台", district, " ")
  print "id,borrower_id,borrower_name,phone,address,employer_name,employer_phone,locale,product,principal,balance,amount_due,fees,due_date,score,branch"
  for (i = 1; i <= n; i++) {
    principal = (500 + rnd(2000)) * 1000      # 5,000 - 25,000 CNY, in fen
    balance = int(principal * (40 + rnd(60)) / 100)
    due = int(balance / (3 + rnd(9)))
    fees = int(due * rnd(8) / 100)
    day = 1 + rnd(28); month = 10 + rnd(3)
    printf "MF%05d,P%05d,%s%s,+86138%08d,北京市%s区%d号,%s,%s,%s,%s,%d,%d,%d,%d,2025-%02d-%02d,%d,%s\n", \
      i, i, family[1 + rnd(10)], given[1 + rnd(10)], rnd(100000000), \
      district[1 + rnd(5)], 1 + rnd(300), \
      (rnd(3) == 0 ? "" : "某某贸易有限公司"), (rnd(3) == 0 ? "" : "+8610" sprintf("%08d", rnd(100000000))), \
      (rnd(10) == 0 ? "en" : "zh-CN"), product[1 + rnd(5)], \
      principal, balance, due + fees, fees, month, day, 450 + rnd(400), district[1 + rnd(5)]
  }
}
function rnd(k) { seed = (seed * 16807) % 2147483647; return int(seed / 2147483647 * k) }'
