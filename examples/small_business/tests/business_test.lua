-- The standard workflow as a small-business lender runs it.

local function open_shop(rt, extra)
  local f = {
    id = "SB1", balance = 3000000, amount_due = 600000, fees = 20000, due_date = "2026-01-01",
    product = "business", visit_at = "work",
    borrower = { id = "O1", name = "陈杰", phones = { "+8613800000001" },
                 employer = { name = "陈杰五金店", phone = "+861055550000", address = "北京市丰台区8号" } },
  }
  for k, v in pairs(extra or {}) do f[k] = v end
  return rt:open(f)
end

local function to_call(rt, c)
  rt:advance("3d")
  return rt:tasks { case = c.id, kind = "call", status = "open" }[1]
end

test("the reminder names the business and the amount", function(rt)
  rt:set_clock("2026-01-05T10:00")
  open_shop(rt)
  local sms = rt:messages { case = "SB1" }[1]
  assert(sms.body:find("陈杰五金店", 1, true), sms.body)
  assert(sms.body:find("¥6,000.00", 1, true), sms.body)
end)

test("promise kept: the overdue amount paid cures the loan", function(rt)
  rt:set_clock("2026-01-05T10:00")
  local c = open_shop(rt)
  rt:complete(to_call(rt, c), { outcome = "promise", amount = 600000, by = "2026-01-15" })
  rt:pay(c, 600000, "BANK-1")
  eq(c.state, "cured")
end)

test("promise broken: a workplace visit", function(rt)
  rt:set_clock("2026-01-05T10:00")
  local c = open_shop(rt)
  rt:complete(to_call(rt, c), { outcome = "promise", amount = 600000, by = "2026-01-10" })
  rt:advance("3d")
  eq(c.state, "visit")
  local visit = rt:tasks { case = "SB1", status = "open" }[1]
  eq(visit.kind, "workplace_visit")
  eq(visit.queue, "field")
end)

test("hardship: a plan, paid to the end", function(rt)
  rt:set_clock("2026-01-05T10:00")
  local c = open_shop(rt)
  rt:complete(to_call(rt, c), { outcome = "hardship" })
  rt:complete(rt:tasks { case = "SB1", kind = "restructuring_review" }[1],
              { outcome = "agreed", installments = 6, every = "1mo", first_due = "2026-02-10" })
  for i = 1, 6 do
    rt:advance("1mo")
    local due = 0
    for _, inst in ipairs(c.current_plan.installments) do
      if inst.status == "due" then due = inst.amount - inst.paid break end
    end
    rt:pay(c, due, "INST-" .. i)
  end
  eq(c.current_plan.status, "completed")
  eq(c.state, "resolved")
end)

test("a missed installment: legal", function(rt)
  rt:set_clock("2026-01-05T10:00")
  local c = open_shop(rt)
  rt:complete(to_call(rt, c), { outcome = "hardship" })
  rt:complete(rt:tasks { case = "SB1", kind = "restructuring_review" }[1],
              { outcome = "agreed", installments = 6, first_due = "2026-02-10" })
  rt:advance("40d")
  eq(c.state, "legal")
end)

test("refused at the shop: legal", function(rt)
  rt:set_clock("2026-01-05T10:00")
  local c = open_shop(rt)
  rt:complete(to_call(rt, c), { outcome = "no_answer" })
  local visit = rt:tasks { case = "SB1", kind = "workplace_visit" }[1]
  rt:claim(visit, "officer-12")
  eq(rt:tasks { case = "SB1", kind = "workplace_visit" }[1].assignee, "officer-12")
  rt:complete(visit, { outcome = "refused", met = "owner", said = "business is closing",
                       next_step = "legal review" })
  eq(c.state, "legal")
  local ok, err = pcall(rt.complete, rt, visit, { outcome = "refused" })
  assert(not ok and err:find("already closed"), err)
end)
