-- The call list, taking and recording calls, needs, referrals and their emails.
local t = require "borough.test"
local m = require "models"
local S = require "fixtures"

t.test("the call list: not yet reached, fewest calls, longest untried, then list order", function()
  S.clear()
  local a = S.resident { first_name = "Twice", attempts = 2, last_call_at = "2020-04-01T10:00:00Z" }
  local b = S.resident { first_name = "Never" }
  local c = S.resident { first_name = "OnceLate", attempts = 1, last_call_at = "2020-04-02T10:00:00Z" }
  local d = S.resident { first_name = "OnceEarly", attempts = 1, last_call_at = "2020-04-01T10:00:00Z" }
  S.resident { first_name = "Reached", status = "reached" }
  local e = S.resident { first_name = "NeverToo" }
  local ids = {}
  for i, r in ipairs(m.call_list()) do ids[i] = r.id end
  t.eq(ids, { b.id, e.id, d.id, c.id, a.id })
  t.login(table.unpack(S.handler))
  local page = t.get("/calls")
  t.eq(page.status, 200)
  local at = function(name) return page.body:find(">" .. name .. " ", 1, true) end
  t.ok(at("Never") < at("NeverToo") and at("NeverToo") < at("OnceEarly") and at("OnceEarly") < at("OnceLate")
       and at("OnceLate") < at("Twice"), "shown in that order")
  t.eq(at("Reached"), nil)
end)

t.test("take the next resident, and assign to me", function()
  S.clear()
  local first, second = S.resident { first_name = "First" }, S.resident { first_name = "Second" }
  t.login(table.unpack(S.handler))
  local r = t.submit(t.get("/calls"), {}, "/shielding/calls/next")
  t.eq(r.status, 303)
  t.eq(r:header("location"), "/shielding/residents/" .. first.id .. "/call")
  t.ok(m.Residents:find(first.id).assigned_to, "assigned")
  -- a second handler gets the next one
  local other = t.client()
  other:login("cara@example.org", { roles = { "call_handler" } })
  r = other:submit(other:get("/calls"), {}, "/shielding/calls/next")
  t.eq(r:header("location"), "/shielding/residents/" .. second.id .. "/call")
  -- assign to me from the list
  local third = S.resident { first_name = "Third" }
  local page = t.get("/calls")
  t.contains(page.body, "Assigned to you")
  r = t.submit(page, {}, "/shielding/residents/" .. third.id .. "/assign")
  t.eq(r.status, 303)
  t.eq(m.Residents:find(third.id).assigned_to, m.Residents:find(first.id).assigned_to)
end)

t.test("three calls without an answer put a resident on the visiting list", function()
  S.clear()
  local r = S.resident { first_name = "Silent" }
  t.login(table.unpack(S.handler))
  for i, outcome in ipairs { "No answer", "Wrong number", "No answer" } do
    local res = t.submit(t.get("/residents/" .. r.id .. "/call"), { outcome = outcome })
    t.eq(res.status, 303)
    local now = m.Residents:find(r.id)
    t.eq({ now.attempts, now.failed_calls, now.status }, { i, i, i < 3 and "to_call" or "to_visit" })
  end
  t.eq(m.Calls:count { resident = r.id }, 3)
end)

t.test("a call must say what happened; an other need must say what it is", function()
  S.clear()
  local r = S.resident {}
  t.login(table.unpack(S.handler))
  local page = t.get("/residents/" .. r.id .. "/call")
  local res = t.submit(page, {})
  t.eq(res.status, 400)
  t.contains(res.body, "Select call outcome")
  t.contains(res.body, 'href="#outcome"')
  res = t.submit(page, { outcome = "Reached", needs = { "Other" } })
  t.eq(res.status, 400)
  t.contains(res.body, "Enter what the other need is")
  t.eq(m.Calls:count(), 0, "nothing kept")
  t.eq(m.Residents:find(r.id).attempts, 0)
end)

t.test("call -> food need -> referral -> email to the partner in the outbox", function()
  S.clear()
  local r = S.resident { first_name = "Fiona", last_name = "Food", postcode = "LS2 7AB", date_of_birth = "1940-12-10" }
  t.login(table.unpack(S.handler))
  local res = t.submit(t.get("/residents/" .. r.id .. "/call"),
                       { outcome = "Reached", needs = { "Food parcel", "Prescription collection" }, note = "Fine" })
  t.eq(res.status, 303)
  t.eq(m.Residents:find(r.id).status, "reached")
  t.eq(m.Needs:count { resident = r.id }, 2)
  local ref = m.Referrals:find { resident = r.id, partner = "Food bank" }
  t.eq(ref.state, "new")
  local page = t.get("/residents/" .. r.id)
  t.contains(page.body, "Food parcel to Food bank")
  t.contains(page.body, "10 December 1940")
  t.contains(page.body, r.nhs_number:sub(1, 3) .. " " .. r.nhs_number:sub(4, 6) .. " " .. r.nhs_number:sub(7))
  t.contains(page.body, "To send")
  local step = t.get("/referrals/" .. ref.id .. "/steps/send")
  t.eq(step.status, 200)
  res = t.submit(step, {})
  t.eq(res.status, 303)
  t.eq(m.Referrals:find(ref.id).state, "sent")
  local msg = t.outbox("referral-" .. ref.id)
  t.eq(msg.recipient, "referrals@foodbank.example.org")
  local body = json.decode(msg.body)
  t.eq(body.personalisation.name, "Fiona Food")
  t.eq(body.personalisation.postcode, "LS2 7AB")
  t.eq(body.personalisation.need, "Food parcel")
  -- and a reminder is queued for two days later, in the same transaction
  local job = db.one("SELECT args, run_at FROM _borough_jobs WHERE name = 'remind_partner'")
  t.eq(json.decode(job.args), { referral = ref.id })
  t.ok(math.abs(job.run_at // 1000 - (os.time() + 2 * 86400)) < 60, "in two days (run_at is in ms)")
  -- the referral page shows its history and the next steps
  page = t.get("/referrals/" .. ref.id)
  t.contains(page.body, "Send the referral (Sent)")
  t.contains(page.body, "Record delivery")
  -- sending twice is refused: the step is no longer open
  t.eq(t.get("/referrals/" .. ref.id .. "/steps/send").status, 409)
end)
