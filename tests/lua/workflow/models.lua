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

M.ComplaintFlow = borough.workflow {
  entity = M.Complaints,
  states = {
    { "open", "Open", colour = "blue", due = "2 days" },
    { "answered", "Answered", colour = "yellow", due = "1 hours" },
    { "closed", "Closed", colour = "green" },
  },
  steps = {
    { "answer", "Answer the complaint", from = "open", to = "answered", role = { "officer", "manager" },
      fields = { "answer", "severity" }, note = true,
      after = function(c, move)
        M.Followups:create { complaint = c.id, call_on = os.date("!%Y-%m-%d", os.time() + 7 * 86400) }
        if move.values.fail_after then error("after failed") end
      end },
    { "close", "Close", from = "answered", to = "closed", role = "manager" },
    { "reopen", "Reopen", from = { "answered", "closed" }, to = "open", role = "manager" },
    -- The resident's reply to a closed complaint opens it again: anyone
    -- may take the step, also with no one signed in (the platform acting
    -- on the resident's message), and it says so.
    { "reply", "Resident replied", from = "closed", to = "open", role = "public" },
  },
}

return M
