-- Visits to residents who never answered.
local visits = {}

visits.OUTCOMES = { seen = "Seen and helped", not_home = "Not at home", moved = "Has moved away",
                    refused = "Did not want help" }

function visits.due()
  return db.query("SELECT v.id, v.due, r.id AS resident_id, r.name, r.address, r.postcode FROM visits v"
    .. " JOIN residents r ON r.id = v.resident_id WHERE v.at IS NULL ORDER BY v.due, r.postcode LIMIT 200")
end

function visits.overdue(today)
  local rows = {}
  for _, v in ipairs(db.query("SELECT r.name, r.postcode, v.due FROM visits v JOIN residents r ON"
      .. " r.id = v.resident_id WHERE v.at IS NULL AND v.due < ? ORDER BY v.due LIMIT 200", today)) do
    rows[#rows + 1] = { v.name, v.postcode, v.due }
  end
  return rows
end

function visits.for_resident(id)
  return db.query("SELECT outcome, note, due, at FROM visits WHERE resident_id = ? ORDER BY due", id)
end

function visits.record(resident_id, outcome, note)
  if not visits.OUTCOMES[outcome or ""] then return nil, "Select what happened at the visit" end
  local changes = db.exec("UPDATE visits SET outcome = ?, note = ?, at = ? WHERE resident_id = ? AND at IS NULL",
    outcome, note, os.time(), resident_id)
  if changes == 0 then return nil, "There is no visit due for this resident" end
  db.exec("UPDATE residents SET state = ? WHERE id = ?", outcome == "seen" and "reached" or "visit", resident_id)
  return true
end

return visits
