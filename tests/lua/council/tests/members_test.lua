-- borough.members: groups kept apart by membership. A team's notes are for
-- its members (the generated pages at /notes follow the row rules), an
-- auditor reads every team's, a coordinator manages every team, and a
-- team's managers say who its members are (/teams/:id/members).
local t = require "borough.test"
local members = borough.members
local m = require "models"

local A, B, notes = nil, nil, {}

local function setup()
  for _, tbl in ipairs { "team_notes", "group_members" } do db.exec("DELETE FROM " .. tbl) end
  A = m.Teams:find { team_name = "Alpha" } or assert(m.Teams:create { team_name = "Alpha" })
  B = m.Teams:find { team_name = "Bravo" } or assert(m.Teams:create { team_name = "Bravo" })
  assert(m.Access:add(A.id, "Ann@Example.org", { level = "manager", name = "Ann" }))
  assert(m.Access:add(A.id, "al@example.org"))
  assert(m.Access:add(B.id, "bo@example.org", { level = "manager" }))
  notes.a = assert(m.Notes:create { text = "alpha plans", team = A.id })
  notes.b = assert(m.Notes:create { text = "bravo secrets", team = B.id })
end

local function as(email, roles)
  local c = t.client()
  c:login(email, { roles = roles or {} })
  return c
end

local function csrf(c, path) return c:get(path).body:match('name="csrf_token" value="([^"]+)"') end

t.test("memberships: who is in a group, at what level; addresses kept in lower case", function()
  setup()
  local ann = { email = "ANN@example.org", roles = {} }
  t.eq(m.Access:ids(ann), { A.id })
  t.ok(m.Access:is(ann, A.id, "manager"))
  t.ok(m.Access:is({ email = "al@example.org", roles = {} }, A.id))
  t.ok(not m.Access:is({ email = "al@example.org", roles = {} }, A.id, "manager"), "a member is not a manager")
  t.ok(not m.Access:is({ email = "al@example.org", roles = {} }, B.id))
  t.ok(not m.Access:is(nil, A.id), "no one signed in")
  t.eq(m.Access:ids({ email = "x@example.org", roles = { auditor = true } }), true)
  t.ok(not m.Access:is({ email = "x@example.org", roles = { auditor = true } }, A.id), "the view of all writes nothing")
  t.ok(m.Access:is({ email = "x@example.org", roles = { coordinator = true } }, B.id, "manager"))
  local list = m.Access:list(A.id)
  t.eq({ list[1].email, list[1].level, list[2].email }, { "ann@example.org", "manager", "al@example.org" })
  -- adding again changes the level, it does not add a second membership
  assert(m.Access:add(A.id, "AL@example.org", { level = "manager" }))
  t.eq(#m.Access:list(A.id), 2)
  t.ok(m.Access:remove(A.id, "ann@example.org"))
  t.eq({ m.Access:remove(A.id, "al@example.org") }, { nil, "Add another manager before you remove the last one" })
  local none, errors = m.Access:add(A.id, "nonsense")
  t.eq({ none, errors.email }, { nil, "Enter an email address in the correct format, like name@example.com" })
end)

t.test("a wrong option is an error naming the line", function()
  t.raises(function() members.of("Teams!") end, "kind is the groups' entity name")
  t.raises(function() members.of("teams", { everyone = "auditor" }) end, "everyone")
  t.raises(function() m.Access:rules("team", { write = "owner" }) end, "write is \"member\" or \"manager\"")
end)

t.test("the row rules: another team's note is not found, listed, searched or changed", function()
  setup()
  local al = as("al@example.org")
  t.eq(al:get("/notes/" .. notes.a.id).status, 200)
  t.eq(al:get("/notes/" .. notes.b.id).status, 404)
  t.eq(al:get("/notes/" .. notes.b.id .. "/edit").status, 404)
  local list = al:get("/notes?q=secrets")
  t.eq(list.status, 200)
  t.no_match(list.body, "bravo secrets")
  t.contains(al:get("/notes").body, "alpha plans")
  -- a note cannot be made in, or moved to, a team the person is not in
  local token = csrf(al, "/notes/new")
  local r = al:post("/notes/new", { csrf_token = token, text = "sneaked in", team = tostring(B.id) })
  t.eq(r.status, 200)
  t.contains(r.body, "govuk-error-summary")
  t.eq(db.one("SELECT count(*) AS n FROM team_notes WHERE text = 'sneaked in'").n, 0)
  r = al:post("/notes/" .. notes.a.id .. "/edit", { csrf_token = token, text = "moved", team = tostring(B.id) })
  t.contains(r.body, "govuk-error-summary")
  t.eq(db.one("SELECT team FROM team_notes WHERE id = ?", notes.a.id).team, A.id)
  r = al:post("/notes/new", { csrf_token = token, text = "ours", team = tostring(A.id) })
  t.eq(r.status, 303)
  -- someone in no team sees nothing
  t.no_match(as("nobody@example.org"):get("/notes").body, "alpha plans")
end)

t.test("the view of every team reads all and changes none; the coordinator changes any", function()
  setup()
  local aud = as("aud@example.org", { "auditor" })
  local body = aud:get("/notes").body
  t.contains(body, "alpha plans")
  t.contains(body, "bravo secrets")
  local r = aud:post("/notes/" .. notes.b.id .. "/edit", { csrf_token = csrf(aud, "/notes/new"), text = "changed", team = tostring(B.id) })
  t.contains(r.body, "govuk-error-summary")
  t.eq(db.one("SELECT text FROM team_notes WHERE id = ?", notes.b.id).text, "bravo secrets")
  t.eq(aud:get("/teams/" .. B.id .. "/members").status, 403)
  local co = as("co@example.org", { "coordinator" })
  r = co:post("/notes/" .. notes.b.id .. "/edit", { csrf_token = csrf(co, "/notes/new"), text = "changed", team = tostring(B.id) })
  t.eq(r.status, 303)
  t.eq(co:get("/teams/" .. B.id .. "/members").status, 200)
end)

t.test("the members page: managers add and remove; others are refused; in Welsh too", function()
  setup()
  t.eq(as("al@example.org"):get("/teams/" .. A.id .. "/members").status, 403, "a member, not a manager")
  t.eq(as("bo@example.org"):get("/teams/" .. A.id .. "/members").status, 403, "a manager of another team")
  local ann = as("ann@example.org")
  t.eq(ann:get("/teams/999999/members").status, 404)
  local page = ann:get("/teams/" .. A.id .. "/members")
  t.eq(page.status, 200)
  t.contains(page.body, "Members of Alpha")
  t.contains(page.body, "al@example.org")
  local r = ann:submit(page, { email = "Cy@Example.org", name = "Cy" }, "/council/teams/" .. A.id .. "/members")
  t.eq(r.status, 303)
  t.contains(ann:get((r:header("location"):gsub("^/council", ""))).body, "cy@example.org has been added")
  t.contains(as("cy@example.org"):get("/notes").body, "alpha plans")
  local bo = members.Members:find { email = "bo@example.org" }
  r = ann:post("/teams/" .. A.id .. "/members/" .. bo.id .. "/remove", { csrf_token = csrf(ann, "/teams/" .. A.id .. "/members") })
  t.eq(r.status, 404, "another team's membership")
  local me = members.Members:find { email = "ann@example.org" }
  r = ann:post("/teams/" .. A.id .. "/members/" .. me.id .. "/remove", { csrf_token = csrf(ann, "/teams/" .. A.id .. "/members") })
  t.eq(r.status, 409)
  local cy = ann:get("/teams/" .. A.id .. "/members?lang=cy")
  t.eq(cy.status, 200)
  t.contains(cy.body, 'lang="cy"')
  t.no_match(cy.body, "Who can see it")
end)
