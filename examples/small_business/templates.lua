-- Texts for business owners: name the business, keep it short, say how to
-- pay and whom to call. The call-back note for the shop's landline says
-- nothing about the debt (third_party).
return {
  due_reminder = {
    sms = {
      ["zh-CN"] = "{borrower.name}老板您好，{borrower.employer_name}在{institution.name}的经营贷已逾期{case.dpd}天，应还{case.amount_due}（含逾期费用{case.fees}）。请通过对公账户或APP还款，咨询{institution.contact_phone}。",
      en = "Dear {borrower.name}, the business loan of {borrower.employer_name} with {institution.name} is {case.dpd} days overdue: {case.amount_due} due incl. fees {case.fees}. Pay from the business account or the app; questions: {institution.contact_phone}.",
    },
  },
  restructuring_offer = {
    sms = {
      ["zh-CN"] = "{borrower.name}老板您好，经营遇到困难可申请分期还款（剩余{case.balance}），客户经理将上门与您商量。咨询{institution.contact_phone}。",
      en = "Dear {borrower.name}, if trading is hard we can split the remaining {case.balance} into installments; your account officer will visit. Questions: {institution.contact_phone}.",
    },
  },
  legal_notice = {
    legal_notice = true,
    letter = {
      ["zh-CN"] = "{borrower.name}（{borrower.employer_name}）：贵方经营贷逾期{case.dpd}天，尚欠{case.balance}，已转法务部门审核。咨询{institution.contact_phone}。",
      en = "{borrower.name} ({borrower.employer_name}): the business loan is {case.dpd} days overdue with {case.balance} outstanding and has been passed to our legal department. Questions: {institution.contact_phone}.",
    },
  },
  thank_you = {
    sms = {
      ["zh-CN"] = "{borrower.name}老板您好，款项已收到，感谢配合。{institution.name}",
      en = "Dear {borrower.name}, payment received, thank you. {institution.name}",
    },
  },
  employer_callback = {      -- to the shop's landline
    third_party = true,
    sms = {
      ["zh-CN"] = "您好，这里是{institution.name}，请{borrower.name}方便时回电{institution.contact_phone}。",
      en = "Hello, this is {institution.name}. Please ask {borrower.name} to call {institution.contact_phone}.",
    },
  },
}
