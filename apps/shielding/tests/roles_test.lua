-- Who may open each page: no one signed out; each role its own pages.
local t = require "borough.test"
local S = require "fixtures"

local ALL = { "call_handler", "visiting_officer", "manager" }
local CALLERS = { "call_handler", "manager" }
local VISITORS = { "visiting_officer", "manager" }
local MANAGERS = { "manager" }

t.test("every page needs sign-in, and the right role", function()
  S.clear()
  local r = S.resident { status = "to_visit" }
  local ref = require("models").ReferralFlow:start({ resident = r.id, need = assert(require("models").Needs:create {
    resident = r.id, kind = "Food parcel" }).id, partner = "Food bank" }, { user = false })
  local id = tostring(r.id)
  local pages = {
    { "GET", "/", ALL }, { "GET", "/dashboard", MANAGERS }, { "GET", "/upload", MANAGERS },
    { "POST", "/upload", MANAGERS }, { "GET", "/calls", CALLERS }, { "POST", "/calls/next", CALLERS },
    { "POST", "/residents/" .. id .. "/assign", CALLERS }, { "GET", "/residents/" .. id .. "/call", CALLERS },
    { "POST", "/residents/" .. id .. "/call", CALLERS }, { "GET", "/visits", VISITORS },
    { "GET", "/residents/" .. id .. "/visit", VISITORS }, { "POST", "/residents/" .. id .. "/visit", VISITORS },
    { "GET", "/residents/" .. id, ALL }, { "GET", "/referrals/" .. ref.id, ALL },
    { "GET", "/referrals/" .. ref.id .. "/steps/send", CALLERS },
    { "POST", "/referrals/" .. ref.id .. "/steps/send", CALLERS }, { "GET", "/search?q=test", ALL },
    { "GET", "/export.csv", MANAGERS },
  }
  -- signed out: sent to sign in (or refused, for a form post)
  for _, p in ipairs(pages) do
    local res = t.request { method = p[1], path = p[2] }
    t.ok(res.status == 302 or res.status == 303 or res.status == 403 or res.status == 401,
         p[1] .. " " .. p[2] .. " signed out gave " .. res.status)
  end
  for _, role in ipairs(ALL) do
    local c = t.client()
    c:login(role .. "@example.org", { roles = { role } })
    for _, p in ipairs(pages) do
      local allowed = false
      for _, ok in ipairs(p[3]) do allowed = allowed or ok == role end
      if p[1] == "GET" then
        local res = c:get(p[2])
        if allowed then
          t.ok(res.status == 200 or res.status == 302 or res.status == 303, role .. " GET " .. p[2] .. " gave " .. res.status)
        else
          t.eq(res.status, 403, role .. " GET " .. p[2])
        end
      elseif not allowed then
        -- a refused post: the role check answers before anything is read
        local page = c:get("/search")
        local csrf = page.body:match('name="csrf_token" value="([^"]+)"')
        local res = c:post(p[2], { csrf_token = csrf })
        t.eq(res.status, 403, role .. " POST " .. p[2])
      end
    end
  end
end)
