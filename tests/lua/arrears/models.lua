-- The records of a council-tax arrears service: accounts imported from the
-- council tax system, each with a single-use token that is emailed to the
-- resident as a link to a questionnaire about what they can pay.
local M = {}

M.Accounts = borough.entity "accounts" {
  label = "account",
  { "account_ref", "text", required = true, unique = true, label = "Account reference" },
  { "name", "text", required = true },
  { "email", "email" },
  -- Never shown or exported unless named: the token is the resident's key.
  { "token", "text", unique = true, secret = true },
  -- Empty when imported; the questionnaire asks for them (required there).
  { "income", "money", label = "Monthly income" },
  { "can_pay", "boolean", label = "Whether you can pay" },
  { "plan", "choice", options = { { "weekly", "Weekly payments" }, { "monthly", "Monthly payments" } } },
  { "note", "long_text", label = "Anything else" },
  { "state", "text", index = true },
}

M.Cases = borough.workflow {
  entity = M.Accounts,
  states = {
    { "awaiting_answers", "Awaiting answers", colour = "blue" },
    { "answered", "Answered", colour = "yellow" },
    { "plan_agreed", "Plan agreed", colour = "green" },
  },
  steps = {
    -- Taken by the platform when the resident sends the questionnaire: no
    -- one is signed in, and the step says anyone may take it.
    { "answer", "Answers received", from = "awaiting_answers", to = "answered", role = "public" },
    { "agree", "Agree a plan", from = "answered", to = "plan_agreed", role = "officer", fields = { "plan" } },
  },
}

return M
