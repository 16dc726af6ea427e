-- The auto-loan workflow: short grace, earlier legal step.

local function open_car(rt, extra)
  local f = {
    id = "AU1", balance = 8000000, amount_due = 450000, fees = 9000, due_date = "2026-01-03",
    product = "auto", vehicle = "卡罗拉 京A12345",
    borrower = { id = "D1", name = "刘洋", phones = { "+8613800000009" }, address = "北京市海淀区9号" },
  }
  for k, v in pairs(extra or {}) do f[k] = v end
  return rt:open(f)
end

local function call_task(rt)
  rt:advance("1d")
  return rt:tasks { case = "AU1", kind = "call", status = "open" }[1]
end

test("one day after the reminder, a call", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt)
  eq(c.state, "reminder")
  local sms = rt:messages { case = "AU1" }[1]
  assert(sms.body:find("（卡罗拉 京A12345）", 1, true), sms.body)
  local t = call_task(rt)
  eq(c.state, "call")
  eq(t.queue, "auto_phone")
  eq(t.due, "2026-01-06T13:00:00+08:00")
end)

test("opened with nothing due: closed at once, no reminder", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt, { amount_due = 0 })
  eq(c.state, "nothing_due")
  eq(c.outcome, "nothing_due")
  eq(#rt:messages { case = "AU1" }, 0)
end)

test("promise kept: cured", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt)
  rt:complete(call_task(rt), { outcome = "promise", amount = 450000, by = "2026-01-09" })
  rt:pay(c, 450000, "P1")
  eq(c.state, "cured")
end)

test("a promise is confirmed by SMS, in money and a date", function(rt)
  rt:set_clock("2026-01-05T09:00")
  open_car(rt)
  rt:complete(call_task(rt), { outcome = "promise", amount = 450000, by = "2026-01-09" })
  local sms = rt:messages { case = "AU1", template = "promise_confirm" }[1]
  eq(sms.body, "刘洋您好，您承诺于2026年1月9日前还款¥4,500.00，感谢配合。示例汽车金融")
end)

test("promise broken: straight to legal, with the vehicle on the review", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt)
  rt:complete(call_task(rt), { outcome = "promise", amount = 450000, by = "2026-01-07" })
  rt:advance("2d")
  eq(c.state, "legal")
  local review = rt:tasks { case = "AU1", kind = "repossession_review" }[1]
  eq(review.vehicle, "卡罗拉 京A12345")
  eq(#rt:messages { case = "AU1", channel = "letter" }, 1)
end)

test("hardship: at most three installments, completed", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt, { balance = 900000 })
  rt:complete(call_task(rt), { outcome = "hardship" })
  rt:complete(rt:tasks { case = "AU1", kind = "restructuring_review" }[1],
              { outcome = "agreed", installments = 12, first_due = "2026-02-01" })
  eq(#c.current_plan.installments, 3)
  for i = 1, 3 do
    rt:pay(c, c.current_plan.installments[i].amount, "I" .. i)
  end
  eq(c.current_plan.status, "completed")
  eq(c.state, "resolved")
end)

test("terms no plan can keep ask for the review again, the case not in error", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt, { balance = 900000 })
  rt:complete(call_task(rt), { outcome = "hardship" })
  rt:complete(rt:tasks { case = "AU1", kind = "restructuring_review" }[1],
              { outcome = "agreed", installments = 0, first_due = "2026-02-01" })
  eq(c.error, nil, "the case is not in error")
  eq(c.state, "restructuring")
  local note
  for _, row in ipairs(rt:journal(c)) do
    if row.kind == "note" then note = row.detail.text or row.detail.note end
  end
  assert(note and note:find("terms not kept, agree them again: case:plan: a plan has 1 to 360 installments", 1, true),
         "the note says why: " .. tostring(note))
  local review = rt:tasks { case = "AU1", kind = "restructuring_review", status = "open" }[1]
  assert(review, "the review is asked again")
  rt:complete(review, { outcome = "agreed", installments = 2, first_due = "2026-02-01" })
  eq(#c.current_plan.installments, 2)
end)

test("a missed installment: legal the next day", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt, { balance = 900000 })
  rt:complete(call_task(rt), { outcome = "hardship" })
  rt:complete(rt:tasks { case = "AU1", kind = "restructuring_review" }[1],
              { outcome = "agreed", first_due = "2026-02-01" })
  rt:advance("26d")
  eq(c.state, "restructuring")
  rt:advance("1d")
  eq(c.state, "legal")
end)

test("a refused call goes to legal; repossession closes the case", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_car(rt)
  rt:complete(call_task(rt), { outcome = "refused" })
  eq(c.state, "legal")
  rt:complete(rt:tasks { case = "AU1", kind = "repossession_review" }[1],
              { outcome = "repossessed", note = "vehicle recovered" })
  eq(c.state, "repossessed")
  eq(c.outcome, "repossessed")
end)

-- "You called me at 22:00": the guard puts a call's due time inside the
-- contact hours (08:00-21:00, recoup.lua), but a collector may still ring
-- later. The journal keeps, on the call's row, when it was due, when it
-- was recorded in the borrower's own time, and whether that was inside
-- the contact hours: what a supervisor shows the borrower.
local function row(rt, kind)
  local found
  for _, r in ipairs(rt:journal(rt:case "AU1")) do
    if r.kind == kind then found = r end
  end
  return found
end

test("a call recorded at 22:00 is said to be outside the contact hours", function(rt)
  rt:set_clock("2026-01-05T09:00")
  open_car(rt)
  local t = call_task(rt)
  eq(row(rt, "task").detail.due, "2026-01-06T13:00:00+08:00")
  rt:set_clock("2026-01-06T22:00")
  rt:complete(t, { outcome = "no_answer" })
  local done = row(rt, "task_done").detail
  eq(done.borrower_time, "2026-01-06T22:00:00+08:00")
  eq(done.within_contact_hours, false)
end)

test("a call's time is the borrower's own, in their time zone", function(rt)
  rt:set_clock("2026-01-05T09:00")
  open_car(rt, { borrower = { id = "D1", name = "刘洋", phones = { "+8613800000009" },
                             timezone = "Asia/Urumqi" } })
  local t = call_task(rt)
  rt:set_clock("2026-01-06T09:30")
  rt:complete(t, { outcome = "no_answer" })
  local done = row(rt, "task_done").detail
  eq(done.borrower_time, "2026-01-06T07:30:00+06:00")
  eq(done.within_contact_hours, false)
end)
