-- Today's position, each measure over time, late and missing, the export.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"
local returns = borough.returns

local function sent(dept, date, at, rating, answers)
  local u = assert(m.Updates:create { department = dept.id, date = date, sent_at = at, rag = rating,
                                      sent_by = "Mo Manager", late = returns.status(date, m.DEADLINE, at) == "late" })
  for measure, a in pairs(answers or {}) do
    a.update, a.measure, a.date = u.id, measure.id, date
    assert(m.Answers:create(a))
  end
  return u
end

t.test("today's position: each department's status, rating and answers", function()
  local lib, waste, ms = F.setup()
  local today = returns.today()
  local deadline = returns.deadline(today, m.DEADLINE)
  sent(lib, today, deadline, "amber", { [ms.absent] = { number = 6, rag = "amber" }, [ms.status] = { text = "green", rag = "green" } })
  local rows = m.position(today, 0)                 -- before the deadline: Waste is due
  t.eq(#rows, 2)
  t.eq(rows[1].department.name, "Libraries")
  t.eq(rows[1].status, "on_time")
  t.eq(rows[1].answers[1].rating, "amber")
  t.eq(rows[1].answers[1].answer.number, 6)
  t.eq(rows[1].answers[3].answer, nil)             -- not answered
  t.eq(rows[2].status, "due")
  t.eq(m.position(today, os.time() + 2 * 86400)[2].status, "missing")
  t.login(table.unpack(F.command))
  local r = t.get("/dashboard")
  t.eq(r.status, 200)
  t.match(r.body, 'id="position" data%-borough%-live="/sitrep/live%?last_event_id=%d+"')
  t.contains(r.body, "Departments by rating today")      -- the chart
  t.contains(r.body, "Of 2 departments, 0 rate red, 1 amber and 0 green today")
  t.match(r.body, "Staff absent today</a>: 6 <strong class=\"govuk%-tag govuk%-tag%-%-orange\">%s*Amber")
  t.contains(r.body, "Rounds completed</a>: No answer")
end)

t.test("an update sent publishes an event the dashboard's stream follows", function()
  local lib, _, ms = F.setup()
  local before = borough.events.last_id()
  t.login(table.unpack(F.manager))
  local page = t.get("/departments/" .. lib.id .. "/update")
  t.eq(t.submit(page, F.answers(ms)).status, 303)
  local e = db.one("SELECT id, channel, data FROM _borough_events ORDER BY id DESC LIMIT 1")
  t.eq(e.id, before + 1)
  t.eq(e.channel, "updates")
  t.eq(json.decode(e.data), { department = lib.id })
end)

t.test("late and missing: sent after the deadline is late, none after it missing", function()
  local lib, waste = F.setup()
  t.eq(returns.status("2024-04-01", "16:00", "2024-04-01T14:59:00Z"), "on_time")   -- 15:59 BST
  t.eq(returns.status("2024-04-01", "16:00", "2024-04-01T15:01:00Z"), "late")
  local days = returns.days(returns.today(), 14)
  sent(lib, days[13], returns.deadline(days[13], "09:00"))
  sent(lib, days[12], returns.deadline(days[12], "17:30"))
  t.login(table.unpack(F.command))
  local r = t.get("/late")
  t.eq(r.status, 200)
  local rows = {}
  for row in r.body:gmatch('<tr class="govuk%-table__row"><th scope="row" class="govuk%-table__header">(.-)</tr>') do
    rows[#rows + 1] = row
  end
  t.eq(#rows, 2)
  t.match(rows[1], "^Libraries</th>" .. ('%s*<td class="govuk%-table__cell">Missing</td>'):rep(11)
                   .. '%s*<td class="govuk%-table__cell">Late</td>%s*<td class="govuk%-table__cell">Sent</td>')
  t.match(rows[2], "^Waste</th>")
  t.no_match(rows[2], ">Sent<")
end)

t.test("each measure over time: a line chart of the last 30 days and the answers", function()
  local lib, _, ms = F.setup()
  local days = returns.days(returns.today(), 30)
  sent(lib, days[1], days[1] .. "T08:00:00Z", "green", { [ms.absent] = { number = 2, rag = "green" } })
  sent(lib, days[29], days[29] .. "T08:00:00Z", "red", { [ms.absent] = { number = 11, rag = "red" } })
  sent(lib, "2000-01-01", "2000-01-01T08:00:00Z", "green", { [ms.absent] = { number = 99, rag = "green" } })
  t.login(table.unpack(F.command))
  local r = t.get("/measures/" .. ms.absent.id)
  t.eq(r.status, 200)
  t.contains(r.body, '<figure class="borough-chart"')
  t.contains(r.body, "Staff absent today each day for the last 30 days, for Libraries.")
  t.contains(r.body, ">11<")
  t.no_match(r.body, ">99<")                        -- older than 30 days
  r = t.get("/measures/" .. ms.status.id)          -- not a number: the answers, no chart
  t.eq(r.status, 200)
  t.no_match(r.body, "borough%-chart")
  t.eq(t.get("/measures/99999").status, 404)
  t.contains(t.get("/measures").body, "Rounds completed")
end)

t.test("the export: one CSV line per answer, with its update", function()
  local lib, _, ms = F.setup()
  sent(lib, "2024-04-01", "2024-04-01T08:00:00Z", "amber", { [ms.absent] = { number = 6, rag = "amber" } })
  local u = m.Updates:find { department = lib.id }
  m.Updates:update(u.id, { escalate = "silver", issue = "Short of staff, \"badly\"" })
  t.login(table.unpack(F.command))
  local r = t.get("/export.csv")
  t.eq(r.status, 200)
  t.contains(r:header("content-disposition"), 'filename="sitrep.csv"')
  local lines = {}
  for line in r.body:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
  t.eq(lines[1], "Date,Department,Measure,Number,Text,Rating,Sent at,Sent by,Late,Escalation,Issue")
  t.eq(lines[2], '2024-04-01,Libraries,Staff absent today,6,,amber,2024-04-01T08:00:00Z,Mo Manager,no,silver,'
                 .. '"Short of staff, ""badly"""')
  t.eq(#lines, 2)
end)
