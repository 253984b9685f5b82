-- Fake departments, managers and measures for the tests in tests/ (the
-- addresses are example.org's). It lives beside the app because tests/ is
-- not part of what the app loads.
local m = require "models"
local F = {}

F.manager = { "mo@example.org", { name = "Mo Manager", roles = { "manager" } } }
F.other = { "ola@example.org", { name = "Ola Other", roles = { "manager" } } }
F.command = { "gold@example.org", { name = "Gita Gold", roles = { "command" } } }
F.coordinator = { "cora@example.org", { name = "Cora Coordinator", roles = { "coordinator" } } }

--- Empties the app's records.
function F.clear()
  for _, t in ipairs { "answers", "updates", "measures", "members", "departments" } do
    db.exec("DELETE FROM " .. t)
  end
end

--- Two departments: Libraries (Mo manages it) with a number, a RAG, a
-- yes/no and a text measure; Waste (Ola manages it, and Mo too) with one.
function F.setup()
  F.clear()
  local lib = assert(m.Departments:create { name = "Libraries", directorate = "Communities" })
  local waste = assert(m.Departments:create { name = "Waste", directorate = "Environment" })
  assert(m.Members:create { name = "Mo Manager", email = "mo@example.org", department = lib.id })
  assert(m.Members:create { name = "Ola Other", email = "ola@example.org", department = waste.id })
  assert(m.Members:create { name = "Mo Manager", email = "mo@example.org", department = waste.id })
  local ms = {
    absent = assert(m.Measures:create { department = lib.id, name = "Staff absent today", kind = "number",
                                        good = "lower", amber = 5, red = 10 }),
    status = assert(m.Measures:create { department = lib.id, name = "Service status", kind = "rag" }),
    open = assert(m.Measures:create { department = lib.id, name = "Are all branches open", kind = "yes_no",
                                      good = "yes" }),
    note = assert(m.Measures:create { department = lib.id, name = "Anything else", kind = "text" }),
    rounds = assert(m.Measures:create { department = waste.id, name = "Rounds completed", kind = "number",
                                        good = "higher", amber = 90, red = 75 }),
  }
  return lib, waste, ms
end

--- The fields of an update of Libraries (overrides in values).
function F.answers(ms, values)
  local v = { ["m" .. ms.absent.id] = "3", ["m" .. ms.status.id] = "green", ["m" .. ms.open.id] = "yes",
              ["m" .. ms.note.id] = "", escalate = "none", issue = "" }
  for k, x in pairs(values or {}) do v[k] = x end
  return v
end

return F
