-- The reference collection workflow shipped with recoup.
--
-- A delinquent loan moves through five steps, gentlest first:
--
--   reminder       an SMS the day the case opens; most borrowers simply forgot
--   call           a collector phones; a promise to pay pauses escalation
--   visit          a field officer visits home (or the workplace) and writes
--                  down what was said
--   restructuring  a borrower in hardship is offered installments
--   legal          a legal officer reviews the file
--
-- Paying the balance in full closes the case from any step. Copy this file
-- into your institution's `workflows/` folder to change the timings or the
-- steps; the transitions table below is the list of moves the core allows.

-- "2026-01-10" -> "2026-01-11": a promise is broken when its day has ended.
local function day_after(date)
  local y, m, d = date:match("^(%d+)-(%d+)-(%d+)$")
  return os.date("%Y-%m-%d", os.time { year = y, month = m, day = d + 1 })
end

-- A promise to pay: remember what the balance must drop to and check it the
-- day after the promised date. (Escalation waits meanwhile.)
local function take_promise(case, ev)
  case:cancel("escalate")
  case:set("promise", { amount = ev.amount, by = ev.by,
                        target = case.balance - (ev.amount or 0) })
  case:at(day_after(ev.by), "promise_due")
  case:note("promise to pay " .. tostring(ev.amount) .. " by " .. ev.by)
end

-- True when payments since the promise cover it.
local function promise_kept(case)
  local p = case.data.promise
  return p ~= nil and case.balance <= p.target
end

return recoup.workflow {
  name = "standard",
  version = 1,
  initial = "reminder",

  states = {
    reminder = {
      enter = function(case)
        case:send("sms", "due_reminder")
        case:after("3d", "escalate")        -- no payment after 3 days: phone
      end,
      on = {
        escalate = function() return "call" end,
      },
    },

    call = {
      enter = function(case)
        case:task("call", { queue = "phone", due = "1d" })
        case:after("7d", "escalate")        -- nobody reached within a week
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "promise" then return take_promise(case, ev) end
          if ev.outcome == "hardship" then return "restructuring" end
          if ev.outcome == "no_answer" or ev.outcome == "refused"
             or ev.outcome == "wrong_number" then
            return "visit"
          end
        end,
        promise_due = function(case)
          if promise_kept(case) then
            case:note("promise kept")
            case:after("7d", "escalate")     -- keep the pressure gentle
            return nil
          end
          return "visit"
        end,
        escalate = function() return "visit" end,
      },
    },

    visit = {
      enter = function(case)
        -- Small-business borrowers are easier to find at work.
        local where = case.data.visit_at == "work" and "workplace_visit" or "visit"
        case:task(where, { queue = "field", due = "3d" })
        case:after("14d", "escalate")
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "promise" then return take_promise(case, ev) end
          if ev.outcome == "hardship" then return "restructuring" end
          if ev.outcome == "refused" or ev.outcome == "not_found" then
            return "legal"
          end
        end,
        promise_due = function(case)
          if promise_kept(case) then
            case:note("promise kept")
            case:after("14d", "escalate")
            return nil
          end
          return "legal"
        end,
        escalate = function() return "legal" end,
      },
    },

    restructuring = {
      enter = function(case)
        case:send("sms", "restructuring_offer")
        case:task("restructuring_review", { queue = "hardship", due = "2d" })
        case:after("10d", "escalate")       -- no answer to the offer
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "agreed" then
            case:cancel("escalate")
            case:tag("restructured")
            case:note("installment plan agreed")
            return nil
          end
          if ev.outcome == "declined" then return "legal" end
        end,
        escalate = function() return "legal" end,
      },
    },

    legal = {
      enter = function(case)
        case:send("letter", "legal_notice")
        case:task("legal_review", { queue = "legal", due = "5d" })
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "write_off" then return "written_off" end
        end,
      },
    },

    resolved = {
      final = true, outcome = "paid",
      enter = function(case) case:send("sms", "thank_you") end,
    },
    written_off = { final = true, outcome = "written_off" },
  },

  transitions = {
    reminder = { "call", "resolved" },
    call = { "visit", "restructuring", "resolved" },
    visit = { "restructuring", "legal", "resolved" },
    restructuring = { "legal", "resolved" },
    legal = { "resolved", "written_off" },
  },

  -- In every state: a payment that clears the balance closes the case, and
  -- so does a balance brought to zero by the lender's own system.
  on = {
    payment = function(case) if case.balance <= 0 then return "resolved" end end,
    updated = function(case) if case.balance <= 0 then return "resolved" end end,
  },
}
