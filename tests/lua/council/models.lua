local M = {}
local bank, links, budget, payments, flags = borough.bank, borough.links, borough.budget, borough.payments, borough.flags
local members = borough.members

M.Teams = borough.entity "teams" {
  { "team_name", "text", required = true, unique = true },
}

-- Teams kept apart by membership: a team's notes are for its members; an
-- auditor reads every team's, a coordinator manages every team.
M.Access = members.of("teams", { all = "auditor", admin = "coordinator" })
M.Notes = borough.entity "team_notes" {
  label = "note",
  rules = M.Access:rules("team"),
  search = { "text" },
  { "text", "text", required = true },
  { "team", "reference", to = "teams", required = true, index = true },
}

M.Cases = borough.entity "cases" {
  { "name", "text", required = true },
  { "team", "reference", to = "teams" },
  { "amount", "money" },
  { "state", "text" },
  { "ref", "text", unique = true },
  { "questions", "long_text" },
  { "answers", "long_text" },
  { "sort_code", "sort_code", encrypted = true, lookup = true },
  { "account_number", "account_number", encrypted = true, lookup = true, validate = bank.validate },
}

-- Four eyes, a budget and flags: whoever checked a case may not approve
-- it; approving commits its amount to the "fund" budget and waits for
-- open flags to be cleared.
M.Flow = borough.workflow {
  entity = M.Cases,
  states = { { "new", "New" }, { "checked", "Checked" }, { "approved", "Approved" } },
  steps = {
    { "check", "Check the case", from = "new", to = "checked", role = { "officer", "checker" } },
    { "approve", "Approve the case", from = "checked", to = "approved", role = { "officer", "checker" },
      not_by = "check", after = function(case)
        if #flags.open(M.Cases, case.id) > 0 then return nil, "Clear the flags first" end
        local line, why = budget.commit("fund", "case-" .. case.id, case.amount or 0)
        if not line then return nil, why end
      end },
  },
}

return M
