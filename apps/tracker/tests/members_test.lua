-- A portfolio's managers say who its members are.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

t.test("a manager adds a member, who then sees the portfolio; removing them takes it away", function()
  F.setup()
  local hana = F.as(t, "hana@example.org")
  local page = hana:get("/portfolios/" .. F.housing.id .. "/members")
  t.eq(page.status, 200)
  t.contains(page.body, "Members of Housing")
  t.contains(page.body, "mo@example.org")
  local newcomer = F.as(t, "Nia.New@example.org")
  t.eq(newcomer:get("/portfolios/" .. F.housing.id).status, 404)
  -- given before their first sign-in, in whatever case they are typed
  local add = "/tracker/portfolios/" .. F.housing.id .. "/members"
  local r = hana:submit(page, { email = "NIA.new@Example.org", name = "Nia New", level = "member" }, add)
  t.eq(r.status, 303)
  t.contains(hana:get((r:header("location"):gsub("^/tracker", ""))).body, "nia.new@example.org has been added")
  t.eq(newcomer:get("/portfolios/" .. F.housing.id).status, 200)
  t.eq(newcomer:get("/portfolios/" .. F.housing.id .. "/members").status, 403)   -- a member, not a manager
  local nia = require("borough.members").Members:find { email = "nia.new@example.org" }
  r = hana:submit(hana:get("/portfolios/" .. F.housing.id .. "/members"), {},
                  "/tracker/portfolios/" .. F.housing.id .. "/members/" .. nia.id .. "/remove")
  t.eq(r.status, 303)
  t.eq(newcomer:get("/portfolios/" .. F.housing.id).status, 404)
  -- the changes are in the audit trail
  t.eq(#require("borough.members").Members:history(nia.id), 2)
end)

t.test("the form says what is wrong; the last manager stays", function()
  F.setup()
  local hana = F.as(t, "hana@example.org")
  local page = hana:get("/portfolios/" .. F.housing.id .. "/members")
  local add = "/tracker/portfolios/" .. F.housing.id .. "/members"
  local r = hana:submit(page, { email = "not an address" }, add)
  t.eq(r.status, 400)
  t.contains(r.body, "Enter an email address in the correct format")
  local me = require("borough.members").Members:find { email = "hana@example.org" }
  r = hana:submit(page, {}, "/tracker/portfolios/" .. F.housing.id .. "/members/" .. me.id .. "/remove")
  t.eq(r.status, 409)
  t.contains(r.body, "Add another manager before you remove the last one")
  t.eq(hana:get("/portfolios/" .. F.housing.id).status, 200)
  -- made a second manager, Mo may remove Hana
  r = hana:submit(page, { email = "mo@example.org", level = "manager" }, add)
  t.eq(r.status, 303)
  local mo = F.as(t, "mo@example.org")
  r = mo:submit(mo:get("/portfolios/" .. F.housing.id .. "/members"), {},
                "/tracker/portfolios/" .. F.housing.id .. "/members/" .. me.id .. "/remove")
  t.eq(r.status, 303)
  t.eq(hana:get("/portfolios/" .. F.housing.id).status, 404)
end)

t.test("a membership of one portfolio cannot be removed through another's page", function()
  F.setup()
  local sam = require("borough.members").Members:find { email = "sam@example.org" }
  local hana = F.as(t, "hana@example.org")
  local csrf = hana:get("/portfolios/" .. F.housing.id .. "/members").body:match('name="csrf_token" value="([^"]+)"')
  local r = hana:post("/portfolios/" .. F.housing.id .. "/members/" .. sam.id .. "/remove", { csrf_token = csrf })
  t.eq(r.status, 404)
  t.ok(require("borough.members").Members:find(sam.id), "still there")
end)
