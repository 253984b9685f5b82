--- borough.import: CSV rows into an entity's records, each row checked
-- exactly as the entity checks a form (Entity:validate), so a file cannot
-- put in what a person could not.
--
--   local summary, err = Residents:import(csv_text, {
--     mapping = { ["Surname"] = "last_name", ["Notes"] = false },  -- false: ignore the column
--     skip_bad_rows = false,     -- false (the default): all rows or none
--   })
--
-- Columns are matched to fields by name or label, ignoring case, spaces
-- and punctuation ("NHS Number" and "nhs_number" both find nhs_number);
-- `mapping` names the field for any other column, or false to ignore it.
-- Columns that match nothing are ignored and listed. Columns id,
-- created_at and updated_at, when present, are kept (an export reads back
-- as it was). A required field without a column stops the import before
-- any row is read.
--
-- All or nothing (the default): every row is checked and, if any is
-- wrong, nothing is imported. With skip_bad_rows the good rows are
-- imported, committed in batches (so other writers are not kept waiting)
-- and the bad ones reported.
--
-- key = "account_ref" (a unique field): a row whose key matches a record
-- already there (or one earlier in the file) updates that record's fields
-- the file has, instead of adding another, so a list imported again
-- updates and never duplicates (summary.updated counts them).
--
-- Returns a summary { rows, imported, updated, rejected, rejects = { { line,
-- column, message }, ... }, ignored_columns = { ... }, committed }, or nil
-- and a message when the file cannot be imported at all. Other options:
-- max_rejects (how many rejects the summary keeps, 1000), on_reject(line,
-- column, message) (called for each instead), progress(bytes_read,
-- bytes_total, rows) (called every 1,000 rows).

local fields = require "borough.fields"
local options = require "borough.options"
local sql = require "borough.sql"

local M = {}

local BATCH = 5000
local PROGRESS_EVERY = 1000

local function normal(s)
  return (s:lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", ""))
end

-- The columns kept whatever the declaration: a record's id and timestamps.
local system = {
  id = { name = "id", label = "ID", type = "integer", messages = {} },
  created_at = { name = "created_at", label = "Created at", type = "datetime", messages = {} },
  updated_at = { name = "updated_at", label = "Updated at", type = "datetime", messages = {} },
}

-- Which field each column of the header is for.
local function map_columns(e, header, mapping)
  local known = {}
  for _, f in ipairs(e.fields) do
    known[normal(f.name)] = f.name
    known[normal(f.label)] = known[normal(f.label)] or f.name
  end
  for name in pairs(system) do known[name] = name end
  local cols, used, ignored, seen, index = {}, {}, json.array({}), {}, {}
  for i, text in ipairs(header) do
    local name = fields.trim(text)
    seen[name] = true
    local target
    if mapping and mapping[name] ~= nil then
      target = mapping[name]
      if target == false or target == "" or target == "-" then
        target = nil
      elseif not (e.field[target] or system[target]) then
        return nil, ("The mapping gives column \"%s\" to %s, which is not a field of %s")
                    :format(name, tostring(target), e.name)
      end
    else
      target = known[normal(name)]
      if not target then ignored[#ignored + 1] = name end
    end
    if target then
      if used[target] then
        return nil, ("Columns \"%s\" and \"%s\" are both for %s: map one of them to another field or to nothing")
                    :format(used[target], name, target)
      end
      used[target] = name
      index[target] = i
    end
    cols[i] = { field = target, name = name }
  end
  for col in pairs(mapping or {}) do
    if not seen[col] then
      return nil, ("The mapping names a column \"%s\" that the file does not have"):format(tostring(col))
    end
  end
  for _, f in ipairs(e.fields) do
    if f.required and not used[f.name] then
      return nil, ("The file has no column for %s, which every %s must have"):format(fields.lower(f.label), e.label)
    end
  end
  return cols, ignored, used, index
end

--- Imports CSV (text, a file of req.files, or a reader from
-- borough.csv.reader) into entity e.
local import_options = { mapping = "table", skip_bad_rows = "boolean", max_rejects = "integer",
                         on_reject = "function", progress = "function", key = "string" }

function M.run(e, source, opts)
  opts = options.check(e.name .. ":import", opts, import_options)
  local key = opts.key
  if key and not (e.field[key] and e.field[key].unique) then
    options.fail(e.name .. ":import", ("key = \"%s\" must be a unique field of %s"):format(key, e.name))
  end
  local reader = source
  if type(source) == "string" then
    reader = borough.csv.reader(source)
  elseif type(source) == "table" and source._index then      -- a file of req.files (an upload page)
    local why
    reader, why = borough.csv.upload(source)
    if not reader then return nil, why end
  end
  local header, line, why = reader:next()
  if header == nil then return nil, "The file is empty" end
  if header == false then return nil, ("Line %d: %s"):format(line, why) end
  local cols, ignored, used, index = map_columns(e, header, opts.mapping)
  if not cols then return nil, ignored end

  local summary = { rows = 0, imported = 0, updated = 0, rejected = 0, rejects = json.array({}),
                    ignored_columns = ignored, committed = false }
  if key and not index[key] then return nil, ("The file has no column for %s, which finds the records it updates")
                                             :format(fields.lower(e.field[key].label)) end
  local max_rejects = opts.max_rejects or 1000
  local on_reject, progress = opts.on_reject, opts.progress
  local ncols = #header
  -- Each row's fields go straight into values, by the names of the fields
  -- (or id and timestamps) their columns are for.
  local values, names = {}, {}
  for i = 1, ncols do names[i] = cols[i].field or false end
  local kept = index.id or index.created_at or index.updated_at
  -- The records inserted and not yet audited and indexed for search (this
  -- batch's, or all of them): their ids, and the least and greatest.
  local batch_ids, nbatch = json.array({}), 0
  local low, high

  local function reject(at, column, message)
    if on_reject then
      on_reject(at, column, message)
    elseif #summary.rejects < max_rejects then
      summary.rejects[#summary.rejects + 1] = { line = at, column = column, message = message }
    end
  end

  local function system_value(name)
    local s = index[name] and values[name]
    if not s or not s:find("%S") then return nil end
    local f = system[name]
    return fields.types[f.type].parse(f, s)
  end

  -- One data row (its count fields in values): checked, then inserted or reported.
  local function import_row(at, count)
    if count ~= ncols then
      summary.rejected = summary.rejected + 1
      reject(at, "", ("The row has %d field%s but the header has %d"):format(count, count == 1 and "" or "s", ncols))
      return
    end
    local id, id_err, created, created_err, updated, updated_err
    if kept then
      id, id_err = system_value("id")
      created, created_err = system_value("created_at")
      updated, updated_err = system_value("updated_at")
      if id and id <= 0 then id, id_err = nil, "ID must be a whole number above 0" end
    end
    local known = key and values[key] and values[key]:find("%S") and e:find { [key] = values[key] }
    if known then          -- (a row for a record already there, with key)
      local changes = {}
      for i = 1, ncols do
        local name = names[i]
        if name and not system[name] then changes[name] = values[name] end
      end
      local record, errs = e:update(known.id, changes)
      if record then
        summary.updated = summary.updated + 1
        return
      end
      summary.rejected = summary.rejected + 1
      for _, err in ipairs(errs) do reject(at, err.field and used[err.field] or "", err.message) end
      return
    end
    local clean, errors = e:validate(values)
    if clean and not (id_err or created_err or updated_err) then
      local ok, record = pcall(sql.guarded, e._insert, e, clean, id, created, updated, "bulk")
      if ok then
        summary.imported = summary.imported + 1
        nbatch = nbatch + 1
        batch_ids[nbatch] = record.id
        if not low or record.id < low then low = record.id end
        if not high or record.id > high then high = record.id end
        return
      end
      local err = record
      errors = e:_constraint_errors(err)
      if not errors then error(err, 0) end
    end
    summary.rejected = summary.rejected + 1
    if id_err then reject(at, used.id, id_err) end
    if created_err then reject(at, used.created_at, created_err) end
    if updated_err then reject(at, used.updated_at, updated_err) end
    for _, err in ipairs(errors or {}) do
      reject(at, err.field and used[err.field] or "", err.message)
    end
  end

  -- The audit trail and the search index take the records in one
  -- statement each (Entity:_bulk_written), not a statement per record;
  -- FTS5 also writes its pending terms out at the end of every statement,
  -- so the fewer the cheaper. Ids that fill low..high (distinct, nbatch of
  -- them) are exactly the records of that range: written by range,
  -- without the list.
  local function written()
    if nbatch == 0 then return end
    if high - low + 1 == nbatch then
      e:_bulk_written(batch_ids, low, high)
    else
      e:_bulk_written(batch_ids)
    end
  end

  -- With skip_bad_rows, a batch's records at the end of the batch, in its
  -- transaction (and, where the file gives ids, the ids assigned next come
  -- after them, for every batch). All or nothing, that is once, at the end: the import is
  -- one transaction, and a record is searchable when it commits.
  local function batch_written()
    if opts.skip_bad_rows then written() end
    if kept and nbatch > 0 then sql.ids_follow(e.name) end
  end

  -- Rows whose values are all read in C go in without Lua per row
  -- (Entity:_insert_rows); it stops at any other row and hands it over.
  local fast = not kept and not key and e:_rows_insertable()

  -- The next row for import_row: read by the reader, or handed over by
  -- _insert_rows after it imported as many as it could (reading up to
  -- `most` rows in all, so batches and the progress bar keep their
  -- counts). true: it imported `most` rows and none is left over.
  local function next_row(most)
    if not fast then return reader:next(values, names) end
    local n, first, last, row, at, count_or_why, column = e:_insert_rows(reader, names, values, batch_ids, most)
    if n > 0 then
      summary.rows, summary.imported, nbatch = summary.rows + n, summary.imported + n, nbatch + n
      low, high = low or first, last
    end
    return row, at, count_or_why, column
  end

  -- Reads and imports up to BATCH rows; false at the end of the file.
  local function batch()
    if opts.skip_bad_rows then
      for i = 1, nbatch do batch_ids[i] = nil end
      nbatch, low, high = 0, nil, nil
    end
    local limit = summary.rows + BATCH
    while summary.rows < limit do
      local upto = progress and math.min(limit, (summary.rows // PROGRESS_EVERY + 1) * PROGRESS_EVERY) or limit
      local row, at, count_or_why, column = next_row(upto - summary.rows)
      if row == nil then
        batch_written()
        return false
      end
      if row ~= true then
        summary.rows = summary.rows + 1
        if row == false then
          summary.rejected = summary.rejected + 1
          reject(at, header[column] and fields.trim(header[column]) or ("column " .. column), count_or_why)
        else
          import_row(at, count_or_why)
        end
      end
      if progress and summary.rows % PROGRESS_EVERY == 0 then
        local read, total = reader:position()
        progress(read, total, summary.rows)
      end
    end
    batch_written()
    return true
  end

  local rollback = {}
  local function all_rows()
    while db.tx(batch) do end
    if not opts.skip_bad_rows and summary.rejected == 0 then
      local was = e.search_fields and sql.search_memory(e.name .. "_fts", 64 * 1024 * 1024)
      written()
      if was then sql.search_memory(e.name .. "_fts", was) end
    end
    if progress then      -- (the bar's 100%, once the search index has them too)
      local read, total = reader:position()
      progress(read, total, summary.rows)
    end
    if summary.rejected > 0 and not opts.skip_bad_rows then error(rollback) end
  end
  if opts.skip_bad_rows then
    all_rows()
  else
    local ok, err = pcall(db.tx, all_rows)
    if not ok then
      if err ~= rollback then error(err, 0) end
      summary.valid = summary.imported + summary.updated
      summary.imported, summary.updated = 0, 0
      return summary
    end
  end
  summary.committed = summary.imported + summary.updated > 0
  return summary
end

return M
