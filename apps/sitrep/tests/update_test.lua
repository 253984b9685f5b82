-- A manager sends today's update: one form, prefilled, checked and rated.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

local function send(lib, ms, values)
  local page = t.get("/departments/" .. lib.id .. "/update")
  t.eq(page.status, 200)
  return t.submit(page, F.answers(ms, values)), page
end

t.test("a manager sees their departments with today's status", function()
  F.setup()
  t.login(table.unpack(F.manager))
  local r = t.get("/updates")
  t.eq(r.status, 200)
  t.contains(r.body, "Libraries")
  t.contains(r.body, "Waste")
  t.match(r.body, "Send today's update")
  t.match(r.body, "govuk%-tag%-%-[br][le][ud]")          -- due (blue) or missing (red)
end)

t.test("the update is saved with each answer rated and the worst rating on the update", function()
  local lib, _, ms = F.setup()
  t.login(table.unpack(F.manager))
  local r = send(lib, ms, { ["m" .. ms.absent.id] = "7", ["m" .. ms.open.id] = "no", ["m" .. ms.note.id] = "Quiet" })
  t.eq(r.status, 303)
  t.contains(t.get("/" .. r:header("location")).body, "Update sent for Libraries")
  local u = m.Updates:find { department = lib.id }
  t.eq(u.date, borough.returns.today())
  t.eq(u.sent_by, "Mo Manager")
  t.eq(u.rag, "red")                                  -- branches not all open: red
  local by = m.answers_of(u)
  t.eq(by[ms.absent.id].number, 7)
  t.eq(by[ms.absent.id].rag, "amber")                 -- 7 is at or above 5, under 10
  t.eq(by[ms.status.id].rag, "green")
  t.eq(by[ms.open.id].text, "no")
  t.eq(by[ms.open.id].rag, "red")
  t.eq(by[ms.note.id].text, "Quiet")
  t.eq(by[ms.note.id].rag, nil)
  t.eq(u.late, borough.returns.status(u.date, m.DEADLINE, u.sent_at) == "late")
end)

t.test("sending again the same day changes today's update, not a second one", function()
  local lib, _, ms = F.setup()
  t.login(table.unpack(F.manager))
  send(lib, ms, {})
  t.eq(send(lib, ms, { ["m" .. ms.absent.id] = "12" }).status, 303)
  t.eq(m.Updates:count { department = lib.id }, 1)
  t.eq(m.Answers:count {}, 4)
  local u = m.Updates:find { department = lib.id }
  t.eq(u.rag, "red")
  t.eq(m.answers_of(u)[ms.absent.id].number, 12)
end)

t.test("the form starts from the last answers", function()
  local lib, _, ms = F.setup()
  local old = assert(m.Updates:create { department = lib.id, date = "2024-03-01", sent_at = "2024-03-01T09:00:00Z",
                                        escalate = "silver", issue = "Old issue" })
  assert(m.Answers:create { update = old.id, measure = ms.absent.id, date = old.date, number = 8 })
  assert(m.Answers:create { update = old.id, measure = ms.status.id, date = old.date, text = "amber" })
  assert(m.Answers:create { update = old.id, measure = ms.open.id, date = old.date, text = "no" })
  t.login(table.unpack(F.manager))
  local page = t.get("/departments/" .. lib.id .. "/update")
  local form = t.forms(page.body)[1].fields
  t.eq(form["m" .. ms.absent.id], "8")
  t.eq(form["m" .. ms.status.id], "amber")
  t.eq(form["m" .. ms.open.id], "no")
  t.eq(form.escalate, nil)                     -- an old day's escalation is not carried over
  t.no_match(page.body, "Old issue")
end)

t.test("wrong answers are refused with GOV.UK messages and nothing is saved", function()
  local lib, _, ms = F.setup()
  t.login(table.unpack(F.manager))
  local r = send(lib, ms, { ["m" .. ms.absent.id] = "lots", ["m" .. ms.status.id] = "" })
  t.eq(r.status, 400)
  t.contains(r.body, "There is a problem")
  t.contains(r.body, "Staff absent today must be a number")
  t.match(r.body, "Select [Ss]ervice status")
  t.contains(r.body, 'value="lots"')
  r = send(lib, ms, { escalate = "gold" })
  t.eq(r.status, 400)
  t.contains(r.body, "Enter the issue to escalate")
  t.eq(m.Updates:count {}, 0)
end)

t.test("an issue escalated to Gold is on the update with who and when", function()
  local lib, _, ms = F.setup()
  t.login(table.unpack(F.manager))
  t.eq(send(lib, ms, { escalate = "gold", issue = "Two branches flooded" }).status, 303)
  local u = m.Updates:find { department = lib.id }
  t.eq(u.escalate, "gold")
  t.eq(u.issue, "Two branches flooded")
  t.login(table.unpack(F.command))
  local r = t.get("/escalations")
  t.contains(r.body, "Two branches flooded")
  t.contains(r.body, "Mo Manager")
  t.contains(r.body, "Gold")
  r = t.get("/dashboard")
  t.contains(r.body, "Two branches flooded")
end)

t.test("a manager cannot open or send another department's update", function()
  local lib, waste, ms = F.setup()
  t.login(table.unpack(F.other))
  t.eq(t.get("/departments/" .. lib.id .. "/update").status, 404)
  t.eq(t.get("/departments/99999/update").status, 404)
  local own = t.get("/departments/" .. waste.id .. "/update")
  t.eq(own.status, 200)
  local csrf = own.body:match('name="csrf_token" value="([^"]+)"')
  local values = F.answers(ms)
  values.csrf_token = csrf
  t.eq(t.post("/departments/" .. lib.id .. "/update", values).status, 404)
  t.eq(m.Updates:count {}, 0)
  -- the test the page and the entity's write rules share
  t.eq(m.member_of({ email = "ola@example.org" }, lib.id), false)
  t.eq(m.member_of({ email = "ola@example.org" }, waste.id), true)
  t.eq(m.member_of(nil, waste.id), nil)
end)
