-- Schemes are data: a grants manager adds the examples, makes and changes
-- schemes and their questions on pages, or imports a definition; the
-- application pages follow at once, with no reload.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

t.test("the four example schemes, added from the dashboard", function()
  F.clear()
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local r = mia:submit(mia:get("/dashboard"), {}, "/grants/schemes/examples")
  t.eq(r.status, 303)
  local list = mia:get("/schemes")
  for _, name in ipairs { "Small business grant", "Discretionary business grant", "Test and Trace support payment",
                          "Additional restrictions grant" } do
    t.contains(list.body, name)
  end
  local small = m.Schemes:find { slug = "small-business" }
  t.eq({ small.who, small.amount_rule, small.budget }, { "invited", "bands", 5100000000 })
  t.eq(m.amount_for(small, { rateable_value = 1500000 }), 1000000)
  t.eq(m.amount_for(small, { rateable_value = 1500001 }), 2500000)
  t.eq(m.amount_for(small, { rateable_value = 5100001 }), nil)
  local page = mia:get("/schemes/" .. small.id)
  t.contains(page.body, "Was the business trading on 11 March 2020?")
  t.contains(page.body, "Yes or no. Cannot go on: No")
end)

t.test("a scheme made on the page is checked as a whole", function()
  F.clear()
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local form = mia:get("/schemes/new")
  local values = { name = "Hardship fund", slug = "Hardship Fund", who = "anyone", details = "personal",
                   amount_rule = "fixed", budget = "100000", ["opens-on-day"] = "1", ["opens-on-month"] = "1",
                   ["opens-on-year"] = "2030", ["closes-on-day"] = "1", ["closes-on-month"] = "2", ["closes-on-year"] = "2030" }
  local r = mia:submit(form, values)
  t.contains(r.body, "Short name must be lower-case letters, digits and hyphens")
  values.slug = "hardship"
  r = mia:submit(form, values)
  t.contains(r.body, "Enter the fixed amount")
  values.amount, values["closes-on-year"] = "250", "2029"
  t.contains(mia:submit(form, values).body, "The closing date must be after the opening date")
  values["closes-on-year"] = "2030"
  r = mia:submit(form, values)
  t.eq(r.status, 303)
  local s = m.Schemes:find { slug = "hardship" }
  t.eq({ s.amount, s.opens_on }, { 25000, "2030-01-01" })
end)

t.test("questions added and removed on the scheme's page change the application pages at once", function()
  F.clear()
  local s = F.schemes()["test-and-trace"]
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local r = mia:submit(mia:get("/schemes/" .. s.id .. "/questions"), { question = "Do you live in the borough?",
    type = "boolean", ineligible = "No", reason = "The payment is for residents of the borough." })
  t.eq(r.status, 303)
  local qs = json.decode(m.Schemes:find(s.id).questions)
  t.eq(qs[#qs].name, "live_borough")
  local bad = mia:submit(mia:get("/schemes/" .. s.id .. "/questions"), { question = "Which ward?", type = "choice" })
  t.contains(bad.body, "A choice needs options")
  -- the public pages ask it now, with its "you cannot apply" page
  local c = t.client()
  local base = c:submit(c:get("/apply-to/test-and-trace"), {}):header("location"):gsub("^/grants", "")
  c:submit(c:get(base .. "/told-to-isolate"), { told_to_isolate = "yes" })
  c:submit(c:get(base .. "/lose-income"), { lose_income = "yes" })
  r = c:submit(c:get(base .. "/live-borough"), { live_borough = "no" })
  t.contains(c:get((r:header("location"):gsub("^/grants", ""))).body, "The payment is for residents of the borough.")
  -- removed: gone from the pages
  r = mia:submit(mia:get("/schemes/" .. s.id), {}, "/grants/schemes/" .. s.id .. "/questions/live_borough/remove")
  t.eq(r.status, 303)
  t.eq(#json.decode(m.Schemes:find(s.id).questions), #qs - 1)
  local gone = c:get(base .. "/live-borough")
  t.eq(gone.status, 404, gone.body:match("<title>(.-)</title>"))
end)

t.test("a scheme imported from its definition, and changed by importing it again", function()
  F.clear()
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local def = { name = "Winter fuel grant", slug = "winter-fuel", who = "anyone", details = "personal",
                amount_rule = "fixed", amount = "£150", budget = "£50,000", opens_on = "2030-01-01", closes_on = "2030-03-31",
                questions = { { name = "over_65", type = "boolean", question = "Are you 65 or over?", ineligible = { "No" },
                                reason = "The grant is for people aged 65 or over." } } }
  local r = mia:submit(mia:get("/schemes/import"), { definition = json.encode(def) })
  t.eq(r.status, 303)
  local s = m.Schemes:find { slug = "winter-fuel" }
  t.eq(json.decode(s.questions)[1].name, "over_65")
  def.amount = "£200"
  mia:submit(mia:get("/schemes/import"), { definition = json.encode(def) })
  t.eq({ m.Schemes:count(), m.Schemes:find(s.id).amount }, { 1, 20000 })
  def.questions[1].type = "colour"
  t.contains(mia:submit(mia:get("/schemes/import"), { definition = json.encode(def) }).body, "Question 1: type must be one of")
  t.contains(mia:submit(mia:get("/schemes/import"), { definition = "{ not json" }).body, "The definition is not JSON")
end)
