-- Example Auto Finance: car loans. The car secures the loan, so the lender
-- moves faster than an unsecured lender: one day of grace, a call, and if
-- that fails the legal team reviews repossession. No home visits.

institution {
  -- The name in each reader's language: an English SMS carries the English one.
  name = { ["zh-CN"] = "示例汽车金融", en = "Example Auto Finance" },
  timezone = "Asia/Shanghai", country = "CN",
  locale = "zh-CN", currency = "CNY", contact_phone = "400-000-2222",
}

policy {
  contact_hours = { "08:00", "21:00" },
  max_contacts = {
    { channels = { "call" }, limit = 7, per = "7d", scope = "case" },
    { channels = { "sms" }, limit = 3, per = "1d" },
  },
  after_conversation = { channels = { "call" }, pause = "7d" },
  third_parties = "no_debt_details",
  forbidden_phrases = { "坐牢", "曝光", "通讯录", "拖车", "arrest", "jail" },
}

channel "sms"    { driver = "file", path = "var/outbox-sms.jsonl" }
channel "letter" { driver = "file", path = "var/outbox-letter.jsonl" }

service { db = "var/recoup.db" }
tokens { ingest = "env:RECOUP_INGEST_TOKEN", agent = "env:RECOUP_AGENT_TOKEN",
         read = "env:RECOUP_READ_TOKEN", admin = "env:RECOUP_ADMIN_TOKEN" }

templates(require "templates")
workflow(require "workflows.auto")
