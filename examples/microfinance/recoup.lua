-- Example Microfinance: an inclusive-finance lender with individual
-- borrowers in China. This file is the institution: who we are, the rules
-- every contact must follow, how messages leave, and which workflow runs.

institution {
  -- The name in each reader's language: an English SMS carries the English one.
  name = { ["zh-CN"] = "示例小额贷款", en = "Example Microfinance" },
  timezone = "Asia/Shanghai", country = "CN",
  locale = "zh-CN", currency = "CNY", contact_phone = "400-000-0000",
}

policy {
  contact_hours = { "08:00", "21:00" },            -- borrower's local time
  max_contacts = {
    { channels = { "call" }, limit = 7, per = "7d", scope = "case" },
    { channels = { "sms", "email" }, limit = 3, per = "1d" },
    { channels = { "visit" }, limit = 2, per = "30d" },
  },
  after_conversation = { channels = { "call" }, pause = "7d" },
  third_parties = "no_debt_details",
  forbidden_phrases = { "坐牢", "曝光", "通讯录", "arrest", "jail" },
}

channel "sms"    { driver = "file", path = "var/outbox-sms.jsonl" }
channel "letter" { driver = "file", path = "var/outbox-letter.jsonl" }

-- How many tasks each queue's people finish in a day: `recoup simulate`
-- holds the rest back as a backlog, so a strategy that needs more hands
-- than the shop has shows it before it ships.
capacity { phone = 400, field = 25, hardship = 50, legal = 40 }

service { listen = "127.0.0.1:8080", db = "var/recoup.db", body_limit = "1MB",
          instruction_budget = 10000000, memory_limit = "256MB" }
tokens { ingest = "env:RECOUP_INGEST_TOKEN", agent = "env:RECOUP_AGENT_TOKEN",
         read = "env:RECOUP_READ_TOKEN", admin = "env:RECOUP_ADMIN_TOKEN" }

templates(require "templates")
workflow(require "standard")          -- scripts/standard.lua, shipped with recoup
