--- borough.flags: warnings on a record (a fraud check that found
-- something), each with its reason, that a second person must clear.
--
--   local flags = borough.flags            -- name it in models.lua (it keeps its table)
--
--   flags.raise(Applications, app.id, "bank", "The same bank account is on application HDJ2123F")
--   flags.open(Applications, app.id)      -> the open flags, oldest first
--   flags.all(Applications, app.id)       -> every flag, open and cleared
--   flags.clear(flag_id, "Spoke to the owner: two shops, one account",
--               { not_by = { assessor_id } })  -> the flag, or nil and why
--   flags.sharing(Applications, app.id, { "sort_code", "account_number" }, { "reference" })
--                                          -> other records with the same values: { { id, reference }, ... }
--
-- A flag is a record of the entity "record_flags": the entity and record it is
-- on, its kind (a word: "bank", "ip", "reference"), the reason shown to
-- staff, open or cleared, and who cleared it, when and why (a note is
-- required). Raising the same kind and reason on a record again does
-- nothing, also once it is cleared, so running the checks again does not
-- bring back what someone already looked into. Clearing is in the audit
-- trail like every change of an entity.
--
-- Who may clear: flags.clear refuses someone who is in `not_by` (user ids:
-- the person who assessed the case, say), so a flag always has a second
-- pair of eyes; and a route's role says who may clear at all. The app
-- decides what a flag stops (a workflow step's `after` returning nil and
-- a message while flags.open(...) has any).
--
-- flags.sharing compares in SQL: an encrypted field with lookup = true by
-- its blind index (so no encrypted value is opened to compare), any other
-- field by its value. It returns the other records' ids and the plain
-- (not encrypted) columns asked for, and sees every record (no row rules:
-- a check must see what the person who triggered it may not).

local fields = require "borough.fields"
local options = require "borough.options"

local M = {}

local Flags = borough.entity "record_flags" {
  label = "flag",
  indexes = { { "entity", "record" } },
  { "entity", "text", required = true },
  { "record", "integer", required = true },
  { "kind", "text", required = true },
  { "reason", "long_text", required = true },
  { "state", "choice", options = { { "open", "Open" }, { "cleared", "Cleared" } }, default = "open", index = true },
  { "cleared_by", "text" },
  { "cleared_name", "text" },
  { "cleared_at", "datetime" },
  { "note", "long_text", label = "Why it can be cleared" },
}
M.Flags = Flags

local function name_of(e)
  if type(e) ~= "table" or not e.name or not e.fields then options.fail("flags", "give the entity, then the id") end
  return e.name
end

--- flags.raise(Entity, id, kind, reason) -> the flag, and "raised" or "known".
function M.raise(e, id, kind, reason)
  local name = name_of(e)
  return db.tx(function()
    local known = Flags:find { entity = name, record = id, kind = kind, reason = reason }
    if known then return known, "known" end
    local flag, errors = Flags:create { entity = name, record = id, kind = kind, reason = reason }
    if not flag then error("flags.raise: " .. errors[1].message, 0) end
    return flag, "raised"
  end)
end

--- flags.open(Entity, id) -> the open flags of the record, oldest first.
function M.open(e, id)
  return Flags:where({ entity = name_of(e), record = id, state = "open" }, { per_page = 100 })
end

--- flags.all(Entity, id) -> every flag of the record, oldest first.
function M.all(e, id)
  return Flags:where({ entity = name_of(e), record = id }, { per_page = 100 })
end

--- flags.clear(id, note [, { not_by = { user ids }, user = }]) -> the flag,
-- or nil and why: the note is required, and the person clearing (the
-- signed-in user unless given) may not be one of not_by.
function M.clear(id, note, opts)
  opts = options.check("flags.clear", opts, { not_by = "table", user = "table" })
  local user = opts.user or (borough.user and borough.user())
  if not user then return nil, "Sign in to clear a flag" end
  for _, other in ipairs(opts.not_by or {}) do
    if tostring(other) == tostring(user.id) then
      return nil, "Someone else must clear this flag: you worked on this case"
    end
  end
  if type(note) ~= "string" or not note:find("%S") then
    return nil, "Enter why the flag can be cleared"
  end
  return db.tx(function()
    local flag = Flags:find(id)
    if not flag then return nil, "There is no such flag" end
    if flag.state == "cleared" then return flag end
    return Flags:update(flag.id, { state = "cleared", note = note, cleared_by = tostring(user.id),
                                   cleared_name = user.name or user.email,
                                   cleared_at = fields.iso_datetime(os.time()) })
  end)
end

local function quote(name) return '"' .. name .. '"' end

--- flags.sharing(Entity, id, names [, columns]) -> the other records whose
-- fields `names` all hold the same values as record id's (none when one
-- of them is empty), each { id =, <column> = ... } for the plain columns
-- asked for.
function M.sharing(e, id, names, columns)
  local name = name_of(e)
  local on, select = {}, { "b.id AS id" }
  for i, n in ipairs(names) do
    local f = e.field[n]
    if not f or (f.encrypted and not f.blind) then
      options.fail("flags.sharing", ("%s.%s cannot be compared (an encrypted field needs lookup = true)"):format(name, tostring(n)))
    end
    local col = quote(f.blind or f.name)
    on[i] = "a." .. col .. " = b." .. col
  end
  for _, c in ipairs(columns or {}) do
    local f = e.field[c]
    if not (f and not f.encrypted) and c ~= "created_at" then
      options.fail("flags.sharing", ("%s.%s is not a plain field"):format(name, tostring(c)))
    end
    select[#select + 1] = "b." .. quote(c) .. " AS " .. quote(c)
  end
  return db.query("SELECT " .. table.concat(select, ", ") .. " FROM " .. quote(name) .. " a JOIN " .. quote(name)
                  .. " b ON " .. table.concat(on, " AND ") .. " WHERE a.id = ? AND b.id <> a.id ORDER BY b.id LIMIT 100", id)
end

return M
