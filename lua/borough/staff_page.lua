--- borough.staff_page: what the platform's staff pages (the outbox, the
-- jobs) share: a paged listing of one of the platform's tables, newest
-- first, by state, with a count of each state, and UK times.

local govuk = require "borough.govuk"
local fields = require "borough.fields"
local sql = require "borough.sql"

local M = {}

local PER_PAGE = 50

--- unix seconds -> "1 April 2024 10:30" in UK time.
function M.uk_clock(t)
  return (os.date("!%d %B %Y %H:%M", t + fields.uk_offset(t)):gsub("^0", ""))
end

--- A GOV.UK tag for state: states[state] is its label, colours[state] its colour.
function M.tag(kinds, state)
  return govuk.tag { text = kinds.labels[state] or state, classes = "govuk-tag--" .. (kinds.colours[state] or "grey") }
end

--- listing(req, { table =, columns =, path =, labels = {state = label}, order = {states...} })
-- -> { rows (at most a page), summary (each state's label, count and link), filter (the state
-- shown, or nil), all_href, previous, next }. The table may not exist yet: then it is empty.
function M.listing(req, t)
  local page = math.max(1, math.tointeger(tonumber(req.query.page or "1") or 1) or 1)
  local state = t.labels[req.query.state or ""] and req.query.state or nil
  local counts, rows = {}, {}
  if sql.table_exists(t.table) then
    for _, r in ipairs(db.query("SELECT state, count(*) AS n FROM " .. t.table .. " GROUP BY state")) do
      counts[r.state] = r.n
    end
    local text = "SELECT " .. t.columns .. " FROM " .. t.table .. (state and " WHERE state = ?" or "")
      .. " ORDER BY id DESC LIMIT ? OFFSET ?"
    if state then
      rows = db.query(text, state, PER_PAGE + 1, (page - 1) * PER_PAGE)
    else
      rows = db.query(text, PER_PAGE + 1, (page - 1) * PER_PAGE)
    end
  end
  local more = #rows > PER_PAGE
  rows[PER_PAGE + 1] = nil
  local summary = {}
  for _, s in ipairs(t.order) do
    summary[#summary + 1] = { label = t.labels[s], count = counts[s] or 0, href = borough.url(t.path .. "?state=" .. s) }
  end
  local function at(p) return borough.url(t.path .. "?page=" .. p .. (state and "&state=" .. state or "")) end
  return {
    rows = rows, summary = summary, filter = state and t.labels[state], all_href = borough.url(t.path),
    previous = page > 1 and at(page - 1) or nil, next = more and at(page + 1) or nil,
  }
end

return M
