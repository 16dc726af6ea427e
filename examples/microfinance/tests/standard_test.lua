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
end)

test("English borrowers get the English text", function(rt)
  rt:set_clock("2026-01-05T09:00")
  rt:open { id = "E1", balance = 100000, amount_due = 100000, due_date = "2026-01-01",
            borrower = { id = "BE", name = "Ann Lee", locale = "en", phones = { "+15550100" } } }
  local sms = rt:messages { case = "E1" }[1]
  assert(sms.body:find("Dear Ann Lee", 1, true), sms.body)
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

test("a kept promise holds the case in call", function(rt)
  rt:set_clock("2026-01-05T09:00")
  local c = open_wang(rt)
  rt:advance("3d")
  local task = rt:tasks { case = "L1", kind = "call" }[1]
  rt:complete(task, { outcome = "promise", amount = 120000, by = "2026-01-10" })
  rt:pay(c, 120000, "PAY-1")
  rt:advance("6d")
  eq(c.state, "call")
  eq(c.balance, 380000)
  eq(c.amount_due, 0)
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
  local ok, err = pcall(rt.pay, rt, c, 1000, "R-1")
  assert(not ok and err:find("already received"), err)
  eq(c.balance, 499000)
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
