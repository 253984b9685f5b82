--- borough.entity: the records an app keeps, declared in models.lua.
--
--   local Residents = borough.entity "residents" {
--     label = "resident",                       -- one record, in messages
--     search = { "first_name", "last_name" },   -- full-text search over these
--     { "nhs_number", "nhs_number", required = true, unique = true },
--     { "first_name", "text", required = true, max_length = 50 },
--     { "last_name", "text", required = true, max_length = 50 },
--     { "date_of_birth", "date", max = "today" },
--     { "household", "reference", to = "households" },
--   }
--
-- A declaration is a table whose list part holds the fields in order, each
-- { name, type, options... }, and whose named keys are options of the
-- entity. From it the platform makes the table, its indexes and its search
-- index (when the app loads; see docs/apps.md, "Entities" and
-- "Migrations"), and gives the entity these methods:
--
--   Residents:create(values)            -> record | nil, errors
--   Residents:find(id)                  -> record | nil
--   Residents:find{ nhs_number = "..." } -> the first record that matches | nil
--   Residents:where(conditions, opts)   -> records, page
--   Residents:count(conditions)         -> n
--   Residents:count_by("field", conds)  -> { value = n, ... }
--   Residents:search(text, opts)        -> records, page
--   Residents:update(id, changes)       -> record | nil, errors
--   Residents:delete(id)                -> true | nil, message
--   Residents:validate(values)          -> clean values | nil, errors
--   Residents:history(id)               -> the audit trail of one record
--   Residents:import(csv_text, opts)    -> summary | nil, message (borough.import)
--   Residents:duplicates("nhs_number")  -> groups of records sharing a value (lookup fields)
--   Residents:csv(conditions)           -> CSV text of the records the user may read
--   Residents:download(conditions)      -> that CSV as a response (a file to save)
--
-- A field may be stored encrypted ({ "nhs_number", "nhs_number",
-- encrypted = true, lookup = true }), and an entity may say who may read
-- and change its records (rules = { read = function(user) ... end, ... }):
-- see docs/apps.md, "Encrypted fields" and "Row rules".
--
-- Every create, update and delete writes a row of the audit trail in the
-- same transaction: who, when, the record, and its fields before and after.
--
-- errors is a list of { field = name, message = text } in the order of the
-- fields (for an error summary), and also maps each field name to its
-- message (errors.email), so a form can show each message by its field.

local fields = require "borough.fields"
local options = require "borough.options"
local sql = require "borough.sql"

-- The platform's private functions (see core/lentity.h): taken once, here,
-- before any app code runs, and kept in this file's locals.
local platform = assert(borough._platform(), "borough.entity: the platform's functions were already taken")
-- borough.download records each download in the platform audit log.
require("borough.download")._given(platform.export_begin, platform.export_rows)

local NULL = db.NULL
local types = fields.types
-- Kept in locals: validate runs for every field of every row of an import.
local type, byte, find = type, string.byte, string.find
local check, required_message = fields.check, fields.required_message
local new_record, read_fields = borough._fields.record, borough._fields.read_fields
local insert_rows = borough._fields.insert_rows

local M = {}
local registry = {}      -- name -> entity
local declared = {}      -- entities in the order they were declared

local Entity = {}
Entity.__index = Entity

-- ---- declaring ----

local function quote(name)
  return '"' .. name .. '"'
end

local function check_name(where, what, name)
  if type(name) ~= "string" or not name:find("^[a-z][a-z0-9_]*$") or #name > 40 or name:find("__", 1, true) then
    error(("%s %s name %s must be lower-case letters, digits and _ (starting with a letter, at most 40)")
          :format(where, what, type(name) == "string" and ("'" .. name .. "'") or tostring(name)), 0)
  end
end

local system_columns = { id = true, created_at = true, updated_at = true }

local field_options = {
  label = "string", required = "boolean", unique = "boolean", index = "boolean",
  min_length = "number", max_length = "number", pattern = "string", options = "table",
  to = "string", messages = "table", encrypted = "boolean", lookup = "boolean", secret = "boolean",
}

-- Makes the field object of one { name, type, options... } declaration.
local function declare_field(where, entity, spec)
  local name, type_name = spec[1], spec[2]
  check_name(where, "a field", name)
  if system_columns[name] then
    error(("%s %s: '%s' is made by the platform; choose another field name"):format(where, entity, name), 0)
  end
  if type(type_name) ~= "string" then
    error(("%s %s.%s: the field's type must be a string such as \"text\""):format(where, entity, name), 0)
  end
  type_name = fields.aliases[type_name] or type_name
  local t = types[type_name]
  if not t then
    error(("%s %s.%s: unknown field type '%s'"):format(where, entity, name, type_name), 0)
  end
  local f = { name = name, type = type_name, sql = t.sql, parse = t.parse, validators = {} }
  for k, v in pairs(spec) do
    if k ~= 1 and k ~= 2 then
      local want = field_options[k]
      if k == "min" or k == "max" or k == "validate" or k == "default" then
        want = type(v)
      elseif not want then
        error(("%s %s.%s: unknown option '%s'"):format(where, entity, name, tostring(k)), 0)
      end
      if type(v) ~= want then
        error(("%s %s.%s: %s must be a %s"):format(where, entity, name, k, want), 0)
      end
      f[k] = v
    end
  end
  f.label = f.label or fields.label_from_name(name)
  f.required = f.required or false
  f.unique = f.unique or false
  f.index = f.index or false
  if type(f.validate) == "function" then
    f.validators = { f.validate }
  elseif type(f.validate) == "table" then
    for i, fn in ipairs(f.validate) do
      if type(fn) ~= "function" then
        error(("%s %s.%s: validate[%d] must be a function"):format(where, entity, name, i), 0)
      end
      f.validators[i] = fn
    end
  elseif f.validate ~= nil then
    error(("%s %s.%s: validate must be a function or a list of functions"):format(where, entity, name), 0)
  end
  f.validate = nil
  if (f.min ~= nil or f.max ~= nil) and not t.ordered then
    error(("%s %s.%s: min and max are for numbers, money and dates; use min_length and max_length for text")
          :format(where, entity, name), 0)
  end
  for _, bound in ipairs({ "min", "max" }) do
    if f[bound] ~= nil then
      local v = fields.read_bound(f, f[bound])
      if v == nil then
        error(("%s %s.%s: %s %s is not a valid %s"):format(where, entity, name, bound, tostring(f[bound]), type_name), 0)
      end
      f[bound] = v
    end
  end
  if (f.min_length or f.max_length or f.pattern) and not t.text then
    error(("%s %s.%s: min_length, max_length and pattern are for text fields"):format(where, entity, name), 0)
  end
  f.max_length_given = f.max_length ~= nil
  f.max_length = f.max_length or t.default_max_length
  f.checks = fields.has_checks(f)
  f.validated = f.checks or f.unique or type_name == "reference"
  if type_name == "choice" then
    if type(f.options) ~= "table" or #f.options == 0 then
      error(("%s %s.%s: a choice needs options = { \"...\", ... }"):format(where, entity, name), 0)
    end
    -- An option is a string, or { value, label } for what people read.
    local values = {}
    f.option_set = {}
    for i, o in ipairs(f.options) do
      if type(o) == "table" and type(o[1]) == "string" and type(o[2]) == "string" and o[3] == nil then
        f.option_labels = f.option_labels or {}
        f.option_labels[o[1]] = o[2]
        o = o[1]
      end
      if type(o) ~= "string" then
        error(("%s %s.%s: options must be strings, or { value, label } pairs"):format(where, entity, name), 0)
      end
      values[i] = o
      f.option_set[o] = o
      f.option_set[o:lower()] = f.option_set[o:lower()] or o
    end
    f.options = values
  elseif f.options then
    error(("%s %s.%s: options are for choice fields"):format(where, entity, name), 0)
  end
  if f.encrypted then
    local why = t.sql ~= "TEXT" and ("a %s is stored as a number; only fields kept as text can be"):format(type_name)
                or type_name == "file" and "only the file's name would be sealed, not the file"
                or f.index and "index = true would order the ciphertexts; lookup = true indexes equal values"
                or f.unique and not f.lookup and "it can be unique only through its blind index: add lookup = true"
    if why then
      error(("%s %s.%s cannot be encrypted: %s"):format(where, entity, name, why), 0)
    end
    f.blind = f.lookup and (name .. "__blind") or nil
  elseif f.lookup then
    error(("%s %s.%s: lookup is for encrypted fields (a plain field is found by where as it is)")
          :format(where, entity, name), 0)
  end
  if type_name == "reference" then
    if not f.to then
      error(("%s %s.%s: a reference needs to = \"<entity>\""):format(where, entity, name), 0)
    end
  elseif f.to then
    error(("%s %s.%s: to is for reference fields"):format(where, entity, name), 0)
  end
  return f
end

local entity_options = { label = "string", search = "table", validate = "function", indexes = "table", rules = "table" }
local rule_names = { read = true, create = true, update = true, delete = true }

-- Prepares the SQL an entity runs: every name in it comes from the
-- declaration, every value is bound.
local function prepare_sql(e)
  local names, marks = {}, {}
  for i, f in ipairs(e.fields) do
    names[i] = quote(f.name)
    marks[i] = "?"
  end
  local select_names = table.concat(names, ", ")
  -- Inserts also fill the blind indexes, after the fields.
  for _, f in ipairs(e.lookups) do
    names[#names + 1] = quote(f.blind)
    marks[#marks + 1] = "?"
  end
  local t = quote(e.name)
  local cols = "\"id\", " .. select_names .. (#e.fields > 0 and ", " or "") .. "\"created_at\", \"updated_at\""
  local insert_cols = "\"id\", " .. table.concat(names, ", ") .. (#names > 0 and ", " or "") .. "\"created_at\", \"updated_at\""
  local qualified = {}
  for i, c in ipairs(e.columns) do qualified[i] = t .. "." .. quote(c) end
  e.sql = {
    select = "SELECT " .. cols .. " FROM " .. t,
    select_qualified = "SELECT " .. table.concat(qualified, ", "),
    find = "SELECT " .. cols .. " FROM " .. t .. " WHERE \"id\" = ?",
    exists = "SELECT 1 AS found FROM " .. t .. " WHERE \"id\" = ?",
    insert = "INSERT INTO " .. t .. " (" .. table.concat(names, ", ") .. (#names > 0 and ", " or "")
             .. "\"created_at\", \"updated_at\") VALUES (" .. table.concat(marks, ", ")
             .. (#marks > 0 and ", " or "") .. "?, ?)",
    insert_id = "INSERT INTO " .. t .. " (" .. insert_cols .. ") VALUES (?, " .. table.concat(marks, ", ")
                .. (#marks > 0 and ", " or "") .. "?, ?)",
    delete = "DELETE FROM " .. t .. " WHERE \"id\" = ?",
    count = "SELECT count(*) AS n FROM " .. t,
    update = {},         -- by the set of fields changed
    unique = {},
  }
  -- Stored records' fields as the audit trail keeps them, made by SQLite
  -- from the rows, for the audit rows of a bulk write (an import): as
  -- json.encode writes the values of redacted(), that is in order, null
  -- for no value, booleans true or false, an encrypted field only
  -- "(encrypted)".
  local members = {}
  for i, f in ipairs(e.fields) do
    local v = names[i]
    if f.encrypted then
      v = "CASE WHEN " .. v .. " IS NOT NULL THEN '(encrypted)' END"
    elseif f.type == "boolean" then
      v = "CASE " .. v .. " WHEN 0 THEN " .. sql.json_false .. " WHEN 1 THEN " .. sql.json_true .. " END"
    end
    members[i] = { f.name, v, number = f.type == "number" or nil }
  end
  e.sql.audit_after = "SELECT \"id\" AS id, " .. sql.json_object(members) .. " AS after FROM " .. t
  for _, f in ipairs(e.fields) do
    if f.unique then
      e.sql.unique[f.name] = "SELECT 1 AS found FROM " .. t .. " WHERE " .. quote(f.blind or f.name) .. " = ? AND \"id\" <> ? LIMIT 1"
    end
  end
  if e.search_fields then
    local cols = {}
    for i, name in ipairs(e.search_fields) do cols[i] = quote(name) end
    local s = sql.search_sql(t, quote(e.name .. "_fts"), cols)
    e.sql.fts_make, e.sql.fts_id = s.make, s.id
    e.sql.fts_insert, e.sql.fts_delete, e.sql.fts_clear, e.sql.fts_fill = s.insert, s.delete, s.clear, s.fill
  end
end

-- "file:line:" of the models.lua line declaring an entity: the first Lua
-- caller above the platform's own frames.
local function declaration_line()
  for level = 4, 8 do
    local where = borough._where(level)
    if where ~= "" then return where end
  end
  return ""
end

local function declare(name, spec, unregistered)
  local where = declaration_line()
  check_name(where, "an entity", name)
  if name:find("_fts$") or name:find("^sqlite") then
    error(("%s entity name '%s' is kept for the platform; choose another"):format(where, name), 0)
  end
  if type(spec) ~= "table" then
    error(("%s borough.entity \"%s\" { ... } needs a table of fields"):format(where, name), 0)
  end
  if registry[name] and not unregistered then
    error(("%s entity '%s' is declared twice"):format(where, name), 0)
  end
  local e = setmetatable({ name = name, source = where, fields = {}, field = {} }, Entity)
  for k, v in pairs(spec) do
    if math.type(k) ~= "integer" then
      local want = entity_options[k]
      if not want then
        error(("%s %s: unknown option '%s'"):format(where, name, tostring(k)), 0)
      end
      if type(v) ~= want then
        error(("%s %s: %s must be a %s"):format(where, name, k, want), 0)
      end
    end
  end
  for i, fspec in ipairs(spec) do
    if type(fspec) ~= "table" then
      error(("%s %s: field %d must be a table such as { \"name\", \"text\" }"):format(where, name, i), 0)
    end
    local f = declare_field(where, name, fspec)
    if e.field[f.name] then
      error(("%s %s: field '%s' is declared twice"):format(where, name, f.name), 0)
    end
    e.fields[i] = f
    e.field[f.name] = f
  end
  e.label = spec.label or (name:gsub("ies$", "y"):gsub("s$", ""):gsub("_", " "))
  e.validate_record = spec.validate
  if spec.search then
    e.search_fields = {}
    for i, fname in ipairs(spec.search) do
      local f = e.field[fname]
      if not f or f.sql ~= "TEXT" then
        error(("%s %s: search field '%s' must be a declared text field"):format(where, name, tostring(fname)), 0)
      end
      if f.encrypted then
        error(("%s %s: search field '%s' is encrypted, and a search index would keep its words in plain text")
              :format(where, name, fname), 0)
      end
      e.search_fields[i] = fname
    end
  end
  e.indexes = {}
  for i, idx in ipairs(spec.indexes or {}) do
    if type(idx) ~= "table" or #idx == 0 then
      error(("%s %s: indexes[%d] must be a list of field names"):format(where, name, i), 0)
    end
    for _, fname in ipairs(idx) do
      if not e.field[fname] and not system_columns[fname] then
        error(("%s %s: indexes[%d] names an unknown field '%s'"):format(where, name, i, tostring(fname)), 0)
      end
      if e.field[fname] and e.field[fname].encrypted then
        error(("%s %s: indexes[%d] names the encrypted field '%s' (lookup = true indexes equal values)")
              :format(where, name, i, fname), 0)
      end
    end
    e.indexes[i] = idx
  end
  for k, fn in pairs(spec.rules or {}) do
    if not rule_names[k] then
      error(("%s %s: rules.%s is not a rule (read, create, update or delete)"):format(where, name, tostring(k)), 0)
    end
    if type(fn) ~= "function" then
      error(("%s %s: rules.%s must be a function"):format(where, name, k), 0)
    end
  end
  e.rules = spec.rules
  e.columns = { "id" }
  e.booleans = {}
  e.names = {}
  e.encrypted, e.lookups = {}, {}
  for i, f in ipairs(e.fields) do
    f.position = i
    if f.encrypted then e.encrypted[#e.encrypted + 1] = f end
    if f.blind then e.lookups[#e.lookups + 1] = f end
    e.names[i] = f.name
    e.columns[#e.columns + 1] = f.name
    if f.type == "boolean" then e.booleans[#e.booleans + 1] = f.name end
  end
  e.columns[#e.columns + 1] = "created_at"
  e.columns[#e.columns + 1] = "updated_at"
  e.record_mt = { __columns = e.columns, __name = "borough.record" }
  -- The audit trail's snapshot of a record: every field, in order (null
  -- for no value).
  e.fields_mt = { __columns = e.names, __name = "borough.fields" }
  prepare_sql(e)
  if unregistered then return e end
  registry[name] = e
  declared[#declared + 1] = e
  return e
end

--- borough.entity "name" { ... } declares an entity and returns it.
-- (No tail calls here: declare names the caller's line from its stack.)
function M.declare(name, spec)
  if spec ~= nil then
    local e = declare(name, spec)
    return e
  end
  return function(s)
    local e = declare(name, s)
    return e
  end
end

--- A set of fields declared as an entity's are, with the same types,
-- options and messages, but no table: e:validate(values) checks values
-- as the entity would (borough.form uses it for forms not kept as records).
function M.fieldset(name, spec)
  local e = declare(name, spec, true)
  return e
end

--- The entity declared with this name, or nil.
function M.get(name)
  return registry[name]
end

-- ---- records ----

local function to_record(e, row)
  for _, k in ipairs(e.booleans) do
    local v = row[k]
    if v ~= nil then row[k] = v ~= 0 end
  end
  return setmetatable(row, e.record_mt)
end

-- ---- encrypted fields ----

-- An encrypted field's column holds its value sealed (AES-256-GCM, bound
-- to the app, entity and field), and a lookup field's blind index column
-- (<field>__blind) a keyed hash of it, so equal values can be found
-- without opening any.

local function seal(e, f, v)
  if v == nil or v == NULL then return v end
  return platform.seal(e.name, f.name, tostring(v))
end

-- The last index made: a unique check and the insert after it ask for the
-- same one.
local last_field, last_value, last_index

local function blind(e, f, v)
  if v == nil or v == NULL then return nil end
  v = tostring(v)
  if f ~= last_field or v ~= last_value then
    last_field, last_value, last_index = f, v, platform.blind(e.name, f.name, v)
  end
  return last_index
end

local function unseal(e, f, sealed, id)
  local plain, why = platform.unseal(e.name, f.name, sealed)
  if not plain then
    error(("%s.%s of record %s cannot be read: %s"):format(e.name, f.name, tostring(id), why), 0)
  end
  return plain
end

-- The request whose reads were last recorded, and the records recorded in
-- it, by entity. (Only the last request's: another request reading between
-- two reads of this one can make a record be named twice, never not at all.)
local read_request, read_logged = nil, {}

-- Opens the encrypted fields of rows (fresh from the database) and records
-- in the platform audit log who read them, before any value is used: one
-- row per query that opened records, naming every record it opened that
-- this request has not already named, as ranges ("applications
-- (account_number) of 500 records: 1-500"). A list page is one row; a
-- download, one a page.
local function open_rows(e, rows)
  local request = platform.request()
  if request ~= read_request then read_request, read_logged = request, {} end
  local logged = request and read_logged[e.name]
  if request and not logged then
    logged = {}
    read_logged[e.name] = logged
  end
  local ids = {}
  for _, row in ipairs(rows) do
    local any = false
    for _, f in ipairs(e.encrypted) do
      local v = row[f.name]
      if v ~= nil then
        row[f.name] = unseal(e, f, v, row.id)
        any = true
      end
    end
    if any and not (logged and logged[row.id]) then
      ids[#ids + 1] = row.id
      if logged then logged[row.id] = true end
    end
  end
  if not ids[1] then return end
  local names = {}
  for i, f in ipairs(e.encrypted) do names[i] = f.name end
  platform.log_reads(("%s (%s)"):format(e.name, table.concat(names, ", ")), ids)
end

-- Rows of e fresh from the database (perhaps none): encrypted fields
-- opened (and their reading audited), and the read noted for a download's
-- export row.
local function loaded(e, rows)
  platform.loaded(e.name)
  if rows[1] and e.encrypted[1] then open_rows(e, rows) end
end

-- Fills args after position n for an insert of clean values: the values,
-- encrypted ones sealed, then the blind indexes. Returns the new n.
local function insert_values(e, clean, args, n)
  local names = e.names
  for i = 1, #names do args[n + i] = clean[names[i]] end
  if not e.encrypted[1] then return n + #names end
  for _, f in ipairs(e.encrypted) do args[n + f.position] = seal(e, f, clean[f.name]) end
  n = n + #names
  for _, f in ipairs(e.lookups) do
    n = n + 1
    args[n] = blind(e, f, clean[f.name])
  end
  return n
end

-- Values as the audit trail keeps them: an encrypted field only says that
-- it has a value.
local function redacted(e, values)
  if not values or not e.encrypted[1] then return values end
  local out = setmetatable({}, getmetatable(values))
  for k, v in pairs(values) do out[k] = v end
  for _, f in ipairs(e.encrypted) do
    if out[f.name] ~= nil and out[f.name] ~= NULL then out[f.name] = "(encrypted)" end
  end
  return out
end

-- ---- row rules ----

-- The requests running a rule now (by request id): a rule's own queries
-- see every record. (By request, not one flag: a rule that waits, on
-- http.request say, lets other requests run meanwhile.)
local in_rule = {}

-- The answer of rule `name` of e (called with the signed-in user or nil,
-- then the arguments), or true when no rule applies: no such rule, no
-- request running (a job or a command acts as the system), or a rule's
-- own query.
local function rule(e, name, ...)
  local fn = e.rules and e.rules[name]
  local request = fn and platform.request()
  if not request or in_rule[request] then return true end
  in_rule[request] = true
  local ok, answer = pcall(fn, borough.user and borough.user() or nil, ...)
  in_rule[request] = nil
  if not ok then error(answer, 0) end
  return answer
end

local function refused(e, verb)
  return ("You cannot %s this %s"):format(verb, fields.lower(e.label))
end

local function record_id(what)
  if type(what) == "table" then what = what.id end
  if type(what) == "string" and what:find("^%d+$") then what = math.tointeger(tonumber(what)) end
  if math.type(what) == "integer" then return what end
  return nil
end

local stamp_second, stamp = nil, nil

-- Now, as records hold it: "2024-04-01T09:30:00Z" (UTC).
local function timestamp()
  local now = os.time()
  if now ~= stamp_second then stamp_second, stamp = now, os.date("!%Y-%m-%dT%H:%M:%SZ", now) end
  return stamp
end

-- A record's fields alone (no id or timestamps), for the audit trail.
local function fields_of(e, record)
  local out = setmetatable({}, e.fields_mt)
  for _, f in ipairs(e.fields) do out[f.name] = record[f.name] end
  return out
end

-- ---- validating ----

-- errors: a list of { field =, message = } and a map field -> message. Its
-- __columns (the fields with errors, in order) make borough.json(errors)
-- an object of field -> message in the order of the form. A message about
-- the record as a whole has the field "".
local function add_error(errors, field, msg)
  errors = errors or setmetatable({}, { __columns = {}, __name = "borough.errors" })
  field = field or ""
  errors[#errors + 1] = { field = field, message = msg }
  if errors[field] == nil then
    errors[field] = msg
    local cols = getmetatable(errors).__columns
    cols[#cols + 1] = field
  end
  return errors
end


--- Checks values (a form's fields, a CSV row, a Lua table) as the entity
-- declares them and returns the clean values to store, or nil and errors.
-- Keys that are not fields are ignored. With `existing` (a record), only
-- the fields present in values are checked and the others keep their
-- stored values (an update).
function Entity:validate(values, existing)
  if type(values) ~= "table" then
    error(("%s:validate: values must be a table"):format(self.name), 2)
  end
  local fs = self.fields
  local clean, errors = new_record(#fs + 3), nil    -- + id and timestamps, added on insert
  -- A new record's values given as text are read and checked in C first
  -- (core/lfields.c: the common case, and every row of an import). Bit
  -- i-1 of `unread` marks field i as left to the loop below (other types
  -- and values, and every wrong value, so messages come from fields.lua),
  -- of `recheck` one read there that the second loop must still check.
  local unread, recheck = -1, 0
  if not existing then unread, recheck = read_fields(fs, values, clean, types, fields.today) end
  local nchecked = 0
  for i = 1, unread ~= 0 and #fs or 0 do
    if unread ~= -1 and unread & (1 << (i - 1)) == 0 then goto next end
    local f = fs[i]
    local name = f.name
    local raw = values[name]
    if raw == nil and not existing then raw = f.default end   -- a new record's value when none is given
    if raw == nil and existing then
      clean[name] = existing[name]
    else
      local v, why
      -- Empty (nil, db.NULL, "" or only spaces) is no value.
      if raw ~= nil and raw ~= NULL and not (type(raw) == "string" and (raw == "" or
         (byte(raw, 1) <= 32 and not find(raw, "%S")))) then
        v, why = f.parse(f, raw)
      end
      if why then
        errors = add_error(errors, name, why)
      elseif v == nil then
        if f.required then errors = add_error(errors, name, required_message(f)) end
      else
        clean[name] = v
        if f.validated then nchecked = nchecked + 1 end
      end
    end
    ::next::
  end
  -- Checks that may look at other fields run once every field is read.
  local own_id = existing and existing.id or -1
  local checking = unread == -1 and -1 or unread | recheck
  for i = 1, (nchecked > 0 or recheck ~= 0) and #fs or 0 do
    if checking ~= -1 and checking >> (i - 1) == 0 then break end    -- none left to check
    local f = fs[i]
    local v = clean[f.name]
    -- (On an update, a field not given keeps its value and is not checked again.)
    if v ~= nil and f.validated and (checking == -1 or checking & (1 << (i - 1)) ~= 0)
       and (not existing or values[f.name] ~= nil) then
      local why = f.checks and check(f, v, clean) or nil
      if not why and f.type == "reference" then
        -- A record the user's read rule hides is one that does not exist:
        -- the same answer, and it cannot be linked.
        local target = registry[f.to]
        local found
        if target.rules then found = target:count({ id = v }) > 0
        else found = db.one(target.sql.exists, v) ~= nil end
        if not found then
          why = ("There is no %s with the id %d"):format(fields.lower(target.label), v)
        end
      end
      if not why and f.unique and db.one(self.sql.unique[f.name], f.blind and blind(self, f, v) or v, own_id) then
        why = f.messages and f.messages.unique or
              ("%s %s with this %s already exists"):format(fields.article(self.label):gsub("^%l", string.upper),
                                                            self.label, fields.lower(f.label))
      end
      if why then errors = add_error(errors, f.name, why) end
    end
  end
  if not errors and self.validate_record then
    local more = self.validate_record(clean)
    if type(more) == "string" then
      errors = add_error(errors, nil, more)
    elseif type(more) == "table" then
      for _, f in ipairs(self.fields) do
        if more[f.name] then errors = add_error(errors, f.name, more[f.name]) end
      end
    end
  end
  if errors then return nil, errors end
  return clean
end

-- The errors for a constraint SQLite refused (a race another request won),
-- or nil if the message is about something else.
local function constraint_errors(e, msg)
  local column = type(msg) == "string" and msg:match("UNIQUE constraint failed: [%w_]+%.([%w_]+)")
  local f = column and e.field[(column:gsub("__blind$", ""))]
  if f then
    return add_error(nil, f.name, ("%s %s with this %s already exists")
                     :format(fields.article(e.label):gsub("^%l", string.upper), e.label, fields.lower(f.label)))
  end
  if column == "id" then
    return add_error(nil, "id", ("%s %s with this id already exists"):format(
                     fields.article(e.label):gsub("^%l", string.upper), e.label))
  end
  return nil
end

-- ---- writing ----

local insert_args = {}

-- Adds a record's searchable text to the entity's full-text index.
local fts_args = {}
local function index_record(e, id, values)
  local args = fts_args
  args[1] = id
  for i, name in ipairs(e.search_fields) do args[i + 1] = values[name] end
  db.exec(e.sql.fts_insert, table.unpack(args, 1, #e.search_fields + 1))
end

--- Inserts clean values (already validated) and writes the audit row; for
-- import, id and timestamps may be given, and the search index and the
-- audit row may be left to _bulk_written (bulk: an import writes those
-- for a batch of records in one statement each). Runs in the caller's
-- transaction. Returns the new record.
function Entity:_insert(clean, id, created_at, updated_at, bulk, allowed)
  if self.rules and not allowed and not rule(self, "create", clean) then error(refused(self, "add"), 0) end
  local now = timestamp()
  created_at, updated_at = created_at or now, updated_at or created_at or now
  local args, n = insert_args, 0
  if id then n = 1; args[1] = id end
  n = insert_values(self, clean, args, n) + 2
  args[n - 1], args[n] = created_at, updated_at
  local _, new_id = db.exec(id and self.sql.insert_id or self.sql.insert, table.unpack(args, 1, n))
  if id then
    new_id = id
    sql.ids_follow(self.name)
  end
  if not bulk then
    if self.search_fields then index_record(self, new_id, clean) end
    platform.audit(self.name, new_id, "create", nil, redacted(self, setmetatable(clean, self.fields_mt)))
  end
  clean.id, clean.created_at, clean.updated_at = new_id, created_at, updated_at
  return setmetatable(clean, self.record_mt)
end

--- For import, when _rows_insertable: reads up to max records of a CSV
-- reader (names[i]: the field of column i, or false) and inserts in bulk
-- (as _insert's bulk) each whose values the common case of validate reads
-- in C without a message or a check only Lua makes, with no round trip
-- through Lua, appending their ids to ids. It stops at the first record
-- it leaves to Lua, and gives it back as reader:next(values, names) does,
-- after the count, first and last id of those inserted (core/lfields.c).
function Entity:_insert_rows(reader, names, values, ids, max)
  return insert_rows(self.fields, values, names, types, fields.today, reader, self.sql.insert, ids, max)
end

--- Whether _insert_rows can import into this entity: not with encrypted
-- fields, row rules or a check of the whole record (Lua's, every time).
function Entity:_rows_insertable()
  return not (self.encrypted[1] or self.rules or self.validate_record)
end

--- For records just inserted in bulk (_insert's bulk), writes their
-- "create" audit rows and adds them to the search index: those with ids
-- from first to last, or given no range those with these ids (a
-- json.array).
function Entity:_bulk_written(ids, first, last)
  local where, args
  if first then
    where, args = " WHERE \"id\" BETWEEN ? AND ?", { first, last }
  elseif #ids > 0 then
    where, args = " WHERE \"id\" IN (" .. sql.ids_in_json .. ")", { json.encode(ids) }
  else
    return
  end
  platform.audit_rows(self.name, "create", self.sql.audit_after .. where, table.unpack(args))
  if self.search_fields then db.exec(self.sql.fts_fill .. where, table.unpack(args)) end
end

--- Creates a record from values; returns it, or nil and errors.
function Entity:create(values)
  local clean, errors = self:validate(values)
  if not clean then return nil, errors end
  if self.rules and not rule(self, "create", clean) then return nil, add_error(nil, nil, refused(self, "add")) end
  local ok, result = pcall(db.tx, self._insert, self, clean, nil, nil, nil, nil, true)
  if ok then return result end
  errors = constraint_errors(self, result)
  if errors then return nil, errors end
  error(result, 0)
end

local function not_found(e, id)
  return add_error(nil, "id", ("There is no %s with the id %s"):format(fields.lower(e.label), tostring(id)))
end

local function update_sql(e, names)
  local key = table.concat(names, ",")
  local sql = e.sql.update[key]
  if not sql then
    local sets = {}
    for i, n in ipairs(names) do sets[i] = quote(n) .. " = ?" end
    sets[#sets + 1] = "\"updated_at\" = ?"
    sql = "UPDATE " .. quote(e.name) .. " SET " .. table.concat(sets, ", ") .. " WHERE \"id\" = ?"
    e.sql.update[key] = sql
  end
  return sql
end

local function update_in_tx(e, id, changes)
  local old = e:find(id)
  if not old then return nil, not_found(e, id) end
  local clean, errors = e:validate(changes, old)
  if not clean then return nil, errors end
  local before, after, names, args = {}, {}, {}, {}
  for _, f in ipairs(e.fields) do
    local name = f.name
    local was, now = old[name], clean[name]
    if was ~= now then
      names[#names + 1] = name
      args[#names] = now
      before[name] = was == nil and NULL or was
      after[name] = now == nil and NULL or now
    end
  end
  if #names == 0 then return old end
  if e.rules and not rule(e, "update", clean, old) then return nil, add_error(nil, nil, refused(e, "change")) end
  local cols = names
  if e.encrypted[1] then
    cols = {}
    for i, name in ipairs(names) do
      local f = e.field[name]
      cols[i] = name
      if f.encrypted then args[i] = seal(e, f, args[i]) end
    end
    for _, name in ipairs(names) do
      local f = e.field[name]
      if f.blind then
        cols[#cols + 1] = f.blind
        args[#cols] = blind(e, f, clean[name])
      end
    end
  end
  local n = #cols
  local updated_at = timestamp()
  args[n + 1], args[n + 2] = updated_at, id
  db.exec(update_sql(e, cols), table.unpack(args, 1, n + 2))
  platform.audit(e.name, id, "update", redacted(e, before), redacted(e, after))
  for _, name in ipairs(names) do old[name] = clean[name] end
  if e.search_fields then
    for _, name in ipairs(e.search_fields) do
      if after[name] ~= nil then
        db.exec(e.sql.fts_delete, id)
        index_record(e, id, old)
        break
      end
    end
  end
  old.updated_at = updated_at
  return old
end

--- Changes the fields given in changes (others keep their values; "" or
-- db.NULL empties a field). Returns the record, or nil and errors.
function Entity:update(id, changes)
  if type(changes) ~= "table" then
    error(("%s:update: changes must be a table"):format(self.name), 2)
  end
  local rid = record_id(id)
  if not rid then return nil, not_found(self, id) end
  local ok, record, errors = pcall(db.tx, update_in_tx, self, rid, changes)
  if ok then return record, errors end
  errors = constraint_errors(self, record)
  if errors then return nil, errors end
  error(record, 0)
end

local function delete_in_tx(e, id)
  local old = e:find(id)
  if not old then return nil, ("There is no %s with the id %s"):format(fields.lower(e.label), tostring(id)) end
  if e.rules and not rule(e, "delete", old) then return nil, refused(e, "delete") end
  db.exec(e.sql.delete, id)
  if e.search_fields then db.exec(e.sql.fts_delete, id) end
  platform.audit(e.name, id, "delete", redacted(e, fields_of(e, old)), nil)
  return true
end

--- Deletes a record; returns true, or nil and why not.
function Entity:delete(id)
  local rid = record_id(id)
  if not rid then
    return nil, ("There is no %s with the id %s"):format(fields.lower(self.label), tostring(id))
  end
  local ok, done, why = pcall(db.tx, delete_in_tx, self, rid)
  if ok then return done, why end
  if type(done) == "string" and sql.foreign_key_failed(done) then
    return nil, ("This %s cannot be deleted because other records refer to it"):format(fields.lower(self.label))
  end
  error(done, 0)
end

-- ---- reading ----

--- The record with this id (a number, a string of digits or a record), or
-- the first record matching a table of conditions; nil if there is none.
function Entity:find(what)
  if type(what) == "table" and getmetatable(what) ~= self.record_mt then
    local list = self:where(what, { per_page = 1 })
    return list[1]
  end
  local id = record_id(what)
  if not id then return nil end
  if self.rules and self.rules.read and platform.request() then
    local list = self:where({ id = id }, { per_page = 1 })
    return list[1]
  end
  local row = db.one(self.sql.find, id)
  loaded(self, { row })
  return row and to_record(self, row)
end

local ops = { eq = "=", ne = "<>", lt = "<", le = "<=", gt = ">", ge = ">=" }

-- The stored form of a value compared with field f (nil if it cannot be one).
local function stored(f, v)
  if f == nil or v == NULL then return v end
  if type(v) == "string" or type(v) == "boolean" or type(v) == "table" then
    if f.type == "boolean" and type(v) == "boolean" then return v end
    local s = f.parse(f, v)
    return s
  end
  return v
end

-- Adds SQL for conditions to parts and args; false if no record can match.
local function conditions(e, conds, parts, args, prefix)
  local keys = {}
  for k in pairs(conds) do
    if type(k) ~= "string" or not (e.field[k] or system_columns[k]) then
      error(("%s:where: unknown field '%s'"):format(e.name, tostring(k)), 4)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local f, v = e.field[k], conds[k]
    local col = prefix .. quote(k)
    if type(v) == "table" and v["in"] ~= nil then
      v = v["in"]
      if type(v) ~= "table" or v[1] == nil then return false end
    end
    if f and f.encrypted and v ~= NULL then
      -- Equal values of an encrypted field are found by their blind index.
      if not f.blind then
        error(("%s:where: %s is encrypted; declare it with lookup = true to find records by it"):format(e.name, k), 4)
      end
      local list = v
      if type(v) ~= "table" then
        list = { v }
      elseif v[1] == nil then
        local only_eq = v.eq ~= nil
        for op in pairs(v) do only_eq = only_eq and op == "eq" end
        if not only_eq then
          error(("%s:where: %s is encrypted: records can be found only by equal values"):format(e.name, k), 4)
        end
        list = { v.eq }
      end
      v = {}
      for i, item in ipairs(list) do
        local s = stored(f, item)
        v[i] = s == nil and "" or blind(e, f, s)
      end
      f, col = nil, prefix .. quote(e.field[k].blind)
    end
    if v == NULL then
      parts[#parts + 1] = col .. " IS NULL"
    elseif type(v) == "table" and v[1] ~= nil then
      local marks = {}
      for i, item in ipairs(v) do
        local s = stored(f, item)
        if s == nil then s = NULL end
        marks[i] = "?"
        args.n = args.n + 1
        args[args.n] = s
      end
      parts[#parts + 1] = col .. " IN (" .. table.concat(marks, ", ") .. ")"
    elseif type(v) == "table" and (v.contains ~= nil or v.eq ~= nil or v.ne ~= nil or v.lt ~= nil
                                   or v.le ~= nil or v.gt ~= nil or v.ge ~= nil) then
      local opkeys = {}
      for op in pairs(v) do opkeys[#opkeys + 1] = op end
      table.sort(opkeys)
      for _, op in ipairs(opkeys) do
        if op == "contains" then
          local text = tostring(v.contains):gsub("[\\%%_]", "\\%0")
          parts[#parts + 1] = col .. " LIKE ? ESCAPE '\\'"
          args.n = args.n + 1
          args[args.n] = "%" .. text .. "%"
        elseif ops[op] then
          local s = stored(f, v[op])
          if s == nil then return false end
          parts[#parts + 1] = col .. " " .. ops[op] .. " ?"
          args.n = args.n + 1
          args[args.n] = s
        else
          error(("%s:where: unknown comparison '%s' (use eq, ne, lt, le, gt, ge or contains)")
                :format(e.name, tostring(op)), 4)
        end
      end
    else
      local s = stored(f, v)
      if s == nil then return false end
      parts[#parts + 1] = col .. " = ?"
      args.n = args.n + 1
      args[args.n] = s
    end
  end
  return true
end

local function order_by(e, order, prefix)
  if order == nil then return " ORDER BY " .. prefix .. "\"id\"" end
  if type(order) == "string" then order = { order } end
  local parts = {}
  for _, o in ipairs(order) do
    local desc, name = o:match("^(%-?)([%w_]+)$")
    if not name or not (e.field[name] or system_columns[name]) then
      error(("%s: cannot order by '%s' (not a field)"):format(e.name, tostring(o)), 4)
    end
    if e.field[name] and e.field[name].encrypted then
      error(("%s: cannot order by '%s' (an encrypted field)"):format(e.name, name), 4)
    end
    parts[#parts + 1] = prefix .. quote(name) .. (desc == "-" and " DESC" or "")
  end
  if not order[1] then return " ORDER BY " .. prefix .. "\"id\"" end
  parts[#parts + 1] = prefix .. "\"id\""
  return " ORDER BY " .. table.concat(parts, ", ")
end

local MAX_PER_PAGE = 500

local function paging(e, opts)
  local per_page = math.tointeger(tonumber(opts.per_page or 25))
  local page = math.tointeger(tonumber(opts.page or 1))
  if not per_page or per_page < 1 or per_page > MAX_PER_PAGE then
    error(("%s: per_page must be a whole number from 1 to %d"):format(e.name, MAX_PER_PAGE), 4)
  end
  if not page or page < 1 then page = 1 end
  return page, per_page
end

-- Runs a paged query and turns its rows into records.
local function fetch(e, sql, args, page, per_page)
  args.n = args.n + 2
  args[args.n - 1] = per_page + 1
  args[args.n] = (page - 1) * per_page
  local rows = db.query(sql, table.unpack(args, 1, args.n))
  local more = #rows > per_page
  if more then rows[#rows] = nil end
  loaded(e, rows)
  for i = 1, #rows do to_record(e, rows[i]) end
  return rows, { page = page, per_page = per_page, more = more }
end

local function no_records(page, per_page)
  return json.array({}), { page = page, per_page = per_page, more = false }
end

-- Adds the read rule's conditions to parts and args (the records the
-- signed-in user may read); false if they may read none.
local function within_rules(e, parts, args, prefix)
  if not e.rules then return true end
  local scope = rule(e, "read")
  if scope == true then return true end
  if type(scope) ~= "table" then return false end
  return conditions(e, scope, parts, args, prefix)
end

--- Records matching conditions, a page at a time.
-- conditions: { field = value } (equal), { field = { v1, v2 } } (any of),
--   { field = { ge = 18, lt = 65 } } (eq ne lt le gt ge, or contains = text),
--   { field = db.NULL } (no value). Values are read as the field reads them.
-- opts: order = "field" | "-field" (descending) | { ... }, page = n,
--   per_page = n (25; at most 500), after = id (the records after this id,
--   when ordered by id: the fast way through a long list).
-- Returns the records and { page =, per_page =, more = true if there are more }.
function Entity:where(conds, opts)
  opts = opts or {}
  local page, per_page = paging(self, opts)
  local parts, args = {}, { n = 0 }
  if not conditions(self, conds or {}, parts, args, "") or not within_rules(self, parts, args, "") then
    return no_records(page, per_page)
  end
  if opts.after ~= nil then
    if opts.order ~= nil and opts.order ~= "id" then
      error(("%s:where: after works only with the order by id"):format(self.name), 2)
    end
    parts[#parts + 1] = "\"id\" > ?"
    args.n = args.n + 1
    args[args.n] = record_id(opts.after) or 0
  end
  local sql = self.sql.select .. (#parts > 0 and (" WHERE " .. table.concat(parts, " AND ")) or "")
              .. order_by(self, opts.order, "") .. " LIMIT ? OFFSET ?"
  return fetch(self, sql, args, page, per_page)
end

--- Every record, a page at a time (where with no conditions).
function Entity:all(opts)
  return self:where({}, opts)
end

--- How many records match conditions (as in where).
function Entity:count(conds)
  local parts, args = {}, { n = 0 }
  if not conditions(self, conds or {}, parts, args, "") or not within_rules(self, parts, args, "") then return 0 end
  local sql = self.sql.count .. (#parts > 0 and (" WHERE " .. table.concat(parts, " AND ")) or "")
  return db.one(sql, table.unpack(args, 1, args.n)).n
end

--- How many records matching conditions have each value of field name:
-- a table value -> n (records with no value count under "").
function Entity:count_by(name, conds)
  local f = self.field[name]
  if not f or f.encrypted then
    error(("%s:count_by: '%s' is not a field that can be counted by (encrypted fields cannot)")
          :format(self.name, tostring(name)), 2)
  end
  local parts, args = {}, { n = 0 }
  local out = {}
  if not conditions(self, conds or {}, parts, args, "") or not within_rules(self, parts, args, "") then return out end
  local sql = "SELECT " .. quote(name) .. " AS \"v\", count(*) AS \"n\" FROM " .. quote(self.name)
              .. (#parts > 0 and (" WHERE " .. table.concat(parts, " AND ")) or "") .. " GROUP BY " .. quote(name)
  for _, r in ipairs(db.query(sql, table.unpack(args, 1, args.n))) do out[r.v == nil and "" or r.v] = r.n end
  return out
end

-- Search text as a full-text query (sql.search_query): each word (letters
-- and digits) a quoted prefix, all of them required. Nothing the person typed is FTS5 syntax.
-- One-character words are left out when there are longer ones: "j smith"
-- would otherwise read every word that starts with "j".
local function search_query(text)
  local words, long = {}, false
  for word in tostring(text):gmatch("[^%s%p]+") do
    words[#words + 1] = word
    long = long or utf8.len(word) ~= 1
    if #words == 16 then break end
  end
  local terms = {}
  for _, word in ipairs(words) do
    if not long or utf8.len(word) ~= 1 then terms[#terms + 1] = word end
  end
  return #terms > 0 and sql.search_query(terms) or nil
end

-- Ranking the matches (bm25) costs a few microseconds each: beyond this
-- many, the matches come in the order of their ids instead.
local RANK_AT_MOST = 250

--- Full-text search over the entity's search fields, best matches first.
-- Every word must match the start of a word in some search field ("smi
-- jo" finds "John Smith"). opts as for where, with where = conditions to
-- narrow the search. When more than 250 records match, they are not
-- ranked but come in the order they were made (page.ranked is false), so a
-- search costs about the same however common its words are. An order
-- (opts.order) sorts every match, which costs more on common words.
function Entity:search(text, opts)
  if not self.search_fields then
    error(("%s:search: the entity declares no search fields (search = { ... })"):format(self.name), 2)
  end
  opts = opts or {}
  local page, per_page = paging(self, opts)
  local query = search_query(text)
  local t, fts = quote(self.name), quote(self.name .. "_fts")
  local parts, args = {}, { n = 0 }
  if not query or not conditions(self, opts.where or {}, parts, args, t .. ".")
     or not within_rules(self, parts, args, t .. ".") then
    local none, info = no_records(page, per_page)
    info.ranked = false
    return none, info
  end
  local filter = #parts > 0 and (" AND " .. table.concat(parts, " AND ")) or ""
  local function unranked(order)
    local text = self.sql.select_qualified .. " FROM " .. fts .. " JOIN " .. t .. " ON " .. t .. ".\"id\" = "
                 .. fts .. "." .. quote(self.sql.fts_id) .. " WHERE " .. sql.search_match(fts, 1) .. filter .. order
                 .. " LIMIT ? OFFSET ?"
    local records, info = fetch(self, text, { n = args.n + 1, query, table.unpack(args, 1, args.n) }, page, per_page)
    info.ranked = false
    return records, info
  end
  if opts.order then return unranked(order_by(self, opts.order, t .. ".")) end
  -- Ranked among the first RANK_AT_MOST + 1 matches, which also counts them
  -- (one pass over the index); more than that, and they are not ranked.
  local id = fts .. "." .. quote(self.sql.fts_id)
  local text = self.sql.select_qualified .. ", \"m\".\"n\" AS \"_matches\" FROM (SELECT \"rid\", \"r\", "
               .. "count(*) OVER () AS \"n\" FROM (SELECT " .. id .. " AS \"rid\", " .. sql.search_rank(fts, 1)
               .. " AS \"r\" FROM " .. fts .. " WHERE " .. sql.search_match(fts, 1) .. " LIMIT " .. (RANK_AT_MOST + 1)
               .. ") AS \"f\") AS \"m\" JOIN " .. t .. " ON " .. t .. ".\"id\" = \"m\".\"rid\""
               .. (#parts > 0 and (" WHERE " .. table.concat(parts, " AND ")) or "")
               .. " ORDER BY \"m\".\"r\", \"m\".\"rid\" LIMIT ? OFFSET ?"
  local records, info = fetch(self, text, { n = args.n + 1, query, table.unpack(args, 1, args.n) }, page, per_page)
  local first = records[1]
  if (first and first._matches > RANK_AT_MOST) or (not first and #parts > 0) then
    return unranked(" ORDER BY " .. id)
  end
  for _, r in ipairs(records) do r._matches = nil end
  info.ranked = true
  return records, info
end

--- Rebuilds the full-text index from the records. Records written through
-- the entity keep it up to date; call this after changing searchable
-- fields with db.exec.
function Entity:reindex()
  if not self.search_fields then return end
  db.tx(function()
    db.exec(self.sql.fts_clear)
    db.exec(self.sql.fts_fill)
  end)
end

--- The audit trail of one record, oldest first: a list of
-- { id, at, who, via, action = "create" | "update" | "delete", before, after },
-- where before and after hold the fields that changed (all fields on
-- create and delete); a field that had or has no value is json.null.
function Entity:history(id)
  local rid = record_id(id)
  if self.rules and not self:find(rid) then return json.array({}) end
  local rows = db.query("SELECT \"id\", \"at\", \"who\", \"via\", \"action\", \"before\", \"after\" "
                        .. "FROM \"_borough_audit\" WHERE \"entity\" = ? AND \"record_id\" = ? ORDER BY \"id\"",
                        self.name, rid or -1)
  for _, row in ipairs(rows) do
    if row.before then row.before = json.decode(row.before) end
    if row.after then row.after = json.decode(row.after) end
  end
  return rows
end

--- Groups of records sharing a value of field name (for a lookup field,
-- found by its blind index without opening a value): the fraud check of
-- one bank account on several applications. Returns a list of
-- { count = n, records = { ... } }, most records first, of the records the
-- user may read; at most opts.limit groups (50) of at most 100 records.
function Entity:duplicates(name, opts)
  local f = self.field[name]
  if not f or (f.encrypted and not f.blind) then
    error(("%s:duplicates: '%s' is not a field that can be compared (encrypted fields need lookup = true)")
          :format(self.name, tostring(name)), 2)
  end
  opts = opts or {}
  local col = quote(f.blind or f.name)
  local parts, args = { col .. " IS NOT NULL" }, { n = 0 }
  if not within_rules(self, parts, args, "") then return json.array({}) end
  local filter = " WHERE " .. table.concat(parts, " AND ")
  local n = args.n
  args[n + 1] = math.tointeger(opts.limit) or 50
  local groups = db.query("SELECT " .. col .. " AS \"k\", count(*) AS \"n\" FROM " .. quote(self.name) .. filter
                          .. " GROUP BY " .. col .. " HAVING count(*) > 1 ORDER BY \"n\" DESC, min(\"id\") LIMIT ?",
                          table.unpack(args, 1, n + 1))
  local out = json.array({})
  local sql = self.sql.select .. filter .. " AND " .. col .. " = ? ORDER BY \"id\" LIMIT 100"
  for i, g in ipairs(groups) do
    args[n + 1] = g.k
    local rows = db.query(sql, table.unpack(args, 1, n + 1))
    loaded(self, rows)
    for _, row in ipairs(rows) do to_record(self, row) end
    out[i] = { count = g.n, records = rows }
  end
  return out
end

-- A value as CSV holds it (as borough import reads it back).
local function csv_value(f, v)
  if v == nil then return nil end
  if f and f.type == "boolean" then return v and "yes" or "no" end
  if f and f.type == "money" then
    local sign = v < 0 and "-" or ""
    return ("%s%d.%02d"):format(sign, math.abs(v) // 100, math.abs(v) % 100)
  end
  return v
end

-- The CSV lines of records (as borough import reads them back), in columns.
local function csv_rows(e, records, columns)
  local rows = {}
  for i, r in ipairs(records) do
    local values = {}
    for j, c in ipairs(columns) do values[j] = csv_value(e.field[c], r[c]) end
    rows[i] = values
  end
  return rows
end

-- The pages of a CSV of the records matching conds that the user may read:
-- a function for borough.download.csv.
local function csv_pages(e, conds, columns)
  return function(after)
    local records = e:where(conds or {}, { after = after, per_page = 500 })
    return csv_rows(e, records, columns), records[#records] and records[#records].id
  end
end

local csv_options = { columns = "table", exclude = "table", filename = "string" }

-- The columns of a CSV of e: opts.columns (fields, id, created_at,
-- updated_at) when given, else every column but the fields declared
-- secret = true (a token must not leave by accident); less opts.exclude.
local function csv_columns(e, what, opts)
  opts = options.check(what, opts, csv_options)
  local function known(c)
    if not (e.field[c] or system_columns[c]) then options.fail(what, ("%s has no field '%s'"):format(e.name, tostring(c))) end
    return c
  end
  local cols, drop = {}, {}
  for _, c in ipairs(opts.exclude or {}) do drop[known(c)] = true end
  for _, c in ipairs(opts.columns or e.columns) do
    if opts.columns then known(c) end
    if not drop[c] and (opts.columns or not (e.field[c] and e.field[c].secret)) then cols[#cols + 1] = c end
  end
  return cols, opts
end

--- The records matching conditions (as in where) that the user may read,
-- as CSV text: a header of column names (id, the fields, created_at,
-- updated_at; opts.columns chooses them, opts.exclude leaves some out, and
-- a secret field is written only when named), then a line a record,
-- encrypted fields opened; borough import reads it back. The export is
-- recorded in the platform audit log (the entity, its columns and the
-- number of records).
function Entity:csv(conds, opts)
  local columns = csv_columns(self, self.name .. ":csv", opts)
  local line = borough.csv.line
  local out, pages, after = { line(columns) }, csv_pages(self, conds, columns), nil
  repeat
    local rows
    rows, after = pages(after)
    for _, row in ipairs(rows) do out[#out + 1] = line(row) end
  until not after
  platform.log("export", ("%s: %d record%s as CSV (%s)"):format(self.name, #out - 1, #out == 2 and "" or "s",
                                                              table.concat(columns, ", ")))
  return table.concat(out)
end

--- The same CSV as a response that a browser saves as a file (opts as for
-- csv, and filename: the entity's name and ".csv" unless given), written as
-- it is sent (borough.download.csv, which records it in the platform audit
-- log).
function Entity:download(conds, opts)
  local columns
  columns, opts = csv_columns(self, self.name .. ":download", opts)
  return require("borough.download").csv(opts.filename or (self.name .. ".csv"), columns,
                                         csv_pages(self, conds, columns))
end

--- The errors for a failed write, if SQLite refused it for a duplicate
-- or the create rule refused it (for borough.import); nil otherwise.
function Entity:_constraint_errors(msg)
  if msg == refused(self, "add") then return add_error(nil, nil, msg) end    -- the create rule said no
  return constraint_errors(self, msg)
end

--- Imports CSV text (an uploaded file) as records: see borough.import.
function Entity:import(source, opts)
  return require("borough.import").run(self, source, opts)
end

-- ---- the schema (run by the platform while the app loads) ----

-- What the declarations say, as text: the platform compares it with what
-- it applied last, so an unchanged app loads without touching its schema.
local function fingerprint()
  if #declared == 0 then return nil end
  local out = {}
  for _, e in ipairs(declared) do
    local fs = {}
    for i, f in ipairs(e.fields) do
      fs[i] = table.concat({ f.name, f.type, f.label, tostring(f.required), tostring(f.unique),
                             tostring(f.index), f.to or "", f.options and table.concat(f.options, "|") or "" }, ":")
              .. (f.encrypted ~= nil and (":encrypted=" .. tostring(f.encrypted)) or "") .. (f.blind and "+lookup" or "")
    end
    local idx = {}
    for i, list in ipairs(e.indexes) do idx[i] = table.concat(list, "+") end
    out[#out + 1] = ("%s[%s;%s;%s](%s)"):format(e.name, e.label, table.concat(e.search_fields or {}, ","),
                                                table.concat(idx, ","), table.concat(fs, ","))
  end
  return table.concat(out, " ")
end

-- Entities in an order where each comes after the ones it refers to.
local function import_order()
  local done, out = {}, {}
  local function visit(e, seen)
    if done[e.name] or seen[e.name] then return end
    seen[e.name] = true
    for _, f in ipairs(e.fields) do
      if f.type == "reference" and f.to ~= e.name then visit(registry[f.to], seen) end
    end
    done[e.name] = true
    out[#out + 1] = e
  end
  for _, e in ipairs(declared) do visit(e, {}) end
  return out
end

local function column_sql(f)
  local sql = quote(f.name) .. " " .. f.sql
  if f.type == "reference" then sql = sql .. " REFERENCES " .. quote(f.to) .. " (\"id\")" end
  return sql
end

local function migration_needed(e, why)
  error(("%s %s: %s. Data is never changed or dropped by itself: write a migration "
         .. "(migrations/NNN_name.sql; see docs/apps.md, \"Migrations\")"):format(e.source, e.name, why), 0)
end

local function sync_table(e)
  local exec = platform.exec
  local info = sql.columns(e.name)
  if #info == 0 then
    local cols = { "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT" }
    for _, f in ipairs(e.fields) do cols[#cols + 1] = column_sql(f) end
    for _, f in ipairs(e.lookups) do cols[#cols + 1] = quote(f.blind) .. " TEXT" end
    cols[#cols + 1] = "\"created_at\" TEXT"
    cols[#cols + 1] = "\"updated_at\" TEXT"
    exec("CREATE TABLE " .. quote(e.name) .. " (\n  " .. table.concat(cols, ",\n  ") .. "\n)")
    return
  end
  local cols = {}
  for _, c in ipairs(info) do cols[c.name] = c end
  if not cols.id or cols.id.pk ~= 1 then
    error(("%s %s: a table of this name already exists and was not made by borough.entity "
           .. "(it has no id primary key); choose another name"):format(e.source, e.name), 0)
  end
  local refs = {}
  for _, fk in ipairs(sql.foreign_keys(e.name)) do refs[fk.from] = fk.table end
  for _, f in ipairs(e.fields) do
    local c = cols[f.name]
    if not c then
      exec("ALTER TABLE " .. quote(e.name) .. " ADD COLUMN " .. column_sql(f))
    elseif (c.type or ""):upper() ~= f.sql then
      migration_needed(e, ("field %s is stored as %s but is now declared as %s"):format(
                       f.name, c.type ~= "" and c.type or "untyped", f.type))
    elseif (refs[f.name] or "") ~= (f.to or "") then
      migration_needed(e, ("field %s referred to %s and now refers to %s"):format(
                       f.name, refs[f.name] or "nothing", f.to or "nothing"))
    end
  end
  for _, sys in ipairs({ "created_at", "updated_at" }) do
    if not cols[sys] then exec("ALTER TABLE " .. quote(e.name) .. " ADD COLUMN " .. quote(sys) .. " TEXT") end
  end
  for _, f in ipairs(e.lookups) do
    if not cols[f.blind] then exec("ALTER TABLE " .. quote(e.name) .. " ADD COLUMN " .. quote(f.blind) .. " TEXT") end
  end
  -- A column no longer declared keeps its data (a rollback to the version
  -- before a new field must still load); a migration drops it for good.
  for _, c in ipairs(info) do
    if not e.field[c.name] and not system_columns[c.name] and not e.field[c.name:gsub("__blind$", "")] then
      log.warn(("%s %s.%s is in the database but not declared; its data is kept "
                .. "(a migration with ALTER TABLE %s DROP COLUMN %s; removes it)"):format(
               e.source, e.name, c.name, e.name, c.name))
    end
  end
end

-- The indexes the platform manages for an entity: named bo_<entity>_...
local function sync_indexes(e)
  local exec = platform.exec
  local t = quote(e.name)
  local want, order = {}, {}
  local function add(name, sql)
    want[name] = sql
    order[#order + 1] = name
  end
  for _, f in ipairs(e.fields) do
    if f.blind then
      local name = ("bo_%s_%s_%s"):format(e.name, f.blind, f.unique and "unique" or "index")
      add(name, ("CREATE %sINDEX %s ON %s (%s)"):format(f.unique and "UNIQUE " or "", quote(name), t, quote(f.blind)))
    elseif f.unique then
      add(("bo_%s_%s_unique"):format(e.name, f.name),
          ("CREATE UNIQUE INDEX %s ON %s (%s)"):format(quote(("bo_%s_%s_unique"):format(e.name, f.name)), t, quote(f.name)))
    elseif f.index or f.type == "reference" then
      add(("bo_%s_%s_index"):format(e.name, f.name),
          ("CREATE INDEX %s ON %s (%s)"):format(quote(("bo_%s_%s_index"):format(e.name, f.name)), t, quote(f.name)))
    end
  end
  for _, list in ipairs(e.indexes) do
    local name = ("bo_%s_%s_index"):format(e.name, table.concat(list, "__"))
    local cols = {}
    for i, c in ipairs(list) do cols[i] = quote(c) end
    add(name, ("CREATE INDEX %s ON %s (%s)"):format(quote(name), t, table.concat(cols, ", ")))
  end
  local have = {}
  for _, row in ipairs(sql.platform_indexes(e.name)) do
    have[row.name] = true
    if not want[row.name] then exec("DROP INDEX " .. quote(row.name)) end
  end
  for _, name in ipairs(order) do
    if not have[name] then
      local ok, err = pcall(exec, want[name])
      if not ok then
        local field = name:match("^bo_" .. e.name .. "_(.-)_unique$")
        if field then
          local dup = db.one(("SELECT %s AS value, count(*) AS n FROM %s WHERE %s IS NOT NULL GROUP BY %s "
                              .. "HAVING count(*) > 1 LIMIT 1"):format(quote(field), t, quote(field), quote(field)))
          error(("%s %s.%s cannot be unique: %d records share the value %s"):format(
                e.source, e.name, field, dup and dup.n or 2, dup and tostring(dup.value) or "?"), 0)
        end
        error(("%s %s: %s"):format(e.source, e.name, err), 0)
      end
    end
  end
end

-- The full-text index of an entity: an FTS5 table over the search fields,
-- kept in step with the records by the methods above (not by triggers: a
-- trigger's write to FTS5 costs several times a direct one), made again
-- when the search fields change.
local function sync_search(e)
  local exec = platform.exec
  local name = e.name .. "_fts"
  local fts = quote(name)
  -- SQLite: prefix indexes of 2 and 3 characters, so "gr sm" finds Grace
  -- Smith without reading every word that starts with "gr" (sql.lua).
  local want = e.search_fields and table.concat(e.sql.fts_make, ";\n") or nil
  if sql.search_made(name) == want then return false end
  exec("DROP TABLE IF EXISTS " .. fts)
  sql.remember_search(exec, name, want)
  if not want then return false end
  for _, statement in ipairs(e.sql.fts_make) do exec(statement) end
  exec(e.sql.fts_fill)
  return true
end

-- The encrypted fields the last load recorded: "entity.field" -> true.
local function sealed_before()
  local row = db.one("SELECT \"value\" FROM \"_borough_meta\" WHERE \"key\" = 'sealed'")
  local set = {}
  for name in ((row and row.value) or ""):gmatch("%S+") do set[name] = true end
  return set
end

-- Rewrites each non-empty value of column col of e with fn(value, id),
-- a thousand rows at a time.
local function rewrite_column(e, col, fn, where)
  local t, after = quote(e.name), 0
  repeat
    local rows = db.query("SELECT \"id\", " .. quote(col) .. " AS \"v\" FROM " .. t .. " WHERE \"id\" > ? AND "
                          .. (where or (quote(col) .. " IS NOT NULL")) .. " ORDER BY \"id\" LIMIT 1000", after)
    for _, row in ipairs(rows) do
      after = row.id
      local set_col, value = fn(row.v, row.id)
      platform.exec("UPDATE " .. t .. " SET " .. quote(set_col) .. " = ? WHERE \"id\" = ?", value, row.id)
    end
  until #rows < 1000
end

-- Brings stored values in line with what is declared encrypted: values of
-- a newly encrypted field are sealed (and its old values in the audit
-- trail redacted); blind indexes are filled; a field no longer encrypted
-- is opened only when declared encrypted = false.
local function seal_existing(e, was)
  for _, f in ipairs(e.fields) do
    local key = e.name .. "." .. f.name
    if f.encrypted and not was[key] then
      rewrite_column(e, f.name, function(v)
        -- (A value that opens here was sealed before the field was last
        -- taken out of the declarations: it stays as it is.)
        local already = type(v) == "string" and v:find("^bo1%.") and platform.unseal(e.name, f.name, v)
        return f.name, already and v or seal(e, f, v)
      end)
      for _, side in ipairs({ "before", "after" }) do
        local text, args = sql.redact_audit(side, f.name, e.name)
        platform.exec(text, table.unpack(args))
      end
    elseif was[key] and not f.encrypted then
      if f.encrypted == nil then
        error(("%s %s.%s holds encrypted values but is no longer declared encrypted = true: put it back, or declare "
               .. "encrypted = false to store its values in plain text"):format(e.source, e.name, f.name), 0)
      end
      log.warn(("%s %s.%s: opening its encrypted values (declared encrypted = false)"):format(e.source, e.name, f.name))
      rewrite_column(e, f.name, function(v, id) return f.name, unseal(e, f, v, id) end)
    end
    if f.blind then
      rewrite_column(e, f.blind, function(_, id)
        local row = db.one("SELECT " .. quote(f.name) .. " AS \"v\" FROM " .. quote(e.name) .. " WHERE \"id\" = ?", id)
        return f.blind, blind(e, f, unseal(e, f, row.v, id))
      end, quote(f.blind) .. " IS NULL AND " .. quote(f.name) .. " IS NOT NULL")
    end
  end
end

-- Records the declarations for export (which reads the database alone).
local function record_declarations(was)
  local exec = platform.exec
  local sealed = {}
  for _, e in ipairs(declared) do
    for _, f in ipairs(e.encrypted) do sealed[#sealed + 1] = e.name .. "." .. f.name end
  end
  -- A sealed column no longer declared keeps its data, so it stays on the
  -- list (key rotation reseals it; declaring it again in plain is refused).
  for key in pairs(was) do
    local entity, field = key:match("^([%w_]+)%.([%w_]+)$")
    local e = registry[entity]
    if entity and not (e and e.field[field]) then
      for _, c in ipairs(sql.columns(entity)) do
        if c.name == field then sealed[#sealed + 1] = key end
      end
    end
  end
  table.sort(sealed)
  exec("INSERT INTO \"_borough_meta\" (\"key\", \"value\") VALUES ('sealed', ?) "
       .. "ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\"", table.concat(sealed, " "))
  for _, e in ipairs(declared) do
    if e.lookups[1] then
      -- The key the blind indexes are made with (borough keys rotate changes it).
      exec("INSERT INTO \"_borough_meta\" (\"key\", \"value\") VALUES ('blind_key', ?) ON CONFLICT DO NOTHING",
           tostring(platform.key_id()))
      break
    end
  end
  exec("UPDATE \"_borough_entities\" SET \"declared\" = 0, \"position\" = CASE WHEN \"position\" < 1000000 "
       .. "THEN 1000000 + \"position\" ELSE \"position\" END")
  for position, e in ipairs(import_order()) do
    exec("INSERT INTO \"_borough_entities\" (\"name\", \"position\", \"label\", \"search\", \"declared\") "
         .. "VALUES (?, ?, ?, ?, 1) ON CONFLICT (\"name\") DO UPDATE SET \"position\" = excluded.\"position\", "
         .. "\"label\" = excluded.\"label\", \"search\" = excluded.\"search\", \"declared\" = 1", e.name, position, e.label,
         e.search_fields and table.concat(e.search_fields, ",") or nil)
    exec("DELETE FROM \"_borough_fields\" WHERE \"entity\" = ?", e.name)
    for i, f in ipairs(e.fields) do
      exec("INSERT INTO \"_borough_fields\" (\"entity\", \"position\", \"name\", \"type\", \"label\", \"required\", "
           .. "\"is_unique\", \"reference\", \"options\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
           e.name, i, f.name, f.type, f.label, f.required, f.unique, f.to,
           f.options and json.encode(json.array(f.options)) or nil)
    end
  end
end

-- Brings the database in line with the declarations: the additive changes
-- (new entities, fields, indexes, search) are made; anything else stops
-- the load with a message asking for a migration.
local function sync(fresh, migrated)
  for _, e in ipairs(declared) do
    for _, f in ipairs(e.fields) do
      if f.type == "reference" and not registry[f.to] then
        error(("%s %s.%s refers to '%s', which is not a declared entity"):format(e.source, e.name, f.name, f.to), 0)
      end
    end
  end
  local was = sealed_before()
  -- PostgreSQL wants a referred table made before the reference to it;
  -- SQLite takes them in the order declared (which its export keeps).
  for _, e in ipairs(sql.postgres and import_order() or declared) do
    sync_table(e)
    seal_existing(e, was)
    sync_indexes(e)
    -- A migration may have changed searchable text with SQL: index it again.
    if not sync_search(e) and migrated and e.search_fields then
      platform.exec(e.sql.fts_clear)
      platform.exec(e.sql.fts_fill)
    end
  end
  record_declarations(was)
end

platform.register(fingerprint, sync, registry)

return M
