--- borough.workflow: cases that move through states by named steps.
--
-- A workflow belongs to an entity (the cases) and says which states a case
-- can be in and which steps move it on: who may take each step, what must
-- be filled in first, and what happens after. Every move is recorded (who,
-- when, from, to, a note) in the same transaction as the change of state.
--
--   M.Referrals = borough.entity "referrals" {
--     { "resident", "reference", to = "residents", required = true },
--     { "partner", "choice", options = { "Food bank", "Pharmacy" } },
--     { "outcome", "long_text" },
--     { "state", "text", index = true },       -- the workflow keeps these two
--     { "due_at", "datetime", index = true },
--   }
--
--   M.ReferralFlow = borough.workflow {
--     entity = M.Referrals,
--     states = {
--       { "new", "New", colour = "blue" },
--       { "sent", "Sent", colour = "yellow", due = "2 days" },  -- service level
--       { "done", "Done", colour = "green" },
--     },
--     steps = {
--       { "send", "Send the referral", from = "new", to = "sent",
--         role = { "call_handler", "manager" }, fields = { "partner" },
--         after = function(case, move) notify.email { ... } end },
--       { "complete", "Record the outcome", from = "sent", to = "done",
--         role = "manager", fields = { "outcome" } },
--     },
--   }
--   M.ReferralFlow:mount(app, "/referrals", { role = STAFF })   -- the step pages (in app.lua)
--
-- States are { name, label, colour = a GOV.UK tag colour, due = "N minutes |
-- hours | days" }; the first is where a case starts. A state with `due`
-- gives the case a due date (now + due) when it enters the state; entering
-- a state without one clears it, so the cases past their due date are the
-- overdue ones (flow:overdue()).
--
-- Steps are { name, label, from = a state or a list ("*" for any), to =
-- a state, role = a role or a list ("public": anyone, also no one signed
-- in, such as the platform acting on a citizen's answers; a step must say
-- who), fields = names of the entity's fields that must be filled in for
-- this step (they are checked as the entity checks them, and required here
-- even if the entity does not require them), note = true (a note may be
-- added; it is kept in the history), not_by = steps (a step's name or a
-- list: whoever took one of them on this case may not take this one, the
-- "four eyes" rule: the person who approves is never the one who
-- assessed), after = function(case, move) }. `after` runs in the same
-- transaction after the move: anything it writes (an email through
-- notify, a follow-up record, a reminder with jobs.enqueue) commits with
-- the move or not at all; returning nil and a message (or errors) undoes
-- the move and says why (a budget that would be overspent).
--
-- Moving:
--   flow:start(values [, opts])          -> case | nil, errors (a new case in the first state)
--   flow:move(case, "send", values [, opts]) -> case | nil, errors, why
--       why is "forbidden" (the user has none of the step's roles, or
--       took a step of not_by on this case),
--       "conflict" (the case is not in a state the step starts from),
--       "refused" (the step's after said no, and why),
--       "invalid" (errors for the fields, as the entity gives them) or
--       "missing" (no such case).
--   opts.user: the user moving the case (default: the signed-in user,
--   borough.user()), a table { id, email, name, roles = { name = true } },
--   or false for no one (the system); opts.note (start).
--
-- Reading:
--   flow:steps_for(case [, user])   the steps this user may take now
--   flow:history(case)              the moves, oldest first
--   flow:overdue([opts])            cases past their due date, most overdue first
--   flow:counts()                   { { state, label, count }, ... } for every state
--
-- Showing, as GOV.UK components (safe HTML for templates):
--   flow:tag(case)                  the state as a tag
--   flow:buttons(case [, user])     a button for each step the user may take now
--   flow:history_table(case)        the history as a table
--   flow:mount(app, path [, opts])  GET/POST <path>/:id/steps/:step: a page for
--                                   a step's fields, and the move itself
--
-- borough.pages(Entity, { workflow = flow }):mount(app, path) puts the tag,
-- the buttons and the history on the generated details page, and mounts the
-- workflow at the same path. A case made without flow:start (a generated
-- form, an import) starts in the first state too: it is the state field's
-- default.
--
-- The history lives in the entity "workflow_moves" (declared here, once),
-- so it is exported and imported with the app's other records.

local entity = require "borough.entity"
local fields = require "borough.fields"
local govuk = require "borough.govuk"
local view = require "borough.view"
local form = require "borough.form"
local options = require "borough.options"
local t = require("borough.i18n").t

local M = {}
local Flow = {}
Flow.__index = Flow

local Moves = entity.get("workflow_moves") or borough.entity "workflow_moves" {
  label = "move",
  indexes = { { "workflow", "case_id" } },
  { "workflow", "text", required = true },
  { "case_id", "integer", required = true },
  { "step", "text", required = true },
  { "from_state", "text" },
  { "to_state", "text", required = true },
  { "user_id", "text" },
  { "user_name", "text" },
  { "note", "long_text" },
}
M.Moves = Moves

local UNITS = { minute = 60, hour = 3600, day = 86400, week = 7 * 86400 }

-- "2 days" -> 172800 (seconds); a number is seconds already.
local function duration(what, v)
  if type(v) == "number" then return v end
  local n, unit = tostring(v):match("^%s*(%d+)%s+(%a-)s?%s*$")
  if not n or not UNITS[unit] then
    options.fail(what, ("due must be like \"2 days\", \"4 hours\" or \"30 minutes\", not %q"):format(tostring(v)))
  end
  return tonumber(n) * UNITS[unit]
end

local function list_of(v)
  if v == nil then return nil end
  if type(v) == "string" then return { v } end
  return v
end

local iso = fields.iso_datetime

local workflow_spec = { entity = { "table", "string" }, name = "string", states = "table", steps = "table",
                        state_field = "string", due_field = "string" }
local state_spec = { colour = "string", due = { "string", "number" } }
local step_spec = { from = { "string", "table" }, to = "string", role = "role", fields = "table", note = "boolean",
                    after = "function", not_by = { "string", "table" } }

--- borough.workflow{ entity =, states =, steps =, name =, state_field =
-- "state", due_field = "due_at" } -> the workflow; flow:mount(app, path,
-- opts) adds its step pages.
function M.new(spec)
  if type(spec) ~= "table" then options.fail("borough.workflow", "expects a table such as { entity = ..., states = ... }") end
  options.check("borough.workflow", spec, workflow_spec)
  local e = spec.entity
  if type(e) == "string" then e = entity.get(e) end
  if type(e) ~= "table" or not e.fields then
    options.fail("borough.workflow", "entity must be an entity (declare it first)")
  end
  local flow = setmetatable({
    name = spec.name or e.name, entity = e,
    state_field = spec.state_field or "state", due_field = spec.due_field or "due_at",
    states = {}, state = {}, steps = {}, step = {},
  }, Flow)
  local what = "workflow " .. flow.name
  if not e.field[flow.state_field] then
    options.fail(what, ("the entity %s needs a text field '%s' for the state"):format(e.name, flow.state_field))
  end
  for i, s in ipairs(spec.states or {}) do
    local name = type(s) == "table" and s[1] or nil
    options.check(("%s state %s"):format(what, tostring(name or i)), s, state_spec)
    local st = { name = name, label = s[2] or name, colour = s.colour or "grey",
                 due = s.due and duration(what .. " state " .. tostring(name), s.due) }
    if type(st.name) ~= "string" or flow.state[st.name] then
      options.fail(what, ("state %d needs a name of its own"):format(i))
    end
    if st.due and not e.field[flow.due_field] then
      options.fail(what, ("state %s has a due time, so the entity needs a datetime field '%s'")
                         :format(st.name, flow.due_field))
    end
    flow.states[i], flow.state[st.name] = st, st
  end
  if #flow.states == 0 then options.fail(what, "give at least one state") end
  flow.initial = flow.states[1].name
  -- A case made without flow:start (a generated form, an import) starts there too.
  local sf = e.field[flow.state_field]
  if sf.default == nil then sf.default = flow.initial end
  for i, s in ipairs(spec.steps or {}) do
    local name = type(s) == "table" and s[1] or nil
    local swhat = ("%s step %s"):format(what, tostring(name or i))
    options.check(swhat, s, step_spec, true)
    if type(name) ~= "string" or not name:find("^[%w_%-]+$") or flow.step[name] then
      options.fail(what, ("step %d needs a name of its own (letters, digits, - and _)"):format(i))
    end
    -- Who may take a step is always said: a step anyone may take (the
    -- public, or the platform on a citizen's behalf) says role = "public".
    if s.role == nil then
      options.fail(swhat, "say who may take it: role = \"manager\", a list of roles, or \"public\" for anyone")
    end
    local step = { name = name, label = s[2] or name, to = s.to, roles = list_of(s.role),
                   fields = s.fields or {}, note = s.note, after = s.after, from = {}, not_by = list_of(s.not_by) }
    if not flow.state[step.to] then
      options.fail(what, ("step %s goes to an unknown state %s"):format(step.name, tostring(step.to)))
    end
    for _, from in ipairs(list_of(s.from) or { "*" }) do
      if from ~= "*" and not flow.state[from] then
        options.fail(what, ("step %s starts from an unknown state %s"):format(step.name, tostring(from)))
      end
      step.from[from] = true
    end
    for _, fname in ipairs(step.fields) do
      if not e.field[fname] then
        options.fail(what, ("step %s names an unknown field %s"):format(step.name, tostring(fname)))
      end
    end
    if #step.fields > 0 then step.form = form.new(e, step.fields) end     -- its page's fields
    flow.steps[i], flow.step[step.name] = step, step
  end
  for _, step in ipairs(flow.steps) do
    for _, other in ipairs(step.not_by or {}) do
      if not flow.step[other] then
        options.fail(what, ("step %s: not_by names an unknown step %s"):format(step.name, tostring(other)))
      end
    end
  end
  return flow
end

-- ---- who may do what ----

local function current_user(opts)
  if opts and opts.user ~= nil then return opts.user or nil end
  return borough.user and borough.user() or nil
end

--- Whether user (nil: no one signed in) may take a step for roles: one
-- of them is "public", or the user holds one of them.
function M.has_role(user, roles)
  local held = user and user.roles or {}
  for _, r in ipairs(roles) do
    if r == "public" or held[r] then return true end
  end
  return false
end

-- Whether user took one of the steps of `not_by` on the case (and so may
-- not take the step that names them).
local function took(flow, case_id, user, not_by)
  if not not_by or not user or not user.id then return false end
  for _, name in ipairs(not_by) do
    if Moves:count { workflow = flow.name, case_id = case_id, step = name, user_id = tostring(user.id) } > 0 then
      return true
    end
  end
  return false
end

--- The steps user may take from the case's state now, in declared order.
function Flow:steps_for(case, user)
  user = user or current_user()
  local state, out = case[self.state_field], {}
  for _, step in ipairs(self.steps) do
    if (step.from[state] or step.from["*"]) and M.has_role(user, step.roles) and not took(self, case.id, user, step.not_by) then
      out[#out + 1] = step
    end
  end
  return out
end

-- ---- moving ----

local function one_error(message)
  return { { field = "", message = message } }
end

-- The changes a move makes to the case: the step's fields, the new state,
-- the due date.
local function changes_for(flow, case, step, values)
  local changes, errors = {}, nil
  for _, fname in ipairs(step.fields) do changes[fname] = values[fname] end
  local clean, why = flow.entity:validate(changes, case)
  if not clean then errors = why end
  for _, fname in ipairs(step.fields) do
    local v = clean and clean[fname]
    if v == nil and not (errors and errors[fname]) then
      local f = flow.entity.field[fname]
      errors = errors or {}
      errors[#errors + 1] = { field = fname, message = fields.required_message(f) }
      errors[fname] = errors[#errors].message
    end
  end
  if errors then return nil, errors end
  changes[flow.state_field] = step.to
  local due = flow.state[step.to].due
  if flow.entity.field[flow.due_field] then
    changes[flow.due_field] = due and iso(os.time() + due) or db.NULL
  end
  return changes
end

local function record_move(flow, case_id, step_name, from, to, user, note)
  local move, errors = Moves:create {
    workflow = flow.name, case_id = case_id, step = step_name, from_state = from, to_state = to,
    user_id = user and user.id and tostring(user.id) or nil,
    user_name = user and (user.name or user.email) or nil,
    note = note,
  }
  if not move then error("workflow: cannot record the move: " .. errors[1].message, 0) end
  return move
end

--- Creates a case in the first state (values as for Entity:create) and
-- records the start in its history.
function Flow:start(values, opts)
  local user = current_user(opts)
  local v = {}
  for k, x in pairs(values) do v[k] = x end
  v[self.state_field] = self.initial
  local due = self.states[1].due
  if due then v[self.due_field] = iso(os.time() + due) end
  return db.tx(function()
    local case, errors = self.entity:create(v)
    if not case then return nil, errors end
    record_move(self, case.id, "start", nil, self.initial, user, opts and opts.note)
    return case
  end)
end

--- Takes a step: checks the user's roles, the case's state and the step's
-- fields, then changes the case, records the move and runs the step's
-- `after`, all in one transaction. Returns the case as it now is, or nil,
-- errors and why ("forbidden", "conflict", "invalid" or "missing").
function Flow:move(case, step_name, values, opts)
  local step = self.step[step_name]
  if not step then error(("workflow %s has no step %s"):format(self.name, tostring(step_name)), 2) end
  values = values or {}
  local user = current_user(opts)
  if not M.has_role(user, step.roles) then
    return nil, one_error(t("workflow.forbidden", { step = step.label:lower() })), "forbidden"
  end
  local id = type(case) == "table" and case.id or case
  return db.tx(function()
    local now = self.entity:find(id)      -- read again inside the transaction: no one else moves it meanwhile
    if not now then return nil, one_error(t("workflow.missing", { label = self.entity.label })), "missing" end
    local from = now[self.state_field]
    if not (step.from[from] or step.from["*"]) then
      return nil, one_error(t("workflow.conflict", { label = self.entity.label, state = self:label(from):lower(),
                                                     step = step.label:lower() })), "conflict"
    end
    if took(self, now.id, user, step.not_by) then
      return nil, one_error(t("workflow.not_by", { step = step.label:lower(), label = self.entity.label })), "forbidden"
    end
    local changes, errors = changes_for(self, now, step, values)
    if not changes then return nil, errors, "invalid" end
    local updated, why = self.entity:update(now.id, changes)
    if not updated then return nil, why, "invalid" end
    local note = step.note and values.note and tostring(values.note):match("^%s*(.-)%s*$") or nil
    local move = record_move(self, now.id, step.name, from, step.to, user, note ~= "" and note or nil)
    if step.after then
      local ok, why = step.after(updated, { step = step.name, from = from, to = step.to, user = user, note = move.note,
                                            values = values, at = move.created_at })
      if ok == false or (ok == nil and why ~= nil) then
        return nil, type(why) == "table" and why or one_error(tostring(why)), "refused"
      end
    end
    return updated
  end)
end

-- ---- reading ----

--- The label of a state.
function Flow:label(state)
  local st = self.state[state]
  return st and st.label or tostring(state)
end

--- The moves of a case, oldest first: records of workflow_moves
-- (step, from_state, to_state, user_id, user_name, note, created_at).
function Flow:history(case)
  local list = Moves:where({ workflow = self.name, case_id = type(case) == "table" and case.id or case },
                          { per_page = 500 })
  return list
end

--- Cases past their due date, most overdue first (opts as for Entity:where,
-- plus where = more conditions).
function Flow:overdue(opts)
  opts = opts or {}
  local conds = {}
  for k, v in pairs(opts.where or {}) do conds[k] = v end
  conds[self.due_field] = { lt = iso(os.time()) }
  return self.entity:where(conds, { order = self.due_field, page = opts.page, per_page = opts.per_page })
end

--- How many cases are in each state, in the order of the states:
-- { { state =, label =, colour =, count = }, ... }.
function Flow:counts()
  local n = self.entity:count_by(self.state_field)    -- only the cases the user may read
  local out = {}
  for i, st in ipairs(self.states) do
    out[i] = { state = st.name, label = st.label, colour = st.colour, count = n[st.name] or 0 }
  end
  return out
end

-- ---- showing ----

--- The case's state as a GOV.UK tag.
function Flow:tag(case)
  local state = type(case) == "table" and case[self.state_field] or case
  local st = self.state[state] or { label = tostring(state), colour = "grey" }
  return govuk.tag { text = st.label, classes = "govuk-tag--" .. st.colour }
end

--- The address of a step's page for a case.
function Flow:step_url(case, step_name)
  if not self.path then
    error(("workflow %s: its step pages are added by flow:mount(app, path, opts)"):format(self.name), 0)
  end
  return borough.url(self.path .. "/" .. case.id .. "/steps/" .. step_name)
end

--- A button for each step the user may take now: a step with fields or a
-- note links to its page; one without posts at once. One form holds them
-- all (each posting button names its step with formaction), so they line
-- up as one GOV.UK button group.
function Flow:buttons(case, user)
  local out, action = {}, nil
  for i, step in ipairs(self:steps_for(case, user)) do
    local classes = i > 1 and "govuk-button--secondary" or nil
    local url = self:step_url(case, step.name)
    if #step.fields > 0 or step.note then
      out[i] = tostring(govuk.button { text = step.label, href = url, classes = classes })
    else
      action = action or url
      out[i] = tostring(govuk.button { text = step.label, classes = classes,
                                       attributes = url ~= action and { formaction = url } or nil })
    end
  end
  if #out == 0 then return view.safe("") end
  local group = '<div class="govuk-button-group">' .. table.concat(out) .. "</div>"
  if not action then return view.safe(group) end
  return view.safe('<form method="post" action="' .. borough.escape(action) .. '">'
                   .. tostring(borough.csrf_field()) .. group .. "</form>")
end

-- "2024-04-01T09:30:00Z" -> "1 April 2024 10:30" (UK time).
local function uk_time(iso_text)
  local t = fields.seconds(iso_text)
  if not t then return tostring(iso_text or "") end
  return (os.date("!%d %B %Y %H:%M", t + fields.uk_offset(t)):gsub("^0", ""))
end
M.uk_time = uk_time

--- The history of a case as a GOV.UK table: when, who, what, note.
function Flow:history_table(case)
  local rows = {}
  for _, m in ipairs(self:history(case)) do
    local step = self.step[m.step]
    rows[#rows + 1] = {
      { text = uk_time(m.created_at) },
      { text = m.user_name or "" },
      { text = (step and step.label or (m.step == "start" and t("workflow.started") or m.step))
               .. " (" .. self:label(m.to_state) .. ")" },
      { text = m.note or "" },
    }
  end
  return govuk.table { caption = t("workflow.history"), captionClasses = "govuk-table__caption--m",
    head = { { text = t("workflow.when") }, { text = t("workflow.who") }, { text = t("workflow.what") },
             { text = t("workflow.note_column") } }, rows = rows }
end

-- The inputs of a step's page: its fields as borough.form shows them (the
-- component that suits each type), then the note.
local function inputs(step, case, raw, errors)
  local out = {}
  for i, fname in ipairs(step.fields) do
    local f = step.form.item[fname].field
    local value = raw[fname]
    if value == nil then value = form.form_value(f, case[fname]) end
    out[i] = tostring(step.form:field_html(fname, value, errors[fname]))
  end
  if step.note then
    out[#out + 1] = tostring(govuk.textarea { name = "note", id = "note", value = raw.note,
      label = { text = t("workflow.note"), classes = "govuk-label--s" } })
  end
  return view.safe(table.concat(out))
end

-- The error summary's list: each error linking to its field's first
-- input, in the order of the page (form:read's errors are so already;
-- the entity's, from the move, are put so).
local function summary_list(step, errors)
  if errors[1] and errors[1].text then return errors end
  if step.form then return form.errors(step.form, errors) end
  local list = {}
  for i, e in ipairs(errors) do list[i] = { text = e.message } end
  return list
end

local statuses = { forbidden = 403, conflict = 409, missing = 404 }

local mount_options = { role = "role", redirect = "function" }

--- flow:mount(app, path [, opts]): the step pages of this workflow, at
-- GET <path>/:id/steps/:step (the step's fields, in the view
-- "borough/workflow_step", which an app view of that name replaces) and
-- POST (takes the step, then redirects). <path>/:id is the case's own page
-- (the step pages' back link). opts: role (the role or roles the routes
-- need), redirect = function(case) -> a path inside the app to go to after
-- a step (<path>/<id> by default).
function Flow:mount(app, path, opts)
  local what = ("workflow %s: mount(%q)"):format(self.name, tostring(path))
  opts = options.check(what, opts, mount_options)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[:*]") then
    options.fail(what, "the path must be a path inside the app such as \"/referrals\"")
  end
  path = path:gsub("/+$", "")
  if self.path then
    if self.path == path then return self end
    options.fail(what, ("the workflow is already mounted at %s"):format(self.path))
  end
  self.path = path
  local route_opts = { role = opts.role }
  local function page(case, step, raw, errors, status)
    return borough.view("borough/workflow_step", {
      title = step.label, case = case, step = step, tag = self:tag(case), errors = errors,
      back = borough.url(self.path .. "/" .. case.id), inputs = inputs(step, case, raw, errors),
      summary = #errors > 0 and govuk.error_summary { errorList = summary_list(step, errors) } or nil,
    }, status)
  end
  local function find(req)
    return self.entity:find(req.params.id), self.step[req.params.step]
  end
  app:get(path .. "/:id/steps/:step", route_opts, function(req)
    local case, step = find(req)
    if not case or not step then return borough.status(404) end
    local allowed = false
    for _, s in ipairs(self:steps_for(case)) do allowed = allowed or s == step end
    if not allowed then
      local user = current_user()
      return borough.status((not M.has_role(user, step.roles) or took(self, case.id, user, step.not_by)) and 403 or 409)
    end
    return page(case, step, {}, {})
  end)
  app:post(path .. "/:id/steps/:step", route_opts, function(req)
    local case, step = find(req)
    if not case or not step then return borough.status(404) end
    local values, errors, raw = {}, nil, {}
    if step.form then
      values, errors, raw = step.form:read(req, case)
      if not values then return page(case, step, raw, errors, 400) end
    end
    values.note, raw.note = req.form.note, req.form.note
    local moved, why
    moved, errors, why = self:move(case, step.name, values)
    if not moved then
      if why == "invalid" or why == "refused" then return page(case, step, raw, errors, why == "refused" and 409 or 400) end
      return borough.status(statuses[why] or 400, errors[1].message)
    end
    return borough.redirect(options.target(what, opts.redirect and opts.redirect(moved)
                                                 or (self.path .. "/" .. moved.id)))
  end)
  return self
end

-- Shapes that were replaced (docs/apps.md, "Changes"): each says by what.
function M.define()
  options.fail("workflow.define", "is now borough.workflow { ... }, its path given to flow:mount(app, path, opts)")
end
function Flow.routes()
  options.fail("flow:routes(app, opts)", "is now flow:mount(app, path, opts), with redirect = function(case) "
                                         .. "returning a path inside the app in place of done")
end

return M
