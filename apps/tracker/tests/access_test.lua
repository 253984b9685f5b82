-- People see only the portfolios they are members of: a guessed id answers
-- 404, and search and downloads never hold another portfolio's records.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

t.test("a member sees their portfolio and not another: every page of it answers 404", function()
  F.setup()
  local paths = F.safeguarding_paths()
  local mo = F.as(t, "mo@example.org")
  local home = mo:get("/")
  t.eq(home.status, 200)
  t.contains(home.body, "Housing")
  t.no_match(home.body, "safeguarding")
  t.eq(mo:get("/portfolios/" .. F.housing.id).status, 200)
  for _, path in ipairs(paths) do t.eq(mo:get(path).status, 404, "GET " .. path) end
  -- a form posted to the other portfolio is refused the same way, and nothing is written
  local csrf = mo:get("/projects/" .. F.flats.id .. "/update").body:match('name="csrf_token" value="([^"]+)"')
  t.ok(csrf, "a token from a form of their own")
  local before = db.one("SELECT count(*) AS n FROM milestones").n
  for _, path in ipairs(paths) do
    if not (path:find("%.csv$") or path:find("/briefing$") or path:find("^/%a+/%d+$")) then
      t.eq(mo:post(path, { csrf_token = csrf, title = "Mine", due_on = "1 1 2030", name = "x", rag = "red" }).status, 404, "POST " .. path)
    end
  end
  t.eq(db.one("SELECT count(*) AS n FROM milestones").n, before)
  t.eq(db.one("SELECT name FROM portfolios WHERE id = ?", F.safeguarding.id).name, "Children's safeguarding")
end)

t.test("every id of another portfolio answers as one that does not exist", function()
  F.setup()
  local mo = F.as(t, "mo@example.org")
  local top = db.one("SELECT max(id) AS n FROM projects").n
  for id = 1, top + 3 do
    local p = db.one("SELECT portfolio FROM projects WHERE id = ?", id)
    t.eq(mo:get("/projects/" .. id).status, p and p.portfolio == F.housing.id and 200 or 404, "project " .. id)
  end
end)

t.test("search and downloads hold only the person's portfolios", function()
  F.setup()
  local mo = F.as(t, "mo@example.org")
  t.contains(mo:get("/search?q=flats").body, "New council flats")
  local found = mo:get("/search?q=care").body
  t.no_match(found, "Care leavers")
  t.contains(found, "No project matches")
  local csv = mo:get("/projects.csv")
  t.eq(csv.status, 200)
  t.contains(csv.body, "New council flats")
  t.contains(csv.body, "Repairs backlog")
  t.no_match(csv.body, "Care leavers")
  t.no_match(csv.body, "Case review")
  -- the updates of their own portfolio, and none of another's
  assert(m.Updates:create { project = F.care.id, portfolio = F.safeguarding.id, month = m.month(0), rag = "red", rag_reason = "Secret reason" })
  assert(m.Updates:create { project = F.flats.id, portfolio = F.housing.id, month = m.month(0), rag = "amber", rag_reason = "Land" })
  local updates = mo:get("/portfolios/" .. F.housing.id .. "/updates.csv").body
  t.contains(updates, "Land")
  t.no_match(updates, "Secret")
end)

t.test("the council-wide view reads every portfolio and changes none", function()
  F.setup()
  local chief = F.as(t, "chief@example.org", { "council_wide" })
  local home = chief:get("/")
  t.contains(home.body, "Every portfolio")
  t.contains(home.body, "Children&#39;s safeguarding")
  t.contains(home.body, "4 projects: 1 red, 1 amber and 2 green.")
  t.eq(chief:get("/projects/" .. F.care.id).status, 200)
  t.no_match(chief:get("/projects/" .. F.care.id).body, "Monthly update</a>")
  for _, path in ipairs { "/projects/" .. F.care.id .. "/update", "/projects/" .. F.care.id .. "/edit",
                          "/portfolios/" .. F.housing.id .. "/members", "/portfolios/new" } do
    t.eq(chief:get(path).status, 403, path)
  end
  t.contains(chief:get("/projects.csv").body, "Care leavers")
  -- without the role, one sees only one's own
  t.contains(F.as(t, "hana@example.org"):get("/").body, "Your portfolios")
end)

t.test("a record cannot be put in a portfolio its project is not in", function()
  F.setup()
  -- Hana is a member of both; a programme of one does not take a project of the other
  assert(m.Access:add(F.safeguarding.id, "hana@example.org"))
  local prog = assert(m.Programmes:create { name = "Safeguarding programme", portfolio = F.safeguarding.id })
  local hana = F.as(t, "hana@example.org")
  local r = hana:submit(hana:get("/projects/" .. F.flats.id .. "/edit"), { programme = tostring(prog.id) })
  t.eq(r.status, 200)
  t.contains(r.body, "Select a programme of this portfolio")
  local _, errors = m.Milestones:create { project = F.flats.id, portfolio = F.safeguarding.id, title = "x", due_on = "2030-01-01" }
  t.eq(errors[1].message, "The project is in another portfolio")
end)

t.test("only the portfolio office adds portfolios, and becomes able to name their members", function()
  F.setup()
  local office = F.as(t, "office@example.org", { "portfolio_office" })
  local r = office:submit(office:get("/portfolios/new"), { name = "Regeneration", description = "Town centre" })
  t.eq(r.status, 303)
  local p = m.Portfolios:find { name = "Regeneration" }
  t.ok(p, "made")
  t.match(r:header("location"), "/tracker/portfolios/" .. p.id .. "/members$")
  t.eq(F.as(t, "hana@example.org"):get("/portfolios/new").status, 403)
  t.eq(F.as(t, "hana@example.org"):get("/portfolios/" .. p.id).status, 404)
end)
