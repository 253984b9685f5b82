-- The visiting list on a phone, and visit outcomes seen by the back office at once.
local t = require "borough.test"
local m = require "models"
local S = require "fixtures"

t.test("a visiting officer sees those to visit and records a visit", function()
  S.clear()
  local v = S.resident { first_name = "Vic", status = "to_visit", attempts = 3, failed_calls = 3 }
  local w = S.resident { first_name = "Wyn", status = "to_visit", postcode = "LS2 1AA" }
  S.resident { first_name = "Caller" }
  t.login(table.unpack(S.officer))
  local list = t.get("/visits")
  t.eq(list.status, 200)
  t.contains(list.body, "Vic Resident")
  t.contains(list.body, "Wyn Resident")
  t.no_match(list.body, "Caller Resident")
  t.contains(list.body, '<meta name="viewport" content="width=device-width')
  local form = t.get("/residents/" .. w.id .. "/visit")
  t.eq(form.status, 200)
  local r = t.submit(form, { outcome = "No reply, card left" })
  t.eq(r.status, 303)
  t.eq(m.Residents:find(w.id).status, "to_visit", "still to visit")
  r = t.submit(t.get("/residents/" .. v.id .. "/visit"),
               { outcome = "Spoke to resident", needs = { "Baby supplies" }, note = "Grandchild staying" })
  t.eq(r.status, 303)
  t.eq(m.Residents:find(v.id).status, "visited")
  t.eq(m.Referrals:find { resident = v.id }.partner, "Baby bank")
  -- the back office sees it at once
  local office = t.client()
  office:login(table.unpack(S.manager))
  local page = office:get("/residents/" .. v.id)
  t.contains(page.body, "visit, Spoke to resident (Vera Visitor)")
  t.contains(page.body, "Grandchild staying")
  t.contains(page.body, "Baby supplies to Baby bank")
end)
