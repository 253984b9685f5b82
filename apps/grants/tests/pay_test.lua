-- Paying: approved applications go into a payment run (each in exactly
-- one, the button pressed twice gives one run), a payment file in the
-- documented layout, marked paid (or the finance system's confirmation
-- file), remittance emails, the budget's paid sum.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"
local payments = borough.payments

local ASA = { id = 1, name = "Asa", roles = { assessor = true } }
local APU = { id = 2, name = "Apu", roles = { approver = true } }

local function approved(n)
  local out = {}
  for i = 1, n do
    local a = F.apply(t, "test-and-trace", { account_number = ("4000000%d"):format(i), contact_name = "Person " .. i })
    m.Flow:move(a, "assess", {}, { user = ASA })
    m.Flow:move(a, "recommend", { amount = "500" }, { user = ASA })
    out[i] = assert(m.Flow:move(a, "approve", {}, { user = APU }))
  end
  return out
end

t.test("a payment run takes every approved application once, however often the button is pressed", function()
  F.clear()
  F.schemes()
  local apps = approved(3)
  local fin = t.client()
  fin:login(table.unpack(F.finance))
  local page = fin:get("/payments")
  t.contains(page.body, "3 approved applications are waiting to be paid")
  local r1 = fin:submit(page, {})
  local r2 = fin:submit(page, {})                     -- the same form again: a double click
  t.eq(r1:header("location"), r2:header("location"))
  local run = payments.Runs:all()[1]
  t.eq({ payments.Runs:count(), run.items, run.total }, { 1, 3, 150000 })
  local r3 = fin:submit(fin:get("/payments"), {})     -- a new page, nothing left
  t.eq(r3:header("location"), "/grants/payments?none=1")
  t.eq(payments.Runs:history(run.id)[2].after.total, 150000, "the run's total is in the audit trail")
  -- the payment file
  local file = fin:get("/payments/" .. run.id .. "/file.csv")
  t.eq(file:header("content-type"), "text/csv; charset=utf-8")
  local lines = {}
  for line in file.body:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
  t.eq(lines[1], "Payment reference,Payee name,Sort code,Account number,Amount,Application reference,Scheme")
  t.eq(lines[2], ("%s-%s,Cafe Ltd,401234,40000001,500.00,%s,test-and-trace"):format(run.reference, apps[1].reference,
                                                                                     apps[1].reference))
  t.eq(#lines, 4)
end)

t.test("a run marked paid: the applications are paid, emailed, and counted against the budget", function()
  F.clear()
  local s = F.schemes()
  local apps = approved(2)
  local fin = t.client()
  fin:login(table.unpack(F.finance))
  local r = fin:submit(fin:get("/payments"), {})
  local run_page = fin:get((r:header("location"):gsub("^/grants", "")))
  fin:submit(run_page, {}, "/grants/payments/" .. payments.Runs:all()[1].id .. "/paid")
  for _, a in ipairs(apps) do
    t.eq(m.Applications:find(a.id).state, "paid")
    t.eq(json.decode(t.outbox("application-" .. a.id .. "-paid").body).personalisation.amount, "£500")
  end
  t.eq(borough.budget.get("scheme-" .. s["test-and-trace"].id).paid, 100000)
  t.eq(payments.Runs:all()[1].state, "paid")
  t.contains(fin:get("/payments/" .. payments.Runs:all()[1].id).body, "Paid on")
end)

t.test("the finance system's confirmation file marks what was paid and what failed", function()
  F.clear()
  F.schemes()
  local apps = approved(2)
  local fin = t.client()
  fin:login(table.unpack(F.finance))
  fin:submit(fin:get("/payments"), {})
  local run = payments.Runs:all()[1]
  local page = fin:get("/payments/" .. run.id)
  local b = "----confirm"
  local csv = ("Payment reference,Status\r\n%s-%s,paid\r\n%s-%s,failed\r\n"):format(run.reference, apps[1].reference,
                                                                                    run.reference, apps[2].reference)
  local body = table.concat { "--", b, '\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
    t.forms(page.body)[1].fields.csrf_token, "\r\n--", b,
    '\r\nContent-Disposition: form-data; name="file"; filename="confirm.csv"\r\nContent-Type: text/csv\r\n\r\n', csv,
    "\r\n--", b, "--\r\n" }
  local r = fin:post("/payments/" .. run.id .. "/confirmation", body,
                     { headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. b } })
  t.eq(r.status, 303)
  t.eq(m.Applications:find(apps[1].id).state, "paid")
  t.eq(m.Applications:find(apps[2].id).state, "approved")
  t.eq(payments.Items:find { item = "application-" .. apps[2].id }.state, "failed")
  t.eq(payments.Runs:find(run.id).state, "paid", "nothing left waiting")
end)
