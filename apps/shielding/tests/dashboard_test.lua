-- The managers' dashboard, search and the government return.
local t = require "borough.test"
local m = require "models"
local S = require "fixtures"

t.test("the dashboard counts residents by status, needs by kind, referrals by state", function()
  S.clear()
  S.resident {}
  S.resident {}
  local reached = S.resident { status = "reached" }
  S.resident { status = "to_visit" }
  for _, kind in ipairs { "Food parcel", "Food parcel", "Baby supplies" } do
    local n = m.Needs:create { resident = reached.id, kind = kind }
    m.ReferralFlow:start({ resident = reached.id, need = n.id, partner = "Food bank" }, { user = false })
  end
  local counts = m.counts()
  t.eq(counts.statuses[1], { label = "To call", count = 2 })
  t.eq(counts.statuses[2], { label = "Reached", count = 1 })
  t.eq(counts.statuses[4], { label = "To visit", count = 1 })
  t.eq(counts.needs[1], { label = "Food parcel", count = 2 })
  t.eq(counts.needs[3], { label = "Baby supplies", count = 1 })
  t.eq(counts.referrals[1].count, 3)
  t.login(table.unpack(S.manager))
  local page = t.get("/dashboard")
  t.eq(page.status, 200)
  t.match(page.body, 'To call</th>%s*<td class="govuk%-table__cell govuk%-table__cell%-%-numeric">2</td>')
  t.match(page.body, 'Food parcel</th>%s*<td class="govuk%-table__cell govuk%-table__cell%-%-numeric">2</td>')
  t.match(page.body, 'To send</th>%s*<td class="govuk%-table__cell govuk%-table__cell%-%-numeric">3</td>')
end)

t.test("search by name, postcode and NHS number", function()
  S.clear()
  local a = S.resident { first_name = "Agatha", last_name = "Christie", postcode = "TQ1 1AA" }
  S.resident { first_name = "Arthur", last_name = "Doyle", postcode = "PO1 2AB" }
  t.login(table.unpack(S.handler))
  local r = t.get("/search?q=agath")
  t.contains(r.body, "Agatha Christie")
  t.no_match(r.body, "Arthur Doyle")
  r = t.get("/search?q=PO1")
  t.contains(r.body, "Arthur Doyle")
  local nhs = a.nhs_number
  r = t.get("/search?q=" .. nhs:sub(1, 3) .. "+" .. nhs:sub(4, 6) .. "+" .. nhs:sub(7))
  t.contains(r.body, "Agatha Christie")
  r = t.get("/search?q=nobody")
  t.contains(r.body, "No residents match")
end)

t.test("the government return: one CSV line per resident", function()
  S.clear()
  local a = S.resident { first_name = "Ann", last_name = "Smith, Jr", date_of_birth = "1940-02-03" }
  m.Needs:create { resident = a.id, kind = "Food parcel" }
  S.resident { first_name = "Bob", status = "to_visit", attempts = 3 }
  t.login(table.unpack(S.manager))
  local r = t.get("/export.csv")
  t.eq(r.status, 200)
  t.eq(r:header("content-type"), "text/csv; charset=utf-8")
  t.contains(r:header("content-disposition"), 'filename="shielding-return.csv"')
  local lines = {}
  for line in r.body:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
  t.eq(#lines, 3)
  t.eq(lines[1], "NHS number,First name,Last name,Date of birth,Postcode,Status,Calls,Last call,Needs,Referrals")
  t.eq(lines[2], a.nhs_number .. ',Ann,"Smith, Jr",1940-02-03,LS1 4AB,to_call,0,,Food parcel,0')
  t.match(lines[3], ",Bob,.*,to_visit,3,,,0$")
end)
