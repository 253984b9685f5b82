-- The records of the delivery tracker: portfolios (kept apart by
-- membership: borough.members), their programmes and projects, and each
-- project's milestones, risks and issues, monthly updates and linked
-- documents. Every record carries its portfolio, so one row rule keeps
-- each portfolio's records to its members. The board and the briefing
-- are computed by the functions at the end.
local members = borough.members
local M = {}

-- Members see their portfolios; the council-wide view reads every one; the
-- portfolio office makes portfolios and manages them all.
M.Access = members.of("portfolios", { all = "council_wide", admin = "portfolio_office" })
local Access = M.Access
local in_portfolio = Access:rules("portfolio")

M.RAG = { { "red", "Red" }, { "amber", "Amber" }, { "green", "Green" } }
M.TAG = { red = "govuk-tag--red", amber = "govuk-tag--orange", green = "govuk-tag--green" }

M.Portfolios = borough.entity "portfolios" {
  label = "portfolio",
  rules = Access:rules("id", { write = "manager" }),
  { "name", "text", required = true, unique = true, max_length = 100 },
  { "description", "long_text", max_length = 2000 },
}

M.Programmes = borough.entity "programmes" {
  label = "programme",
  rules = Access:rules("portfolio", { write = "manager" }),
  { "name", "text", required = true, max_length = 100 },
  { "portfolio", "reference", to = "portfolios", required = true, index = true },
  { "sro", "text", max_length = 100, label = "Senior responsible owner" },
}

M.Projects = borough.entity "projects" {
  label = "project",
  search = { "name", "manager", "summary" },
  rules = in_portfolio,
  indexes = { { "portfolio", "name" } },
  validate = function(p)
    local prog = p.programme and M.Programmes:find(p.programme)
    if prog and p.portfolio and prog.portfolio ~= p.portfolio then return { programme = "Select a programme of this portfolio" } end
    if p.start_on and p.end_on and p.end_on < p.start_on then return { end_on = "The end date must be after the start date" } end
  end,
  { "name", "text", required = true, max_length = 150 },
  { "portfolio", "reference", to = "portfolios", required = true, index = true },
  { "programme", "reference", to = "programmes", index = true },
  { "manager", "text", required = true, max_length = 100, label = "Project manager" },
  { "summary", "long_text", max_length = 2000, label = "What the project will deliver" },
  { "start_on", "date", label = "Start date" },
  { "end_on", "date", label = "End date" },
  { "budget", "money", min = 0 },
  { "rag", "choice", options = M.RAG, default = "green", index = true, label = "RAG status" },
  { "rag_reason", "long_text", max_length = 2000, label = "Reason for the status" },
}

-- A project's own records carry its portfolio (set from the project, and
-- checked: a record cannot claim a portfolio its project is not in).
local function of_project(r)
  local p = M.Projects:find(r.project)
  if p and r.portfolio and p.portfolio ~= r.portfolio then return { project = "The project is in another portfolio" } end
end

local function project_entity(name, spec)
  spec.rules, spec.validate = in_portfolio, of_project
  spec.indexes = spec.indexes or { { "project", "id" } }
  table.insert(spec, 1, { "project", "reference", to = "projects", required = true })
  table.insert(spec, 2, { "portfolio", "reference", to = "portfolios", required = true, index = true })
  return borough.entity(name)(spec)
end

M.Milestones = project_entity("milestones", {
  label = "milestone", indexes = { { "project", "due_on" }, { "portfolio", "done_on", "due_on" } },
  { "title", "text", required = true, max_length = 200, label = "Milestone" },
  { "due_on", "date", required = true, label = "Due date" },
  { "done_on", "date", max = "today", label = "Date met" },
})

M.Risks = project_entity("risks", {
  label = "risk or issue",
  { "kind", "choice", required = true, options = { { "risk", "Risk" }, { "issue", "Issue" } }, label = "Risk or issue" },
  { "title", "text", required = true, max_length = 200, label = "Description" },
  { "owner", "text", required = true, max_length = 100 },
  { "severity", "choice", required = true, options = { { "high", "High" }, { "medium", "Medium" }, { "low", "Low" } } },
  { "action", "long_text", max_length = 2000, label = "What is being done" },
  { "status", "choice", options = { { "open", "Open" }, { "closed", "Closed" } }, default = "open", index = true },
})

M.Updates = project_entity("updates", {
  label = "monthly update", indexes = { { "project", "month" }, { "portfolio", "month" } },
  { "month", "text", required = true, pattern = "^%d%d%d%d%-%d%d$", label = "Month" },
  { "rag", "choice", required = true, options = M.RAG, label = "RAG status" },
  { "rag_reason", "long_text", required = true, max_length = 2000, label = "Reason for the status" },
  { "progress", "long_text", max_length = 5000, label = "Progress this month" },
  { "next_steps", "long_text", max_length = 5000, label = "Next steps" },
  { "author", "text" },
})

M.Documents = project_entity("documents", {
  label = "document",
  { "title", "text", required = true, max_length = 200, label = "Document title" },
  { "url", "text", required = true, max_length = 2000, pattern = "^https?://[%w%-%.]+", label = "Link",
    messages = { pattern = "Enter a link to the document, starting with https://" } },
})

-- Months as updates keep them: "2026-12"; offset -1 is the month before.
function M.month(offset, now)
  local d = os.date("*t", now or os.time())
  local n = d.year * 12 + (d.month - 1) + (offset or 0)
  return ("%04d-%02d"):format(n // 12, n % 12 + 1)
end

--- Every record of E matching conds (under the row rules), a page of 500 at a time.
function M.all(E, conds)
  local out, after = {}, nil
  repeat
    local page = E:where(conds, { after = after, per_page = 500 })
    for _, r in ipairs(page) do out[#out + 1] = r end
    after = page[#page] and page[#page].id
  until #page < 500
  return out
end

--- The channel of portfolio id's live updates: the event names only the project.
function M.channel(id) return "portfolio:" .. id end

--- This month's update of project p: the project takes its status and reason.
function M.record_update(p, values, user)
  return db.tx(function()
    values.project, values.portfolio, values.month, values.author = p.id, p.portfolio, M.month(0), user.name or user.email
    local known = M.Updates:find { project = p.id, month = values.month }
    local u, errors
    if known then u, errors = M.Updates:update(known.id, values) else u, errors = M.Updates:create(values) end
    if not u then return nil, errors end
    local ok, why = M.Projects:update(p.id, { rag = u.rag, rag_reason = u.rag_reason })
    if not ok then return nil, why end
    borough.events.publish(M.channel(p.portfolio), { project = p.id })   -- boards open on it read theirs again
    return u
  end)
end

local WORSE = { green = 1, amber = 2, red = 3 }

--- The board of portfolio id (or of every portfolio the user may see, id
-- nil): the projects by status, how that changed since last month,
-- projects not yet updated this month, and milestones past their date.
function M.board(id)
  local where = id and { portfolio = id } or {}
  local this, last = M.month(0), M.month(-1)
  local projects = M.all(M.Projects, where)
  local by_month = {}
  for _, m in ipairs { this, last } do
    local w = { month = m }
    for k, v in pairs(where) do w[k] = v end
    by_month[m] = {}
    for _, u in ipairs(M.all(M.Updates, w)) do by_month[m][u.project] = u end
  end
  local b = { projects = projects, changes = {}, missing = {}, names = {}, this = this, last = last,
              counts = { red = 0, amber = 0, green = 0 }, last_counts = { red = 0, amber = 0, green = 0 } }
  for _, p in ipairs(projects) do
    b.names[p.id], b.counts[p.rag] = p.name, b.counts[p.rag] + 1
    local now, before = by_month[this][p.id], by_month[last][p.id]
    if before then b.last_counts[before.rag] = b.last_counts[before.rag] + 1 end
    if not now then b.missing[#b.missing + 1] = p
    elseif not before or now.rag ~= before.rag then
      local change = not before and 0 or WORSE[now.rag] - WORSE[before.rag]
      b.changes[#b.changes + 1] = { project = p, now = now, before = before, change = change,
                                    kind = change > 0 and "Worse" or change < 0 and "Better" or "New" }
    end
  end
  -- worse first, then better, then new projects
  table.sort(b.changes, function(x, y)
    if x.change ~= y.change then return (x.change == 0 and -9 or x.change) > (y.change == 0 and -9 or y.change) end
    return x.project.name < y.project.name
  end)
  local late = { done_on = db.NULL, due_on = { lt = os.date("%Y-%m-%d") } }
  for k, v in pairs(where) do late[k] = v end
  b.overdue, b.overdue_page = M.Milestones:where(late, { order = "due_on", per_page = 50 })
  b.overdue_count = M.Milestones:count(late)
  return b
end

--- How many projects were at each status in each of the last n months.
function M.trend(id, n)
  local months, red, amber = {}, {}, {}
  for i = n - 1, 0, -1 do
    local m = M.month(-i)
    local c = M.Updates:count_by("rag", id and { portfolio = id, month = m } or { month = m })
    months[#months + 1] = os.date("%b %Y", os.time { year = tonumber(m:sub(1, 4)), month = tonumber(m:sub(6)), day = 1 })
    red[#red + 1], amber[#amber + 1] = c.red or 0, c.amber or 0
  end
  return months, red, amber
end

return M
