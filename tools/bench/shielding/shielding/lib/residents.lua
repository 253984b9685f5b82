-- Residents: the list imported from the government, and their state.
local residents = { PAGE = 50 }

local COLUMNS = "id, nhs_number, name, dob, address, postcode, phone, flags, state, attempts, assigned_to"

function residents.get(id)
  return db.one("SELECT " .. COLUMNS .. " FROM residents WHERE id = ?", id)
end

function residents.page(page, state)
  page = math.max(1, math.floor(page))
  local where, args = "", {}
  if state and state ~= "" then where, args = " WHERE state = ?", { state } end
  local total = db.one("SELECT count(*) AS n FROM residents" .. where, table.unpack(args)).n
  args[#args + 1] = residents.PAGE
  args[#args + 1] = (page - 1) * residents.PAGE
  return db.query("SELECT " .. COLUMNS .. " FROM residents" .. where .. " ORDER BY id LIMIT ? OFFSET ?",
    table.unpack(args)), total
end

function residents.search(q)
  local like = "%" .. q:gsub("[%%_]", "") .. "%"
  return db.query("SELECT " .. COLUMNS .. " FROM residents WHERE name LIKE ? OR postcode LIKE ? OR nhs_number = ?"
    .. " ORDER BY name LIMIT 100", like, like, q:gsub("%s", ""))
end

function residents.create(v)
  local _, id = db.exec("INSERT INTO residents (nhs_number, name, dob, address, postcode, phone, flags, updated_at)"
    .. " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", v.nhs_number, v.name, v.dob, v.address, v.postcode, v.phone, v.flags,
    os.time())
  return id
end

function residents.update(id, v)
  db.exec("UPDATE residents SET nhs_number = ?, name = ?, dob = ?, address = ?, postcode = ?, phone = ?, flags = ?,"
    .. " updated_at = ? WHERE id = ?", v.nhs_number, v.name, v.dob, v.address, v.postcode, v.phone, v.flags,
    os.time(), id)
end

function residents.close(id)
  db.exec("UPDATE residents SET state = 'closed', updated_at = ? WHERE id = ?", os.time(), id)
end

function residents.count_by_state()
  local out = { to_call = 0, reached = 0, visit = 0, closed = 0 }
  for _, r in ipairs(db.query("SELECT state, count(*) AS n FROM residents GROUP BY state")) do out[r.state] = r.n end
  return out
end

function residents.export_rows()
  return db.query("SELECT nhs_number, name, postcode, state, attempts FROM residents ORDER BY id")
end

return residents
