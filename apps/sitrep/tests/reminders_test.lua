-- Reminders through Notify to the managers of departments with no update yet.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

t.test("a reminder goes to each manager of a department that has not sent today's update, once", function()
  local lib, waste, ms = F.setup()
  t.login(table.unpack(F.manager))
  t.submit(t.get("/departments/" .. lib.id .. "/update"), F.answers(ms))     -- Libraries has sent
  t.login(table.unpack(F.coordinator))
  local page = t.get("/late")
  local r = t.submit(page, {}, "/sitrep/reminders")
  t.eq(r.status, 303)
  t.contains(r:header("location"), "reminded=2")
  local today = borough.returns.today()
  local ola = m.Members:find { email = "ola@example.org" }
  local mo = m.Members:find { email = "mo@example.org", department = waste.id }
  local msg = t.outbox(("reminder-%s-%d-%d"):format(today, waste.id, ola.id))
  t.ok(msg, "Ola's reminder")
  t.eq(msg.recipient, "ola@example.org")
  local body = json.decode(msg.body)
  t.eq(body.template_id, m.REMINDER_TEMPLATE)
  t.eq(body.personalisation.department, "Waste")
  t.eq(body.personalisation.deadline, "16:00")
  t.match(body.personalisation.link, "^https?://.*/sitrep/departments/" .. waste.id .. "/update$")
  t.ok(t.outbox(("reminder-%s-%d-%d"):format(today, waste.id, mo.id)), "Mo's reminder for Waste")
  local lib_mo = m.Members:find { email = "mo@example.org", department = lib.id }
  t.eq(t.outbox(("reminder-%s-%d-%d"):format(today, lib.id, lib_mo.id)), nil)   -- Libraries sent
  -- pressed again: no second reminder
  r = t.submit(t.get("/late"), {}, "/sitrep/reminders")
  t.contains(r:header("location"), "reminded=0")
  t.eq(db.one("SELECT count(*) AS n FROM _borough_outbox").n, 2)
end)

t.test("the reminders are scheduled for 14:00 every day", function()
  t.login("admin@example.org", { roles = { "admin" } })
  local r = t.get("/_jobs")
  t.eq(r.status, 200)
  t.contains(r.body, "every day at 14:00")
end)
