-- A candidate: the standard workflow (scripts/standard.lua) with two
-- changes, each marked CHANGED below:
--   1. the phone step hands over to a field visit after 3 days instead of 7;
--   2. the field officer is asked to visit the next day, not within 3 days.
-- Version 2: running cases move to it in the same state (no migrate). A
-- change to a state's `enter` reaches the cases that enter that state from
-- then on; those already in it keep the timers they have.
--
-- The reference collection workflow shipped with recoup.
--
-- A delinquent loan moves through five steps, gentlest first:
--
--   reminder       an SMS the day the case opens; most borrowers simply forgot
--   call           a collector phones; a promise to pay pauses escalation,
--                  a broken one moves on to a visit
--   visit          a field officer visits home (or the workplace) and writes
--                  down what was said
--   restructuring  a borrower in hardship is offered installments; a missed
--                  installment (3 days' grace) goes to legal
--   legal          a legal officer reviews the file
--
-- Paying the overdue amount closes the case as cured, paying the whole
-- balance as paid, from any step (on a plan, only the whole balance). Copy this file
-- into your institution's `workflows/` folder to change the timings or the
-- steps; the transitions table below is the list of moves the core allows.

-- A promise to pay: the core watches it. `promise_kept` arrives as soon as
-- payments cover it, `promise_broken` when the promised day ends without.
-- Escalation waits meanwhile.
local function take_promise(case, ev)
  case:cancel("escalate")
  case:promise { amount = ev.amount, by = ev.by }
  -- The amount as the case's money (¥1,200.00): its minor units alone
  -- (120000) read as a hundred times the promise on the case's page.
  case:note("promise to pay " .. recoup.money(ev.amount) .. " by " .. ev.by)
end

-- What collectors record when they finish a task. The core refuses a
-- completion that does not fit (a promise without an amount, a date that is
-- not a date) before anything is written, and the console draws its forms
-- from this list. `conversation = true`: the borrower was reached, so the
-- pause after a conversation starts (policy.after_conversation). A date may
-- be given as a date or as a duration from today ("7d"); "?" marks a field
-- the collector may leave out.
local visit = {
  counts_as = "visit",
  outcomes = {
    promise = { amount = "money", by = "date", met = "text?", said = "text?",
                visitor = "text?", conversation = true },
    hardship = { met = "text?", said = "text?", visitor = "text?", conversation = true },
    refused = { met = "text?", said = "text?", next_step = "text?", visitor = "text?",
                conversation = true },
    not_found = { said = "text?", next_step = "text?", visitor = "text?" },
  },
}

local tasks = {
  call = {
    priority = 10,
    outcomes = {
      promise = { amount = "money", by = "date", conversation = true },
      hardship = { conversation = true },
      refused = { conversation = true },
      no_answer = {},
      wrong_number = {},
    },
  },
  visit = visit,
  workplace_visit = visit,
  restructuring_review = {
    outcomes = {
      -- The terms agreed: how many installments (1 to 60), how often
      -- (weekly, fortnightly or monthly), from when. A form outside these
      -- is refused before it is saved, so no plan is agreed that the core
      -- cannot track.
      agreed = { installments = { type = "int", min = 1, max = 60, optional = true },
                 every = { "1w", "2w", "1mo", optional = true },
                 first_due = "date?",
                 total = { type = "money", min = 1, optional = true } },
      declined = {},
    },
  },
  legal_review = {
    outcomes = { proceed = {}, settle = { amount = "money?" }, write_off = {} },
  },
}

return recoup.workflow {
  name = "standard",
  version = 2,                          -- CHANGED: a new version of standard
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
        case:after("3d", "escalate")        -- CHANGED: visit after 3 days, not 7
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "promise" then return take_promise(case, ev) end
          if ev.outcome == "hardship" then return "restructuring" end
          if ev.outcome == "wrong_number" then
            -- Ask the employer to pass on a call-back request: the text
            -- says nothing about the debt (a third_party template).
            case:send("sms", "employer_callback", nil, { to = "employer" })
            return "visit"
          end
          if ev.outcome == "no_answer" or ev.outcome == "refused" then
            return "visit"
          end
        end,
        promise_kept = function(case)
          case:note("promise kept")
          if case.balance > 0 then case:after("7d", "escalate") end
        end,
        promise_broken = function() return "visit" end,
        escalate = function() return "visit" end,
      },
    },

    visit = {
      enter = function(case)
        -- Small-business borrowers are easier to find at work.
        local where = case.data.visit_at == "work" and "workplace_visit" or "visit"
        case:task(where, { queue = "field", due = "1d" })  -- CHANGED: was 3d
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
        promise_kept = function(case)
          case:note("promise kept")
          if case.balance > 0 then case:after("14d", "escalate") end
        end,
        promise_broken = function() return "legal" end,
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
            -- The officer records the terms agreed with the borrower; the
            -- core then tracks every installment. Terms no plan can keep
            -- (a total above the balance or below one minor unit an
            -- installment, a first day already passed) depend on the case,
            -- not on the form: the review is asked again, saying why,
            -- rather than the case stopping in error.
            local ok, why = pcall(case.plan, case, {
              installments = ev.installments or 6, every = ev.every or "1mo",
              first_due = ev.first_due, total = ev.total, grace = "3d" })
            if not ok then
              case:note("terms not kept, agree them again: " ..
                        tostring(why):gsub("^[^\n]-:%d+: ", ""))
              case:task("restructuring_review", { queue = "hardship", due = "1d" })
              return nil
            end
            case:cancel("escalate")
            case:tag("restructured")
            return nil
          end
          if ev.outcome == "declined" then return "legal" end
        end,
        installment_missed = function() return "legal" end,   -- plan broken
        -- On a plan, paying the old amount due does not end the case:
        -- only the whole balance does.
        payment = function(case) if case.balance <= 0 then return "resolved" end end,
        plan_completed = function(case)
          case:note("installment plan completed")
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
    cured = {                  -- the overdue amount is paid; the loan is current
      final = true, outcome = "cured",
      enter = function(case) case:send("sms", "thank_you") end,
    },
    written_off = { final = true, outcome = "written_off" },
  },

  tasks = tasks,

  transitions = {
    reminder = { "call", "resolved", "cured" },
    call = { "visit", "restructuring", "resolved", "cured" },
    visit = { "restructuring", "legal", "resolved", "cured" },
    restructuring = { "legal", "resolved" },
    legal = { "resolved", "cured", "written_off" },
  },

  -- In every state (unless the state says otherwise): paying the whole
  -- balance closes the case as paid; paying what was overdue closes it as
  -- cured. The same when the lender's own system reports new figures.
  on = {
    payment = function(case)
      if case.balance <= 0 then return "resolved" end
      if case.amount_due <= 0 then return "cured" end
    end,
    updated = function(case)
      if case.balance <= 0 then return "resolved" end
      if case.amount_due <= 0 then return "cured" end
    end,
  },
}
