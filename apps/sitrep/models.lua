-- The records of the situation report: departments, the managers of each,
-- the measures each department reports on, and the daily updates with
-- their answers. The rules of the service (sending today's update,
-- reminding those who have not, today's position) are functions here.
local rag, returns = borough.rag, borough.returns
local M = {}

M.DEADLINE = "16:00"                         -- each department's update is due by then, UK time
M.REMINDER = "every day at 14:00"            -- when managers who have not sent it are reminded
M.REMINDER_TEMPLATE = "8b1e6c2a-4f3d-4a7e-9c5b-2d1f0e9a8c71"   -- made in GOV.UK Notify
M.RATINGS = { { "green", "Green" }, { "amber", "Amber" }, { "red", "Red" } }
M.LEVELS = { { "none", "No" }, { "silver", "Yes, to Silver command" }, { "gold", "Yes, to Gold command" } }

M.Departments = borough.entity "departments" {
  label = "department",
  { "name", "text", required = true, unique = true, max_length = 100 },
  { "directorate", "text", max_length = 100 },
}

-- A manager of a department (a manager of several has a row for each).
M.Members = borough.entity "members" {
  label = "manager",
  indexes = { { "email", "department" } },
  { "name", "text", required = true, max_length = 100 },
  { "email", "email", required = true },
  { "department", "reference", to = "departments", required = true, index = true },
}

M.Measures = borough.entity "measures" {
  label = "measure",
  validate = function(m)
    if m.kind == "number" and (m.amber or m.red) and not m.good then
      return { good = "Select whether a lower or a higher number is better" }
    end
  end,
  { "department", "reference", to = "departments", required = true, index = true },
  { "name", "text", required = true, max_length = 200, label = "Question" },
  { "hint", "text", max_length = 300 },
  { "kind", "choice", required = true, label = "Answer",
    options = { { "number", "A number" }, { "rag", "Red, amber or green" }, { "yes_no", "Yes or no" },
                { "text", "Free text" } } },
  { "good", "choice", label = "Which is better",
    options = { { "lower", "A lower number" }, { "higher", "A higher number" }, { "yes", "Yes" }, { "no", "No" } } },
  { "amber", "number", label = "Amber at" },
  { "red", "number", label = "Red at" },
}

local function member_of(user, department)
  return user and M.Members:count { email = user.email, department = department } > 0
end
M.member_of = member_of

M.Updates = borough.entity "updates" {
  label = "update",
  indexes = { { "date", "department" }, { "escalate", "date" } },
  -- a manager sends only their own departments' updates (jobs and imports act as the system)
  rules = { create = function(user, u) return user == nil or member_of(user, u.department) end,
            update = function(user, u) return user == nil or member_of(user, u.department) end },
  { "department", "reference", to = "departments", required = true, index = true },
  { "date", "date", required = true },
  { "sent_at", "datetime", required = true },
  { "late", "boolean", default = false },
  { "sent_by", "text" },
  { "rag", "choice", options = M.RATINGS, label = "Rating" },
  { "escalate", "choice", options = M.LEVELS, default = "none", label = "Escalation" },
  { "issue", "long_text", max_length = 2000 },
}

M.Answers = borough.entity "answers" {
  label = "answer",
  indexes = { { "measure", "date" } },
  { "update", "reference", to = "updates", required = true, index = true },
  { "measure", "reference", to = "measures", required = true },
  { "date", "date", required = true, index = true },
  { "number", "number" },
  { "text", "long_text", max_length = 2000 },
  { "rag", "choice", options = M.RATINGS, label = "Rating" },
}

--- A measure's rating for an answer's values ({ number =, text = }).
function M.rating(m, a)
  if m.kind == "number" then return rag.judge(a.number, { good = m.good, amber = m.amber, red = m.red }) end
  if m.kind == "rag" then return a.text end
  if m.kind == "yes_no" and m.good and a.text then return a.text == m.good and "green" or "red" end
end

--- Every record of entity that matches conds, a page of 500 at a time.
function M.all(entity, conds)
  local list, after = {}, nil
  repeat
    local page, info = entity:where(conds, { after = after, per_page = 500 })
    table.move(page, 1, #page, #list + 1, list)
    after = page[#page] and page[#page].id
  until not info.more
  return list
end

--- Department names by id.
function M.department_names()
  local names = {}
  for _, d in ipairs(M.Departments:all { per_page = 500 }) do names[d.id] = d.name end
  return names
end

--- The measures of a department, in the order they were made.
function M.measures_of(department)
  return M.Measures:where({ department = department }, { per_page = 500 })
end

--- The answers of an update by measure id.
function M.answers_of(update)
  local by = {}
  for _, a in ipairs(M.Answers:where({ update = update.id }, { per_page = 500 })) do by[a.measure] = a end
  return by
end

--- The form of a department's update: one question per measure (field
-- m<id>), then whether to escalate an issue.
function M.form_for(measures)
  local list = {}
  for _, m in ipairs(measures) do
    local f = { "m" .. m.id, question = m.name, hint = m.hint, label = m.name }
    if m.kind == "number" then f[2], f.required, f.width = "number", true, 5
    elseif m.kind == "rag" then f[2], f.required, f.options = "choice", true, M.RATINGS
    elseif m.kind == "yes_no" then f[2], f.required = "boolean", true
    else f[2], f.max_length, f.as = "long_text", 2000, "textarea" end
    list[#list + 1] = f
  end
  list[#list + 1] = { "escalate", "choice", options = M.LEVELS, required = true, as = "radios",
                      question = "Is there an issue to escalate?", label = "Whether to escalate",
                      hint = "Silver command meets daily; Gold decides on matters for the whole council." }
  list[#list + 1] = { "issue", "long_text", max_length = 2000, label = "Issue",
                      question = "What is the issue, and what do you need?" }
  return borough.form(list)
end

--- What the form shows first: today's answers if sent, else the last ones.
function M.prefill(department, measures)
  local last = M.Updates:where({ department = department }, { order = "-date", per_page = 1 })[1]
  if not last then return {} end
  local values, by = {}, M.answers_of(last)
  for _, m in ipairs(measures) do
    local a = by[m.id]
    if a then
      if m.kind == "number" then values["m" .. m.id] = a.number
      elseif m.kind == "yes_no" then values["m" .. m.id] = a.text and a.text == "yes"
      else values["m" .. m.id] = a.text end
    end
  end
  if last.date == returns.today() then values.escalate, values.issue = last.escalate, last.issue end
  return values
end

--- Sends (or sends again) today's update of a department: the answers,
-- each rated, the update's worst rating, late if after the deadline, and an
-- event for the dashboards, all in one transaction.
function M.send(department, measures, values, user)
  return db.tx(function()
    local today, now = returns.today(), os.date("!%Y-%m-%dT%H:%M:%SZ")
    local answers, ratings = {}, {}
    for i, m in ipairs(measures) do
      local v = values["m" .. m.id]
      local a = { measure = m.id, date = today }
      if m.kind == "number" then a.number = v
      elseif m.kind == "yes_no" then a.text = v == nil and db.NULL or (v and "yes" or "no")
      else a.text = v == nil and db.NULL or v end
      a.rag = M.rating(m, a) or db.NULL
      answers[i], ratings[i] = a, a.rag
    end
    local fields = { department = department.id, date = today, sent_at = now, sent_by = user.name or user.email,
                     late = returns.status(today, M.DEADLINE, now) == "late",
                     rag = rag.worst(ratings, #measures) or db.NULL,
                     escalate = values.escalate, issue = values.issue or db.NULL }
    local u = M.Updates:find { department = department.id, date = today }
    local by, errors = {}, nil
    if u then
      by = M.answers_of(u)
      u, errors = M.Updates:update(u.id, fields)
    else
      u, errors = M.Updates:create(fields)
    end
    if not u then return nil, errors end
    for _, a in ipairs(answers) do
      a.update = u.id
      local ok, why
      if by[a.measure] then ok, why = M.Answers:update(by[a.measure].id, a) else ok, why = M.Answers:create(a) end
      if not ok then return nil, why end
    end
    borough.events.publish("updates", { department = department.id })
    return u
  end)
end

--- Today's position: each department with its update (if any), its status
-- (on time, late, due, missing) and its answers with their measures.
function M.position(today, now)
  local sent = {}
  for _, u in ipairs(M.all(M.Updates, { date = today })) do sent[u.department] = u end
  local measures, answers = {}, {}
  for _, m in ipairs(M.Measures:all { per_page = 500 }) do
    local list = measures[m.department] or {}
    list[#list + 1] = m
    measures[m.department] = list
  end
  for _, a in ipairs(M.all(M.Answers, { date = today })) do answers[a.measure] = a end
  local rows = {}
  for i, d in ipairs(M.Departments:all { order = "name", per_page = 500 }) do
    local u = sent[d.id]
    local row = { department = d, update = u, status = returns.status(today, M.DEADLINE, u and u.sent_at, now),
                  answers = {} }
    for j, m in ipairs(measures[d.id] or {}) do
      local a = u and answers[m.id]
      row.answers[j] = { measure = m, answer = a, rating = a and a.rag }
    end
    rows[i] = row
  end
  return rows
end

--- Emails a reminder to each manager of a department with no update yet
-- today; at most one each a day (the message's reference says so).
function M.remind(today)
  local sent = 0
  for _, d in ipairs(M.Departments:all { per_page = 500 }) do
    if not M.Updates:find { department = d.id, date = today } then
      for _, member in ipairs(M.Members:where({ department = d.id }, { per_page = 500 })) do
        local id = notify.email {
          email_address = member.email, template_id = M.REMINDER_TEMPLATE,
          reference = ("reminder-%s-%d-%d"):format(today, d.id, member.id),
          personalisation = { name = member.name, department = d.name, deadline = M.DEADLINE,
                              link = borough.url("/departments/" .. d.id .. "/update", { absolute = true }) },
        }
        if id then sent = sent + 1 end
      end
    end
  end
  return sent
end

return M
