-- Fake portfolios, projects and people for the tests in tests/ (made up;
-- it lives beside the app because tests/ is not part of what the app loads).
local m = require "models"
local F = {}

--- Empties the app's records between tests.
function F.clear()
  for _, t in ipairs { "documents", "updates", "risks", "milestones", "projects", "programmes", "group_members", "portfolios" } do
    db.exec("DELETE FROM " .. t)
  end
end

--- Two portfolios, "Housing" (Hana manages it, Mo is a member) and the
-- sensitive "Children's safeguarding" (Sam manages it), each with two
-- projects; returns them by name: F.housing, F.safeguarding, F.flats, F.repairs, F.care, F.review.
function F.setup()
  F.clear()
  local out = {}
  for _, p in ipairs { { "housing", "Housing", "hana@example.org", "mo@example.org" },
                       { "safeguarding", "Children's safeguarding", "sam@example.org" } } do
    out[p[1]] = assert(m.Portfolios:create { name = p[2] })
    assert(m.Access:add(out[p[1]].id, p[3], { level = "manager", name = p[3]:match("^%a+"):gsub("^%l", string.upper) }))
    if p[4] then assert(m.Access:add(out[p[1]].id, p[4], { name = "Mo Member" })) end
  end
  for _, pr in ipairs { { "flats", "New council flats", "housing", "amber" }, { "repairs", "Repairs backlog", "housing", "green" },
                        { "care", "Care leavers' homes", "safeguarding", "red" }, { "review", "Case review", "safeguarding", "green" } } do
    out[pr[1]] = assert(m.Projects:create { name = pr[2], portfolio = out[pr[3]].id, manager = "Pat Manager", rag = pr[4],
                                            rag_reason = "As reported" })
  end
  for k, v in pairs(out) do F[k] = v end
  return out
end

--- A client signed in as email (a member only through the app's memberships,
-- or with the app roles given).
function F.as(t, email, roles)
  local c = t.client()
  c:login(email, { roles = roles or {}, name = email:match("^%a+") })
  return c
end

--- Every record of the sensitive portfolio, as the paths that show or change it.
function F.safeguarding_paths()
  local s, care = F.safeguarding, F.care
  local ms = assert(m.Milestones:create { project = care.id, portfolio = s.id, title = "Secret milestone", due_on = "2030-01-01" })
  local r = assert(m.Risks:create { project = care.id, portfolio = s.id, kind = "risk", title = "Secret risk", owner = "Sam",
                                    severity = "high" })
  local d = assert(m.Documents:create { project = care.id, portfolio = s.id, title = "Secret plan", url = "https://example.org/plan" })
  return { "/portfolios/" .. s.id, "/portfolios/" .. s.id .. "/briefing", "/portfolios/" .. s.id .. "/members",
           "/portfolios/" .. s.id .. "/edit", "/portfolios/" .. s.id .. "/projects/new", "/portfolios/" .. s.id .. "/programmes/new",
           "/portfolios/" .. s.id .. "/updates.csv", "/projects/" .. care.id, "/projects/" .. care.id .. "/edit",
           "/projects/" .. care.id .. "/update", "/projects/" .. care.id .. "/milestones/new", "/milestones/" .. ms.id .. "/edit",
           "/risks/" .. r.id .. "/edit", "/documents/" .. d.id .. "/edit", "/projects/" .. care.id .. "/risks/new" }
end

return F
