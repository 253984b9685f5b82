-- Referrals of needs to partner organisations, and their states.
local needs = require "lib.needs"
local fmt = require "lib.format"
local referrals = {}

referrals.PARTNERS = {
  { key = "foodbank", name = "Barset Food Bank", email = "referrals@foodbank.example", kinds = { food = true } },
  { key = "pharmacy", name = "Community Pharmacy Network", email = "shielding@pharmacy.example",
    kinds = { prescription = true } },
  { key = "families", name = "Family Support Hub", email = "hub@families.example", kinds = { baby = true } },
  { key = "volunteers", name = "Volunteer Centre", email = "help@volunteers.example", kinds = { other = true } },
}

local MOVES = { sent = { "accepted", "declined" }, accepted = { "done" }, declined = {}, done = {} }

local function partner(key)
  for _, p in ipairs(referrals.PARTNERS) do if p.key == key then return p end end
end

function referrals.create(need_id, key)
  local n = db.one("SELECT id, kind FROM needs WHERE id = ?", need_id)
  if not n then return nil end
  local p = partner(key)
  if not p then
    for _, q in ipairs(referrals.PARTNERS) do if q.kinds[n.kind] then p = q end end
  end
  local _, id = db.exec("INSERT INTO referrals (need_id, partner, at) VALUES (?, ?, ?)", n.id, p.key, os.time())
  return id
end

function referrals.get(id)
  local r = db.one("SELECT f.id, f.partner, f.state, f.at, n.kind, r.name, r.id AS resident_id FROM referrals f"
    .. " JOIN needs n ON n.id = f.need_id JOIN residents r ON r.id = n.resident_id WHERE f.id = ?", id)
  if r then
    r.partner_name = partner(r.partner).name
    r.need = needs.label(r.kind)
    r.when = fmt.when(r.at)
  end
  return r
end

function referrals.next_states(state)
  return MOVES[state] or {}
end

function referrals.move(id, state)
  local r = db.one("SELECT state FROM referrals WHERE id = ?", id)
  if not r then return false end
  for _, s in ipairs(MOVES[r.state] or {}) do
    if s == state then
      db.exec("UPDATE referrals SET state = ? WHERE id = ?", state, id)
      return true
    end
  end
  return false
end

function referrals.list(state)
  local sql = "SELECT f.id, f.partner, f.state, f.at, r.name FROM referrals f JOIN needs n ON n.id = f.need_id"
    .. " JOIN residents r ON r.id = n.resident_id"
  local list = state and db.query(sql .. " WHERE f.state = ? ORDER BY f.at DESC LIMIT 200", state)
    or db.query(sql .. " ORDER BY f.at DESC LIMIT 200")
  for _, r in ipairs(list) do
    r.partner_name = partner(r.partner).name
    r.when = fmt.when(r.at)
  end
  return list
end

function referrals.partner_rows()
  local rows = {}
  for _, p in ipairs(referrals.PARTNERS) do
    local kinds = {}
    for k in pairs(p.kinds) do kinds[#kinds + 1] = needs.label(k) end
    rows[#rows + 1] = { p.name, p.email, table.concat(kinds, ", ") }
  end
  return rows
end

function referrals.rows_for_partner(key)
  local rows = {}
  for _, r in ipairs(db.query("SELECT f.id, r.name, f.state FROM referrals f JOIN needs n ON n.id = f.need_id"
      .. " JOIN residents r ON r.id = n.resident_id WHERE f.partner = ? ORDER BY f.id DESC LIMIT 200", key)) do
    rows[#rows + 1] = { tostring(r.id), r.name, r.state }
  end
  return rows
end

return referrals
