local workflow = require "borough.workflow"
local M = {}

M.Complaints = borough.entity "complaints" {
  { "subject", "text", required = true },
  { "answer", "long_text" },
  { "severity", "choice", options = { "low", "high" } },
  { "state", "text", index = true },
  { "due_at", "datetime", index = true },
}

-- What the answer step leaves behind: a follow-up call a week later.
M.Followups = borough.entity "followups" {
  { "complaint", "reference", to = "complaints", required = true },
  { "call_on", "date", required = true },
}

M.ComplaintFlow = workflow.define {
  entity = M.Complaints,
  path = "/complaints",
  states = {
    { "open", "Open", colour = "blue", due = "2 days" },
    { "answered", "Answered", colour = "yellow", due = "1 hours" },
    { "closed", "Closed", colour = "green" },
  },
  steps = {
    { "answer", "Answer the complaint", from = "open", to = "answered", roles = { "officer", "manager" },
      fields = { "answer", "severity" }, note = true,
      after = function(c, move)
        M.Followups:create { complaint = c.id, call_on = os.date("!%Y-%m-%d", os.time() + 7 * 86400) }
        if move.values.fail_after then error("after failed") end
      end },
    { "close", "Close", from = "answered", to = "closed", roles = "manager" },
    { "reopen", "Reopen", from = { "answered", "closed" }, to = "open", roles = "manager" },
  },
}

return M
