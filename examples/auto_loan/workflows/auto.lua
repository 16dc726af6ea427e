-- The auto-loan workflow: shorter waits and an earlier legal step than the
-- standard one, because the car secures the loan.
--
--   reminder  SMS on opening; one day later, a call
--   call      a promise pauses things until its day ends; no answer, a
--             refusal, a broken promise or three silent days go to legal
--   restructuring  hardship: up to three monthly installments, no grace
--   legal     a notice letter and a repossession review

-- A promise is confirmed to the borrower in writing: the amount and the day
-- as they read them (the template formats them), so there is no doubt
-- later about what was agreed.
local function take_promise(case, ev)
  case:cancel("escalate")
  case:promise { amount = ev.amount, by = ev.by }
  case:send("sms", "promise_confirm", { amount = ev.amount, by = ev.by })
end

local function paid_off(case)
  if case.balance <= 0 then return "resolved" end
  if case.amount_due <= 0 then return "cured" end
end

return recoup.workflow {
  name = "auto_loan", version = 1, initial = "reminder",
  states = {
    reminder = {
      enter = function(case)
        -- Opened with nothing overdue: closed at once, without a word
        -- (its own outcome: not a cure).
        if case.amount_due <= 0 then return "nothing_due" end
        case:send("sms", "due_reminder", { vehicle = case.data.vehicle or "" })
        case:after("1d", "escalate")
      end,
      on = { escalate = function() return "call" end },
    },
    call = {
      enter = function(case)
        case:task("call", { queue = "auto_phone", due = "4h" })
        case:after("3d", "escalate")
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "promise" then return take_promise(case, ev) end
          if ev.outcome == "hardship" then return "restructuring" end
          if ev.outcome == "no_answer" or ev.outcome == "refused" then return "legal" end
        end,
        promise_broken = function() return "legal" end,
        escalate = function() return "legal" end,
      },
    },
    restructuring = {
      enter = function(case)
        case:task("restructuring_review", { queue = "auto_hardship", due = "1d" })
        case:after("5d", "escalate")
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "agreed" then
            -- This workflow declares no outcome fields, so the terms come
            -- as typed: terms no plan can keep (0 installments, a first
            -- day passed) ask for the review again, saying why, rather
            -- than stopping the case in error.
            local ok, why = pcall(function()
              return case:plan { installments = math.min(ev.installments or 3, 3),
                                 every = "1mo", first_due = ev.first_due }
            end)
            if not ok then
              case:note("terms not kept, agree them again: " ..
                        tostring(why):gsub("^[^\n]-:%d+: ", ""))
              case:task("restructuring_review", { queue = "auto_hardship", due = "1d" })
              return nil
            end
            case:cancel("escalate")
          elseif ev.outcome == "declined" then
            return "legal"
          end
        end,
        installment_missed = function() return "legal" end,
        payment = function(case) if case.balance <= 0 then return "resolved" end end,
        escalate = function() return "legal" end,
      },
    },
    legal = {
      enter = function(case)
        case:send("letter", "legal_notice")
        case:task("repossession_review", { queue = "legal", due = "2d",
                                           vehicle = case.data.vehicle })
      end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "repossessed" then return "repossessed" end
          if ev.outcome == "write_off" then return "written_off" end
        end,
      },
    },
    resolved = { final = true, outcome = "paid",
                 enter = function(case) case:send("sms", "thank_you") end },
    cured = { final = true, outcome = "cured",
              enter = function(case) case:send("sms", "thank_you") end },
    nothing_due = { final = true, outcome = "nothing_due" },
    repossessed = { final = true, outcome = "repossessed" },
    written_off = { final = true, outcome = "written_off" },
  },
  transitions = {
    reminder = { "call", "resolved", "cured", "nothing_due" },
    call = { "restructuring", "legal", "resolved", "cured" },
    restructuring = { "legal", "resolved" },
    legal = { "resolved", "cured", "repossessed", "written_off" },
  },
  on = { payment = paid_off, updated = paid_off },
}
