-- The portfolio board, the briefing and the monthly update.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

local function update(pr, month, rag, reason)
  return assert(m.Updates:create { project = pr.id, portfolio = pr.portfolio, month = month, rag = rag, rag_reason = reason })
end

t.test("the monthly update sets the project's status; a second one that month replaces it", function()
  F.setup()
  local mo = F.as(t, "mo@example.org")
  local page = mo:get("/projects/" .. F.repairs.id .. "/update")
  t.eq(page.status, 200)
  local r = mo:submit(page, { rag = "red" })
  t.eq(r.status, 200)
  t.contains(r.body, "Enter reason for the status")
  r = mo:submit(page, { rag = "red", rag_reason = "Contractor gone into administration", progress = "Tendering again" })
  t.eq(r.status, 303)
  local p = m.Projects:find(F.repairs.id)
  t.eq({ p.rag, p.rag_reason }, { "red", "Contractor gone into administration" })
  local again = mo:get("/projects/" .. F.repairs.id .. "/update")
  t.contains(again.body, "Tendering again")        -- this month's update, to change
  t.eq(mo:submit(again, { rag = "amber", rag_reason = "New contractor found" }).status, 303)
  t.eq(m.Updates:count { project = F.repairs.id }, 1)
  t.eq(m.Projects:find(F.repairs.id).rag, "amber")
  local u = m.Updates:find { project = F.repairs.id }
  t.eq({ u.month, u.author, u.progress }, { m.month(0), "mo", "Tendering again" })
  local shown = mo:get("/projects/" .. F.repairs.id).body
  t.contains(shown, "New contractor found")
  t.contains(shown, os.date("%B %Y"))
end)

t.test("the board: projects by status, changes since last month, updates missing, milestones past their date", function()
  F.setup()
  local this, last = m.month(0), m.month(-1)
  update(F.flats, last, "green", "On track")
  update(F.flats, this, "amber", "Planning appeal lodged")
  update(F.repairs, last, "amber", "Backlog")
  update(F.repairs, this, "green", "Backlog cleared")
  local extra = assert(m.Projects:create { name = "Empty homes", portfolio = F.housing.id, manager = "Pat", rag = "red" })
  update(extra, this, "red", "No funding yet")
  local ms = { project = F.flats.id, portfolio = F.housing.id }
  assert(m.Milestones:create { project = ms.project, portfolio = ms.portfolio, title = "Planning permission", due_on = "2020-03-01" })
  assert(m.Milestones:create { project = ms.project, portfolio = ms.portfolio, title = "Site bought", due_on = "2020-01-01",
                               done_on = "2020-01-05" })
  assert(m.Milestones:create { project = ms.project, portfolio = ms.portfolio, title = "Keys handed over", due_on = "2099-01-01" })
  local b = m.board(F.housing.id)
  t.eq(b.counts, { red = 1, amber = 1, green = 1 })
  t.eq(b.last_counts, { red = 0, amber = 1, green = 1 })
  local changes = {}
  for i, c in ipairs(b.changes) do changes[i] = c.project.name .. ": " .. c.kind end
  t.eq(changes, { "New council flats: Worse", "Repairs backlog: Better", "Empty homes: New" })
  t.eq(#b.missing, 0)
  t.eq(b.overdue_count, 1)
  t.eq(b.overdue[1].title, "Planning permission")
  local page = F.as(t, "mo@example.org"):get("/portfolios/" .. F.housing.id)
  t.eq(page.status, 200)
  t.contains(page.body, "3 projects: 1 red, 1 amber and 1 green.")
  t.contains(page.body, "Planning appeal lodged")
  t.contains(page.body, "Milestones past their date (1)")
  t.contains(page.body, "Red and amber projects, month by month")
  t.no_match(page.body, "/members\"")                  -- Mo is a member, not a manager
  t.contains(F.as(t, "hana@example.org"):get("/portfolios/" .. F.housing.id).body, "/members\"")
  -- a project with no update this month is named
  update(F.repairs, last, "green", "x")
  db.exec("DELETE FROM updates WHERE project = ? AND month = ?", F.repairs.id, this)
  t.eq(m.board(F.housing.id).missing[1].name, "Repairs backlog")
end)

t.test("the briefing: red and amber projects with their reasons, high risks and issues, and it prints alone", function()
  F.setup()
  assert(m.Risks:create { project = F.flats.id, portfolio = F.housing.id, kind = "issue", title = "Land contaminated",
                          owner = "Olu Owner", severity = "high", action = "Survey booked" })
  assert(m.Risks:create { project = F.flats.id, portfolio = F.housing.id, kind = "risk", title = "Rain", owner = "Olu",
                          severity = "low" })
  local page = F.as(t, "mo@example.org"):get("/portfolios/" .. F.housing.id .. "/briefing")
  t.eq(page.status, 200)
  t.contains(page.body, ("Briefing, %d %s"):format(os.date("*t").day, os.date("%B %Y")))
  t.contains(page.body, "New council flats")           -- amber
  t.no_match(page.body, "Repairs backlog</td>")        -- green: not among those to look at
  t.contains(page.body, "Issue: Land contaminated")
  t.contains(page.body, "Survey booked")
  t.no_match(page.body, "Rain")
  t.contains(page.body, "Projects by status")
  t.no_match(page.body, "Find a project")             -- no navigation: a page to print
end)

t.test("a monthly update is announced to the boards of its portfolio only; another's stream is not found", function()
  F.setup()
  local mo = F.as(t, "mo@example.org")
  local board = mo:get("/portfolios/" .. F.housing.id)
  t.match(board.body, 'data%-borough%-live="/tracker/portfolios/' .. F.housing.id .. '/live%?last_event_id=%d+"')
  local before = db.one("SELECT coalesce(max(id), 0) AS n FROM _borough_events").n
  t.eq(mo:submit(mo:get("/projects/" .. F.flats.id .. "/update"), { rag = "red", rag_reason = "Stopped" }).status, 303)
  local e = db.one("SELECT channel, data FROM _borough_events WHERE id > ?", before)
  t.eq({ e.channel, json.decode(e.data) }, { "portfolio:" .. F.housing.id, { project = F.flats.id } })
  t.eq(mo:get("/portfolios/" .. F.safeguarding.id .. "/live").status, 404)
  t.eq(mo:get("/portfolios/99999/live").status, 404)
end)
