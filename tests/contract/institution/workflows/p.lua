-- A small workflow: a call for every new case; a promise waits for its
-- payment, a refusal or a dispute sends the case to review.
return recoup.workflow {
  name = "p", version = 1, initial = "call",
  tasks = {
    call = { outcomes = {
      promise = { amount = "money", by = "date", conversation = true },
      no_answer = {},
      refused = { reason = "text?" },
      met = { whom = { "borrower", "spouse", "other" }, home = "bool?", children = "int?" },
    } },
  },
  states = {
    call = {
      enter = function(case) case:task("call", { queue = "phone" }) end,
      on = {
        task_done = function(case, ev)
          if ev.outcome == "refused" then return "review" end
        end,
        dispute = function(case) return "review" end,
      },
    },
    review = {},
    paid = { final = true, outcome = "paid" },
  },
  transitions = { call = { "review", "paid" }, review = { "paid" } },
  on = {
    payment = function(case) if case.balance <= 0 then return "paid" end end,
  },
}
