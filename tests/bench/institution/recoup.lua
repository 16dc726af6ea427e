-- The benchmark's institution: the daily sweep of a reminder workflow. Each
-- step reads the case, runs a Lua handler, renders and queues an SMS,
-- transitions and journals — what a real reminder does.
institution { name = "Bench Lender", timezone = "Asia/Shanghai", locale = "zh-CN",
              currency = "CNY", contact_phone = "400-000-0000" }
-- admin: the console's figures are timed on the same book (figures.sh).
tokens { ingest = "env:RECOUP_INGEST_TOKEN", admin = "env:RECOUP_ADMIN_TOKEN" }
-- The service delivers what the sweep queues, as a lender's would (a file
-- next to this one: run.sh works on a copy of this directory).
channel "sms" { driver = "file", path = "outbox-sms.jsonl" }
templates {
  reminder = { sms = { ["zh-CN"] = "{borrower.name}您好，您的借款已逾期{case.dpd}天，应还{case.amount_due}。咨询电话{institution.contact_phone}。" } },
}
workflow(recoup.workflow {
  name = "sweep", version = 1, initial = "due",
  states = {
    due = {
      enter = function(case) case:after("1d", "remind") end,
      on = {
        remind = function(case)
          if case.balance > 0 then
            case:send("sms", "reminder")
            return "reminded"
          end
        end,
      },
    },
    reminded = { on = {} },
  },
  transitions = { due = { "reminded" } },
})
