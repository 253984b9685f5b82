-- Delivery tracker: the council's portfolios of projects, for the people
-- who run them and the senior staff they brief. Each portfolio is kept
-- apart: only its members see it and its records (some hold sensitive
-- information), its managers say who its members are, and a council-wide
-- view is only for those given it. Each project has its status (red,
-- amber, green) with the reason, milestones, risks and issues with their
-- owners, a monthly update and links to its documents. Records and the
-- board's figures are in models.lua.
local app = borough.app { title = "Delivery tracker", mount = "/tracker",
                          description = "The council's portfolios of projects: status, milestones and monthly updates",
                          roles = { "council_wide", "portfolio_office" } }
local m = require "models"
local Portfolios, Projects, Access = m.Portfolios, m.Projects, m.Access
local chart = borough.chart

local TAGS = {}
for _, r in ipairs(m.RAG) do TAGS[r[1]] = { text = r[2], classes = m.TAG[r[1]] } end

local function go(path) return borough.redirect(borough.url(path)) end
local function view(name, ctx, status) ctx.tags = TAGS; return borough.view(name, ctx, status) end

-- A record's fields that have a value, as a GOV.UK summary list, as people read them.
local function summary(E, r, names)
  local rows = {}
  for _, n in ipairs(names) do
    if r[n] ~= nil then
      rows[#rows + 1] = { key = { text = E.field[n].label }, value = { html = borough.form.display_html(E.field[n], r[n]) } }
    end
  end
  return borough.govuk.summaryList { rows = rows }
end

-- The portfolio or project in the path, or the 404 every record of a
-- portfolio the person is not in answers (its row rule finds nothing).
-- level: the person must also be a member ("member") or manager of it (403).
local function found(E, req, level, id)
  local r = E:find(id or req.params.id)
  if not r then return nil, borough.status(404) end
  if level and not Access:is(req.user, r.portfolio or r.id, level) then return nil, borough.status(403) end
  return r
end

-- A form page (GET shows it, POST saves it). how.find(req) gives the
-- context ({ title, back, record (being changed), ... }) or nil and a
-- response; how.save(ctx, values, req) the record or nil and errors;
-- how.done(ctx, record) the path to go to after.
local function form_page(path, form, how)
  local function show(req, ctx, extra)
    extra = extra or {}
    return form:show(req, { title = ctx.title, caption = ctx.caption, back = borough.url(ctx.back),
                            values = ctx.record, errors = extra.errors, raw = extra.raw })
  end
  app:get(path, function(req)
    local ctx, refused = how.find(req)
    return ctx and show(req, ctx) or refused
  end)
  app:post(path, function(req)
    local ctx, refused = how.find(req)
    if not ctx then return refused end
    local values, errors, raw = form:read(req, ctx.record)
    if values then
      local record, errs = how.save(ctx, values, req)
      if record then return go(how.done(ctx, record)) end
      errors = borough.form.errors(form, errs)
    end
    return show(req, ctx, { errors = errors, raw = raw })
  end)
end

-- Portfolios -------------------------------------------------------------------

app:get("/", function(req)
  local rows, totals = {}, { red = 0, amber = 0, green = 0 }
  for _, p in ipairs(Portfolios:all { order = "name", per_page = 500 }) do
    local c = Projects:count_by("rag", { portfolio = p.id })
    for k in pairs(totals) do totals[k] = totals[k] + (c[k] or 0) end
    rows[#rows + 1] = { p = p, red = c.red or 0, amber = c.amber or 0, green = c.green or 0,
      overdue = m.Milestones:count { portfolio = p.id, done_on = db.NULL, due_on = { lt = os.date("%Y-%m-%d") } } }
  end
  local all = Access:ids(req.user) == true
  local total = totals.red + totals.amber + totals.green
  return view("home", { title = all and "Every portfolio" or "Your portfolios", portfolios = rows, all = all,
    office = Access:admin(req.user), chart = total > 0 and chart.rag { counts = totals,
      title = all and "Every project in the council" or "Projects in your portfolios",
      summary = ("%d projects: %d red, %d amber and %d green."):format(total, totals.red, totals.amber, totals.green) } })
end)

local PortfolioForm = borough.form(Portfolios, { "name", "description" })
form_page("/portfolios/new", PortfolioForm, {
  find = function(req)
    if not Access:admin(req.user) then return nil, borough.status(403) end
    return { title = "Add a portfolio", back = "/" }
  end,
  save = function(_, values) return Portfolios:create(values) end,
  done = function(_, p) return "/portfolios/" .. p.id .. "/members" end,
})
form_page("/portfolios/:id/edit", PortfolioForm, {
  find = function(req)
    local p, refused = found(Portfolios, req, "manager")
    return p and { record = p, title = "Change the portfolio", back = "/portfolios/" .. p.id }, refused
  end,
  save = function(ctx, values) return Portfolios:update(ctx.record.id, values) end,
  done = function(ctx) return "/portfolios/" .. ctx.record.id end,
})
Access:mount(app, "/portfolios")

-- The board, and the briefing for senior staff: one portfolio's status.
local function board(req, name)
  local p, refused = found(Portfolios, req)
  if not p then return refused end
  local b, items = m.board(p.id), {}
  for i, pr in ipairs(b.projects) do items[i] = { label = pr.name, status = pr.rag } end
  local months, red, amber = m.trend(p.id, 12)
  local c = b.counts
  local ctx = { title = p.name, p = p, b = b, manager = Access:is(req.user, p.id, "manager"),
    programmes = {}, today = os.time(),
    rag = #items > 0 and chart.rag { title = "Projects by status", items = items,
      summary = ("%d projects: %d red, %d amber and %d green."):format(#items, c.red, c.amber, c.green) },
    trend = chart.line { title = "Red and amber projects, month by month", labels = months,
      summary = ("Projects at red or amber in each monthly update of the last year; this month %d red and %d amber.")
                :format(red[#red], amber[#amber]),
      series = { { name = "Red", values = red }, { name = "Amber", values = amber } } } }
  for _, g in ipairs(m.Programmes:where({ portfolio = p.id }, { per_page = 500 })) do ctx.programmes[g.id] = g.name end
  if name == "briefing" then
    ctx.risks = m.Risks:where({ portfolio = p.id, status = "open", severity = "high" }, { order = "kind", per_page = 100 })
    ctx.attention = {}
    for _, pr in ipairs(b.projects) do if pr.rag ~= "green" then ctx.attention[#ctx.attention + 1] = pr end end
    table.sort(ctx.attention, function(x, y) return x.rag > y.rag or (x.rag == y.rag and x.name < y.name) end)
  end
  return view(name, ctx)
end
app:get("/portfolios/:id", function(req) return board(req, "board") end)
-- The board follows its portfolio's monthly updates as they are made.
app:events("/portfolios/:id/live", function(req)
  local p = Portfolios:find(req.params.id)
  return p and { m.channel(p.id) } or borough.status(404)
end)
app:get("/portfolios/:id/briefing", function(req) return board(req, "briefing") end)

local ProgrammeForm = borough.form(m.Programmes, { "name", "sro" })
form_page("/portfolios/:id/programmes/new", ProgrammeForm, {
  find = function(req)
    local p, refused = found(Portfolios, req, "manager")
    return p and { portfolio = p, title = "Add a programme", caption = p.name, back = "/portfolios/" .. p.id }, refused
  end,
  save = function(ctx, values) values.portfolio = ctx.portfolio.id; return m.Programmes:create(values) end,
  done = function(ctx) return "/portfolios/" .. ctx.portfolio.id end,
})

-- Downloads: the row rules keep them to the person's portfolios.
local COLUMNS = { "id", "name", "portfolio", "programme", "manager", "rag", "rag_reason", "start_on", "end_on", "budget" }
app:get("/projects.csv", function(req)
  return Projects:download({}, { columns = COLUMNS, filename = "projects.csv" })
end)
app:get("/portfolios/:id/updates.csv", function(req)
  local p, refused = found(Portfolios, req)
  if not p then return refused end
  return m.Updates:download({ portfolio = p.id }, { filename = "updates.csv",
    columns = { "project", "month", "rag", "rag_reason", "progress", "next_steps", "author" } })
end)

-- The data feed for the council's BI tool (`borough token create tracker`):
-- a token reads what its account's roles and memberships give it, like a
-- person: with council_wide, every portfolio; with neither, nothing.
borough.feed {
  { Portfolios, fields = { "name" } },
  { Projects, fields = { "name", "portfolio", "programme", "manager", "rag", "rag_reason", "start_on", "end_on", "budget" },
    filters = { "portfolio", "rag" } },
  { m.Updates, fields = { "project", "portfolio", "month", "rag", "rag_reason" }, filters = { "portfolio", "project" } },
  { m.Milestones, fields = { "project", "portfolio", "title", "due_on", "done_on" }, filters = { "portfolio", "project" } },
}:mount(app, "/_feed")

-- Projects ---------------------------------------------------------------------

local ProjectForm = borough.form(Projects, { "name", "programme", "manager", "summary", "start_on", "end_on", "budget" })
form_page("/portfolios/:id/projects/new", ProjectForm, {
  find = function(req)
    local p, refused = found(Portfolios, req, "manager")
    return p and { portfolio = p, title = "Add a project", caption = p.name, back = "/portfolios/" .. p.id }, refused
  end,
  save = function(ctx, values) values.portfolio = ctx.portfolio.id; return Projects:create(values) end,
  done = function(_, pr) return "/projects/" .. pr.id end,
})
form_page("/projects/:id/edit", ProjectForm, {
  find = function(req)
    local pr, refused = found(Projects, req, "member")
    return pr and { record = pr, title = "Change the project", caption = pr.name, back = "/projects/" .. pr.id }, refused
  end,
  save = function(ctx, values) return Projects:update(ctx.record.id, values) end,
  done = function(ctx) return "/projects/" .. ctx.record.id end,
})

app:get("/projects/:id", function(req)
  local pr, refused = found(Projects, req)
  if not pr then return refused end
  local mine = { project = pr.id }
  return view("project", { title = pr.name, pr = pr, p = Portfolios:find(pr.portfolio),
    programme = pr.programme and m.Programmes:find(pr.programme), member = Access:is(req.user, pr.portfolio),
    summary = summary(Projects, pr, { "manager", "summary", "start_on", "end_on", "budget" }), today = os.date("%Y-%m-%d"),
    milestones = m.Milestones:where(mine, { order = "due_on", per_page = 100 }),
    risks = m.Risks:where(mine, { order = { "status", "severity" }, per_page = 100 }),
    updates = m.Updates:where(mine, { order = "-month", per_page = 12 }),
    documents = m.Documents:where(mine, { order = "title", per_page = 100 }) })
end)

local UpdateForm = borough.form(m.Updates, { "rag", "rag_reason", "progress", "next_steps" })
form_page("/projects/:id/update", UpdateForm, {
  find = function(req)
    local pr, refused = found(Projects, req, "member")
    return pr and { project = pr, title = "Update for " .. os.date("%B %Y"), caption = pr.name, back = "/projects/" .. pr.id,
                    record = m.Updates:find { project = pr.id, month = m.month(0) } }, refused
  end,
  save = function(ctx, values, req) return m.record_update(ctx.project, values, req.user) end,
  done = function(ctx) return "/projects/" .. ctx.project.id end,
})

-- A project's milestones, risks and issues, and documents: added on the
-- project, changed on their own page; both only by the portfolio's members.
for _, kind in ipairs { { "milestones", m.Milestones, { "title", "due_on", "done_on" }, "milestone" },
                        { "risks", m.Risks, { "kind", "title", "owner", "severity", "action", "status" }, "risk or issue" },
                        { "documents", m.Documents, { "title", "url" }, "document link" } } do
  local path, E, names, label = table.unpack(kind)
  local form = borough.form(E, names)
  local function done(ctx) return "/projects/" .. ctx.project.id end
  form_page("/projects/:id/" .. path .. "/new", form, {
    find = function(req)
      local pr, refused = found(Projects, req, "member")
      return pr and { project = pr, title = "Add a " .. label, caption = pr.name, back = done { project = pr } }, refused
    end,
    save = function(ctx, values)
      values.project, values.portfolio = ctx.project.id, ctx.project.portfolio
      return E:create(values)
    end,
    done = done,
  })
  form_page("/" .. path .. "/:id/edit", form, {
    find = function(req)
      local r, refused = found(E, req, "member")
      local pr = r and Projects:find(r.project)
      return r and { record = r, project = pr, title = "Change the " .. label, caption = pr.name, back = done { project = pr } },
             refused
    end,
    save = function(ctx, values) return E:update(ctx.record.id, values) end,
    done = done,
  })
end

-- Search: projects in the person's portfolios only.
app:get("/search", function(req)
  local q = req.query.q
  local results, page
  if q and q:find("%S") then results, page = Projects:search(q, { page = req.query.page, per_page = 25 }) end
  local names = {}
  for _, p in ipairs(Portfolios:all { per_page = 500 }) do names[p.id] = p.name end
  return view("search", { title = "Find a project", q = q, results = results, page = page, names = names })
end)

return app
