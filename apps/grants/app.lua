-- Grants: one app for every grant scheme, from invitation to payment.
-- Schemes are data (schemes, their questions: a grants manager's pages);
-- businesses on the rates list are invited by email and text message with
-- a single-use link; applicants answer one question a page; the council's
-- fraud checks flag what a second person must clear; assessors and a
-- different approver decide; approvals never overspend a scheme's budget;
-- finance pays in runs. Records and rules are in models.lua.
local app = borough.app { title = "Business grants", mount = "/grants",
                          description = "Apply for a grant for your business, and follow your application",
                          roles = { "assessor", "approver", "finance", "manager" } }
local m = require "models"
local Apps, Schemes, Flow = m.Applications, m.Schemes, m.Flow
local links, payments, flags, questions = borough.links, borough.payments, borough.flags, borough.questions

local STAFF, ASSESSORS, MANAGERS, FINANCE = m.STAFF, m.ASSESSORS, { "manager" }, { "finance", "manager" }
local CONTACT = "Email grants@council.example.gov.uk or call 0300 123 4567 if you need help."
local FILES = { max = 10 * 1024 * 1024, types = { "pdf", "jpeg", "png" } }
local EVIDENCE = { evidence_1 = FILES, evidence_2 = FILES, evidence_3 = FILES }

local function go(path) return borough.redirect(borough.url(path)) end

-- A record's fields that have a value, as a GOV.UK summary list, as people read them.
local function summary(e, r, names)
  local rows = {}
  for _, n in ipairs(names) do
    if r[n] ~= nil then
      rows[#rows + 1] = { key = { text = e.field[n].label }, value = { html = tostring(borough.form.display_html(e.field[n], r[n])) } }
    end
  end
  return borough.govuk.summaryList { rows = rows }
end

-- A long-lived random cookie on the public start pages: how the fraud
-- checks tell one device from another.
local function with_device(req, res)
  if not req.cookies.grants_device then
    res.headers["Set-Cookie"] = borough.cookie("grants_device", borough.token(16), { max_age = 365 * 86400 })
  end
  return res
end

-- Applying ----------------------------------------------------------------------

app:get("/", { public = true }, function(req)
  if req.user and next(req.user.roles) then return go("/dashboard") end
  local open = {}
  for _, s in ipairs(Schemes:where({ who = "anyone" }, { order = "name" })) do
    if m.open(s) then open[#open + 1] = s end
  end
  return with_device(req, borough.view("home", { title = "Apply for a grant", schemes = open }))
end)

local function start_page(req, scheme, start)
  return with_device(req, borough.view("start", { title = scheme.name, scheme = scheme, start = start }))
end

-- A scheme open to anyone: its start page, whose button makes the application and its link.
local function open_to_anyone(req)
  local scheme = Schemes:find { slug = req.params.slug, who = "anyone" }
  if not m.open(scheme) then return borough.status(404) end
  if req.method == "POST" then return go("/apply/" .. m.start(scheme)) end
  return start_page(req, scheme, false)
end
app:get("/apply-to/:slug", { public = true }, open_to_anyone)
app:post("/apply-to/:slug", { public = true }, open_to_anyone)

local function linked(req, purpose)
  local id, why = links.find(purpose, req.params.token)
  if not id then return nil, links.page(why, { contact = CONTACT }) end
  return Apps:find(id)
end

app:get("/start/:token", { public = true }, function(req)
  local a, page = linked(req, "apply")
  if not a then return page end
  return start_page(req, Schemes:find(a.scheme), borough.url("/apply/" .. req.params.token))
end)

borough.flow {
  name = "apply", entity = Apps, reference = "reference", answers = "answers",
  record = function(req) return linked(req, "apply") end,
  pages = function(req, a)
    if not m.open(Schemes:find(a.scheme)) then return nil, borough.view("closed", { title = "This grant has closed" }, 410) end
    return m.pages_for(a)
  end,
  check = { title = "Check your answers before sending your application", submit = "Accept and send" },
  done = { title = "Application sent", text = "We have sent you an email with your reference number. We will tell "
           .. "you when we have decided, usually within 10 working days." },
  submit = function(a, req) return m.submitted(a, req) end,
}:mount(app, "/apply/:token", { public = true, files = EVIDENCE, max_body = 32 * 1024 * 1024 })

local MoreInfo = borough.form(Apps, { { "info_reply", required = true, question = "Your answer" },
  { "evidence_3", question = "Upload a file (optional)", hint = "A PDF, PNG or JPG, smaller than 10 MB" } })

local function more_info(req)
  local a, page = linked(req, "more-info")
  if not a then return page end
  local ctx = { title = "Tell us more about your application", intro = a.info_request, caption = a.reference }
  if req.method == "POST" then
    local values, errors, raw = MoreInfo:read(req, a)
    if values and db.tx(function()
      Apps:update(a.id, values)
      links.use("more-info", a.id)
      return Flow:move(a, "info_added", {}, { user = false })
    end) then
      return borough.view("closed", { title = "Thank you", text = "We have your answer and will carry on with your application." })
    end
    ctx.errors, ctx.raw = errors or { { text = "Your application has moved on: " .. CONTACT } }, raw
  end
  return MoreInfo:show(req, ctx)
end
app:get("/more-info/:token", { public = true }, more_info)
app:post("/more-info/:token", { public = true, files = { evidence_3 = FILES }, max_body = 12 * 1024 * 1024 }, more_info)

-- The dashboard and reports -----------------------------------------------------

app:get("/dashboard", { role = STAFF }, function(req)
  local reports, labels, spent, left = {}, {}, {}, {}
  for i, s in ipairs(Schemes:all({ order = "name", per_page = 100 })) do
    local r = m.report(s)
    reports[i], labels[i], spent[i], left[i] = r, s.name, r.committed / 100, r.remaining / 100
  end
  local chart = #reports > 0 and borough.chart.bar { title = "Budgets", prefix = "£", stacked = true, labels = labels,
    summary = "How much of each scheme's budget is committed to approved applications, and how much is left.",
    series = { { name = "Committed", values = spent }, { name = "Left", values = left } } }
  local roles = req.user.roles
  return borough.view("dashboard", { title = "Dashboard", reports = reports, chart = chart, manager = roles.manager,
                                     assessor = roles.assessor or roles.manager, overdue = Flow:overdue({ per_page = 10 }) })
end)

app:get("/schemes/:id/return.csv", { role = MANAGERS }, function(req)
  local s = Schemes:find(req.params.id)
  if not s then return borough.status(404) end
  return borough.download.csv(s.slug .. "-return.csv", { "Reference", "Business or person", "Business rates reference",
    "Postcode", "State", "Amount", "Sent", "Decided", "Open flags" }, function(after)
    local page = Apps:where({ scheme = s.id, state = { ne = "started" } }, { after = after, per_page = 500 })
    local rows = {}
    for i, a in ipairs(page) do
      rows[i] = { a.reference, a.business_name or a.contact_name, a.rates_ref, a.postcode, Flow:label(a.state),
                  a.amount and ("%.2f"):format(a.amount / 100), a.submitted_at, a.decided_at, #flags.open(Apps, a.id) }
    end
    return rows, page[#page] and page[#page].id
  end)
end)

-- Schemes -----------------------------------------------------------------------

app:get("/schemes/:id", { role = MANAGERS }, function(req)
  local s = Schemes:find(req.params.id)
  if not s then return borough.status(404) end
  local qs = json.decode(s.questions or "[]")
  for _, q in ipairs(qs) do q.describe = questions.describe(q) end
  local names = { "slug", "who", "details", "amount_rule", "amount", "bands", "min_amount", "max_amount", "opens_on",
                  "closes_on", "intro", "evidence", "reminder_days" }
  local sums = {}
  for i, row in ipairs(m.report(s).sums) do sums[i] = { key = { text = row[1] }, value = { text = row[2] } } end
  return borough.view("scheme", { title = s.name, s = s, questions = qs, queued = req.query.queued,
    summary = summary(Schemes, s, names), budget = borough.govuk.summaryList { rows = sums } })
end)

app:post("/schemes/examples", { role = MANAGERS }, function(req)
  for _, def in ipairs(require "seeds") do assert(m.import_scheme(def)) end
  return go("/schemes")
end)

local Definition = borough.form { { "definition", "long_text", required = true, max_length = 100000,
  question = "The scheme's definition (JSON)", hint = "A scheme with the short name of one already here changes it" } }
Definition:mount(app, "/schemes/import", { role = MANAGERS, title = "Import a scheme", back = "/schemes",
  done = function(req, values)
    local s, errors = m.import_scheme(values.definition)
    if not s then return Definition:show(req, { title = "Import a scheme", raw = values, back = borough.url("/schemes"),
                                                errors = { { text = errors[1].message, href = "#definition" } } }) end
    return go("/schemes/" .. s.id)
  end })

local function question_page(req, extra)
  local s = Schemes:find(req.params.id)
  if not s then return borough.status(404) end
  local ctx = { title = "Add a question", caption = s.name, back = borough.url("/schemes/" .. s.id) }
  if req.method == "POST" then
    local values, errors, raw = questions.form:read(req)
    local list = values and questions.add(json.decode(s.questions or "[]"), values, { taken = Apps.names })
    if list then
      Schemes:update(s.id, { questions = json.encode(list) })
      return go("/schemes/" .. s.id)
    end
    if values then _, errors = questions.add(json.decode(s.questions or "[]"), values, { taken = Apps.names }) end
    ctx.errors, ctx.raw = errors, raw
  end
  return questions.form:show(req, ctx)
end
app:get("/schemes/:id/questions", { role = MANAGERS }, question_page)
app:post("/schemes/:id/questions", { role = MANAGERS }, question_page)

app:post("/schemes/:id/questions/:name/remove", { role = MANAGERS }, function(req)
  local s = Schemes:find(req.params.id)
  if not s then return borough.status(404) end
  Schemes:update(s.id, { questions = json.encode(questions.remove(json.decode(s.questions or "[]"), req.params.name)) })
  return go("/schemes/" .. s.id)
end)

app:post("/schemes/:id/invite", { role = MANAGERS }, function(req)
  local s = Schemes:find(req.params.id)
  if not s or s.who ~= "invited" then return borough.status(404) end
  m.invite_all(s)
  return go("/schemes/" .. s.id .. "?queued=1")
end)

app:post("/schemes/:id/remind", { role = MANAGERS }, function(req)
  jobs.enqueue("remind", { scheme = tonumber(req.params.id) })
  return go("/schemes/" .. req.params.id .. "?queued=1")
end)

app:job("invite", { attempts = 3 }, function(args) m.invite(args.scheme, args.first, args.last) end)
app:job("remind", function(args) m.remind(args.scheme) end)
app:every("every day at 09:00", function()
  for _, s in ipairs(Schemes:where({ who = "invited" }, { per_page = 500 })) do jobs.enqueue("remind", { scheme = s.id }) end
end)

borough.pages(Schemes, {
  title = "Schemes", columns = { "name", "who", "opens_on", "closes_on" }, details = false,
  fields = { "name", { "slug", hint = "Lower-case letters, digits and hyphens: its web address, like small-business" },
             "who", "details", "amount_rule", "amount", { "bands", hint = "A line for each band: the rateable value up "
             .. "to which it applies, then the grant, in pounds, like 15000: 10000" }, "min_amount", "max_amount", "budget",
             "opens_on", "closes_on", "intro", { "evidence", hint = "What to upload. Leave it empty if no evidence is needed" },
             "reminder_days" },
}):mount(app, "/schemes", { role = MANAGERS })

-- Lists a manager uploads: the rates list, the known-fraud list, the bank table.
local UPLOADS = {
  rates = { "Upload the business rates list", function(f) return m.Businesses:import(f, { skip_bad_rows = true, key = "account_ref" }) end },
  fraud = { "Upload the list of accounts known for fraud", function(f) return m.KnownFraud:import(f, { skip_bad_rows = true }) end },
  bank = { "Upload the modulus checking tables", function(f, more)
    local n, why = borough.bank.load(f, more)
    return n and { imported = n, rejected = 0, rejects = {} }, why
  end },
}
local function upload_page(req, ctx, status)
  local kind = UPLOADS[req.params.kind]
  if not kind then return borough.status(404) end
  ctx.title, ctx.kind = kind[1], req.params.kind
  return borough.view("upload", ctx, status)
end
app:get("/upload/:kind", { role = MANAGERS }, function(req) return upload_page(req, {}) end)
app:post("/upload/:kind", { role = MANAGERS, max_body = 40 * 1024 * 1024, files = {
  list = { max = 40 * 1024 * 1024, types = { "csv", "txt" } }, more = { max = 1024 * 1024, types = { "txt", "csv" } } } },
  function(req)
    local kind, file = UPLOADS[req.params.kind], req.files.list
    if not kind then return borough.status(404) end
    local problem = not file and "Select a file" or file.error and file.message
    local summary
    if not problem then summary, problem = kind[2](file, req.files.more) end
    return upload_page(req, { error = problem, summary = summary }, problem and 400 or 200)
  end)

-- Applications ------------------------------------------------------------------

app:get("/applications/:id", { role = STAFF }, function(req)
  local a = Apps:find(req.params.id)
  if not a then return borough.status(404) end
  local scheme, answers = Schemes:find(a.scheme), {}
  local kept = json.decode(a.answers or "{}") or {}
  for _, q in ipairs(json.decode(scheme.questions or "[]")) do
    answers[#answers + 1] = { q.question, kept[q.name] == nil and "Not answered" or tostring(kept[q.name] == true and "Yes"
                              or kept[q.name] == false and "No" or kept[q.name]) }
  end
  local files = {}
  for n = 1, 3 do
    if a["evidence_" .. n] then
      files[#files + 1] = { borough.url(("/applications/%d/files/%d"):format(a.id, n)), Apps.field["evidence_" .. n].label }
    end
  end
  return borough.view("application", { title = "Application " .. (a.reference or a.id), a = a, scheme = scheme,
    answers = answers, files = files, flags = flags.all(Apps, a.id), tag = Flow:tag(a), buttons = Flow:buttons(a),
    history = Flow:history_table(a), bank = summary(Apps, a, { "account_name", "sort_code", "account_number" }),
    summary = summary(Apps, a, { "business_name", "rates_ref", "contact_name", "address", "postcode", "email", "phone",
                                 "amount", "assigned_name", "submitted_at", "info_request", "info_reply", "reject_reason" }),
    can_clear = req.user.roles.assessor or req.user.roles.approver or req.user.roles.manager })
end)

app:get("/applications/:id/files/:n", { role = STAFF }, function(req)
  local a = Apps:find(req.params.id)
  local ref = a and a["evidence_" .. req.params.n]
  if not ref then return borough.status(404) end
  return borough.file(ref, { name = ("%s-evidence-%s.%s"):format(a.reference, req.params.n, ref:match("%.(%w+)$")) })
end)

app:post("/applications/:id/flags/:flag", { role = { "assessor", "approver", "manager" } }, function(req)
  local a = Apps:find(req.params.id)
  if not a then return borough.status(404) end
  local who = db.query("SELECT DISTINCT user_id FROM workflow_moves WHERE case_id = ? AND step IN ('assess', 'recommend')", a.id)
  local not_by = {}
  for i, w in ipairs(who) do not_by[i] = w.user_id end
  local ok, why = flags.clear(tonumber(req.params.flag), req.form.note, { not_by = not_by })
  if not ok then return borough.status(409, why) end
  return go("/applications/" .. a.id)
end)

app:post("/applications/:id/checks", { role = ASSESSORS }, function(req)
  local a = Apps:find(req.params.id)
  if not a or a.state == "started" then return borough.status(404) end
  m.check_fraud(a)
  return go("/applications/" .. a.id)
end)

app:post("/schemes/:id/next", { role = ASSESSORS }, function(req)
  local a = Apps:where({ scheme = tonumber(req.params.id), state = "submitted" }, { order = "submitted_at", per_page = 1 })[1]
  if not a then return go("/applications?state=submitted") end
  Flow:move(a, "assess", {})
  return go("/applications/" .. a.id)
end)

borough.pages(Apps, {
  title = "Applications", columns = { "reference", "business_name", "scheme", "state", "assigned_name", "due_at" },
  filters = { "scheme", "state" }, workflow = Flow, create = false, edit = false, details = false,
}):mount(app, "/applications", { role = STAFF })

-- Payments ----------------------------------------------------------------------

app:get("/payments", { role = FINANCE }, function(req)
  return borough.view("payments", { title = "Payments", runs = payments.Runs:all({ order = "-id", per_page = 50 }), money = m.money,
    key = payments.key(), due = Apps:count { state = "approved" }, error = req.query.none and "There is nothing to pay" })
end)

app:post("/payments", { role = { "finance" } }, function(req)
  local run = payments.run(req.form.key, m.due)
  if not run then return go("/payments?none=1") end
  return go("/payments/" .. run.id)
end)

local function run_of(req) return payments.Runs:find(req.params.id) end

app:get("/payments/:id", { role = FINANCE }, function(req)
  local run = run_of(req)
  if not run then return borough.status(404) end
  return borough.view("run", { title = "Payment run " .. run.reference, run = run, money = m.money,
                               error = req.query.error })
end)

-- The payment file for the finance system (docs/apps.md, "The grants app").
app:get("/payments/:id/file.csv", { role = FINANCE }, function(req)
  local run = run_of(req)
  if not run then return borough.status(404) end
  return borough.download.csv(run.reference .. ".csv", { "Payment reference", "Payee name", "Sort code", "Account number",
    "Amount", "Application reference", "Scheme" }, function(after)
    local items, rows = payments.items(run, { after = after }), {}
    local ids = {}
    for i, item in ipairs(items) do ids[i] = tonumber(item.item:match("%d+$")) end
    local apps = {}
    for _, a in ipairs(Apps:where({ id = { ["in"] = ids } }, { per_page = 500 })) do apps[a.id] = a end
    for i, item in ipairs(items) do
      local a = apps[ids[i]]
      rows[i] = { run.reference .. "-" .. a.reference, a.account_name, a.sort_code, a.account_number,
                  ("%.2f"):format(item.amount / 100), a.reference, Schemes:find(a.scheme).slug }
    end
    return rows, items[#items] and items[#items].id
  end)
end)

local function pay(item)
  local moved, errors = Flow:move(tonumber(item.item:match("%d+$")), "pay", {})
  if not moved then error(errors[1].message, 0) end
end

app:post("/payments/:id/paid", { role = { "finance" } }, function(req)
  local run = run_of(req)
  if not run then return borough.status(404) end
  payments.paid(run, { each = pay })
  return go("/payments/" .. run.id)
end)

-- The finance system's confirmation: "Payment reference,Status" (paid or failed) a line.
app:post("/payments/:id/confirmation", { role = { "finance" }, files = { file = { max = 10 * 1024 * 1024,
  types = { "csv", "txt" } } } }, function(req)
  local run, file = run_of(req), req.files.file
  if not run then return borough.status(404) end
  if not file or file.error then return go("/payments/" .. run.id .. "?error=1") end
  local reader = assert(borough.csv.upload(file))
  local paid, failed = {}, {}
  reader:next()
  for row in function() return reader:next() end do
    local a = row and Apps:find { reference = (row[1] or ""):gsub("^.*%-", "") }
    if a then table.insert((row[2] or ""):lower() == "paid" and paid or failed, "application-" .. a.id) end
  end
  payments.failed(run, failed)
  payments.paid(run, { only = paid, each = pay })
  return go("/payments/" .. run.id)
end)

return app
