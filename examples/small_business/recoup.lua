-- Example Small Business Credit: working-capital loans to shops, restaurants
-- and workshops. The borrower is met where the business is: reminders go
-- to the owner's phone, visits are workplace visits (`visit_at = "work"` in
-- the portfolio), and a call-back request may go to the shop's landline.

institution {
  -- The name in each reader's language: an English SMS carries the English one.
  name = { ["zh-CN"] = "示例小微金融", en = "Example Small Business Finance" },
  timezone = "Asia/Shanghai", country = "CN",
  locale = "zh-CN", currency = "CNY", contact_phone = "400-000-1111",
}

policy {
  contact_hours = { "09:00", "20:00" },           -- business hours
  max_contacts = {
    { channels = { "call" }, limit = 7, per = "7d", scope = "case" },
    { channels = { "sms" }, limit = 2, per = "1d" },
    { channels = { "visit" }, limit = 2, per = "30d" },
  },
  after_conversation = { channels = { "call" }, pause = "5d" },
  third_parties = "no_debt_details",
  forbidden_phrases = { "坐牢", "曝光", "通讯录", "查封", "arrest", "jail" },
}

channel "sms"    { driver = "file", path = "var/outbox-sms.jsonl" }
channel "letter" { driver = "file", path = "var/outbox-letter.jsonl" }

service { db = "var/recoup.db" }
tokens { ingest = "env:RECOUP_INGEST_TOKEN", agent = "env:RECOUP_AGENT_TOKEN",
         read = "env:RECOUP_READ_TOKEN", admin = "env:RECOUP_ADMIN_TOKEN" }

templates(require "templates")
workflow(require "standard")
