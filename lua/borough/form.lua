--- borough.form: forms on GOV.UK Frontend, and one-thing-per-page flows.
--
-- A form shows fields with the right GOV.UK component for their type,
-- checks what was sent with the same rules and messages as entities (the
-- checking is the entity's own: see borough/entity.lua), and shows the
-- errors with an error summary that links to each field.
--
--   -- the fields of an entity (all of them, or those named)
--   local NewResident = borough.form(Residents, { "first_name", "last_name",
--     { "date_of_birth", hint = "For example, 27 3 2007" } })
--
--   -- or fields of its own, declared as an entity's are
--   local Contact = borough.form {
--     { "name", "text", required = true, question = "What is your name?", autocomplete = "name" },
--     { "email", "email", required = true },
--   }
--
--   app:get("/contact", function(req) return Contact:show(req, { title = "Contact us" }) end)
--   app:post("/contact", function(req)
--     local values, errors = Contact:read(req)
--     if not values then return Contact:show(req, { title = "Contact us", errors = errors }) end
--     ...
--   end)
--
-- or, in one line, Contact:mount(app, "/contact", { title = ..., done = function(req, values) ... end }).
--
-- A flow asks one thing per page, keeps the answers in a draft on the
-- server (so they survive a reload of the page and of the server), shows a
-- check-your-answers page and, once sent, a confirmation with a reference:
--
--   borough.flow {
--     name = "feedback", entity = Feedback, reference = "reference",
--     pages = { "service", { "rating", as = "radios" }, "comments", "email" },
--   }:mount(app, "/give-feedback", { public = true })
--
-- A flow may be mounted under a path with parameters ("/q/:token": each
-- value has its own pages, cookie and draft) and, with record =
-- function(req), fill in a record that exists instead of making one.
--
-- The functions (docs/apps.md, "Forms", "One thing per page", has more):
--   borough.form(spec), borough.form(Entity [, spec])  -> a form
--   form:read(req [, existing])      -> values | nil, errors, raw
--   form:show(req, ctx)              -> the page (views/borough/form.html)
--   form:html{ values, raw, errors, submit, action }  -> the <form> alone
--   form:field_html(name, value, error [, heading])    -> one field's component
--   form:mount(app, path, opts)      -> GET and POST routes
--   borough.form.form_value(field, stored)  -> what a form shows for a stored value
--   borough.form.display(field, stored)     -> it as people read it, plain text (emails, SMS)
--   borough.form.display_html(field, stored) -> the same, HTML for a page
--   borough.form.input_id(item), .option_text(field, value), .reference()
--   borough.flow(spec)               -> a flow; flow:mount(app, path, opts),
--                                       flow:answers(req)
--
-- Presentation options of a field (besides the entity's own options):
--   question      the label or legend shown (the field's label by default)
--   hint          hint text under it
--   as            "input", "textarea", "radios", "select", "checkbox" (one
--                 box for a yes/no), "date", "file"
--   items         the text shown for each option of a choice: { food = "Food parcels" }
--   autocomplete, inputmode, spellcheck, prefix ("£"), suffix, width (2,
--                 3, 4, 5, 10, 20, 30 characters, or "one-half", "full", ...), rows
--   files         for a file field: { max = bytes, types = { "pdf", ... } }

local govuk = require "borough.govuk"
local view = require "borough.view"
local entity = require "borough.entity"
local fields = require "borough.fields"
local i18n = require "borough.i18n"
local options = require "borough.options"

local drafts = assert(borough._drafts(), "borough.form: the drafts' functions were already taken")

local t, escape, safe = i18n.t, borough.escape, view.safe

local M = {}

local Form = {}
Form.__index = Form

local presentation = {
  question = "string", hint = "string", as = "string", items = "table", autocomplete = "string",
  inputmode = "string", spellcheck = "boolean", prefix = "string", suffix = "string",
  width = true, rows = "number", files = "table",
}

local widgets = { input = true, textarea = true, radios = true, select = true, checkbox = true,
                  date = true, file = true }

-- What each type shows, when a field does not say.
local defaults = {
  email = { type = "email", autocomplete = "email", spellcheck = false },
  phone = { type = "tel", autocomplete = "tel", width = 20 },
  postcode = { autocomplete = "postal-code", width = 10 },
  integer = { inputmode = "numeric", width = 10 },
  number = { inputmode = "decimal", width = 10 },
  money = { inputmode = "decimal", prefix = "£", width = 10 },
  nhs_number = { inputmode = "numeric", width = 10 },
  sort_code = { inputmode = "numeric", width = 5 },
  account_number = { inputmode = "numeric", width = 10 },
}

-- Splits one field entry into its declaration and its presentation. With
-- an entity, the declaration is the entity's: an entry may add only
-- required = true (the form asks for the field even though the entity, a
-- record imported before anyone answered, may be without it).
local function split(entry, what, e)
  if type(entry) == "string" then return { entry }, {} end
  if type(entry) ~= "table" or type(entry[1]) ~= "string" then
    options.fail(what, "each field is a name or a table such as { \"name\", \"text\", ... }")
  end
  local decl, ui = {}, {}
  for k, v in pairs(entry) do
    local want = presentation[k]
    if want then
      if want ~= true and type(v) ~= want then
        options.fail(what, ("%s.%s must be a %s"):format(entry[1], k, want))
      end
      ui[k] = v
    elseif e and k == "required" then
      if v ~= true then options.fail(what, ("%s.required may only be true here"):format(entry[1])) end
      ui.required = true
    elseif e and k ~= 1 then
      options.fail(what, ("%s.%s: unknown option, or one that comes from the entity (a form of an entity "
                          .. "gives only presentation options: question, hint, as, ..., and required = true)")
                         :format(entry[1], tostring(k)))
    else
      decl[k] = v
    end
  end
  if ui.as and not widgets[ui.as] then
    options.fail(what, ("%s.as must be one of input, textarea, radios, select, checkbox, date, file"):format(entry[1]))
  end
  return decl, ui
end

-- The component a field gets.
local function widget(f, ui)
  if ui.as then return ui.as end
  local ty = f.type
  if ty == "date" then return "date" end
  if ty == "long_text" then return "textarea" end
  if ty == "boolean" then return "radios" end
  if ty == "file" then return "file" end
  if ty == "choice" then return #f.options <= 6 and "radios" or "select" end
  if ty == "reference" then return "select" end
  return "input"
end

-- Checks the entity's fields and the form's own together (a flow's
-- questions kept as answers beside an entity's fields): the errors of
-- both, in the entity's shape.
local function joint_checker(e, own)
  local field = setmetatable({}, { __index = function(_, k) return own.field[k] or e.field[k] end })
  return { field = field, validate = function(_, raw, existing)
    local mine, theirs = {}, {}
    for k, v in pairs(raw) do if own.field[k] then mine[k] = v else theirs[k] = v end end
    local clean, errs = e:validate(theirs, existing)
    local clean2, errs2 = own:validate(mine, existing)
    if clean and clean2 then
      for k, v in pairs(clean2) do clean[k] = v end
      return clean
    end
    local all = {}
    for _, list in ipairs { errs or {}, errs2 or {} } do
      for _, err in ipairs(list) do all[#all + 1] = err; all[err.field] = all[err.field] or err.message end
    end
    return nil, all
  end }
end

-- A field's name that looks like a declaration of its own: { "name", "type", ... }.
local function declares(entry)
  return type(entry) == "table" and type(entry[1]) == "string" and type(entry[2]) == "string"
end

--- borough.form(spec) or borough.form(Entity [, spec]): a form.
-- spec's list part names the fields (or declares them, without an entity);
-- spec.entity is the entity; spec.submit the button's text. spec.own =
-- true (for borough.flow's answers): with an entity, an entry that
-- declares a field the entity does not have ({ "employees", "integer",
-- ... }) is the form's own, checked as borough.form checks its fields.
function M.new(a, b)
  local spec, e
  if getmetatable(a) and a.fields and a.validate then
    e, spec = a, b or {}
  else
    spec = a or {}
    e = spec.entity
  end
  if type(spec) ~= "table" then options.fail("borough.form", "expects a table of fields") end
  local what = "borough.form" .. (e and ("(" .. e.name .. ")") or "")
  options.check(what, spec, { entity = "table", submit = "string", own = "boolean" })
  local form = setmetatable({ entity = e, items = {}, item = {}, submit = spec.submit, own = {} }, Form)
  local entries = {}
  for i, entry in ipairs(spec) do entries[i] = entry end
  if e and #entries == 0 then
    for _, f in ipairs(e.fields) do
      if not f.secret then entries[#entries + 1] = f.name end    -- a secret only when named
    end
  end
  local decls, uis, own = {}, {}, {}
  for i, entry in ipairs(entries) do
    local mine = e and spec.own and declares(entry) and not e.field[entry[1]]
    decls[i], uis[i] = split(entry, what, not mine and e or nil)
    if mine then own[#own + 1] = decls[i]; form.own[entry[1]] = true end
  end
  local function fieldset(list)
    local ok, checker = pcall(entity.fieldset, "form", list)
    if not ok then     -- the declaration's mistake, at the app's line
      options.fail(what, (tostring(checker):gsub("^%S+:%d+: ", "")))
    end
    return checker
  end
  if e then
    form.checker = e
    if #own > 0 then form.checker = joint_checker(e, fieldset(own)) end
    for i, d in ipairs(decls) do
      if not form.checker.field[d[1]] then options.fail(what, ("%s has no field '%s'"):format(e.name, d[1])) end
      decls[i] = form.checker.field[d[1]]
    end
  else
    form.checker = fieldset(decls)
    for i, d in ipairs(decls) do decls[i] = form.checker.field[d[1]] end
  end
  for i, f in ipairs(decls) do
    local ui = uis[i]
    local item = { name = f.name, field = f, ui = ui, as = widget(f, ui), index = i, required = ui.required,
                   question = ui.question or f.label, id = f.name:gsub("_", "-") }
    form.items[i] = item
    form.item[f.name] = item
    if item.as == "file" then form.multipart = true end
  end
  return form
end

--- The id of a field's first input (where its label, and the error
-- summary's link, take the person): the field's id ("date-of-birth"), or
-- its day box for a date ("date-of-birth-day"). Radios and checkboxes get
-- it as their idPrefix, so their first input has this id too.
function M.input_id(item)
  return item.as == "date" and (item.id .. "-day") or item.id
end

-- ---- values: what a record holds <-> what a form shows ----

--- The text a form shows for a stored value (money in pounds, a date in
-- its three boxes, yes/no).
function M.form_value(f, v)
  if v == nil or v == db.NULL then return nil end
  local ty = f.type
  if ty == "money" and math.type(v) == "integer" then
    local s = fields.money_text(v)
    return (s:gsub("%.00$", ""))
  elseif ty == "date" and type(v) == "string" then
    local y, m, d = v:match("^(%d+)-(%d+)-(%d+)$")
    if y then return { day = tostring(tonumber(d)), month = tostring(tonumber(m)), year = y } end
  elseif ty == "boolean" and type(v) == "boolean" then
    return v and "yes" or "no"
  elseif type(v) == "table" then
    return v
  end
  return tostring(v)
end

--- The text people read for an option of a choice: the form's items,
-- else the label the entity declares for it ({ "plan_agreed", "Plan
-- agreed" }), else the option itself made readable when it is written as a
-- name ("plan_agreed" reads "Plan agreed").
function M.option_text(f, v, ui)
  local text = ui and ui.items and ui.items[v] or f.option_labels and f.option_labels[v]
  if text then return text end
  if type(v) == "string" and v:find("^%l[%l%d]*_[%l%d_]*$") then return fields.label_from_name(v) end
  return v
end

--- A stored value as people read it, as plain text (for an email, a text
-- message, a CSV): money as £1,250.50, dates as 1 April 2024, Yes or No,
-- the text of a choice; "" for no value.
function M.display(f, v, ui)
  if v == nil or v == db.NULL then return "" end
  local ty = f.type
  if ty == "money" and math.type(v) == "integer" then return fields.format_money(v) end
  if ty == "date" and type(v) == "string" then return fields.format_date(v) end
  if ty == "datetime" and type(v) == "string" then return fields.format_datetime(v) end
  if ty == "boolean" then return v and t("form.yes") or t("form.no") end
  -- A kept file is a random reference: say what kind of file it is.
  if ty == "file" then return t("form.file", { type = (tostring(v):match("%.(%w+)$") or ""):upper() }) end
  if ty == "choice" then return tostring(M.option_text(f, v, ui)) end
  if ty == "reference" then
    -- The other record by its first field (a scheme by its name), when it
    -- has no encrypted fields to open; else by its label and id.
    local target = entity.get(f.to)
    local first = target and not target.encrypted[1] and target.fields[1]
    local other = first and target:find(v)
    if other and other[first.name] ~= nil then return M.display(first, other[first.name]) end
    return (target and target.label:gsub("^%l", string.upper) or f.to) .. " " .. tostring(v)
  end
  return tostring(v)
end

--- The same as HTML, for a page (a summary list, a table): escaped, line
-- breaks kept.
function M.display_html(f, v, ui)
  return safe((escape(M.display(f, v, ui)):gsub("\r?\n", "<br>")))
end

-- ---- reading a request ----

-- The raw value of one item from a request: text, the three boxes of a
-- date, a checkbox, a kept file. Returns value [, error message].
local function raw_value(item, req, previous)
  local name, id = item.name, item.id
  local form = req.form
  if item.as == "date" then
    local d, m, y = form[id .. "-day"], form[id .. "-month"], form[id .. "-year"]
    if (d or "") == "" and (m or "") == "" and (y or "") == "" then return "" end
    return { day = d or "", month = m or "", year = y or "" }
  elseif item.as == "checkbox" then
    return form[name] and "yes" or "no"
  elseif item.as == "file" then
    local file = req.files and req.files[name]
    if not file then return previous or "" end
    if file.error then return previous or "", file.message end
    return borough.keep_file(file)
  end
  return form[name] or ""
end

-- Errors in the entity's shape (a list of { field, message } and a map),
-- as the error summary lists them: in the order the fields are on the page
-- (a message about the whole record first), each linking to its field's
-- first input. With only_form, errors about fields the form does not show
-- are left out (a page of a flow checks its own fields; the others are
-- checked when sent).
local function error_list(form, errs, only_form)
  local kept = {}
  for i, e in ipairs(errs) do
    local item = form.item[e.field]
    if item or e.field == "" or not only_form then kept[#kept + 1] = { e = e, item = item, i = i } end
  end
  table.sort(kept, function(a, b)
    local x, y = a.item and a.item.index or 0, b.item and b.item.index or 0
    if x ~= y then return x < y end
    return a.i < b.i
  end)
  local list = {}
  for _, k in ipairs(kept) do
    local e, item = k.e, k.item
    list[#list + 1] = { field = e.field, text = e.message, href = item and ("#" .. M.input_id(item)) or nil }
    list[e.field] = list[e.field] or e.message
  end
  return list
end

--- form:read(req [, existing]) -> values | nil, errors, raw
-- Reads the form's fields from the request and checks them as the entity
-- (or the form's own declaration) says, and that the fields the form
-- marks required = true are there. existing: values already known (a
-- record being edited, the answers so far): fields not on this form keep
-- them, and checks across fields see them. values holds the form's fields
-- only. errors is a list of { field, text, href } (for the error summary),
-- also by field name; raw is what was sent, to show again.
function Form:read(req, existing)
  local raw, all, refused = {}, {}, {}
  for _, item in ipairs(self.items) do
    local v, why = raw_value(item, req, existing and existing[item.name] or nil)
    raw[item.name] = v
    if why then
      all[#all + 1] = { field = item.name, message = why }
      refused[item.name] = true
    end
  end
  local clean, errs = self.checker:validate(raw, existing or {})
  for _, e in ipairs(errs or {}) do
    if not refused[e.field] then all[#all + 1] = e; refused[e.field] = true end
  end
  for _, item in ipairs(self.items) do
    local v = raw[item.name]
    -- (A required checkbox must be ticked: a declaration, say.)
    if item.required and not refused[item.name] and (v == nil or (type(v) == "string" and not v:find("%S"))
                                                      or (item.as == "checkbox" and v ~= "yes")) then
      all[#all + 1] = { field = item.name, message = fields.required_message(item.field) }
    end
  end
  if #all > 0 then
    local list = error_list(self, all, true)
    if #list > 0 then return nil, list, raw end
  end
  local names, values = {}, {}
  for i, item in ipairs(self.items) do
    names[i] = item.name
    values[item.name] = clean[item.name]
  end
  return setmetatable(values, { __columns = names }), nil, raw   -- borough.json keeps the form's order
end

-- ---- rendering ----

local function width_class(w)
  if w == nil then return nil end
  if type(w) == "number" then return "govuk-input--width-" .. w end
  return "govuk-!-width-" .. w
end

--- The records a reference field may name, as { value = id (text), text =
-- the record's first field } (at most 500).
function M.choices(f)
  local target, list = entity.get(f.to), {}
  local label = target and target.fields[1] and target.fields[1].name
  for i, r in ipairs(target and target:all({ per_page = 500 }) or {}) do
    list[i] = { value = tostring(r.id), text = label and r[label] and tostring(r[label]) or tostring(r.id) }
  end
  return list
end

-- The options of a choice or reference, as items of radios or a select.
local function choice_items(item, value)
  local f, list = item.field, {}
  if f.type == "choice" then
    for i, o in ipairs(f.options) do
      list[i] = { value = o, text = M.option_text(f, o, item.ui) }
    end
  elseif f.type == "reference" then
    list = M.choices(f)
  elseif f.type == "boolean" then
    list = { { value = "yes", text = t("form.yes") }, { value = "no", text = t("form.no") } }
  end
  value = value ~= nil and tostring(value) or nil
  for _, o in ipairs(list) do
    if value and (o.value == value or o.value:lower() == value:lower()) then o.checked, o.selected = true, true end
  end
  return list
end

--- form:field_html(name, value, error [, heading]): one field's component.
-- value is what the form shows (form_value of a stored value, or what was
-- sent); heading makes its label the page's heading (one thing per page).
function Form:field_html(name, value, err, heading)
  local item = self.item[name]
  local f, ui, as = item.field, item.ui, item.as
  local d = defaults[f.type] or {}
  local label = { text = item.question }
  if heading then label.classes, label.isPageHeading = "govuk-label--l", true end
  local legend = { legend = { text = item.question,
                              classes = heading and "govuk-fieldset__legend--l" or "govuk-fieldset__legend--s",
                              isPageHeading = heading or nil } }
  local p = {
    id = item.id, name = item.name, hint = ui.hint and { text = ui.hint } or nil,
    errorMessage = err and { text = err } or nil,
  }
  if as == "date" then
    p.namePrefix = item.id
    p.name = nil
    p.fieldset = legend
    local v = type(value) == "table" and value or {}
    local bad = err and " govuk-input--error" or ""
    p.items = {
      { name = "day", id = M.input_id(item), value = v.day, classes = "govuk-input--width-2" .. bad,
        autocomplete = ui.autocomplete and "bday-day" or nil },
      { name = "month", value = v.month, classes = "govuk-input--width-2" .. bad, autocomplete = ui.autocomplete and "bday-month" or nil },
      { name = "year", value = v.year, classes = "govuk-input--width-4" .. bad, autocomplete = ui.autocomplete and "bday-year" or nil },
    }
    for _, it in ipairs(p.items) do it.label = t("date_input." .. it.name) end
    return govuk.dateInput(p)
  elseif as == "radios" then
    p.idPrefix = M.input_id(item)
    p.fieldset = legend
    p.items = choice_items(item, value)
    if #p.items == 2 and f.type == "boolean" then p.classes = "govuk-radios--inline" end
    return govuk.radios(p)
  elseif as == "select" then
    p.label = label
    p.items = choice_items(item, value)
    table.insert(p.items, 1, { value = "", text = t("form.choose"), selected = value == nil or value == "" })
    return govuk.select(p)
  elseif as == "checkbox" then
    p.idPrefix = M.input_id(item)
    p.fieldset = legend
    p.items = { { value = "yes", text = item.question, checked = value == "yes" or value == true } }
    p.fieldset.legend.classes = "govuk-visually-hidden"
    if heading then p.fieldset.legend.classes = "govuk-fieldset__legend--l" end
    return govuk.checkboxes(p)
  elseif as == "file" then
    p.label = label
    local out = tostring(govuk.fileUpload(p))
    if type(value) == "string" and value ~= "" then
      out = out .. '<p class="govuk-body">' .. escape(t("form.file_kept", { name = M.display(f, value) })) .. "</p>"
    end
    return safe(out)
  elseif as == "textarea" then
    p.label = label
    p.value = value
    p.rows = ui.rows
    p.spellcheck = ui.spellcheck
    p.autocomplete = ui.autocomplete
    if f.max_length_given then
      p.maxlength = f.max_length
      return govuk.characterCount(p)
    end
    return govuk.textarea(p)
  end
  p.label = label
  p.value = value
  p.type = ui.type or d.type
  p.autocomplete = ui.autocomplete or d.autocomplete
  p.inputmode = ui.inputmode or d.inputmode
  if ui.spellcheck ~= nil then p.spellcheck = ui.spellcheck else p.spellcheck = d.spellcheck end
  local prefix, suffix = ui.prefix or d.prefix, ui.suffix
  p.prefix = prefix and { text = prefix } or nil
  p.suffix = suffix and { text = suffix } or nil
  p.classes = width_class(ui.width or d.width or (f.max_length_given and f.max_length <= 30 and 20) or nil)
  return govuk.input(p)
end

--- form:html{ values =, errors =, raw =, submit =, action =, heading =, names = }:
-- the <form> with its CSRF token, fields and button. values are stored
-- values (a record), raw what was sent (shown as it was); names: only these
-- fields; heading: the only field's label is the page's heading.
function Form:html(o)
  o = o or {}
  local out = { ('<form method="post" novalidate%s%s>'):format(
    o.action and (' action="' .. escape(o.action) .. '"') or "",
    self.multipart and ' enctype="multipart/form-data"' or ""), tostring(borough.csrf_field()) }
  local errors, values, raw = o.errors or {}, o.values or {}, o.raw or {}
  local list = o.names or {}
  if #list == 0 then for i, item in ipairs(self.items) do list[i] = item.name end end
  for _, name in ipairs(list) do
    local item = self.item[name]
    local value = raw[name]
    if value == nil then value = M.form_value(item.field, values[name]) end
    out[#out + 1] = tostring(self:field_html(name, value, errors[name], o.heading and #list == 1))
  end
  out[#out + 1] = tostring(govuk.button { text = o.submit or self.submit or t("form.continue"),
                                          attributes = { ["data-prevent-double-click"] = "true" } })
  out[#out + 1] = "</form>"
  return safe(table.concat(out, "\n"))
end

--- form:show(req, ctx [, status]): the whole page (views/borough/form.html):
-- ctx.title (the page's heading and title), caption, intro, back (a URL),
-- values, errors, raw, submit. With errors, the title starts "Error: "
-- and an error summary links to each field.
function Form:show(req, ctx)
  ctx = ctx or {}
  local one = #self.items == 1 and not ctx.title
  local page = {
    title = ctx.title or self.items[1].question, heading = not one, caption = ctx.caption, intro = ctx.intro,
    back = ctx.back, errors = ctx.errors,
    form = self:html { values = ctx.values, errors = ctx.errors, raw = ctx.raw, submit = ctx.submit,
                       heading = one, action = ctx.action or borough.url(req.path) },
  }
  if ctx.errors and #ctx.errors > 0 then page.page_title = t("form.error_title", { title = page.title }) end
  return borough.view(ctx.view or "borough/form", page, ctx.status)
end

local route_keys = { public = "boolean", role = "role", max_body = "number", files = "table" }

-- The options of a mount: the route options and those given.
local function mount_options(more)
  local all = {}
  for k, v in pairs(route_keys) do all[k] = v end
  for k, v in pairs(more) do all[k] = v end
  return all
end

local form_mount = mount_options {
  title = "string", caption = "string", intro = "string", back = "path", submit = "string",
  done = "function", redirect = { "path", "function" }, view = "string",
}

--- form:mount(app, path, opts): GET shows the form, POST checks it.
-- opts: public, role, files, max_body (route options); title, caption,
-- intro, back (a path inside the app), submit, view (the page); done =
-- function(req, values) -> response, called with the checked values.
-- Without done, a form of an entity creates the record and redirects to
-- opts.redirect (a path inside the app, or a function of the record
-- giving one; the form's own page by default).
function Form:mount(app, path, opts)
  local what = ("form:mount(%q)"):format(tostring(path))
  opts = options.check(what, opts, form_mount)
  if not opts.done and not self.entity then
    options.fail(what, "needs done = function(req, values) ... end (the form keeps no entity)")
  end
  local route = M.route_options(opts, self)
  local function page(req, extra)
    local ctx = {}
    for k, v in pairs(opts) do ctx[k] = v end
    for k, v in pairs(extra or {}) do ctx[k] = v end
    if opts.back then ctx.back = borough.url(opts.back) end
    return self:show(req, ctx)
  end
  app:get(path, route, function(req) return page(req) end)
  app:post(path, route, function(req)
    local values, errors, raw = self:read(req)
    if not values then return page(req, { errors = errors, raw = raw }) end
    if opts.done then return opts.done(req, values) end
    local record, errs = self.entity:create(values)
    if not record then return page(req, { errors = error_list(self, errs), raw = raw }) end
    local to = opts.redirect
    if type(to) == "function" then to = to(record) end
    return borough.redirect(options.target(what, to or req.path))
  end)
end

--- The route options (public, role, files, max_body) among opts, with
-- the upload rules of the form's file fields.
function M.route_options(opts, form)
  local route = { public = opts.public, role = opts.role, max_body = opts.max_body }
  local files = opts.files
  for _, item in ipairs(form and form.items or {}) do
    if item.as == "file" then
      files = files or {}
      files[item.name] = files[item.name] or item.ui.files or { max = 10 * 1024 * 1024 }
      route.max_body = route.max_body or 12 * 1024 * 1024
    end
  end
  route.files = files
  return route
end

M.errors = error_list

-- ---- drafts ----

local COOKIE = "borough_draft"

-- ---- flows: one thing per page ----

local Flow = {}
Flow.__index = Flow

-- Stored answers with json.null as nil again.
local function plain(values)
  local out = {}
  for k, v in pairs(values) do if v ~= json.null then out[k] = v end end
  return out
end

local letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"   -- no I or O: they look like 1 and 0

--- A reference number like HDJ2123F: three letters, four digits, a letter
-- (24^4 x 10^4 = 3.3 billion of them), from the system's random source.
function M.reference()
  local hex = drafts.random(16)
  local out = {}
  for i = 1, 8 do
    local n = tonumber(hex:sub(4 * i - 3, 4 * i), 16)
    if i >= 4 and i <= 7 then
      out[i] = tostring(n % 10)
    else
      local k = n % #letters + 1
      out[i] = letters:sub(k, k)
    end
  end
  return table.concat(out)
end

local flow_spec = {
  name = "string", entity = "table", pages = { "table", "function" }, fields = "table", reference = "string",
  check = "table", done = "table", submit = "function", expires = "integer", record = "function",
  answers = "string",
}
local flow_mount = mount_options { back = "path", caption = "string", views = "table" }

--- borough.flow(spec): a one-thing-per-page form.
-- spec.name      the flow's name (drafts are kept by it)
-- spec.entity    the entity a record is made in when the answers are sent
-- spec.record    function(req) -> the record of the entity the answers go
--                into instead (a record imported before anyone answered,
--                found by the mount's path parameters), or nil (404), or
--                nil and a response to answer with (borough.links.page)
-- spec.pages     a list: a field (a name, or { name, presentation options,
--                required = true }), for a page that asks one thing, or
--                { name = "contact", title = "...", fields = { ... } } for
--                a page of several; when = function(answers) -> false
--                skips a page; stop = function(answers) -> { title =,
--                text = } ends the flow there with a page that says why
--                (GOV.UK's "you cannot apply" page). Or a function(req,
--                record) giving the list (and a key naming it, for a
--                cache), decided as each page is asked for: questions
--                kept as data (borough.questions); nil and a response
--                answers with that response instead
-- spec.fields    without an entity: the fields, declared as in borough.form
--                (the pages give their presentation)
-- spec.answers   with an entity: a long_text field of it where the answers
--                to questions the entity does not declare are kept, as JSON
--                (the pages declare those: { "employees", "integer", ... })
-- spec.reference the field that holds the reference number (optional)
-- spec.check     { title =, text =, submit = } for the check answers page
-- spec.done      { title =, text = } for the confirmation page
-- spec.submit    function(values, req, reference) run when the answers are
--                sent (in the same transaction; instead of, or after,
--                making or changing the record, which it is then given);
--                nil and errors (or a message) undo it all and show them
-- spec.expires   seconds a draft is kept after its last change (1 day)
function M.flow(spec)
  local what = "borough.flow"
  if type(spec) ~= "table" then options.fail(what, "expects a table such as { name = ..., pages = { ... } }") end
  options.check(what, spec, flow_spec)
  if type(spec.name) ~= "string" or not spec.name:find("^[%w_-]+$") then
    options.fail(what, "needs name = \"...\" (letters, digits, - and _)")
  end
  what = ("borough.flow(%q)"):format(spec.name)
  if type(spec.pages) ~= "function" and (type(spec.pages) ~= "table" or #spec.pages == 0) then
    options.fail(what, "needs pages = { ... }")
  end
  options.check(what .. " check", spec.check, { title = "string", text = "string", submit = "string" })
  options.check(what .. " done", spec.done, { title = "string", text = "string" })
  if spec.record and not spec.entity then
    options.fail(what, "record = function(req) ... end names a record of the flow's entity: give entity = ...")
  end
  if spec.entity and spec.fields then
    options.fail(what, "fields = { ... } declares the fields of a flow without an entity; this one has an entity")
  end
  if spec.answers and not (spec.entity and spec.entity.field[spec.answers]
                           and spec.entity.field[spec.answers].type == "long_text") then
    options.fail(what, "answers = \"...\" names a long_text field of the flow's entity (the answers are kept there)")
  end
  local flow = setmetatable({ name = spec.name, entity = spec.entity, what = what, spec = spec,
                              check = spec.check or {}, done = spec.done or {}, on_submit = spec.submit,
                              find_record = spec.record, reference_field = spec.reference,
                              answers_field = spec.answers, expires = spec.expires or 86400, cache = {} }, Flow)
  if flow.reference_field and spec.entity and not spec.entity.field[flow.reference_field] then
    options.fail(what, ("reference = \"%s\" is not a field"):format(flow.reference_field))
  end
  if type(spec.pages) == "function" then
    flow.dynamic = spec.pages
  else
    flow:build(spec.pages)
  end
  return flow
end

-- Makes the flow's form and pages from a list of pages (at load, or for a
-- list given by spec.pages(req, record)); returns them as
-- { form =, pages =, page = }, and on the flow itself when it is static.
function Flow:build(list)
  local spec, what = self.spec, self.what
  local out = { pages = {}, page = {} }
  -- Without an entity, spec.fields declares the fields, and the pages'
  -- entries add their presentation (question, hint, ...) to them.
  local declared = {}
  for _, d in ipairs(spec.fields or {}) do
    if type(d) == "table" and type(d[1]) == "string" then declared[d[1]] = d end
  end
  local function entry_of(f)
    if type(f) ~= "table" then f = { f } end
    local copy = {}
    if not spec.entity then
      local d = declared[f[1]]
      if not d then options.fail(what, ("page field '%s' is not one of fields = { ... }"):format(tostring(f[1]))) end
      for k, v in pairs(d) do copy[k] = v end
    elseif declares(f) and not spec.entity.field[f[1]] and not spec.answers then
      options.fail(what, ("page field '%s' is not a field of %s (declare answers = \"...\" to keep questions "
                          .. "of the flow's own)"):format(f[1], spec.entity.name))
    end
    for k, v in pairs(f) do if k ~= "when" and k ~= "stop" then copy[k] = v end end
    return copy
  end
  local fspec = { entity = spec.entity, own = spec.answers ~= nil or nil }
  for _, p in ipairs(list) do
    if type(p) == "table" and p.fields then
      options.check(what .. " page", p, { name = "string", title = "string", fields = "table", when = "function",
                                         intro = "string", stop = "function" })
      for _, f in ipairs(p.fields) do fspec[#fspec + 1] = entry_of(f) end
    else
      for _, k in ipairs { "when", "stop" } do
        if type(p) == "table" and p[k] ~= nil and type(p[k]) ~= "function" then
          options.fail(what, ("page %s: %s must be a function"):format(tostring(p[1]), k))
        end
      end
      fspec[#fspec + 1] = entry_of(p)
    end
  end
  out.form = M.new(fspec)
  for _, p in ipairs(list) do
    local page
    if type(p) == "table" and p.fields then
      local names = {}
      for i, f in ipairs(p.fields) do names[i] = type(f) == "table" and f[1] or f end
      page = { slug = p.name or names[1], title = p.title, names = names, when = p.when, stop = p.stop, intro = p.intro }
    else
      local name = type(p) == "table" and p[1] or p
      page = { slug = name, names = { name }, when = type(p) == "table" and p.when or nil,
               stop = type(p) == "table" and p.stop or nil }
    end
    page.slug = page.slug:gsub("_", "-")
    if page.slug == "check" or page.slug == "done" or out.page[page.slug] then
      options.fail(what, ("a page may not be called '%s'"):format(page.slug))
    end
    out.pages[#out.pages + 1] = page
    out.page[page.slug] = page
  end
  if self.reference_field and not out.form.checker.field[self.reference_field] then
    options.fail(what, ("reference = \"%s\" is not a field"):format(self.reference_field))
  end
  if not self.dynamic then self.form, self.pages, self.page = out.form, out.pages, out.page end
  return out
end

-- The flow as this request sees it: itself, or, when its pages are
-- decided per request, a view of it with the pages spec.pages gives (built
-- once per key). nil and a response when spec.pages answers with one.
function Flow:at(req, record)
  if not self.dynamic then return self end
  local list, key = self.dynamic(req, record)
  if list == nil then return nil, key end
  local built = key and self.cache[key]
  if not built then
    built = self:build(list)
    if key then
      self.ncache = (self.ncache or 0) + 1
      if self.ncache > 50 then self.cache, self.ncache = {}, 1 end    -- old versions go
      self.cache[key] = built
    end
  end
  return setmetatable({ form = built.form, pages = built.pages, page = built.page }, { __index = self })
end

-- ---- where a flow is: its path, with the values of its parameters ----

-- The flow's address for this request: its mount path with each :name
-- replaced by the request's value (so a flow under /q/:token has its own
-- pages, draft and cookies for each token), and the key its drafts are
-- kept under. nil when a value is too long to be a key.
function Flow:place(req)
  local path, key = self.base, self.name
  if #self.params > 0 then
    local values = {}
    for i, name in ipairs(self.params) do values[i] = borough.urlencode(req.params[name] or "") end
    local i = 0
    path = self.base:gsub(":([%w_]+)", function() i = i + 1 return values[i] end)
    key = key .. "/" .. table.concat(values, "/")
    if #key > 200 then return nil end
  end
  local url = borough.url(path ~= "" and path or "/"):gsub("/+$", "")   -- (a flow at the app's root: "")
  return { path = path ~= "" and path or "/", url = url, key = key }
end

-- The draft of this visitor at this place: its id (or nil) and its answers.
function Flow:load(req, place)
  local id = req.cookies[COOKIE]
  local empty = { values = {}, answered = {} }
  if not id or not id:find("^%x+$") or #id ~= 32 then return nil, empty end
  local data = drafts.load(id, place.key)
  -- An id with no draft (expired, or made up) is not reused: a new draft gets a new id.
  if not data then return nil, empty end
  local draft = json.decode(data)
  if type(draft) ~= "table" then draft = empty end
  draft.values = draft.values or {}
  draft.answered = draft.answered or {}
  return id, draft
end

-- Keeps the draft; returns the Set-Cookie header for a new one (or nil).
function Flow:save(place, id, draft)
  local cookie
  if not id then
    id = drafts.random(16)
    cookie = borough.cookie(COOKIE, id, { path = place.path, max_age = self.expires })
  end
  -- Sealed when the entity has encrypted fields, so they are never kept in plain text.
  drafts.save(id, place.key, json.encode(draft), self.expires,
              self.entity ~= nil and self.entity.encrypted ~= nil and self.entity.encrypted[1] ~= nil)
  return cookie
end

--- flow:answers(req): the answers so far (stored values by field name).
function Flow:answers(req)
  local place = self:place(req)
  if not place then return {} end
  local _, draft = self:load(req, place)
  return draft.values
end

local function applies(page, values)
  return not page.when or page.when(values)
end

-- The first page (after index `after`) that applies and is not yet
-- answered (or, with all = true, the next page that applies).
function Flow:next_page(values, answered, after, all)
  for i = (after or 0) + 1, #self.pages do
    local p = self.pages[i]
    if applies(p, values) and (all or not answered[p.slug]) then return p, i end
  end
end

function Flow:index_of(page)
  for i, p in ipairs(self.pages) do if p == page then return i end end
end

-- The page before this one that applies (for the back link).
function Flow:previous(values, index)
  for i = index - 1, 1, -1 do
    if applies(self.pages[i], values) then return self.pages[i] end
  end
end

function Flow:url(place, slug, query)
  return place.url .. "/" .. slug .. (query or "")
end

function Flow:page_view(req, place, page, values, extra)
  local form = self.form
  local one = #page.names == 1 and not page.title
  local i = self:index_of(page)
  local prev = self:previous(values, i)
  local back = extra.change and self:url(place, "check") or (prev and self:url(place, prev.slug)) or self.back
  local ctx = {
    title = page.title or form.item[page.names[1]].question, heading = not one, intro = page.intro,
    caption = self.caption, back = back, errors = extra.errors,
    form = form:html { values = values, raw = extra.raw, errors = extra.errors, names = page.names,
                       heading = one, submit = extra.change and t("form.continue") or nil,
                       action = self:url(place, page.slug, extra.change and "?change=1" or nil) },
  }
  if extra.errors then ctx.page_title = t("form.error_title", { title = ctx.title }) end
  return borough.view(self.views.page, ctx)
end

-- The values of every page that applies, ready for entity:create; the
-- answers to the flow's own questions (spec.answers) as JSON in that field.
function Flow:collect(values)
  local out, own = {}, nil
  for _, p in ipairs(self.pages) do
    if applies(p, values) then
      for _, name in ipairs(p.names) do
        if self.form.own[name] then
          own = own or setmetatable({}, { __columns = {} })
          own[name] = values[name] == nil and json.null or values[name]
          local cols = getmetatable(own).__columns
          cols[#cols + 1] = name
        else
          out[name] = values[name]
        end
      end
    end
  end
  if self.answers_field then out[self.answers_field] = own and json.encode(own) or db.NULL end
  return out
end

-- The answers so far, as the pages show them: the draft's, and for a flow
-- of a record, what the record already holds for a question not yet
-- answered (so an invitation's form opens with the business's details).
function Flow:known(draft, record)
  local out = plain(draft.values)
  if not record then return out end
  local kept = self.answers_field and record[self.answers_field]
  kept = type(kept) == "string" and json.decode(kept) or {}
  for _, item in ipairs(self.form.items) do
    local name = item.name
    if draft.values[name] == nil then
      local v = record[name]
      if self.form.own[name] then v = kept[name] end
      if v ~= json.null then out[name] = v end
    end
  end
  return out
end

-- The first page that applies, is answered and stops the flow (its stop
-- says the person cannot go on with these answers), and what it says.
function Flow:stopped(values, answered)
  for _, p in ipairs(self.pages) do
    if p.stop and answered[p.slug] and applies(p, values) then
      local why = p.stop(values)
      if why then return p, why end
    end
  end
end

--- flow:mount(app, path, opts): the flow's pages under path:
--   path              starts the flow (redirects to the first question)
--   path/<page>       each question (GET shows, POST checks and moves on)
--   path/<page>/stop  the page that says why the person cannot go on (a
--                     page's stop said so of the answer)
--   path/check        check your answers (POST sends them)
--   path/done         the confirmation, with the reference number
-- path may have parameters ("/q/:token"): each value has its own pages and
-- draft. opts: public, role, max_body, files (route options), back (a path
-- inside the app: the first page's back link), caption (above each
-- question), views = { page =, check =, done =, stop = }.
function Flow:mount(app, path, opts)
  local what = ("flow:mount(%q)"):format(tostring(path))
  opts = options.check(what, opts, flow_mount)
  options.check(what .. " views", opts.views, { page = "string", check = "string", done = "string", stop = "string" })
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("*", 1, true) then
    options.fail(what, "the path must be a path inside the app such as \"/apply\" or \"/q/:token\"")
  end
  if self.base then options.fail(what, ("the flow %s is already mounted at %s"):format(self.name, self.base)) end
  -- A flow whose pages come per request may ask for any file field of its
  -- entity: the routes take each (opts.files says how big and of what type).
  local files_of = self.form
  if self.dynamic and self.entity then
    files_of = { items = {} }
    for _, f in ipairs(self.entity.fields) do
      if f.type == "file" then files_of.items[#files_of.items + 1] = { name = f.name, as = "file", ui = {} } end
    end
  end
  local route = M.route_options(opts, files_of)
  self.base = path:gsub("/+$", "")
  self.params = {}
  for name in self.base:gmatch(":([%w_]+)") do
    if name == "page" then options.fail(what, "a parameter of the path may not be called :page (the flow's own)") end
    self.params[#self.params + 1] = name
  end
  self.back = opts.back and borough.url(opts.back) or nil
  self.caption = opts.caption
  local v = opts.views or {}
  self.views = { page = v.page or "borough/form", check = v.check or "borough/check_answers",
                 done = v.done or "borough/confirmation", stop = v.stop or "borough/stop" }
  local flow = self

  -- Every page first finds where it is and, for a flow of a record, the
  -- record: none (an unknown or spent token) answers 404, or the response
  -- record gave; then the flow as this request sees it (its pages).
  local function handler(fn)
    return function(req)
      local place = flow:place(req)
      if not place then return borough.status(404) end
      local record, why
      if flow.find_record then
        record, why = flow.find_record(req)
        if not record then return type(why) == "table" and why or borough.status(404) end
      end
      local f, response = flow:at(req, record)
      if not f then return response or borough.status(404) end
      return fn(req, place, record, f)
    end
  end

  app:get(path, route, handler(function(req, place, record, f)
    local _, draft = f:load(req, place)
    local known = f:known(draft, record)
    local stop = f:stopped(known, draft.answered)
    if stop then return borough.redirect(f:url(place, stop.slug .. "/stop")) end
    local page = f:next_page(known, draft.answered) or f.pages[1]
    return borough.redirect(f:url(place, page.slug))
  end))

  app:get(path .. "/check", route, handler(function(req, place, record, f)
    local _, draft = f:load(req, place)
    return f:check_page(place, draft, nil, record)
  end))

  app:post(path .. "/check", route, handler(function(req, place, record, f)
    local id, draft = f:load(req, place)
    return f:send(req, place, record, id, draft)
  end))

  -- The confirmation comes after the record's last page: a flow of a
  -- record (spent once sent) shows it without looking the record up.
  app:get(path .. "/done", route, function(req)
    local place = flow:place(req)
    if not place then return borough.status(404) end
    local ref = req.cookies.borough_reference
    if not ref or not ref:find("^[%u%d]+$") then return borough.redirect(place.url) end
    local title = flow.done.title or t("form.done_title")
    return borough.view(flow.views.done, {
      title = title, reference = ref, text = flow.done.text,
      panel = govuk.panel { titleText = title,
                            html = escape(t("form.reference")) .. "<br><strong>" .. escape(ref) .. "</strong>" },
    })
  end)

  app:get(path .. "/:page", route, handler(function(req, place, record, f)
    local page = f.page[req.params.page]
    if not page then return borough.status(404) end
    local _, draft = f:load(req, place)
    local known = f:known(draft, record)
    if not applies(page, known) then return borough.redirect(place.url) end
    local stop = f:stopped(known, draft.answered)
    if stop and f:index_of(stop) < f:index_of(page) then return borough.redirect(f:url(place, stop.slug .. "/stop")) end
    return f:page_view(req, place, page, known, { change = req.query.change == "1" })
  end))

  app:get(path .. "/:page/stop", route, handler(function(req, place, record, f)
    local page = f.page[req.params.page]
    if not page then return borough.status(404) end
    local _, draft = f:load(req, place)
    local known = f:known(draft, record)
    local why = page.stop and draft.answered[page.slug] and applies(page, known) and page.stop(known)
    if not why then return borough.redirect(place.url) end
    local paragraphs = {}
    for para in tostring(why.text or ""):gsub("\r", ""):gmatch("[^\n]+") do paragraphs[#paragraphs + 1] = para end
    return borough.view(flow.views.stop, { title = why.title, paragraphs = paragraphs,
                                            back = f:url(place, page.slug, "?change=1") })
  end))

  app:post(path .. "/:page", route, handler(function(req, place, record, f)
    local page = f.page[req.params.page]
    if not page then return borough.status(404) end
    local id, draft = f:load(req, place)
    local change = req.query.change == "1"
    local sub = setmetatable({ items = {}, item = {} }, { __index = f.form })
    for i, name in ipairs(page.names) do sub.items[i] = f.form.item[name]; sub.item[name] = sub.items[i] end
    local known = f:known(draft, record)
    local values, errors, raw = sub:read(req, known)
    if not values then
      return f:page_view(req, place, page, known, { errors = errors, raw = raw, change = change })
    end
    for _, name in ipairs(page.names) do
      draft.values[name] = values[name] == nil and json.null or values[name]
      known[name] = values[name]
    end
    draft.answered[page.slug] = true
    local cookie = f:save(place, id, draft)
    local to
    if page.stop and page.stop(known) then
      to = f:url(place, page.slug .. "/stop")
    elseif change then       -- back to check answers, unless the change brings a new question
      local nextp = f:next_page(known, draft.answered)
      to = nextp and f:url(place, nextp.slug, "?change=1") or f:url(place, "check")
    else
      local nextp = f:next_page(known, draft.answered, f:index_of(page), true)
      to = nextp and f:url(place, nextp.slug) or f:url(place, "check")
    end
    local res = borough.redirect(to)
    if cookie then res.headers["Set-Cookie"] = cookie end
    return res
  end))
  return self
end

function Flow:check_page(place, draft, errors, record)
  local values = self:known(draft, record)
  local stop = self:stopped(values, draft.answered)
  if stop then return borough.redirect(self:url(place, stop.slug .. "/stop")) end
  local missing = self:next_page(values, draft.answered)
  if missing then return borough.redirect(self:url(place, missing.slug)) end
  local rows = {}
  for _, p in ipairs(self.pages) do
    if applies(p, values) then
      for _, name in ipairs(p.names) do
        local item = self.form.item[name]
        local v = values[name]
        rows[#rows + 1] = {
          key = { text = item.question },
          -- An optional question left empty says so (GOV.UK's wording).
          value = v == nil and { text = t("form.not_provided") }
                  or { html = tostring(M.display_html(item.field, v, item.ui)) },
          actions = { items = { { href = self:url(place, p.slug, "?change=1"), text = t("summary_list.change"),
                                  visuallyHiddenText = fields.lower(item.field.label) } } },
        }
      end
    end
  end
  local last = self:previous(values, #self.pages + 1)
  local ctx = {
    title = self.check.title or t("form.check_title"), heading = true, text = self.check.text, errors = errors,
    back = last and self:url(place, last.slug) or nil,
    summary = govuk.summaryList { rows = rows },
    form = safe('<form method="post" novalidate action="' .. escape(self:url(place, "check")) .. '">'
                .. tostring(borough.csrf_field())
                .. tostring(govuk.button { text = self.check.submit or t("form.check_submit"),
                                           attributes = { ["data-prevent-double-click"] = "true" } })
                .. "</form>"),
  }
  if errors then ctx.page_title = t("form.error_title", { title = ctx.title }) end
  return borough.view(self.views.check, ctx)
end

-- Sends the answers: makes the record (or, for a flow of a record,
-- changes it) through the entity, so its checks, rules and audit trail
-- apply, and deletes the draft, in one transaction.
function Flow:send(req, place, record, id, draft)
  local values = self:known(draft, record)
  if not id or self:next_page(values, draft.answered) or self:stopped(values, draft.answered) then
    return borough.redirect(place.url)
  end
  local record_values = self:collect(values)
  local ref, errs
  for _ = 1, 5 do
    ref = M.reference()
    if self.reference_field then record_values[self.reference_field] = ref end
    local ok
    ok, errs = db.tx(function()
      local saved, why
      if record then
        saved, why = self.entity:update(record.id, record_values)
      elseif self.entity then
        saved, why = self.entity:create(record_values)
      end
      if self.entity and not saved then return nil, why end
      if self.on_submit then
        local done, problem = self.on_submit(saved or record_values, req, ref)
        if done == false or (done == nil and problem ~= nil) then
          return nil, type(problem) == "table" and problem or { { field = "", message = tostring(problem) } }
        end
      end
      drafts.delete(id, place.key)
      return true
    end)
    if ok then break end
    if not (self.reference_field and errs and errs[self.reference_field]) then break end
  end
  if errs then
    local list = {}
    for _, e in ipairs(errs) do
      local page
      for _, p in ipairs(self.pages) do
        for _, n in ipairs(p.names) do if n == e.field then page = p end end
      end
      list[#list + 1] = { text = e.message, href = page and self:url(place, page.slug, "?change=1") or nil,
                          index = page and self:index_of(page) or 0 }
    end
    table.sort(list, function(a, b) return a.index < b.index end)   -- as the pages come
    return self:check_page(place, draft, list, record)
  end
  local res = borough.redirect(self:url(place, "done"))
  res.headers["Set-Cookie"] = {
    borough.cookie("borough_reference", ref, { path = place.path, max_age = 3600 }),
    borough.cookie(COOKIE, nil, { path = place.path }),
  }
  return res
end

setmetatable(M, { __call = function(_, a, b) return M.new(a, b) end })
borough.form = M
borough.flow = M.flow

return M
