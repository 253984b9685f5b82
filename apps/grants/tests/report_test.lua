-- Reporting: per scheme, applications by state, the budget committed,
-- paid and left, days to a decision, open flags; the government return.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

local ASA = { id = 1, name = "Asa", roles = { assessor = true } }
local APU = { id = 2, name = "Apu", roles = { approver = true } }

t.test("the dashboard and the return show each scheme's figures", function()
  F.clear()
  local s = F.schemes()["test-and-trace"]
  local a = F.apply(t, "test-and-trace", { account_number = "50000001", contact_name = "Ann One" })
  local b = F.apply(t, "test-and-trace", { account_number = "50000002", contact_name = "Bob Two" })
  F.apply(t, "test-and-trace", { account_number = "50000003", contact_name = "Cy Three" })
  m.Flow:move(a, "assess", {}, { user = ASA })
  m.Flow:move(a, "recommend", { amount = "500" }, { user = ASA })
  m.Flow:move(a, "approve", {}, { user = APU })
  borough.flags.raise(m.Applications, b.id, "ip", "A reason")
  db.exec("UPDATE applications SET submitted_at = '2030-01-01T00:00:00Z', decided_at = '2030-01-03T12:00:00Z' WHERE id = ?", a.id)
  local r = m.report(s)
  t.eq(r.states[2], { label = "Submitted", count = 2 })
  t.eq(r.states[6], { label = "Approved", count = 1 })
  t.eq(r.sums, { { "Budget", "£1,000,000" }, { "Committed", "£500" }, { "Paid", "£0" }, { "Left", "£999,500" } })
  t.eq({ r.days, r.decided, r.flags }, { "2.5", 1, 1 })
  local staff = t.client()
  staff:login(table.unpack(F.assessor))
  local page = staff:get("/dashboard")
  t.eq(page.status, 200)
  t.contains(page.body, "£999,500")
  t.contains(page.body, "2.5 (1 decided)")
  t.contains(page.body, '<figure')
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local csv = mia:get("/schemes/" .. s.id .. "/return.csv")
  t.eq(csv.status, 200)
  local lines = {}
  for line in csv.body:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
  t.eq(lines[1], "Reference,Business or person,Business rates reference,Postcode,State,Amount,Sent,Decided,Open flags")
  t.eq(lines[2], a.reference .. ",Ann One,,LS2 7AB,Approved,500.00,2030-01-01T00:00:00Z,2030-01-03T12:00:00Z,0")
  t.eq(#lines, 4)
end)
