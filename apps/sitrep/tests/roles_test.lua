-- Who may open each page: no one signed out; each role its own pages.
local t = require "borough.test"
local F = require "fixtures"

local VIEWERS = { "manager", "command", "coordinator" }
local COMMAND = { "command", "coordinator" }

t.test("every page needs sign-in, and the right role", function()
  local lib, _, ms = F.setup()
  local pages = {
    { "GET", "/", VIEWERS }, { "GET", "/updates", { "manager" } }, { "GET", "/dashboard", VIEWERS },
    { "GET", "/measures", VIEWERS }, { "GET", "/measures/" .. ms.absent.id, VIEWERS },
    { "GET", "/escalations", VIEWERS }, { "GET", "/late", COMMAND }, { "GET", "/export.csv", COMMAND },
    { "POST", "/reminders", { "coordinator" } }, { "GET", "/setup/departments", { "coordinator" } },
    { "GET", "/setup/managers", { "coordinator" } }, { "GET", "/setup/measures", { "coordinator" } },
    { "POST", "/departments/" .. lib.id .. "/update", { "manager" } },
  }
  for _, p in ipairs(pages) do
    local res = t.request { method = p[1], path = p[2] }
    t.ok(res.status == 303 or res.status == 403, p[1] .. " " .. p[2] .. " signed out gave " .. res.status)
  end
  for _, role in ipairs { "manager", "command", "coordinator", "reporting" } do
    local c = t.client()
    c:login(role .. "@example.org", { roles = { role } })
    for _, p in ipairs(pages) do
      local allowed = false
      for _, ok in ipairs(p[3]) do allowed = allowed or ok == role end
      if p[1] == "GET" then
        local res = c:get(p[2])
        if allowed then
          t.ok(res.status == 200 or res.status == 302, role .. " GET " .. p[2] .. " gave " .. res.status)
        else
          t.eq(res.status, 403, role .. " GET " .. p[2])
        end
      elseif not allowed then
        local csrf = c:get("//sitrep/_account/sign-out").body:match('name="csrf_token" value="([^"]+)"')
        t.eq(c:post(p[2], { csrf_token = csrf }).status, 403, role .. " POST " .. p[2])
      end
    end
  end
end)

t.test("a coordinator sets up a measure with thresholds; a number's thresholds need a direction", function()
  local lib = F.setup()
  t.login(table.unpack(F.coordinator))
  local page = t.get("/setup/measures/new")
  t.eq(page.status, 200)
  local r = t.submit(page, { department = tostring(lib.id), name = "Calls waiting", kind = "number", amber = "20", red = "50" })
  t.contains(r.body, "There is a problem")
  t.contains(r.body, "Select whether a lower or a higher number is better")
  r = t.submit(page, { department = tostring(lib.id), name = "Calls waiting", kind = "number", good = "lower", amber = "20", red = "50" })
  t.eq(r.status, 303)
  local x = require("models").Measures:find { name = "Calls waiting" }
  t.eq({ x.good, x.amber, x.red }, { "lower", 20, 50 })
end)
