-- Shielding support: a contact centre phones every resident on the
-- government's shielding list, records each call and the needs found, and
-- refers those needs to partner organisations; visiting officers go to the
-- doors of those who never answer. Records and their rules are in
-- models.lua; each page below prepares its data and hands it to a view.
local app = borough.app {
  title = "Shielding support", mount = "/shielding",
  description = "Call residents on the shielding list, record their needs and refer them to partners",
  roles = { "call_handler", "visiting_officer", "manager" },
}
local m = require "models"
local Residents, Flow = m.Residents, m.ReferralFlow

local STAFF = { "call_handler", "visiting_officer", "manager" }
local CALLERS = { "call_handler", "manager" }
local VISITORS = { "visiting_officer", "manager" }
local MANAGERS = { "manager" }

local status_of = {}
for _, s in ipairs(m.STATUSES) do status_of[s[1]] = { text = s[2], classes = "govuk-tag--" .. s[3] } end

local function resident_page(req, view, ctx)
  local r = Residents:find(req.params.id)
  if not r then return borough.status(404) end
  ctx.r, ctx.status = r, status_of[r.status]
  return view(r, ctx)
end

-- The start page sends each member of staff to their own list.
app:get("/", { role = STAFF }, function(req)
  local roles = req.user.roles
  return borough.redirect(borough.url(roles.manager and "/dashboard" or roles.call_handler and "/calls" or "/visits"))
end)

app:get("/dashboard", { role = MANAGERS }, function(req)
  return borough.view("dashboard", { title = "Dashboard", counts = m.counts(), overdue = Flow:overdue({ per_page = 10 }) })
end)

-- Importing the government's list -------------------------------------------

app:get("/upload", { role = MANAGERS }, function(req)
  return borough.view("upload", { title = "Upload the shielding list" })
end)

app:post("/upload", { role = MANAGERS, max_body = 20 * 1024 * 1024,
                      files = { list = { max = 20 * 1024 * 1024, types = { "csv", "txt" } } } }, function(req)
  local file, problem = req.files.list, nil
  if not file then problem = "Select the shielding list (a CSV file)" elseif file.error then problem = file.message end
  local summary, why
  if not problem then
    summary, why = Residents:import(file, { skip_bad_rows = true })
    problem = why
  end
  return borough.view("upload", { title = "Upload the shielding list", error = problem, summary = summary },
                      problem and 400 or 200)
end)

-- Calling ---------------------------------------------------------------------

app:get("/calls", { role = CALLERS }, function(req)
  local list, page = m.call_list(req.query.page)
  return borough.view("calls", { title = "Call list", residents = list, page = page,
    mine = Residents:where({ status = "to_call", assigned_to = tostring(req.user.id) }) })
end)

app:post("/calls/next", { role = CALLERS }, function(req)
  local r = m.take_next(req.user)
  if not r then return borough.redirect(borough.url("/calls")) end
  return borough.redirect(borough.url("/residents/" .. r.id .. "/call"))
end)

app:post("/residents/:id/assign", { role = CALLERS }, function(req)
  local r = Residents:find(req.params.id)
  if not r then return borough.status(404) end
  m.assign(r, req.user)
  return borough.redirect(borough.url("/calls"))
end)

-- Recording a call or a visit: one view (record.html) with the outcomes
-- of its kind and the needs found; POST saves through the model's rule
-- (m.record_call, m.record_visit) and goes on to done(resident).
local function choices(options, chosen)
  local set, list = {}, {}
  for _, c in ipairs(type(chosen) == "table" and chosen or { chosen }) do set[c] = true end
  for i, o in ipairs(options) do list[i] = { value = o, text = o, checked = set[o] or false } end
  return list
end

local function recording(kind, roles, outcomes, save, done)
  local function page(r, ctx)
    local errors = ctx.errors or {}
    ctx.error_list = {}
    for i, e in ipairs(errors) do ctx.error_list[i] = { text = e.message, href = "#" .. (e.field or "outcome") } end
    ctx.title, ctx.kind, ctx.errors = "Record a " .. kind, kind, errors
    ctx.outcome_items, ctx.need_items = choices(outcomes, ctx.form.outcome), choices(m.NEEDS, ctx.form.needs)
    return borough.view("record", ctx, #errors > 0 and 400 or 200)
  end
  app:get("/residents/:id/" .. kind, { role = roles }, function(req)
    return resident_page(req, page, { form = {} })
  end)
  app:post("/residents/:id/" .. kind, { role = roles }, function(req)
    return resident_page(req, function(r, ctx)
      req.form.needs = req.form_all.needs
      local ok, errors = save(r, req.form, req.user)
      if ok then return borough.redirect(borough.url(done(r))) end
      ctx.form, ctx.errors = req.form, errors
      return page(r, ctx)
    end, {})
  end)
end

recording("call", CALLERS, m.CALL_OUTCOMES, m.record_call, function(r) return "/residents/" .. r.id end)

-- Visiting ----------------------------------------------------------------------

app:get("/visits", { role = VISITORS }, function(req)
  local list, page = Residents:where({ status = "to_visit" }, { order = "postcode", page = req.query.page })
  return borough.view("visits", { title = "Visiting list", residents = list, page = page })
end)

recording("visit", VISITORS, m.VISIT_OUTCOMES, m.record_visit, function() return "/visits" end)

-- Residents, referrals, search ------------------------------------------------

app:get("/residents/:id", { role = STAFF }, function(req)
  return resident_page(req, function(r, ctx)
    local referrals = m.Referrals:where({ resident = r.id }, { per_page = 100 })
    for _, ref in ipairs(referrals) do
      ref.need_kind = m.Needs:find(ref.need).kind
      ref.tag, ref.buttons = Flow:tag(ref), Flow:buttons(ref)
    end
    local roles = req.user.roles
    ctx.title, ctx.referrals = r.first_name .. " " .. r.last_name, referrals
    ctx.can_call, ctx.can_visit = roles.call_handler and r.status == "to_call", roles.visiting_officer and r.status == "to_visit"
    ctx.nhs = r.nhs_number:gsub("^(%d%d%d)(%d%d%d)", "%1 %2 ")      -- 999 000 0018, as the NHS writes it
    ctx.calls = m.Calls:where({ resident = r.id }, { order = "-id", per_page = 100 })
    ctx.visits = m.Visits:where({ resident = r.id }, { order = "-id", per_page = 100 })
    return borough.view("resident", ctx)
  end, {})
end)

app:get("/referrals/:id", { role = STAFF }, function(req)
  local ref = m.Referrals:find(req.params.id)
  if not ref then return borough.status(404) end
  return borough.view("referral", { title = "Referral", ref = ref, r = Residents:find(ref.resident),
    need = m.Needs:find(ref.need), tag = Flow:tag(ref), buttons = Flow:buttons(ref), history = Flow:history_table(ref) })
end)

app:job("remind_partner", function(args) m.remind_partner(args.referral) end)

Flow:mount(app, "/referrals", { role = STAFF, redirect = function(ref) return "/residents/" .. ref.resident end })

app:get("/search", { role = STAFF }, function(req)
  local q = req.query.q
  return borough.view("search", { title = "Find a resident", q = q, results = q and m.search(q, req.query.page),
                                  statuses = status_of })
end)

-- The government return: one line per resident.
app:get("/export.csv", { role = MANAGERS }, function(req)
  local header = { "NHS number", "First name", "Last name", "Date of birth", "Postcode", "Status", "Calls",
                   "Last call", "Needs", "Referrals" }
  return borough.download.csv("shielding-return.csv", header, function(after)
    local page = Residents:where({}, { after = after, per_page = 500 })
    local rows = {}
    for i, r in ipairs(page) do
      local needs = db.one("SELECT group_concat(kind, '; ') AS k FROM needs WHERE resident = ?", r.id).k
      rows[i] = { r.nhs_number, r.first_name, r.last_name, r.date_of_birth, r.postcode, r.status, r.attempts,
                  r.last_call_at, needs, m.Referrals:count { resident = r.id } }
    end
    return rows, page[#page] and page[#page].id
  end)
end)

return app
