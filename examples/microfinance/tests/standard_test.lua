-- Specs for the standard workflow as Example Microfinance runs it.
-- Run them with: recoup test examples/microfinance

local function open_wang(rt, extra)
  local fields = {
    id = "L1", balance = 500000, amount_due = 120000, fees = 5000,
    due_date = "2026-01-01",
    borrower = { id = "B1", name = "王芳", phones = { "+8613800000000" } },
  }
  for k, v in pairs(extra or {}) do fields[k] = v end
  return rt:open(fields)
end

test("a new case starts with a reminder SMS in the borrower's language", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  eq(c.state, "reminder")
  eq(c.dpd, 4)
  local sms = rt:messages { case = "L1", template = "due_reminder" }
  eq(#sms, 1)
  eq(sms[1].to, "+8613800000000")
  assert(sms[1].body:find("王芳您好", 1, true), sms[1].body)
  assert(sms[1].body:find("¥1,200.00", 1, true), "amount due formatted: " .. sms[1].body)
  assert(sms[1].body:find("逾期4天", 1, true), sms[1].body)
  assert(sms[1].body:find("您在示例小额贷款的借款", 1, true), "the Chinese name: " .. sms[1].body)
end)

test("English borrowers get the English text", function(rt)
  rt:set_clock("2026-01-05T09:00")
  rt:open { id = "E1", balance = 100000, amount_due = 100000, due_date = "2026-01-01",
            borrower = { id = "BE", name = "Ann Lee", locale = "en", phones = { "+15550100" } } }
  local sms = rt:messages { case = "E1" }[1]
  assert(sms.body:find("Dear Ann Lee", 1, true), sms.body)
  assert(sms.body:find("with Example Microfinance", 1, true), "the English name: " .. sms.body)
  assert(sms.body:find("CN¥1,000.00", 1, true) or sms.body:find("¥1,000.00", 1, true), sms.body)
end)

test("no payment for three days escalates to a call", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("2d")
  eq(c.state, "reminder")
  rt:advance("1d")
  eq(c.state, "call")
  local task = rt:tasks { case = "L1", kind = "call" }[1]
  eq(task.queue, "phone")
  eq(task.status, "open")
end)

test("a case opened with nothing due closes at once, with no message", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { amount_due = 0 })
  eq(c.state, "nothing_due")
  eq(c.outcome, "nothing_due")
  eq(#rt:messages { case = "L1" }, 0)
  local z = open_wang(rt, { id = "L0", balance = 0, amount_due = 0 })
  eq(z.outcome, "nothing_due")
  eq(#rt:messages { case = "L0" }, 0)
  rt:advance("30d")
  eq(#rt:tasks { case = "L1" }, 0)
  eq(#rt:messages {}, 0)
end)

test("an update bringing amount_due to 0 cures an open case", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  c = open_wang(rt, { amount_due = 0 })   -- the book says it again, current
  eq(c.state, "cured")
  eq(c.outcome, "cured")
end)

test("paying the amount due cures the case", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  local task = rt:tasks { case = "L1", kind = "call" }[1]
  rt:complete(task, { outcome = "promise", amount = 120000, by = "2026-01-10" })
  rt:pay(c, 120000, "PAY-1")
  eq(c.state, "cured")
  eq(c.outcome, "cured")
  eq(c.balance, 380000)
  eq(c.amount_due, 0)
  eq(rt:tasks { case = "L1", kind = "call" }[1].status, "done")
end)

test("a broken promise sends the case to a visit", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  local task = rt:tasks { case = "L1", kind = "call" }[1]
  rt:complete(task, { outcome = "promise", amount = 120000, by = "2026-01-10" })
  rt:advance("2d")
  eq(c.state, "call", "still waiting for the promised day")
  rt:advance("4d")
  eq(c.state, "visit")
  eq(#rt:tasks { case = "L1", kind = "visit", status = "open" }, 1)
  eq(rt:tasks { case = "L1", kind = "call" }[1].status, "done")
end)

test("the note of a promise gives its amount as money", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  local task = rt:tasks { case = "L1", kind = "call" }[1]
  rt:complete(task, { outcome = "promise", amount = 120000, by = "2026-01-10" })
  local note
  for _, row in ipairs(rt:journal(c)) do
    if row.kind == "note" then note = row.detail.text end
  end
  eq(note, "promise to pay ¥1,200.00 by 2026-01-10")
end)

test("a refused visit goes to legal review with a notice letter", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { borrower = { id = "B1", name = "王芳", phones = { "+8613800000000" },
                                         address = "北京市朝阳区1号" } })
  rt:advance("3d")
  rt:complete(rt:tasks { case = "L1", kind = "call" }[1], { outcome = "no_answer" })
  eq(c.state, "visit")
  rt:complete(rt:tasks { case = "L1", kind = "visit" }[1],
              { outcome = "refused", visitor = "officer 7", met = "borrower",
                said = "will not pay", next_step = "legal" })
  eq(c.state, "legal")
  local letter = rt:messages { case = "L1", channel = "letter" }[1]
  eq(letter.to, "北京市朝阳区1号")
  eq(rt:tasks { case = "L1", kind = "visit" }[1].said, "will not pay")
end)

test("hardship leads to a restructuring offer; declining it goes to legal", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  rt:complete(rt:tasks { case = "L1", kind = "call" }[1], { outcome = "hardship" })
  eq(c.state, "restructuring")
  eq(#rt:messages { case = "L1", template = "restructuring_offer" }, 1)
  rt:complete(rt:tasks { case = "L1", kind = "restructuring_review" }[1], { outcome = "declined" })
  eq(c.state, "legal")
end)

test("paying the balance closes the case from any state, and it stays closed", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  rt:pay(c, 500000, "PAY-ALL")
  eq(c.state, "resolved")
  eq(c.balance, 0)
  eq(#rt:messages { case = "L1", template = "thank_you" }, 1)
  eq(#rt:tasks { case = "L1", status = "open" }, 0, "open tasks are cancelled")
  rt:advance("30d")
  eq(c.state, "resolved")
end)

test("a payment ref is applied once", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:pay(c, 1000, "R-1")
  eq(rt:pay(c, 1000, "R-1"), "duplicate", "a bank file sent twice")
  eq(c.balance, 499000)
  -- The same ref for another amount is a different payment: refused.
  local ok, err = pcall(rt.pay, rt, c, 2000, "R-1")
  assert(not ok and err:find("already used"), err)
end)

test("1,000 cases over 90 days all end where the workflow says", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local cases = {}
  for i = 1, 1000 do
    local id = string.format("C%04d", i)
    cases[i] = rt:open {
      id = id, balance = 100000 + i, amount_due = 50000, fees = 1000,
      due_date = string.format("2025-12-%02d", 1 + i % 28),
      borrower = { id = "B" .. i, name = "借款人" .. i, phones = { "+86138" .. string.format("%08d", i) } },
    }
  end
  -- Every third borrower pays in full somewhere in the first 80 days.
  for day = 1, 90 do
    rt:advance("1d")
    for i = 3, 1000, 3 do
      if i % 80 + 1 == day then rt:pay(cases[i], cases[i].balance, "P" .. i) end
    end
  end
  local counts = {}
  for i, c in ipairs(cases) do
    local want = (i % 3 == 0) and "resolved" or "legal"
    if c.state ~= want then error(c.id .. " is in " .. c.state .. ", expected " .. want) end
    counts[c.state] = (counts[c.state] or 0) + 1
  end
  eq(counts, { resolved = 333, legal = 667 })
end)

-- Helpers for the restructuring paths: reach the offer, then agree to a plan.
local function agree_plan(rt, c, terms)
  rt:advance("3d")
  rt:complete(rt:tasks { case = c.id, kind = "call" }[1], { outcome = "hardship" })
  local review = rt:tasks { case = c.id, kind = "restructuring_review" }[1]
  local fields = { outcome = "agreed" }
  for k, v in pairs(terms) do fields[k] = v end
  rt:complete(review, fields)
end

test("a kept promise is recognised as soon as it is paid", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  rt:complete(rt:tasks { case = "L1", kind = "call" }[1],
              { outcome = "promise", amount = 60000, by = "2026-01-20" })
  eq(c.current_promise.amount, 60000)
  rt:pay(c, 20000, "P1")
  eq(c.current_promise.paid, 20000, "partly paid: still open")
  rt:pay(c, 40000, "P2")
  eq(c.current_promise, nil, "no open promise once kept")
  local kinds = {}
  for _, row in ipairs(rt:journal(c)) do kinds[row.kind] = true end
  assert(kinds.promise_kept, "the journal records the kept promise")
  rt:advance("6d")
  eq(c.state, "call", "a kept promise holds escalation for a week")
  rt:advance("1d")
  eq(c.state, "visit", "half the amount due is still unpaid")
end)

test("hardship leads to a plan; paying every installment completes it", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { balance = 300000 })
  agree_plan(rt, c, { installments = 3, every = "1mo", first_due = "2026-02-01" })
  eq(c.state, "restructuring")
  local plan = c.current_plan
  eq(#plan.installments, 3)
  eq(plan.total, 300000)
  eq(plan.installments[1].due, "2026-02-01")
  eq(plan.installments[3].due, "2026-04-01")
  eq(plan.installments[3].amount, 100000)
  for i = 1, 3 do
    rt:advance("25d")
    rt:pay(c, 100000, "INST-" .. i)
  end
  eq(c.current_plan.status, "completed")
  eq(c.state, "resolved", "the last installment cleared the balance")
end)

test("terms the plan cannot keep are refused at the review, which stays open", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { balance = 300000 })
  rt:advance("3d")
  rt:complete(rt:tasks { case = c.id, kind = "call" }[1], { outcome = "hardship" })
  local review = rt:tasks { case = c.id, kind = "restructuring_review" }[1]
  local function refused(fields, says)
    fields.outcome = "agreed"
    local ok, err = pcall(rt.complete, rt, review, fields)
    assert(not ok, "the terms were taken")
    assert(tostring(err):find(says, 1, true), err)
  end
  refused({ installments = 0 }, "installments must be at least 1 (got 0)")
  refused({ installments = 61 }, "installments must be at most 60 (got 61)")
  refused({ every = "fortnight" }, "every must be one of: 1w, 2w, 1mo")
  eq(rt:tasks { id = review.id }[1].status, "open", "the review stays open")
  eq(c.error, nil, "the case is not in error")
  eq(c.current_plan, nil)
  rt:complete(review, { outcome = "agreed", installments = 60, every = "2w" })
  eq(#c.current_plan.installments, 60)
end)

test("terms no plan can keep ask for the review again, the case not in error", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { balance = 300000 })
  rt:advance("3d")
  rt:complete(rt:tasks { case = c.id, kind = "call" }[1], { outcome = "hardship" })
  local review = rt:tasks { case = c.id, kind = "restructuring_review" }[1]
  local ok, err = pcall(rt.complete, rt, review,
                        { outcome = "agreed", installments = 6, total = 0 })
  assert(not ok and tostring(err):find("total must be at least 1 minor units (got 0)", 1, true), err)
  for _, terms in ipairs {
    { total = 300001, says = "more than the balance (300000)" },
    { installments = 6, total = 5, says = "total 5 cannot be split into 6 installments" },
    { first_due = "2026-01-02", says = "the first installment falls on 2026-01-02, which has passed" },
  } do
    terms.outcome = "agreed"
    local says = terms.says
    terms.says = nil
    rt:complete(review, terms)
    eq(c.error, nil, "the case is not in error")
    eq(c.state, "restructuring")
    eq(c.current_plan, nil)
    local note
    for _, row in ipairs(rt:journal(c)) do
      if row.kind == "note" then note = row.detail.text or row.detail.note end
    end
    assert(note and note:find("terms not kept, agree them again: ", 1, true) and
           note:find(says, 1, true) and not note:find("standard.lua", 1, true),
           "the note says why: " .. tostring(note))
    review = rt:tasks { case = c.id, kind = "restructuring_review", status = "open" }[1]
    assert(review, "the review is asked again")
  end
  rt:complete(review, { outcome = "agreed", installments = 3, total = 300000 })
  eq(#c.current_plan.installments, 3)
end)

test("an uneven total puts the remainder on the last installment", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { balance = 100000, amount_due = 100000 })
  agree_plan(rt, c, { installments = 3, every = "2w", first_due = "2026-01-20" })
  local p = c.current_plan
  eq(p.installments[1].amount, 33333)
  eq(p.installments[3].amount, 33334)
  eq(p.installments[2].due, "2026-02-03")
end)

test("a missed installment sends the case to legal after the grace days", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { balance = 300000 })
  agree_plan(rt, c, { installments = 3, every = "1mo", first_due = "2026-02-01" })
  rt:advance("20d")
  rt:pay(c, 100000, "FIRST")
  rt:advance("1mo")          -- 2026-02-28
  rt:advance("4d")           -- 2026-03-01 has passed unpaid, grace runs ...
  eq(c.state, "restructuring")
  rt:advance("1d")           -- ... until the end of 2026-03-04
  eq(c.state, "legal")
  eq(c.current_plan.installments[1].status, "paid")
  eq(c.current_plan.installments[2].status, "missed")
end)

test("a later payment marks a missed installment paid late", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { balance = 300000 })
  agree_plan(rt, c, { installments = 3, every = "1mo", first_due = "2026-02-01" })
  rt:advance("1mo")
  eq(c.state, "legal")
  rt:pay(c, 100000, "LATE")
  eq(c.current_plan.installments[1].status, "paid_late")
end)

-- The compliance guard, whatever the workflow asks.

test("a reminder at 22:30 waits for 08:00 in the borrower's own time zone", function(rt)
  rt:set_clock("2026-01-05T22:30")
  local c = open_wang(rt)
  local sms = rt:messages { case = "L1" }[1]
  eq(sms.status, "deferred")
  eq(sms.reason, "contact_hours")
  eq(sms.not_before, "2026-01-06T08:00:00+08:00")
  rt:advance("9h")
  eq(rt:messages { case = "L1" }[1].status, "deferred", "07:30: still waiting")
  rt:advance("30m")
  eq(rt:messages { case = "L1" }[1].status, "queued", "released at 08:00")
  -- 22:30 in Shanghai is 09:30 in New York: a New Yorker is reached at once.
  rt:set_clock("2026-01-06T22:30")
  rt:open { id = "NY1", balance = 1000, amount_due = 1000, due_date = "2026-01-01",
            borrower = { id = "BNY", name = "Ann", locale = "en", timezone = "America/New_York",
                         phones = { "+12125550100" } } }
  eq(rt:messages { case = "NY1" }[1].status, "queued")
end)

test("the fourth SMS of a day to one borrower waits for the next day", function(rt)
  rt:set_clock("2026-01-05T09:00")
  for i = 1, 4 do
    rt:open { id = "M" .. i, balance = 1000, amount_due = 500, due_date = "2026-01-01",
              borrower = { id = "SAME", name = "王芳", phones = { "+8613800000000" } } }
  end
  local statuses = {}
  for _, m in ipairs(rt:messages { borrower = "SAME" }) do statuses[#statuses + 1] = m.status end
  -- The cap of 3 a day ends: the fourth is deferred, not dropped.
  eq(statuses, { "queued", "queued", "queued", "deferred" })
  eq(rt:messages { case = "M4" }[1].reason, "max_contacts:sms:3")
  rt:advance("1d")
  eq(rt:messages { case = "M4" }[1].status, "queued", "released when the window had room")
end)

test("a deferred SMS is not sent once the case has moved on", function(rt)
  rt:set_clock("2026-01-05T09:00")
  for i = 1, 4 do
    rt:open { id = "M" .. i, balance = 1000, amount_due = 500, due_date = "2026-01-01",
              borrower = { id = "SAME", name = "王芳", phones = { "+8613800000000" } } }
  end
  rt:pay(rt:case("M4"), 1000, "PAID-M4")       -- paid off before the reminder could go
  rt:advance("1d")
  local m = rt:messages { case = "M4", template = "due_reminder" }[1]
  eq(m.status, "cancelled")
  eq(m.reason, "case_closed")
end)

test("a dispute holds every collection contact until it is resolved", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:event(c, "dispute", { reason = "amount contested" })
  eq(c.on_hold, true)
  rt:advance("3d")
  eq(c.state, "call")
  eq(#rt:tasks { case = "L1", kind = "call" }, 0, "no call while disputed")
  local refused
  for _, row in ipairs(rt:journal(c)) do
    if row.kind == "policy" then refused = row.detail.reason end
  end
  eq(refused, "dispute_hold")
  rt:event(c, "dispute_resolved")
  eq(c.on_hold, false)
end)

test("after a cease request only legal notices reach the borrower", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { borrower = { id = "B1", name = "王芳", phones = { "+8613800000000" },
                                         address = "北京市朝阳区1号" } })
  rt:event(c, "cease")
  eq(c.borrower.ceased, true)
  rt:advance("3d")
  eq(#rt:tasks { case = "L1", kind = "call" }, 0)
  rt:advance("7d")                       -- escalate: visit, refused by the guard too
  rt:advance("14d")                      -- legal: the notice letter still goes
  eq(c.state, "legal")
  eq(rt:messages { case = "L1", channel = "letter" }[1].status, "queued")
end)

test("the employer hears only a call-back request, never the debt", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt, { borrower = { id = "B1", name = "王芳", phones = { "+8613800000000" },
                                         employer = { name = "某公司", phone = "+861088880000" } } })
  rt:advance("3d")
  rt:complete(rt:tasks { case = "L1", kind = "call" }[1], { outcome = "wrong_number" })
  local m = rt:messages { case = "L1", to_kind = "employer" }[1]
  eq(m.to, "+861088880000")
  eq(m.status, "queued")
  assert(not m.body:find("¥", 1, true), m.body)
  assert(not m.body:find("逾期", 1, true), m.body)
  eq(c.state, "visit")
end)
