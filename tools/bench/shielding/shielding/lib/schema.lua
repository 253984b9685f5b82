-- The tables, created at load (IF NOT EXISTS: every load may run it).
local schema = {}

local statements = {
  [[CREATE TABLE IF NOT EXISTS residents (id INTEGER PRIMARY KEY, nhs_number TEXT UNIQUE, name TEXT NOT NULL,
      dob TEXT, address TEXT, postcode TEXT, phone TEXT, flags TEXT, state TEXT NOT NULL DEFAULT 'to_call',
      attempts INTEGER NOT NULL DEFAULT 0, assigned_to TEXT, updated_at INTEGER)]],
  "CREATE INDEX IF NOT EXISTS residents_call_order ON residents (state, attempts, id)",
  "CREATE INDEX IF NOT EXISTS residents_postcode ON residents (postcode)",
  [[CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, resident_id INTEGER NOT NULL REFERENCES residents,
      outcome TEXT NOT NULL, note TEXT, at INTEGER NOT NULL, by TEXT)]],
  "CREATE INDEX IF NOT EXISTS calls_resident ON calls (resident_id, at)",
  [[CREATE TABLE IF NOT EXISTS needs (id INTEGER PRIMARY KEY, resident_id INTEGER NOT NULL REFERENCES residents,
      kind TEXT NOT NULL, note TEXT, at INTEGER NOT NULL, met INTEGER NOT NULL DEFAULT 0)]],
  "CREATE INDEX IF NOT EXISTS needs_resident ON needs (resident_id)",
  [[CREATE TABLE IF NOT EXISTS referrals (id INTEGER PRIMARY KEY, need_id INTEGER NOT NULL REFERENCES needs,
      partner TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'sent', at INTEGER NOT NULL)]],
  [[CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, resident_id INTEGER NOT NULL REFERENCES residents,
      outcome TEXT, note TEXT, due TEXT, at INTEGER)]],
}

function schema.create()
  for _, sql in ipairs(statements) do db.exec(sql) end
end

return schema
