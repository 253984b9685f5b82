-- Needs found on calls: food parcels, prescriptions, baby supplies, other.
local fmt = require "lib.format"
local needs = {}

needs.KINDS = { food = "Food parcel", prescription = "Prescription collection", baby = "Baby supplies",
                other = "Other" }

function needs.label(kind)
  return needs.KINDS[kind] or kind
end

function needs.add(resident_id, kind, note)
  if not needs.KINDS[kind] then return nil end
  local _, id = db.exec("INSERT INTO needs (resident_id, kind, note, at) VALUES (?, ?, ?, ?)", resident_id, kind,
    kind == "other" and note or nil, os.time())
  return id
end

function needs.for_resident(id)
  local out = {}
  for _, n in ipairs(db.query("SELECT id, kind, note, met, at FROM needs WHERE resident_id = ? ORDER BY at", id)) do
    out[#out + 1] = { id = n.id, label = needs.label(n.kind), note = n.note, met = n.met == 1, when = fmt.when(n.at) }
  end
  return out
end

function needs.count_by_kind()
  local out = {}
  for kind in pairs(needs.KINDS) do out[kind] = 0 end
  for _, r in ipairs(db.query("SELECT kind, count(*) AS n FROM needs WHERE met = 0 GROUP BY kind")) do
    out[r.kind] = r.n
  end
  return out
end

function needs.open_rows(kind)
  local rows = {}
  local sql = "SELECT r.name, n.kind, n.at FROM needs n JOIN residents r ON r.id = n.resident_id WHERE n.met = 0"
  local list = kind and db.query(sql .. " AND n.kind = ? ORDER BY n.at LIMIT 200", kind)
    or db.query(sql .. " ORDER BY n.at LIMIT 200")
  for _, n in ipairs(list) do rows[#rows + 1] = { n.name, needs.label(n.kind), fmt.when(n.at) } end
  return rows
end

return needs
