-- The four example schemes (a grants manager adds them from the schemes
-- page, then changes them): each is what a scheme definition holds, as
-- m.import_scheme reads it (JSON, or a table like these).
local function day(weeks) return os.date("!%Y-%m-%d", os.time() + weeks * 7 * 86400) end
local TRADING = { name = "trading", type = "boolean", question = "Was the business trading on 11 March 2020?",
                  ineligible = { "No" }, reason = "Only businesses that were trading on 11 March 2020 can apply." }

return {
  { name = "Small business grant", slug = "small-business", who = "invited", details = "business",
    amount_rule = "bands", bands = "15000: 10000\n51000: 25000", budget = "£51,000,000", opens_on = day(0), closes_on = day(12),
    intro = "A grant of £10,000 for a business with a rateable value up to £15,000, or £25,000 for a shop, pub, "
            .. "hotel or leisure business with a rateable value up to £51,000.",
    questions = { TRADING,
      { name = "in_administration", type = "boolean", question = "Is the business in administration, insolvent or struck off?",
        ineligible = { "Yes" }, reason = "A business in administration, insolvent or struck off cannot get this grant." } } },
  { name = "Discretionary business grant", slug = "discretionary", who = "anyone", details = "business",
    amount_rule = "proposed", min_amount = "£1,000", max_amount = "£25,000", budget = "£3,000,000",
    opens_on = day(0), closes_on = day(8),
    intro = "For small businesses with fixed property costs that the other grants missed: market traders, "
            .. "businesses in shared offices, bed and breakfasts paying council tax, charities.",
    evidence = "Upload the business's latest bank statement and a bill for its property costs (rent, mortgage or rates).",
    questions = { TRADING,
      { name = "other_grant", type = "boolean", question = "Has the business had a grant from another coronavirus scheme?",
        ineligible = { "Yes" }, reason = "This grant is for businesses that no other scheme has helped." },
      { name = "employees", type = "integer", question = "How many people does the business employ?",
        label = "Number of employees", min = 0, max = 49 },
      { name = "property_costs", type = "money", question = "How much are the business's property costs each month?",
        label = "Property costs", min = 0 } } },
  { name = "Test and Trace support payment", slug = "test-and-trace", who = "anyone", details = "personal",
    amount_rule = "fixed", amount = "£500", budget = "£1,000,000", opens_on = day(0), closes_on = day(26),
    intro = "£500 if NHS Test and Trace told you to self-isolate and you will lose income because you cannot work.",
    evidence = "Upload proof that you will lose income: your latest payslip, or if you are self-employed your latest "
               .. "self-assessment return or business bank statement.",
    questions = {
      { name = "told_to_isolate", type = "boolean", question = "Has NHS Test and Trace told you to self-isolate?",
        ineligible = { "No" }, reason = "The payment is for people NHS Test and Trace has told to self-isolate." },
      { name = "lose_income", type = "boolean", question = "Will you lose income because you cannot work from home?",
        ineligible = { "No" }, reason = "The payment is for people who lose income while they self-isolate." },
      { name = "test_and_trace_id", type = "text", question = "What is your NHS Test and Trace account ID?",
        hint = "It is 8 digits, in the message that told you to self-isolate", label = "NHS Test and Trace account ID" } } },
  { name = "Additional restrictions grant", slug = "additional-restrictions", who = "anyone", details = "business",
    amount_rule = "fixed", amount = "£3,000", budget = "£2,000,000", opens_on = day(0), closes_on = day(6),
    intro = "£3,000 for a business that had to close, or lost most of its trade, in the national restrictions.",
    evidence = "Upload a business bank statement from the last three months.",
    questions = {
      { name = "closed", type = "boolean", question = "Did the restrictions from 5 November 2020 close the business, or "
        .. "take away most of its trade?", ineligible = { "No" }, reason = "This grant is for businesses the restrictions closed or hit hardest." },
      { name = "sector", type = "choice", question = "What does the business do?",
        options = { "Hospitality", "Leisure", "Personal care", "Retail", "Supplies these businesses", "Other" } } } },
}
