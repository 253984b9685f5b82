-- A shielding service of realistic size, for the reload benchmark
-- (tools/bench/reload.sh): a contact centre calls vulnerable residents,
-- records each call and the needs it finds, refers needs to partners, and
-- sends visiting officers to those who never answer. About the size the
-- first council app will be: three dozen routes, eight modules, a dozen
-- views. Plain SQL, so it depends on nothing but the core.
local app = borough.app { title = "Shielding support", mount = "/shielding", public = true }

local schema = require "lib.schema"
local residents = require "lib.residents"
local calls = require "lib.calls"
local needs = require "lib.needs"
local referrals = require "lib.referrals"
local visits = require "lib.visits"
local forms = require "lib.forms"
local fmt = require "lib.format"

schema.create()

local function id_of(req)
  local id = tonumber(req.params.id)
  if not id or id < 1 or id ~= math.floor(id) then return nil end
  return id
end

local function resident_or_404(req)
  local id = id_of(req)
  return id and residents.get(id)
end

-- Dashboard and lists ---------------------------------------------------------

app:get("/", function(req)
  return borough.view("dashboard", { title = "Dashboard", states = residents.count_by_state(),
    needs = needs.count_by_kind(), overdue = #visits.overdue(fmt.today()) })
end)

app:get("/residents", function(req)
  local page = tonumber(req.query.page) or 1
  local list, total = residents.page(page, req.query.state)
  return borough.view("residents/list", { title = "Residents", residents = list, page = page,
    pages = math.max(1, math.ceil(total / residents.PAGE)), state = req.query.state })
end)

app:get("/search", function(req)
  local q = fmt.trim(req.query.q or "")
  local found = q ~= "" and residents.search(q) or {}
  return borough.view("residents/list", { title = "Search", residents = found, q = q, page = 1, pages = 1 })
end)

app:get("/residents/new", function(req)
  return borough.view("residents/form", { title = "Add a resident", values = {}, errors = {} })
end)

app:post("/residents", function(req)
  local values, errors = forms.resident(req.form)
  if next(errors) then
    return borough.view("residents/form", { title = "Add a resident", values = req.form, errors = errors })
  end
  local id = residents.create(values)
  return borough.redirect(borough.url("/residents/" .. id))
end)

app:get("/residents/:id", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  return borough.view("residents/show", { title = r.name, resident = r, calls = calls.for_resident(r.id),
    needs = needs.for_resident(r.id), visits = visits.for_resident(r.id), age = fmt.age(r.dob) })
end)

app:get("/residents/:id/edit", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  return borough.view("residents/form", { title = "Change " .. r.name, values = r, errors = {}, id = r.id })
end)

app:post("/residents/:id", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  local values, errors = forms.resident(req.form)
  if next(errors) then
    return borough.view("residents/form", { title = "Change " .. r.name, values = req.form, errors = errors, id = r.id })
  end
  residents.update(r.id, values)
  return borough.redirect(borough.url("/residents/" .. r.id))
end)

app:delete("/residents/:id", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  residents.close(r.id)
  return borough.status(204)
end)

-- Calls -------------------------------------------------------------------------

app:get("/calls/next", function(req)
  local r = calls.next_to_call()
  return borough.view("calls/next", { title = "Next call", resident = r })
end)

app:post("/calls/:id/assign", function(req)
  local id = id_of(req)
  if not id or not calls.assign(id, req.form.handler or "call handler") then return borough.status(409) end
  return borough.redirect(borough.url("/residents/" .. id .. "/calls/new"))
end)

app:get("/residents/:id/calls/new", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  return borough.view("calls/form", { title = "Record a call", resident = r, outcomes = calls.OUTCOMES,
    kinds = needs.KINDS, errors = {} })
end)

app:post("/residents/:id/calls", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  local call, errors = forms.call(req.form, calls.OUTCOMES)
  if next(errors) then
    return borough.view("calls/form", { title = "Record a call", resident = r, outcomes = calls.OUTCOMES,
      kinds = needs.KINDS, errors = errors })
  end
  calls.record(r, call)
  for _, kind in ipairs(req.form_all.needs or {}) do needs.add(r.id, kind, req.form.note) end
  return borough.redirect(borough.url("/residents/" .. r.id))
end)

app:get("/calls", function(req)
  return borough.view("reports/table", { title = "Recent calls", head = { "When", "Resident", "Outcome" },
    rows = calls.recent(100) })
end)

-- Needs and referrals -------------------------------------------------------------

app:get("/needs", function(req)
  return borough.view("reports/table", { title = "Needs", head = { "Resident", "Need", "Noted" },
    rows = needs.open_rows(req.query.kind) })
end)

app:post("/needs/:id/refer", function(req)
  local id = id_of(req)
  local ref = id and referrals.create(id, req.form.partner)
  if not ref then return borough.status(404) end
  return borough.redirect(borough.url("/referrals/" .. ref))
end)

app:get("/referrals", function(req)
  return borough.view("referrals/list", { title = "Referrals", referrals = referrals.list(req.query.state) })
end)

app:get("/referrals/:id", function(req)
  local id = id_of(req)
  local ref = id and referrals.get(id)
  if not ref then return borough.status(404) end
  return borough.view("referrals/show", { title = "Referral " .. ref.id, referral = ref,
    next_states = referrals.next_states(ref.state) })
end)

app:post("/referrals/:id/state", function(req)
  local id = id_of(req)
  if not id or not referrals.move(id, req.form.state) then return borough.status(409) end
  return borough.redirect(borough.url("/referrals/" .. id))
end)

app:get("/partners", function(req)
  return borough.view("reports/table", { title = "Partners", head = { "Partner", "Email", "Needs" },
    rows = referrals.partner_rows() })
end)

app:get("/partners/:id", function(req)
  local p = referrals.PARTNERS[id_of(req) or 0]
  if not p then return borough.status(404) end
  return borough.view("reports/table", { title = p.name, head = { "Referral", "Resident", "State" },
    rows = referrals.rows_for_partner(p.key) })
end)

-- Visits ------------------------------------------------------------------------------

app:get("/visits", function(req)
  return borough.view("visits/list", { title = "Visiting list", visits = visits.due() })
end)

app:get("/visits/:id", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  return borough.view("visits/form", { title = "Visit " .. r.name, resident = r, outcomes = visits.OUTCOMES, errors = {} })
end)

app:post("/visits/:id", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  local ok, err = visits.record(r.id, req.form.outcome, req.form.note)
  if not ok then
    return borough.view("visits/form", { title = "Visit " .. r.name, resident = r, outcomes = visits.OUTCOMES,
      errors = { outcome = err } })
  end
  return borough.redirect(borough.url("/visits"))
end)

-- Reports and exports -----------------------------------------------------------------

app:get("/reports/overdue", function(req)
  return borough.view("reports/table", { title = "Overdue visits", head = { "Resident", "Postcode", "Due" },
    rows = visits.overdue(fmt.today()) })
end)

app:get("/reports/calls-by-day", function(req)
  return borough.view("reports/table", { title = "Calls by day", head = { "Day", "Calls", "Reached" },
    rows = calls.by_day() })
end)

app:get("/reports/needs", function(req)
  local rows = {}
  for kind, n in pairs(needs.count_by_kind()) do rows[#rows + 1] = { needs.label(kind), tostring(n) } end
  table.sort(rows, function(a, b) return a[1] < b[1] end)
  return borough.view("reports/table", { title = "Needs by kind", head = { "Need", "Residents" }, rows = rows })
end)

app:get("/export.csv", function(req)
  local rows, i = residents.export_rows(), 0
  return {
    headers = { ["Content-Type"] = "text/csv; charset=utf-8",
                ["Content-Disposition"] = 'attachment; filename="shielding.csv"' },
    body = function()
      i = i + 1
      if i == 1 then return "nhs_number,name,postcode,state,attempts\n" end
      local r = rows[i - 1]
      return r and fmt.csv { r.nhs_number, r.name, r.postcode, r.state, r.attempts }
    end,
  }
end)

-- An API for the government return and the dashboard's numbers ------------------------------

app:get("/api/residents/:id", function(req)
  local r = resident_or_404(req)
  if not r then return borough.status(404) end
  return borough.json { id = r.id, name = r.name, postcode = r.postcode, state = r.state, attempts = r.attempts }
end)

app:get("/api/stats", function(req)
  return borough.json { states = residents.count_by_state(), needs = needs.count_by_kind() }
end)

app:post("/api/residents", { csrf = false }, function(req)
  local ok, v = pcall(json.decode, req.body)
  if not ok or type(v) ~= "table" then return borough.status(400) end
  local values, errors = forms.resident(v)
  if next(errors) then return borough.json({ errors = errors }, 422) end
  return borough.json({ id = residents.create(values) }, 201)
end)

-- Pages every service has -------------------------------------------------------------

for path, title in pairs { ["/help"] = "Help", ["/accessibility"] = "Accessibility statement",
                           ["/cookies"] = "Cookies", ["/privacy"] = "Privacy notice" } do
  app:get(path, function(req) return borough.view("page", { title = title }) end)
end

return app
