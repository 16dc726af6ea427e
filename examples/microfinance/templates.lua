-- Message texts. Each template has one text per channel, in Chinese and
-- English; the borrower's locale picks one. Placeholders in {braces} are
-- filled when the message is written: money and dates come out formatted for
-- the reader (¥1,200.00, 2026年1月31日).
return {
  due_reminder = {
    sms = {
      ["zh-CN"] = "{borrower.name}您好，您在{institution.name}的借款已逾期{case.dpd}天，应还{case.amount_due}（含逾期费用{case.fees}），原到期日{case.due_date}。请通过APP或银行转账还款，咨询电话{institution.contact_phone}。",
      en = "Dear {borrower.name}, your loan with {institution.name} is {case.dpd} days overdue. Amount due: {case.amount_due} incl. fees {case.fees}, originally due {case.due_date}. Pay in the app or by bank transfer; questions: {institution.contact_phone}.",
    },
  },
  restructuring_offer = {
    sms = {
      ["zh-CN"] = "{borrower.name}您好，如您还款有困难，{institution.name}可为您提供分期还款方案（剩余本息{case.balance}）。请致电{institution.contact_phone}。",
      en = "Dear {borrower.name}, if repaying is hard right now, {institution.name} can offer installments on your balance of {case.balance}. Call {institution.contact_phone}.",
    },
  },
  legal_notice = {
    legal_notice = true,
    letter = {
      ["zh-CN"] = "{borrower.name}：您在{institution.name}的借款逾期{case.dpd}天，尚欠{case.balance}。本案已转交法务部门审核。如有疑问请致电{institution.contact_phone}。",
      en = "{borrower.name}: your loan with {institution.name} is {case.dpd} days overdue with {case.balance} outstanding. The file has been passed to our legal department for review. Questions: {institution.contact_phone}.",
    },
  },
  thank_you = {               -- sent when paid in full and when cured (the overdue part paid)
    sms = {
      ["zh-CN"] = "{borrower.name}您好，款项已收到，感谢您的配合。{institution.name}",
      en = "Dear {borrower.name}, payment received. Thank you. {institution.name}",
    },
  },
  employer_callback = {
    third_party = true,
    sms = {
      ["zh-CN"] = "您好，请转告{borrower.name}回电{institution.contact_phone}。",
      en = "Hello, please ask {borrower.name} to call {institution.contact_phone}.",
    },
  },
}
