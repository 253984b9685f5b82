--- borough.feed: a read-only data feed of an app's records for BI tools
-- (Power BI, Excel's Power Query and the like), as JSON and CSV, for the
-- holders of an API token (`borough token create`).
--
--   borough.feed {
--     Measures,                                            -- every plain field
--     { Projects, fields = { "name", "status", "budget" }, filters = { "status", "portfolio" } },
--   }:mount(app, "/_feed", { role = "reporting" })
--
-- gives, for a token whose scope names the entity:
--   GET /_feed/                  the entities this token may read, with their columns and addresses
--   GET /_feed/projects.json     a page of records: { "value": [ {...}, ... ], "@odata.nextLink": "..." }
--   GET /_feed/projects.csv      every record, as CSV with a header line
-- each taking ?after= (the last id of the page before: the next link holds
-- it), ?per_page= (JSON: 1 to 500, 500 unless given), ?updated_since=
-- (records changed at or after a time: "2024-04-01T09:30:00Z" or a day, for
-- incremental refresh), and ?<filter>=<value> for the filters (equal; the
-- field repeated: any of them). Records come in id order, so paging is
-- stable while records are added. Any other parameter, or a value a field
-- cannot read, is refused with 400 and a JSON message.
--
-- Who: the token, sent as Authorization: Bearer <token> (never in the
-- address), must be the app's, live (not expired or revoked) and scoped to
-- the entity; its service account must have mount's role (if given); and
-- the entity's row rules see that account as borough.user(), so a token
-- reads only what its roles may. No session cookie opens a feed.
--
-- What: fields = { ... } names the columns (id, created_at and updated_at
-- are always there); by default every field but secret, encrypted and file
-- ones. An encrypted field is published only when named (each read is in
-- the platform audit log, as any read of one is). filters = { ... } names
-- the fields a request may filter by, each indexed (index = true, unique,
-- a reference, or first in one of the entity's indexes); by default all
-- such fields among the columns. Money is in pounds (JSON numbers, CSV
-- "1250.50"), yes/no is true/false, dates and times are ISO 8601 (UTC).
--
-- CORS is off: a page on another site cannot read the feed unless mount's
-- cors = { "https://dashboards.example.gov.uk" } names its origin (then
-- those origins get Access-Control-Allow-Origin, and a preflight is
-- answered). BI tools are not browsers and need none.

local options = require "borough.options"
local fields = require "borough.fields"

local M = {}
local Feed = {}
Feed.__index = Feed

local entry_options = { fields = "table", filters = "table" }
local mount_options = { role = "role", cors = "table" }
local system = { id = "integer", created_at = "datetime", updated_at = "datetime" }
local MAX_PER_PAGE = 500

-- Whether e's field name can filter a feed: an index leads with it.
local function indexed(e, name)
  local f = e.field[name]
  if name == "id" or (f and not f.encrypted and (f.index or f.unique or f.type == "reference")) then return true end
  for _, list in ipairs(e.indexes or {}) do
    if list[1] == name then return true end
  end
  return false
end

-- One published entity: its columns ({ name =, type =, field = }) and filters.
local function entry(item, i)
  local e, opts = item, nil
  if type(item) == "table" and not item.where then e, opts = item[1], item end
  if type(e) ~= "table" or not e.where or not e.fields then
    options.fail("borough.feed", ("entry %d must be an entity, or { Entity, fields = { ... }, filters = { ... } }"):format(i))
  end
  local what = ("borough.feed(%s)"):format(e.name)
  options.check(what, opts, entry_options)
  opts = opts or {}
  local columns, by_name = {}, {}
  local function add(name)
    local f = e.field[name]
    if not f and not system[name] then options.fail(what, ("%s has no field '%s'"):format(e.name, tostring(name))) end
    if by_name[name] then return end
    local c = { name = name, type = f and f.type or system[name], field = f }
    columns[#columns + 1] = c
    by_name[name] = c
  end
  add("id")
  if opts.fields then
    for _, name in ipairs(opts.fields) do add(name) end
  else
    for _, f in ipairs(e.fields) do
      if not (f.secret or f.encrypted or f.type == "file") then add(f.name) end
    end
  end
  add("created_at")
  add("updated_at")
  local filters, names = {}, {}
  if opts.filters then
    for _, name in ipairs(opts.filters) do
      if not by_name[name] then options.fail(what, ("filters names '%s', which is not a column of the feed"):format(tostring(name))) end
      if not indexed(e, name) then
        options.fail(what, ("filters names '%s': a feed filters only by indexed fields (index = true, unique, a "
                            .. "reference, or first in one of the entity's indexes)"):format(name))
      end
      filters[name] = by_name[name]
      names[#names + 1] = name
    end
  else
    for _, c in ipairs(columns) do
      if c.name ~= "id" and indexed(e, c.name) then
        filters[c.name] = c
        names[#names + 1] = c.name
      end
    end
  end
  return { entity = e, name = e.name, columns = columns, filters = filters, filter_names = names }
end

--- borough.feed { Entity, { Entity, fields =, filters = }, ... } -> the
-- feed, to mount with feed:mount(app, path, { role =, cors = }).
function M.new(spec)
  if type(spec) ~= "table" or spec[1] == nil then
    options.fail("borough.feed", "give the entities to publish: borough.feed { Measures, { Projects, fields = { ... } } }")
  end
  for k in pairs(spec) do
    if math.type(k) ~= "integer" then
      options.fail("borough.feed", ("unknown option '%s' (list the entities; their options go with each)"):format(tostring(k)))
    end
  end
  local feed = setmetatable({ entries = {}, by_name = {} }, Feed)
  for i, item in ipairs(spec) do
    local en = entry(item, i)
    if feed.by_name[en.name] then options.fail("borough.feed", ("%s is listed twice"):format(en.name)) end
    feed.entries[#feed.entries + 1] = en
    feed.by_name[en.name] = en
  end
  return feed
end

-- ---- answering ----

-- An origin: scheme, host and port, no path.
local function origin_ok(o)
  return type(o) == "string" and o:find("^https?://[%w%-.]+:?%d*$") ~= nil
end

-- The CORS headers of a response to req (none unless its Origin is allowed).
local function cors_headers(allowed, req, headers)
  local origin = req.headers.origin
  if allowed and origin and allowed[origin] then
    headers["Access-Control-Allow-Origin"] = origin
    headers["Vary"] = "Origin"
  end
  return headers
end

local function problem(status, message, allowed, req)
  local res = borough.json({ error = status == 403 and "forbidden" or "bad_request", message = message }, status)
  cors_headers(allowed, req, res.headers)
  return res
end

-- The value of a record's column as JSON gives it.
local function json_value(c, v)
  if v == nil then return json.null end
  if c.type == "money" then return v / 100 end
  return v
end

-- The same as CSV text; a value a spreadsheet would run as a formula gets a
-- "'" first, as every download of the platform does.
local function csv_value(c, v)
  if v == nil then return "" end
  if c.type == "money" then
    local sign = v < 0 and "-" or ""
    v = math.abs(v)
    return ("%s%d.%02d"):format(sign, v // 100, v % 100)
  end
  if c.type == "boolean" then return v and "true" or "false" end
  if type(v) == "string" and v:find("^[=+%-@\t\r]") and not v:find("^[+-]?%d+%.?%d*$") then return "'" .. v end
  return v
end

-- The query of a feed request, checked: conditions, after, per_page and
-- the parameters a next link keeps; or nil and why.
local function read_query(en, req, json_kind)
  local conds, keep = {}, {}
  local after, per_page = 0, MAX_PER_PAGE
  for name, values in pairs(req.query_all) do
    local v = values[1]
    if name == "after" then
      after = math.tointeger(tonumber(v))
      if not after or after < 0 then return nil, "after must be a record's id (a whole number)" end
    elseif name == "per_page" then
      if not json_kind then return nil, "per_page is for .json pages; a .csv holds every record" end
      per_page = math.tointeger(tonumber(v))
      if not per_page or per_page < 1 or per_page > MAX_PER_PAGE then
        return nil, ("per_page must be a whole number from 1 to %d"):format(MAX_PER_PAGE)
      end
      keep[#keep + 1] = { name, v }
    elseif name == "updated_since" then
      local t = v:find("^%d%d%d%d%-%d%d%-%d%d$") and (v .. "T00:00:00Z")
                or fields.types.datetime.parse({ label = "updated_since", messages = {} }, v)
      if not t then return nil, "updated_since must be a time such as 2024-04-01T09:30:00Z, or a day such as 2024-04-01" end
      conds.updated_at = { ge = t }
      keep[#keep + 1] = { name, v }
    elseif en.filters[name] then
      local c = en.filters[name]
      local list = {}
      for i, item in ipairs(values) do
        local ok = c.field == nil and math.tointeger(tonumber(item)) or c.field and c.field.parse(c.field, item)
        if ok == nil then return nil, ("%s: %q is not a value of the field"):format(name, item) end
        list[i] = item
        keep[#keep + 1] = { name, item }
      end
      conds[name] = #list == 1 and list[1] or list
    else
      local known = { "after", "updated_since" }
      if json_kind then known[#known + 1] = "per_page" end
      for _, f in ipairs(en.filter_names) do known[#known + 1] = f end
      return nil, ("unknown parameter '%s' (the parameters are %s)"):format(name, table.concat(known, ", "))
    end
  end
  table.sort(keep, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  return { conds = conds, after = after, per_page = per_page, keep = keep }
end

local function in_scope(req, name)
  for _, e in ipairs(req.token and req.token.entities or {}) do
    if e == name then return true end
  end
  return false
end

local function query_string(pairs_list)
  local parts = {}
  for i, kv in ipairs(pairs_list) do parts[i] = borough.urlencode(kv[1]) .. "=" .. borough.urlencode(kv[2]) end
  return table.concat(parts, "&")
end

-- GET <path>/<entity>.json: a page of records and the next page's link.
local function json_page(feed, en, req)
  local q, why = read_query(en, req, true)
  if not q then return problem(400, why, feed.cors, req) end
  local records, page = en.entity:where(q.conds, { after = q.after, per_page = q.per_page })
  local names = {}
  for i, c in ipairs(en.columns) do names[i] = c.name end
  local row_mt = { __columns = names }
  local out = {}
  for i, r in ipairs(records) do
    local row = {}
    for _, c in ipairs(en.columns) do row[c.name] = json_value(c, r[c.name]) end
    out[i] = setmetatable(row, row_mt)
  end
  local doc = setmetatable({ value = json.array(out) }, { __columns = { "value" } })
  if page.more then
    local keep = { { "after", tostring(records[#records].id) } }
    for _, kv in ipairs(q.keep) do keep[#keep + 1] = kv end
    doc["@odata.nextLink"] = borough.url(feed.path .. "/" .. en.name .. ".json", { absolute = true }) .. "?" .. query_string(keep)
    getmetatable(doc).__columns = { "value", "@odata.nextLink" }
  end
  local res = borough.json(doc)
  cors_headers(feed.cors, req, res.headers)
  return res
end

-- GET <path>/<entity>.csv: every record, written a page at a time.
local function csv_file(feed, en, req)
  local q, why = read_query(en, req, false)
  if not q then return problem(400, why, feed.cors, req) end
  local after, done, header = q.after, false, true
  local names = {}
  for i, c in ipairs(en.columns) do names[i] = c.name end
  local headers = cors_headers(feed.cors, req, { ["Content-Type"] = "text/csv; charset=utf-8" })
  return { headers = headers, body = function()
    if header then
      header = false
      return borough.csv.line(names)
    end
    if done then return nil end
    local records, page = en.entity:where(q.conds, { after = after, per_page = MAX_PER_PAGE })
    if not page.more then done = true end
    if not records[1] then return nil end
    after = records[#records].id
    local out = {}
    for i, r in ipairs(records) do
      local line = {}
      for k, c in ipairs(en.columns) do line[k] = csv_value(c, r[c.name]) end
      out[i] = borough.csv.line(line)
    end
    return table.concat(out)
  end }
end

-- GET <path>/: the entities the token may read.
local function index(feed, req)
  local list = {}
  for _, en in ipairs(feed.entries) do
    if in_scope(req, en.name) then
      local columns = {}
      for i, c in ipairs(en.columns) do
        columns[i] = setmetatable({ name = c.name, type = c.type }, { __columns = { "name", "type" } })
      end
      local base = borough.url(feed.path .. "/" .. en.name, { absolute = true })
      list[#list + 1] = setmetatable({ name = en.name, json = base .. ".json", csv = base .. ".csv",
                                       filters = json.array(en.filter_names), columns = columns },
                                     { __columns = { "name", "json", "csv", "filters", "columns" } })
    end
  end
  local res = borough.json({ value = json.array(list) })
  cors_headers(feed.cors, req, res.headers)
  return res
end

-- A preflight (OPTIONS) from an allowed origin: GET with Authorization may follow.
local function preflight(feed, req)
  local headers = cors_headers(feed.cors, req, {})
  if headers["Access-Control-Allow-Origin"] then
    headers["Access-Control-Allow-Methods"] = "GET"
    headers["Access-Control-Allow-Headers"] = "Authorization"
    headers["Access-Control-Max-Age"] = "600"
  end
  return { status = 204, headers = headers }
end

--- feed:mount(app, path, opts): the feed's routes under path. opts: role
-- (the role, or roles, a token's account needs), cors (allowed origins).
function Feed:mount(app, path, opts)
  if type(path) ~= "string" or not path:find("^/") then
    options.fail("borough.feed:mount", "the path must be a path inside the app such as \"/_feed\"")
  end
  opts = options.check("borough.feed:mount", opts, mount_options)
  path = path:gsub("/+$", "")
  self.path = path
  if opts.cors then
    self.cors = {}
    for i, o in ipairs(opts.cors) do
      if not origin_ok(o) then
        options.fail("borough.feed:mount", ("cors[%d] must be an origin such as \"https://dashboards.example.gov.uk\""):format(i))
      end
      self.cors[o] = true
    end
  end
  local where = options.where()
  local token_opts = { token = true, role = opts.role }
  local function route(method, pattern, handler, o)
    app.routes[#app.routes + 1] = { method = method, pattern = pattern, opts = o or token_opts, handler = handler,
                                    where = where }
    if self.cors then
      app.routes[#app.routes + 1] = { method = "OPTIONS", pattern = pattern, opts = { public = true },
                                      handler = function(req) return preflight(self, req) end, where = where }
    end
  end
  route("GET", path == "" and "/" or path .. "/", function(req) return index(self, req) end)
  for _, en in ipairs(self.entries) do
    local function scoped(answer)
      return function(req)
        if not in_scope(req, en.name) then
          return problem(403, ("the token is not for %s (its scope: %s)"):format(en.name,
                               table.concat(req.token and req.token.entities or {}, ", ")), self.cors, req)
        end
        return answer(self, en, req)
      end
    end
    route("GET", path .. "/" .. en.name .. ".json", scoped(json_page))
    route("GET", path .. "/" .. en.name .. ".csv", scoped(csv_file))
  end
  return self
end

return M
