-- The institution the property-based API test serves: every case opened
-- gets a call task whose outcomes are declared, so completions are checked.
institution { name = "Contract", timezone = "Asia/Shanghai", locale = "en",
              currency = "CNY", contact_phone = "400-000-0000" }
service { body_limit = "256KB" }
tokens { ingest = "env:P_INGEST", agent = "env:P_AGENT", read = "env:P_READ",
         admin = "env:P_ADMIN" }
templates { }
workflow(require "workflows.p")
