-- SitRep: the situation report. Each department's managers answer its
-- measures once a day by a deadline, in one form prefilled from their last
-- answers; command (Silver and Gold) see today's position across
-- departments as it arrives, each measure over time, and the issues
-- escalated to them; the council's BI tool reads the data feed. Records
-- and rules are in models.lua; each page below prepares data for a view.
local app = borough.app {
  title = "SitRep", mount = "/sitrep",
  description = "Each department's daily situation report by 16:00, and the position for command",
  roles = { "manager", "command", "coordinator", "reporting" },
}
local m = require "models"
local chart, rag, returns = borough.chart, borough.rag, borough.returns

local VIEWERS = { "manager", "command", "coordinator" }
local COMMAND = { "command", "coordinator" }

local STATUS = {
  on_time = { text = "Sent", classes = "govuk-tag--green" }, late = { text = "Late", classes = "govuk-tag--orange" },
  due = { text = "Due", classes = "govuk-tag--blue" }, missing = { text = "Missing", classes = "govuk-tag--red" },
}

app:get("/", { role = VIEWERS }, function(req)
  return borough.redirect(borough.url(req.user.roles.manager and "/updates" or "/dashboard"))
end)

-- Managers: their departments, and today's update of each ---------------------

app:get("/updates", { role = "manager" }, function(req)
  local today, list = returns.today(), {}
  for i, member in ipairs(m.Members:where({ email = req.user.email }, { per_page = 100 })) do
    local d = m.Departments:find(member.department)
    local u = m.Updates:find { department = d.id, date = today }
    list[i] = { department = d, update = u, status = STATUS[returns.status(today, m.DEADLINE, u and u.sent_at)] }
  end
  local sent = req.query.sent and m.Departments:find(req.query.sent)
  return borough.view("updates", { title = "Your updates", departments = list, deadline = m.DEADLINE,
                                   sent = sent and sent.name })
end)

-- The update page of a department its manager may send; nil for any other.
local function update_page(req)
  local d = m.Departments:find(req.params.id)
  if not d or not m.member_of(req.user, d.id) then return nil end
  local measures = m.measures_of(d.id)
  return d, measures, m.form_for(measures)
end

local function show_update(req, d, form, ctx)
  ctx.title, ctx.caption, ctx.back = "Today's update", d.name, "/updates"
  ctx.intro = ("Send it by %s today. It starts with your last answers: change what is different."):format(m.DEADLINE)
  ctx.submit = "Send update"
  return form:show(req, ctx)
end

app:get("/departments/:id/update", { role = "manager" }, function(req)
  local d, measures, form = update_page(req)
  if not d then return borough.status(404) end
  return show_update(req, d, form, { values = m.prefill(d.id, measures) })
end)

app:post("/departments/:id/update", { role = "manager" }, function(req)
  local d, measures, form = update_page(req)
  if not d then return borough.status(404) end
  local values, errors, raw = form:read(req)
  if values and values.escalate ~= "none" and not values.issue then
    errors = { { field = "issue", text = "Enter the issue to escalate", href = "#issue" } }
    errors.issue, raw, values = errors[1].text, req.form, nil
  end
  local u, why
  if values then u, why = m.send(d, measures, values, req.user) end
  if u then return borough.redirect(borough.url("/updates?sent=" .. d.id)) end
  if why then errors, raw = { { text = why[1] and why[1].message or tostring(why), href = "#" } }, req.form end
  return show_update(req, d, form, { errors = errors, raw = raw, status = 400 })
end)

-- Command: today's position, measures over time, escalations -------------------

app:events("/live", { role = VIEWERS }, function(req) return { "updates" } end)

app:get("/dashboard", { role = VIEWERS }, function(req)
  local today = returns.today()
  local rows, ratings, counts = m.position(today), {}, { on_time = 0, late = 0, due = 0, missing = 0 }
  for i, row in ipairs(rows) do
    row.tag, ratings[i] = STATUS[row.status], row.update and row.update.rag
    row.rating = row.update and row.update.rag and rag.tag(row.update.rag)
    counts[row.status] = counts[row.status] + 1
    for _, a in ipairs(row.answers) do
      a.tag = a.rating and rag.tag(a.rating)
      a.text = a.answer and (a.answer.number and borough.form.display(m.Answers.field.number, a.answer.number)
                             or a.answer.text) or "No answer"
    end
  end
  local c = rag.count(ratings, #rows)
  local summary = chart.rag { title = "Departments by rating today", id = "ratings", counts = c,
    summary = ("Of %d departments, %d rate red, %d amber and %d green today; %d have not sent an update.")
              :format(#rows, c.red, c.amber, c.green, counts.due + counts.missing) }
  local escalations = m.Updates:where({ date = today, escalate = { "silver", "gold" } }, { order = "-sent_at" })
  return borough.view("dashboard", { title = "Today's position", today = today, rows = rows, counts = counts,
    summary = summary, escalations = escalations, names = m.department_names(), deadline = m.DEADLINE })
end)

app:get("/measures", { role = VIEWERS }, function(req)
  local list, names = m.Measures:all { order = "department", per_page = 500 }, m.department_names()
  for _, x in ipairs(list) do x.department_name = names[x.department] end
  return borough.view("measures", { title = "Measures", measures = list })
end)

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

app:get("/measures/:id", { role = VIEWERS }, function(req)
  local x = m.Measures:find(req.params.id)
  if not x then return borough.status(404) end
  local days = returns.days(returns.today(), 30)
  local by = {}
  for _, a in ipairs(m.Answers:where({ measure = x.id, date = { ge = days[1] } }, { per_page = 500 })) do
    by[a.date] = a
  end
  local values, rows = {}, {}
  for i, day in ipairs(days) do
    local a = by[day]
    values[i] = a and a.number
    rows[#rows + 1] = a and { date = day, text = a.number or a.text, tag = a.rag and rag.tag(a.rag) }
  end
  local labels = {}
  for i, day in ipairs(days) do labels[i] = tonumber(day:sub(9)) .. " " .. MONTHS[tonumber(day:sub(6, 7))] end
  local trend = x.kind == "number" and chart.line { title = x.name, id = "trend", labels = labels,
    series = { { name = x.name, values = values } },
    summary = ("%s each day for the last 30 days, for %s."):format(x.name, m.department_names()[x.department]) }
  return borough.view("measure", { title = x.name, measure = x, trend = trend, rows = rows,
                                   department = m.department_names()[x.department] })
end)

app:get("/escalations", { role = VIEWERS }, function(req)
  local list, page = m.Updates:where({ escalate = { "silver", "gold" } },
                                     { order = "-sent_at", page = req.query.page, per_page = 25 })
  return borough.view("escalations", { title = "Issues escalated", escalations = list, page = page,
                                       names = m.department_names() })
end)

-- Late and missing updates over the last fortnight.
app:get("/late", { role = COMMAND }, function(req)
  local days = returns.days(returns.today(), 14)
  local sent = {}
  for _, u in ipairs(m.all(m.Updates, { date = { ge = days[1] } })) do
    sent[u.department .. " " .. u.date] = u
  end
  local rows = {}
  for i, d in ipairs(m.Departments:all { order = "name", per_page = 500 }) do
    local cells = {}
    for j, day in ipairs(days) do
      local u = sent[d.id .. " " .. day]
      cells[j] = STATUS[returns.status(day, m.DEADLINE, u and u.sent_at)]
    end
    rows[i] = { name = d.name, cells = cells }
  end
  return borough.view("late", { title = "Late and missing updates", days = days, rows = rows })
end)

-- Reminders, export and the data feed -------------------------------------------

app:every(m.REMINDER, function() m.remind(returns.today()) end)

app:post("/reminders", { role = "coordinator" }, function(req)
  local n = m.remind(returns.today())
  return borough.redirect(borough.url("/late?reminded=" .. n))
end)

app:get("/export.csv", { role = COMMAND }, function(req)
  local names, measures = m.department_names(), {}
  for _, x in ipairs(m.Measures:all { per_page = 500 }) do measures[x.id] = x end
  local header = { "Date", "Department", "Measure", "Number", "Text", "Rating", "Sent at", "Sent by", "Late",
                   "Escalation", "Issue" }
  return borough.download.csv("sitrep.csv", header, function(after)
    local page, rows, ids, updates = m.Answers:where({}, { after = after, per_page = 500 }), {}, {}, {}
    for i, a in ipairs(page) do ids[i] = a.update end
    for _, u in ipairs(#ids > 0 and m.Updates:where({ id = ids }, { per_page = 500 }) or {}) do updates[u.id] = u end
    for i, a in ipairs(page) do
      local u, x = updates[a.update], measures[a.measure]
      rows[i] = { a.date, names[u.department], x and x.name, a.number, a.text, a.rag, u.sent_at, u.sent_by,
                  u.late and "yes" or "no", u.escalate, u.issue }
    end
    return rows, page[#page] and page[#page].id
  end)
end)

borough.feed { m.Departments, m.Measures, m.Updates, m.Answers }:mount(app, "/_feed", { role = "reporting" })

-- Setting up: departments, their managers and measures -------------------------

borough.pages(m.Departments, { title = "Departments", columns = { "name", "directorate" } })
  :mount(app, "/setup/departments", { role = "coordinator" })
borough.pages(m.Members, { title = "Managers", columns = { "name", "email", "department" },
                           filters = { "department" } })
  :mount(app, "/setup/managers", { role = "coordinator" })
borough.pages(m.Measures, { title = "Measures", columns = { "name", "department", "kind", "good" },
                            filters = { "department", "kind" } })
  :mount(app, "/setup/measures", { role = "coordinator" })

return app
