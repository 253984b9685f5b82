-- Tests of lua/borough/workflow.lua on the complaints fixture app.
local t = require "borough.test"
local models = require "models"
local Flow, Complaints = models.ComplaintFlow, models.Complaints

local officer = { id = 1, email = "olu@example.org", name = "Olu Officer", roles = { officer = true } }
local manager = { id = 2, email = "mo@example.org", name = "Mo Manager", roles = { manager = true } }
local visitor = { id = 3, email = "v@example.org", name = "Val", roles = {} }

local function count_followups()
  return models.Followups:count()
end

t.test("a case starts in the first state with its due date and a history entry", function()
  local c = t.ok(Flow:start({ subject = "Bins not collected" }, { user = officer }))
  t.eq(c.state, "open")
  t.ok(c.due_at > fields_now(), "due in the future")
  local h = Flow:history(c)
  t.eq(#h, 1)
  t.eq(h[1].step, "start")
  t.eq(h[1].to_state, "open")
  t.eq(h[1].user_name, "Olu Officer")
end)

function fields_now() return require("borough.fields").iso_datetime(os.time()) end

t.test("a step checks roles, state and its fields", function()
  local c = Flow:start({ subject = "Noise" }, { user = officer })
  local moved, errors, why = Flow:move(c, "answer", { answer = "Sorry" }, { user = visitor })
  t.eq(moved, nil)
  t.eq(why, "forbidden")
  t.eq(errors[1].message, "You do not have permission to answer the complaint")
  moved, errors, why = Flow:move(c, "answer", {}, { user = false })
  t.eq(why, "forbidden", "no one signed in")
  moved, errors, why = Flow:move(c, "close", {}, { user = manager })
  t.eq(why, "conflict")
  t.eq(errors[1].message, "This complaint is open: it cannot close now")
  moved, errors, why = Flow:move(c, "answer", { severity = "enormous" }, { user = officer })
  t.eq(why, "invalid")
  t.eq(errors.answer, "Enter answer")
  t.eq(errors.severity, "Select severity from the list")
  t.eq(#errors, 2)
  t.eq(Complaints:find(c.id).state, "open", "nothing changed")
  t.eq(#Flow:history(c), 1)
end)

t.test("a move changes the state, records who and when, and runs after in the same transaction", function()
  local c = Flow:start({ subject = "Pothole" }, { user = officer })
  local before = count_followups()
  local moved = t.ok(Flow:move(c, "answer", { answer = "Filled", severity = "HIGH", note = "  rang back  " },
                               { user = officer }))
  t.eq(moved.state, "answered")
  t.eq(moved.answer, "Filled")
  t.eq(moved.severity, "high")
  t.eq(count_followups(), before + 1)
  local h = Flow:history(c)
  t.eq(#h, 2)
  t.eq({ h[2].step, h[2].from_state, h[2].to_state, h[2].user_id, h[2].note }, { "answer", "open", "answered", "1", "rang back" })
  t.match(h[2].created_at, "^%d%d%d%d%-%d%d%-%d%dT")
  -- the entity's audit trail has the change too
  local audit = Complaints:history(c.id)
  t.eq(audit[#audit].after.state, "answered")
end)

t.test("a failing after rolls the whole move back: state, history and follow-up", function()
  local c = Flow:start({ subject = "Streetlight" }, { user = officer })
  local before = count_followups()
  t.raises(function()
    Flow:move(c, "answer", { answer = "Fixed", severity = "low", fail_after = "yes" }, { user = officer })
  end, "after failed")
  t.eq(Complaints:find(c.id).state, "open")
  t.eq(#Flow:history(c), 1)
  t.eq(count_followups(), before)
end)

t.test("steps_for lists what each user may do now; a state without due clears it", function()
  local c = Flow:start({ subject = "Graffiti" }, { user = officer })
  local names = function(list) local n = {} for i, s in ipairs(list) do n[i] = s.name end return n end
  t.eq(names(Flow:steps_for(c, officer)), { "answer" })
  t.eq(names(Flow:steps_for(c, manager)), { "answer" })
  c = Flow:move(c, "answer", { answer = "Cleaned", severity = "low" }, { user = manager })
  t.eq(names(Flow:steps_for(c, officer)), {})
  t.eq(names(Flow:steps_for(c, manager)), { "close", "reopen" })
  c = Flow:move(c, "close", {}, { user = manager })
  t.eq(c.due_at, nil)
  t.eq(c.state, "closed")
end)

t.test("overdue cases are listed, most overdue first; counts by state", function()
  local a = Flow:start({ subject = "Late one" }, { user = officer })
  local b = Flow:start({ subject = "Later one" }, { user = officer })
  db.exec("UPDATE complaints SET due_at = '2020-01-02T00:00:00Z' WHERE id = ?", a.id)
  db.exec("UPDATE complaints SET due_at = '2020-01-01T00:00:00Z' WHERE id = ?", b.id)
  local list = Flow:overdue()
  t.eq(#list, 2)
  t.eq(list[1].id, b.id)
  t.eq(list[2].id, a.id)
  local counts = Flow:counts()
  t.eq(counts[1].state, "open")
  t.eq(counts[1].count, Complaints:count { state = "open" })
  t.eq(counts[3].label, "Closed")
  t.eq(counts[3].count, 1)
end)

t.test("the tag, the buttons and the history table are GOV.UK components", function()
  local c = Flow:start({ subject = "Fly-tipping" }, { user = officer })
  t.eq(tostring(Flow:tag(c)), '<strong class="govuk-tag govuk-tag--blue">\n  Open\n</strong>')
  local b = tostring(Flow:buttons(c, officer))
  t.contains(b, 'href="/complaints/complaints/' .. c.id .. '/steps/answer"')
  t.contains(b, "Answer the complaint")
  c = Flow:move(c, "answer", { answer = "Removed", severity = "low" }, { user = manager })
  t.eq(tostring(Flow:buttons(c, officer)), "")
  local h = tostring(Flow:history_table(c))
  t.contains(h, "Answer the complaint (Answered)")
  t.contains(h, "Mo Manager")
end)

t.test("the step pages: the form, its errors, and the move (signed in)", function()
  if not pcall(require, "borough.auth") then return end       -- needs staff sign-in (t.login)
  local c = Flow:start({ subject = "Dog fouling" }, { user = officer })
  t.login("olu@example.org", { roles = { "officer" } })
  local page = t.get("/complaints/" .. c.id .. "/steps/answer")
  t.eq(page.status, 200)
  t.contains(page.body, 'name="answer"')
  t.contains(page.body, 'type="radio" value="low"')          -- a choice as radios (borough.form)
  t.contains(page.body, 'name="note"')
  local r = t.submit(page, { answer = "", severity = "huge" })
  t.eq(r.status, 400)
  t.contains(r.body, 'href="#severity">Select severity from the list</a>')
  r = t.submit(page, { answer = "" })
  t.eq(r.status, 400)
  t.contains(r.body, 'href="#answer">Enter answer</a>')
  r = t.submit(page, { answer = "Cleaned up", severity = "low" })
  t.eq(r.status, 303)
  t.eq(Complaints:find(c.id).state, "answered")
  t.eq(t.get("/complaints/" .. c.id .. "/steps/close").status, 403)
  t.eq(t.get("/complaints/" .. c.id .. "/steps/answer").status, 409)
  t.eq(t.get("/complaints/999999/steps/answer").status, 404)
  -- a manager sees the steps without fields as buttons that post at once
  local m = t.client()
  m:login("mo@example.org", { name = "Mo Manager", roles = { "manager" } })
  local show = m:get("/complaints/" .. c.id)
  t.contains(show.body, '<form method="post" action="/complaints/complaints/' .. c.id .. '/steps/close">')
  t.contains(show.body, "govuk-button--secondary")
  t.contains(show.body, 'formaction="/complaints/complaints/' .. c.id .. '/steps/reopen"')   -- one form, two steps
  r = m:submit(show, {}, "/complaints/complaints/" .. c.id .. "/steps/close")
  t.eq(r.status, 303)
  t.eq(Complaints:find(c.id).state, "closed")
  t.eq(Flow:history(c)[3].user_name, "Mo Manager")
end)

t.test("generated pages (borough.pages) show the state, the next steps and the history", function()
  t.login("olu@example.org", { name = "Olu Officer", roles = { "officer" } })
  local r = t.submit(t.get("/complaints/new"), { subject = "Overflowing bin" })
  t.eq(r.status, 303)
  local c = Complaints:find { subject = "Overflowing bin" }
  t.eq(c.state, "open", "a case made by a generated form starts in the first state")
  local page = t.get("/complaints/" .. c.id)
  t.contains(page.body, '<strong class="govuk-tag govuk-tag--blue">\n  Open\n</strong>')
  t.contains(page.body, 'href="/complaints/complaints/' .. c.id .. '/steps/answer"')
  r = t.submit(t.get("/complaints/" .. c.id .. "/steps/answer"), { answer = "Emptied", severity = "low", note = "Crew sent" })
  t.eq(r.status, 303)
  page = t.get("/complaints/" .. c.id)
  t.contains(page.body, "Answered")
  t.contains(page.body, "Answer the complaint (Answered)")
  t.contains(page.body, "Olu Officer")
  t.contains(page.body, "Crew sent")
  t.contains(t.get("/complaints").body, "Answered")
  page = t.get("/complaints/" .. c.id .. "?lang=cy")              -- the platform's words in Welsh
  t.contains(page.body, '<caption class="govuk-table__caption govuk-table__caption--m">Hanes</caption>')
  t.contains(page.body, ">Pryd<")
end)

t.test("a workflow declared wrongly says where and what", function()
  local here = "tests/lua/workflow/tests/workflow_test.lua:%d+: "
  local function refused(spec, message)
    local ok, err = pcall(borough.workflow, spec)
    t.eq(ok, false)
    t.match(err, "^" .. here)
    t.contains(err, message)
  end
  refused({ entity = Complaints, states = {} }, "workflow complaints: give at least one state")
  refused({ entity = Complaints, states = { { "a" } }, steps = { { "go", to = "b", role = "manager" } } },
          "step go goes to an unknown state b")
  refused({ entity = Complaints, states = { { "a", due = "soon" } } }, 'due must be like "2 days"')
  refused({ entity = Complaints, states = { { "a" } }, steps = { { "go", to = "a", role = "manager", fields = { "nope" } } } },
          "step go names an unknown field nope")
  -- Who may take a step is never left to a typo: `roles` (the old
  -- spelling) is refused, and so is a step that does not say.
  refused({ entity = Complaints, states = { { "a" } }, steps = { { "go", to = "a", roles = "manager" } } },
          "workflow complaints step go: unknown option 'roles' (who may do it is role = \"x\" or role = { \"x\", \"y\" })")
  refused({ entity = Complaints, states = { { "a" } }, steps = { { "go", to = "a" } } },
          'step go: say who may take it: role = "manager", a list of roles, or "public" for anyone')
  refused({ entity = Complaints, states = { { "a", color = "red" } } },
          "workflow complaints state a: unknown option 'color'")
  refused({ entity = Complaints, path = "/x", states = { { "a" } } },
          "borough.workflow: unknown option 'path' (the path is the second argument of mount(app, path, opts))")
  refused({ entity = Complaints, states = { { "a" } }, steps = { { "go", to = "a", role = "Boss!" } } },
          "role must be a role name")
  local ok, err = pcall(function() require("borough.workflow").define {} end)
  t.eq(ok, false)
  t.contains(err, "workflow.define: is now borough.workflow { ... }")
  ok, err = pcall(function() Flow:mount({}, "/elsewhere") end)
  t.contains(err, "the workflow is already mounted at /complaints")
end)

t.test("a step with role = \"public\" may be taken by anyone, also with no one signed in", function()
  local c = Flow:start({ subject = "Noisy neighbours" }, { user = officer })
  c = Flow:move(c, "answer", { answer = "Spoke to them", severity = "low" }, { user = officer })
  c = Flow:move(c, "close", {}, { user = manager })
  local moved, _, why = Flow:move(c, "reopen", {}, { user = false })
  t.eq(why, "forbidden", "a manager's step, with no one signed in")
  moved = t.ok(Flow:move(c, "reply", {}, { user = false }))
  t.eq(moved.state, "open")
  t.eq(Flow:history(c)[4].user_name, nil)
  local names = {}
  for i, s in ipairs(Flow:steps_for(Flow:move(moved, "answer", { answer = "Again", severity = "low" },
                                              { user = officer }), visitor)) do names[i] = s.name end
  t.eq(names, {}, "a member of staff without the roles may take only public steps")
end)

t.test("the list shows a state by its label and a choice by its text, and filters by both", function()
  t.login("olu@example.org", { name = "Olu Officer", roles = { "officer" } })
  local a = Flow:start({ subject = "Filter me one" }, { user = officer })
  Flow:move(a, "answer", { answer = "Done", severity = "high" }, { user = officer })
  Flow:start({ subject = "Filter me two" }, { user = officer })
  local page = t.get("/complaints?state=answered&severity=high")
  t.eq(page.status, 200)
  t.contains(page.body, "Filter me one")
  t.no_match(page.body, "Filter me two")
  t.contains(page.body, '<strong class="govuk-tag govuk-tag--yellow">\n  Answered\n</strong>')
  t.no_match(page.body, ">answered<")
  -- the filters are selects in the list's form, the chosen ones selected
  t.contains(page.body, '<select class="govuk-select" id="filter-state" name="state">')
  t.contains(page.body, '<option value="answered" selected>Answered</option>')
  t.contains(page.body, '<option value="high" selected>high</option>')
  t.contains(page.body, '<option value="">All</option>')
  -- sorting and paging keep the filters
  t.contains(page.body, 'href="/complaints/complaints?severity=high&amp;sort=subject&amp;state=answered"')
  -- a value that is not a choice filters nothing
  t.contains(t.get("/complaints?state=nonsense").body, "Filter me two")
  -- with no one filter, the open ones are there too
  t.contains(t.get("/complaints?state=open").body, "Filter me two")
  t.no_match(t.get("/complaints?state=open").body, "Filter me one")
end)
