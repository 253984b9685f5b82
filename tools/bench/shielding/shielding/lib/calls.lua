-- Calls: who to call next, and what each call found.
local fmt = require "lib.format"
local calls = {}

calls.OUTCOMES = { reached = "Reached", no_answer = "No answer", wrong_number = "Wrong number",
                   declined = "Declined help" }
calls.MAX_ATTEMPTS = 3

--- Not yet reached, fewest attempts, oldest first.
function calls.next_to_call()
  return db.one("SELECT id, name, phone, postcode, attempts FROM residents WHERE state = 'to_call'"
    .. " AND assigned_to IS NULL ORDER BY attempts, id LIMIT 1")
end

function calls.assign(id, handler)
  local changes = db.exec("UPDATE residents SET assigned_to = ? WHERE id = ? AND assigned_to IS NULL", handler, id)
  return changes == 1
end

function calls.record(resident, call)
  db.tx(function()
    db.exec("INSERT INTO calls (resident_id, outcome, note, at) VALUES (?, ?, ?, ?)", resident.id, call.outcome,
      call.note, os.time())
    local state = resident.state
    if call.outcome == "reached" or call.outcome == "declined" then
      state = "reached"
    elseif resident.attempts + 1 >= calls.MAX_ATTEMPTS then
      state = "visit"
      db.exec("INSERT INTO visits (resident_id, due) VALUES (?, ?)", resident.id, fmt.today())
    end
    db.exec("UPDATE residents SET attempts = attempts + 1, state = ?, assigned_to = NULL WHERE id = ?",
      state, resident.id)
  end)
end

function calls.for_resident(id)
  local out = {}
  for _, c in ipairs(db.query("SELECT outcome, note, at FROM calls WHERE resident_id = ? ORDER BY at DESC", id)) do
    out[#out + 1] = { when = fmt.when(c.at), outcome = calls.OUTCOMES[c.outcome] or c.outcome, note = c.note }
  end
  return out
end

function calls.recent(n)
  local rows = {}
  for _, c in ipairs(db.query("SELECT c.at, r.name, c.outcome FROM calls c JOIN residents r ON r.id = c.resident_id"
      .. " ORDER BY c.at DESC LIMIT ?", n)) do
    rows[#rows + 1] = { fmt.when(c.at), c.name, calls.OUTCOMES[c.outcome] or c.outcome }
  end
  return rows
end

function calls.by_day()
  local rows = {}
  for _, d in ipairs(db.query("SELECT date(at, 'unixepoch') AS day, count(*) AS n,"
      .. " sum(outcome = 'reached') AS reached FROM calls GROUP BY day ORDER BY day DESC LIMIT 60")) do
    rows[#rows + 1] = { d.day, tostring(d.n), tostring(d.reached) }
  end
  return rows
end

return calls
