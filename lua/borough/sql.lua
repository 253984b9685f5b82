--- borough.sql: the few places where the platform's own SQL differs between
-- SQLite (the embedded default) and PostgreSQL (`--database`), in one file.
-- Everything else the platform writes is in the portable subset of
-- docs/apps.md, which both engines run (the PostgreSQL engine translates
-- placeholders and type names itself). entity.lua asks this module for the
-- schema it finds, the JSON it builds and the full-text search it runs.
--
-- Full-text search: SQLite keeps an FTS5 table per entity (unicode61,
-- diacritics removed, ranked by bm25); PostgreSQL keeps a table of
-- tsvectors with a GIN index (the `simple` configuration with unaccent where
-- the server has it, ranked by ts_rank). Both match every word of a search
-- as the start of a word; the order of equally good matches may differ.
local M = {}

local pg = db.dialect == "postgresql"
M.postgres = pg

local function quote(name) return '"' .. name:gsub('"', '""') .. '"' end

-- PostgreSQL's names of the types entity.lua declares (TEXT, INTEGER, REAL).
local declared_type = { bigint = "INTEGER", integer = "INTEGER", ["double precision"] = "REAL",
                        real = "REAL", text = "TEXT", bytea = "BLOB" }

--- The columns of a table: a list of { name, type (as declared: TEXT,
-- INTEGER, REAL), pk (1 for the primary key) }; empty if there is no table.
function M.columns(name)
  if not pg then return db.query("PRAGMA table_info(" .. quote(name) .. ")") end
  local rows = db.query("SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, "
                        .. "CASE WHEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid "
                        .. "AND i.indisprimary AND a.attnum = ANY (i.indkey)) THEN 1 ELSE 0 END AS pk "
                        .. "FROM pg_attribute a WHERE a.attrelid = to_regclass(CAST(? AS TEXT)) AND a.attnum > 0 "
                        .. "AND NOT a.attisdropped ORDER BY a.attnum", quote(name))
  for _, r in ipairs(rows) do r.type = declared_type[r.type] or r.type:upper() end
  return rows
end

--- The table's foreign keys: a list of { from = column, table = referred table }.
function M.foreign_keys(name)
  if not pg then return db.query("PRAGMA foreign_key_list(" .. quote(name) .. ")") end
  return db.query("SELECT a.attname AS \"from\", r.relname AS \"table\" FROM pg_constraint c "
                  .. "JOIN pg_class r ON r.oid = c.confrelid "
                  .. "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
                  .. "WHERE c.conrelid = to_regclass(CAST(? AS TEXT)) AND c.contype = 'f'", quote(name))
end

--- The names of the indexes of a table the platform made (bo_...).
function M.platform_indexes(name)
  if pg then
    return db.query("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() "
                    .. "AND tablename = ? AND indexname LIKE 'bo\\_%' ESCAPE '\\'", name)
  end
  return db.query("SELECT \"name\" FROM \"sqlite_master\" WHERE \"type\" = 'index' AND \"tbl_name\" = ? "
                  .. "AND \"name\" LIKE 'bo\\_%' ESCAPE '\\'", name)
end

--- Whether the app's schema has a table of this name.
function M.table_exists(name)
  if pg then
    return db.one("SELECT 1 AS yes FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?", name) ~= nil
  end
  return db.one("SELECT 1 AS yes FROM sqlite_master WHERE type = 'table' AND name = ?", name) ~= nil
end

--- Runs fn(...) so that a statement of it that fails leaves the caller's
-- transaction usable (an import goes on after a row a constraint refused):
-- PostgreSQL aborts the whole transaction on a failed statement unless it
-- ran in a savepoint; SQLite only undoes the statement.
function M.guarded(fn, ...)
  if pg then return db.tx(fn, ...) end
  return fn(...)
end

--- Whether msg, an error of a statement, says a foreign key refused it.
function M.foreign_key_failed(msg)
  if pg then return msg:find("violates foreign key constraint", 1, true) ~= nil end
  return msg:find("FOREIGN KEY constraint failed", 1, true) ~= nil
end

--- After records of table name were inserted with ids of their own (an
-- import that keeps the file's ids), the ids the database assigns next
-- come after them: SQLite's AUTOINCREMENT sees to it by itself; on
-- PostgreSQL the table's identity is moved past them (never back).
function M.ids_follow(name)
  if not pg then return end
  local seq = "pg_get_serial_sequence(CAST(? AS TEXT), 'id')"
  db.one("SELECT setval(" .. seq .. ", greatest(max(\"id\"), coalesce(pg_sequence_last_value(CAST(" .. seq
         .. " AS regclass)), 0))) AS id FROM " .. quote(name), quote(name), quote(name))
end

--- The seconds since 1970 of an ISO 8601 time in column col (NULL stays NULL).
function M.epoch(col)
  if pg then return "CAST(extract(epoch FROM CAST(" .. col .. " AS timestamptz)) AS BIGINT)" end
  return "CAST(strftime('%s', " .. col .. ") AS INTEGER)"
end

--- JSON built by the database: an object of the members (a list of
-- { name, SQL value }) as json.encode writes one (in order, no spaces, null
-- for no value), and the literals true and false. SQLite's json_object
-- writes it so; PostgreSQL's json_build_object puts spaces in (and a
-- NUMERIC all its digits), so there the text is put together.
function M.json_object(members)
  local parts = {}
  if not pg then
    for i, m in ipairs(members) do parts[i] = "'" .. m[1]:gsub("'", "''") .. "', " .. m[2] end
    return "json_object(" .. table.concat(parts, ", ") .. ")"
  end
  if #members == 0 then return "'{}'" end
  for i, m in ipairs(members) do
    local v = m[2]
    if m.number then v = "CAST(" .. v .. " AS DOUBLE PRECISION)" end
    parts[i] = "'" .. (i == 1 and "{" or ",") .. json.encode(m[1]):gsub("'", "''") .. ":' || "
               .. "coalesce(CAST(to_json(" .. v .. ") AS TEXT), 'null')"
  end
  return table.concat(parts, " || ") .. " || '}'"
end
M.json_true = pg and "CAST('true' AS json)" or "json('true')"
M.json_false = pg and "CAST('false' AS json)" or "json('false')"

--- A subquery of the ids in a JSON array bound as its one parameter.
M.ids_in_json = pg and "SELECT CAST(\"value\" AS BIGINT) FROM json_array_elements_text(CAST(? AS json))"
                or "SELECT \"value\" FROM json_each(?)"

--- Replaces, in the audit trail's JSON column side, the value of field with
-- "(encrypted)" where it is text: the SQL and its arguments after entity.
function M.redact_audit(side, field, entity)
  if pg then
    return "UPDATE \"_borough_audit\" SET " .. quote(side) .. " = CAST(jsonb_set(CAST(" .. quote(side)
           .. " AS jsonb), CAST(? AS text[]), '\"(encrypted)\"') AS TEXT) WHERE \"entity\" = ? AND "
           .. "jsonb_typeof(CAST(" .. quote(side) .. " AS jsonb) -> CAST(? AS TEXT)) = 'string'",
           { "{" .. field .. "}", entity, field }
  end
  return "UPDATE \"_borough_audit\" SET " .. quote(side) .. " = json_set(" .. quote(side)
         .. ", ?, '(encrypted)') WHERE \"entity\" = ? AND json_type(" .. quote(side) .. ", ?) = 'text'",
         { "$." .. field, entity, "$." .. field }
end

-- ---- full-text search ----

local config = "'borough_fn.search'"

--- The statements of an entity's full-text index, table t (quoted), its
-- index table fts (quoted) over the quoted columns cols: the DDL that makes
-- it (a list), and insert (id, values...), delete (id), clear, fill (from t).
function M.search_sql(t, fts, cols)
  if not pg then
    local marks = {}
    for i = 1, #cols do marks[i] = "?" end
    return {
      make = { ("CREATE VIRTUAL TABLE %s USING fts5(%s, tokenize='unicode61 remove_diacritics 2', prefix='2 3')")
               :format(fts, table.concat(cols, ", ")) },
      insert = "INSERT INTO " .. fts .. " (rowid, " .. table.concat(cols, ", ") .. ") VALUES (?, "
               .. table.concat(marks, ", ") .. ")",
      delete = "DELETE FROM " .. fts .. " WHERE rowid = ?",
      clear = "DELETE FROM " .. fts,
      fill = "INSERT INTO " .. fts .. " (rowid, " .. table.concat(cols, ", ") .. ") SELECT \"id\", "
             .. table.concat(cols, ", ") .. " FROM " .. t,
      id = "rowid",
    }
  end
  local function doc(values)
    local parts = {}
    for i, v in ipairs(values) do parts[i] = "coalesce(CAST(" .. v .. " AS TEXT), '')" end
    return "to_tsvector(" .. config .. ", " .. table.concat(parts, " || ' ' || ") .. ")"
  end
  local marks = {}
  for i = 1, #cols do marks[i] = "?" end
  local index = fts:sub(1, -2) .. "_doc\""
  return {
    make = { "CREATE TABLE " .. fts .. " (\"id\" BIGINT PRIMARY KEY, \"doc\" tsvector NOT NULL)",
             "CREATE INDEX " .. index .. " ON " .. fts .. " USING gin (\"doc\")" },
    insert = "INSERT INTO " .. fts .. " (\"id\", \"doc\") VALUES (?, " .. doc(marks) .. ")",
    delete = "DELETE FROM " .. fts .. " WHERE \"id\" = ?",
    clear = "DELETE FROM " .. fts,
    fill = "INSERT INTO " .. fts .. " (\"id\", \"doc\") SELECT \"id\", " .. doc(cols) .. " FROM " .. t,
    id = "id",
  }
end

--- What the index of an entity was made with, so a change of search fields
-- makes it again: SQLite keeps the DDL itself, PostgreSQL a note in
-- _borough_meta (written by remember_search).
function M.search_made(name)
  if pg then
    local row = db.one("SELECT \"value\" AS \"sql\" FROM \"_borough_meta\" WHERE \"key\" = ?", "search " .. name)
    return row and row.sql
  end
  local row = db.one("SELECT \"sql\" FROM \"sqlite_master\" WHERE \"name\" = ?", name)
  return row and row.sql
end

function M.remember_search(exec, name, made)
  if not pg then return end
  if made then
    exec("INSERT INTO \"_borough_meta\" (\"key\", \"value\") VALUES (?, ?) "
         .. "ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\"", "search " .. name, made)
  else
    exec("DELETE FROM \"_borough_meta\" WHERE \"key\" = ?", "search " .. name)
  end
end

--- SQLite: FTS5 holds the terms of the records it is given in memory until
-- they take `hashsize` bytes (1 MiB unless set), then writes them out as a
-- segment, which it merges with others as they add up: a million records
-- made hundreds of segments and merged them over and over. An import sets
-- it to 64 MiB for its one statement and back to what it was (returned) in
-- the same transaction. PostgreSQL's GIN index has no such setting: nil.
function M.search_memory(name, bytes)
  if pg then return nil end
  local fts = quote(name)
  local was = db.one("SELECT v FROM " .. quote(name .. "_config") .. " WHERE k = 'hashsize'")
  db.exec("INSERT INTO " .. fts .. " (" .. fts .. ", rank) VALUES ('hashsize', ?)", bytes)
  return was and was.v or 1024 * 1024
end

--- The search words as the engine's query: each a prefix, all required.
function M.search_query(words)
  local terms = {}
  for i, w in ipairs(words) do
    terms[i] = pg and ("'" .. w:gsub("'", "''") .. "':*") or ('"' .. w .. '"*')
  end
  return table.concat(terms, pg and " & " or " ")
end

--- The condition that index table fts matches the query bound as parameter
-- n (a number: ?n), and the rank of a match (smaller is better).
function M.search_match(fts, n)
  if pg then return fts .. ".\"doc\" @@ to_tsquery(" .. config .. ", ?" .. n .. ")" end
  return fts .. " MATCH ?" .. n
end

function M.search_rank(fts, n)
  if pg then return "-ts_rank(" .. fts .. ".\"doc\", to_tsquery(" .. config .. ", ?" .. n .. "))" end
  return fts .. ".\"rank\""
end

return M
