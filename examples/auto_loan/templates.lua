-- Texts for car-loan customers: the vehicle is named, never threatened.
return {
  due_reminder = {
    sms = {
      ["zh-CN"] = "{borrower.name}您好，您在{institution.name}的车贷（{vars.vehicle}）已逾期{case.dpd}天，应还{case.amount_due}（含逾期费用{case.fees}）。请尽快通过APP还款，咨询{institution.contact_phone}。",
      en = "Dear {borrower.name}, your car loan with {institution.name} is {case.dpd} days overdue: {case.amount_due} due incl. fees {case.fees}. Please pay in the app; questions: {institution.contact_phone}.",
    },
  },
  -- {vars.amount:money} shows minor units as money (450000 -> ¥4,500.00),
  -- {vars.by:date} a date as the reader writes it (2026年1月9日, January 9, 2026).
  promise_confirm = {
    sms = {
      ["zh-CN"] = "{borrower.name}您好，您承诺于{vars.by:date}前还款{vars.amount:money}，感谢配合。{institution.name}",
      en = "Dear {borrower.name}, thank you for your promise to pay {vars.amount:money} by {vars.by:date}. {institution.name}",
    },
  },
  legal_notice = {
    legal_notice = true,
    letter = {
      ["zh-CN"] = "{borrower.name}：您的车贷逾期{case.dpd}天，尚欠{case.balance}。本案已转法务部门审核，请于收到本函后尽快联系{institution.contact_phone}。",
      en = "{borrower.name}: your car loan is {case.dpd} days overdue with {case.balance} outstanding. The file is with our legal department; please call {institution.contact_phone} on receipt.",
    },
  },
  thank_you = {
    sms = {
      ["zh-CN"] = "{borrower.name}您好，款项已收到，感谢您的配合。{institution.name}",
      en = "Dear {borrower.name}, payment received. Thank you. {institution.name}",
    },
  },
}
