-- A project's milestones, risks and issues, and documents.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

t.test("members add and change milestones, risks and issues, and document links", function()
  F.setup()
  local mo = F.as(t, "mo@example.org")
  local base = "/projects/" .. F.flats.id
  local r = mo:submit(mo:get(base .. "/milestones/new"), { title = "Planning permission", ["due-on-day"] = "1",
                                                          ["due-on-month"] = "6", ["due-on-year"] = "2030" })
  t.eq(r.status, 303, r.body:match('error%-summary__list">(.-)</ul>'))
  t.match(r:header("location"), "/tracker/projects/" .. F.flats.id .. "$")
  local ms = m.Milestones:find { title = "Planning permission" }
  t.eq({ ms.due_on, ms.portfolio, ms.project }, { "2030-06-01", F.housing.id, F.flats.id })
  r = mo:submit(mo:get("/milestones/" .. ms.id .. "/edit"), { ["done-on-day"] = "1", ["done-on-month"] = "1", ["done-on-year"] = "2099" })
  t.contains(r.body, "Date met must be today or in the past")
  t.eq(mo:submit(mo:get("/milestones/" .. ms.id .. "/edit"), { ["done-on-day"] = "2", ["done-on-month"] = "1",
                                                               ["done-on-year"] = "2024" }).status, 303)
  t.eq(m.Milestones:find(ms.id).done_on, "2024-01-02")
  r = mo:submit(mo:get(base .. "/risks/new"), { kind = "issue", title = "Land contaminated", owner = "Olu Owner", severity = "high" })
  t.eq(r.status, 303)
  local risk = m.Risks:find { title = "Land contaminated" }
  t.eq(risk.status, "open")
  t.eq(mo:submit(mo:get("/risks/" .. risk.id .. "/edit"), { status = "closed" }).status, 303)
  t.eq(m.Risks:find(risk.id).status, "closed")
  r = mo:submit(mo:get(base .. "/documents/new"), { title = "Business case", url = "javascript:alert(1)" })
  t.contains(r.body, "Enter a link to the document, starting with https://")
  t.eq(mo:submit(mo:get(base .. "/documents/new"), { title = "Business case", url = "https://docs.example.org/case" }).status, 303)
  local page = mo:get(base).body
  for _, text in ipairs { "Planning permission", "2 January 2024", "Issue: Land contaminated", "Olu Owner",
                          'href="https://docs.example.org/case">Business case</a>' } do t.contains(page, text) end
  -- the record's changes are in its audit trail, by whom
  t.eq(m.Risks:history(risk.id)[2].after.status, "closed")
end)

t.test("managers add projects and programmes; members change projects", function()
  F.setup()
  local hana = F.as(t, "hana@example.org")
  local r = hana:submit(hana:get("/portfolios/" .. F.housing.id .. "/programmes/new"), { name = "Homes for all", sro = "Dee Director" })
  t.eq(r.status, 303, r.body:sub(1, 3000))
  local prog = m.Programmes:find { name = "Homes for all" }
  r = hana:submit(hana:get("/portfolios/" .. F.housing.id .. "/projects/new"),
                  { name = "Modular homes", programme = tostring(prog.id), manager = "Pat", budget = "£1,250,000" })
  t.eq(r.status, 303, r.body:match("error%-summary__list\">(.-)</ul>"))
  local p = m.Projects:find { name = "Modular homes" }
  t.eq({ p.portfolio, p.programme, p.budget, p.rag }, { F.housing.id, prog.id, 125000000, "green" })
  local mo = F.as(t, "mo@example.org")
  t.eq(mo:get("/portfolios/" .. F.housing.id .. "/projects/new").status, 403)
  t.eq(mo:submit(mo:get("/projects/" .. p.id .. "/edit"), { manager = "Mo Member" }).status, 303)
  t.eq(m.Projects:find(p.id).manager, "Mo Member")
  t.contains(mo:get("/portfolios/" .. F.housing.id).body, "Homes for all")
end)
