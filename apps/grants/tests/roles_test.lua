-- Who may open each page: the public its own pages; staff by role.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

t.test("every staff page needs sign-in and the right role", function()
  F.clear()
  local s = F.schemes()["test-and-trace"]
  local a = F.apply(t, "test-and-trace")
  local ALL, MANAGER, FINANCE = { "assessor", "approver", "finance", "manager" }, { "manager" }, { "finance", "manager" }
  local pages = {
    { "/dashboard", ALL }, { "/applications", ALL }, { "/applications/" .. a.id, ALL }, { "/schemes", MANAGER },
    { "/schemes/" .. s.id, MANAGER }, { "/schemes/new", MANAGER }, { "/schemes/import", MANAGER },
    { "/schemes/" .. s.id .. "/questions", MANAGER }, { "/schemes/" .. s.id .. "/return.csv", MANAGER },
    { "/upload/rates", MANAGER }, { "/upload/bank", MANAGER }, { "/payments", FINANCE },
    { "/applications/" .. a.id .. "/steps/assess", { "assessor", "manager" } },
  }
  for _, p in ipairs(pages) do
    t.eq(t.get(p[1]).status, 303, "signed out: " .. p[1])
  end
  for _, role in ipairs(ALL) do
    local c = t.client()
    c:login(role .. "@example.org", { roles = { role } })
    for _, p in ipairs(pages) do
      local allowed = false
      for _, r in ipairs(p[2]) do allowed = allowed or r == role end
      t.eq(c:get(p[1]).status, allowed and 200 or 403, role .. " " .. p[1])
    end
  end
  -- the public pages need no sign-in
  for _, path in ipairs { "/", "/apply-to/test-and-trace" } do t.eq(t.get(path).status, 200, path) end
end)

t.test("only finance makes a payment run; only approvers approve", function()
  F.clear()
  F.schemes()
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local page = mia:get("/payments")
  t.eq(mia:submit(page, {}).status, 403)
  local a = F.apply(t, "test-and-trace")
  m.Flow:move(a, "assess", {}, { user = { id = 1, roles = { assessor = true } } })
  m.Flow:move(a, "recommend", { amount = "500" }, { user = { id = 1, roles = { assessor = true } } })
  local asa = t.client()
  asa:login("other.assessor@example.org", { roles = { "assessor" } })
  t.eq(asa:get("/applications/" .. a.id .. "/steps/approve").status, 403)
end)
