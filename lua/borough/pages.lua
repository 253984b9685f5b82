--- borough.pages: the pages staff need for an entity, without hand-written
-- HTML: a list (sortable, searchable, filtered, paged), a record's details,
-- and forms to add, change and (when asked) delete records.
--
--   borough.pages(Residents, {
--     title = "Residents",                                  -- the list's heading
--     columns = { "last_name", "first_name", "postcode" },  -- the list's columns
--     filters = { "support" },                              -- choices to filter the list by
--     fields = { "first_name", "last_name", { "postcode", hint = "For example, SW1A 1AA" } },
--     delete = true,
--   }):mount(app, "/residents", { role = "staff" })
--
-- gives
--   GET  /residents               the list: ?q= searches (when the entity has
--                                 search fields), ?support=food filters,
--                                 ?sort=last_name&dir=desc sorts, ?page=2 pages
--   GET  /residents/new           the form to add one; POST checks and adds it
--   GET  /residents/:id           the record's details
--   GET  /residents/:id/edit      the form to change it; POST checks and saves
--   GET  /residents/:id/delete    asks to be sure; POST deletes (delete = true)
--
-- Everything goes through the entity's methods (where, search, find,
-- create, update, delete), so its checks, audit trail and any rules on
-- which records a person may see or change apply as they do anywhere: a
-- record the person may not see answers 404.
--
-- What the pages show (borough.pages(Entity, spec)): title; columns (field
-- names, or id, created_at, updated_at; the first links to the record);
-- filters (choice, yes/no and reference fields, and the workflow's
-- state: a select each above the list; a reference's choices are the
-- other entity's records, read as the list is shown); fields (the form's fields, as borough.form takes
-- them; all by default, but with a workflow not its state, due date or
-- steps' fields); show (the fields of the details page; all by default);
-- per_page (25); create = false, edit = false (no such pages); delete =
-- true; details = false (no details page: the app declares its own at
-- <path>/:id, where the list links and a save returns); views = { list =,
-- record = }; workflow (a borough.workflow of this
-- entity): the details page shows the state, the steps the person may take
-- now and the history, and the workflow is mounted at the same path.
-- Fields declared secret = true are left out of every default (columns,
-- show, fields): they appear only where named. A choice shows its label,
-- and the workflow's state its tag.
--
-- Where and for whom (pages:mount(app, path, opts)): public, role and
-- max_body, passed to every route.

local govuk = require "borough.govuk"
local form = require "borough.form"
local fields = require "borough.fields"
local i18n = require "borough.i18n"
local options = require "borough.options"

local t, escape, safe = i18n.t, borough.escape, borough.html

local M = {}
local Pages = {}
Pages.__index = Pages

local system = { id = "ID", created_at = "Created", updated_at = "Updated" }
local reserved = { q = true, sort = true, dir = true, page = true, saved = true, deleted = true }

local spec_options = {
  title = "string", columns = "table", filters = "table", fields = "table", show = "table",
  per_page = "integer", create = "boolean", edit = "boolean", delete = "boolean", workflow = "table",
  views = "table", details = "boolean",
}
local mount_options = { public = "boolean", role = "role", max_body = "number" }

-- The names of e's fields that a default shows: all but secret ones.
local function shown_by_default(e, limit)
  local out = {}
  for _, f in ipairs(e.fields) do
    if not f.secret and #out < (limit or math.huge) then out[#out + 1] = f.name end
  end
  return out
end

--- borough.pages(Entity, spec) -> the pages, to mount with
-- pages:mount(app, path, opts). (See above.)
function M.new(e, spec)
  if getmetatable(e) and e.routes and type(spec) == "string" then
    options.fail("borough.pages(app, path, Entity, opts)",
                 "is now borough.pages(Entity, spec):mount(app, path, { role =, public = })")
  end
  if type(e) ~= "table" or not e.fields or not e.where then
    options.fail("borough.pages", "the first argument must be an entity: borough.pages(Entity, spec)")
  end
  local what = ("borough.pages(%s)"):format(e.name)
  spec = options.check(what, spec, spec_options)
  options.check(what .. " views", spec.views, { list = "string", record = "string" })
  local pages = setmetatable({ entity = e, spec = spec, what = what }, Pages)
  local function field_or_system(name, why)
    if not (e.field[name] or system[name]) then
      options.fail(what, ("%s has no field '%s'%s"):format(e.name, tostring(name), why or ""))
    end
    return name
  end
  pages.columns = spec.columns or shown_by_default(e, 4)
  for _, c in ipairs(pages.columns) do field_or_system(c) end
  pages.show = spec.show or shown_by_default(e)
  for _, c in ipairs(pages.show) do field_or_system(c) end
  local flow = spec.workflow
  if flow and flow.entity ~= e then
    options.fail(what, ("the workflow is of %s, not of %s"):format(flow.entity.name, e.name))
  end
  pages.filters = {}
  for i, name in ipairs(spec.filters or {}) do
    local f = e.field[name]
    local state = flow and name == flow.state_field
    if not (state or (f and (f.type == "choice" or f.type == "boolean" or f.type == "reference"))) then
      options.fail(what, ("filters names '%s': only choice, yes/no and reference fields, and the workflow's "
                          .. "state, filter a list"):format(tostring(name)))
    end
    if reserved[name] then options.fail(what, ("a field called %s cannot be a filter (the list's own)"):format(name)) end
    local choices = {}
    if state then
      for j, st in ipairs(flow.states) do choices[j] = { value = st.name, text = st.label } end
    elseif f.type == "boolean" then
      choices = { { value = "yes", text = t("form.yes"), stored = true }, { value = "no", text = t("form.no"), stored = false } }
    elseif f.type == "reference" then
      choices = function()       -- the records there are now, by their first field
        local list = {}
        for j, o in ipairs(form.choices(f)) do list[j] = { value = o.value, text = o.text, stored = tonumber(o.value) } end
        return list
      end
    else
      for j, o in ipairs(f.options) do choices[j] = { value = o, text = form.option_text(f, o) } end
    end
    pages.filters[i] = { name = name, field = f, label = f and f.label or name, choices = choices }
  end
  local entry_fields = spec.fields
  if flow and not entry_fields then
    -- The state, due date and step fields change only through the steps,
    -- which check their roles: the forms leave them out.
    local own = { [flow.state_field] = true, [flow.due_field] = true }
    for _, step in ipairs(flow.steps) do for _, name in ipairs(step.fields) do own[name] = true end end
    entry_fields = {}
    for _, name in ipairs(shown_by_default(e)) do if not own[name] then entry_fields[#entry_fields + 1] = name end end
  end
  pages.form = form.new(e, entry_fields or {})
  return pages
end

-- The value a cell shows (HTML): a field as people read it, a choice by its
-- label, the workflow's state as its tag, a timestamp in UK time.
function Pages:cell_html(name, record)
  local e, flow = self.entity, self.spec.workflow
  local f = e.field[name]
  local v = record[name]
  if flow and name == flow.state_field and v ~= nil then return tostring(flow:tag(v)) end
  if f then
    local item = self.form.item[name]
    return tostring(form.display_html(f, v, item and item.ui))
  end
  if v == nil then return "" end
  if name ~= "id" then v = fields.format_datetime(tostring(v)) end
  return escape(tostring(v))
end

-- A column's heading.
function Pages:heading(name)
  local f = self.entity.field[name]
  return f and f.label or system[name]
end

-- Page links for govukPagination: numbers around the current page.
local function page_items(url_of, page, last)
  local items, shown = {}, nil
  for n = 1, last do
    if n == 1 or n == last or math.abs(n - page) <= 1 then
      if shown and n - shown > 1 then items[#items + 1] = { ellipsis = true } end
      items[#items + 1] = { number = n, href = url_of(n), current = n == page }
      shown = n
    end
  end
  return items
end

-- The filters chosen in the query: conditions for where, and each filter's
-- value as the query has it (a value not among the choices is no filter).
local function choices_of(fl)
  return type(fl.choices) == "function" and fl.choices() or fl.choices
end

function Pages:chosen(q)
  local conds, values = {}, {}
  for _, fl in ipairs(self.filters) do
    for _, c in ipairs(q[fl.name] and choices_of(fl) or {}) do
      if q[fl.name] == c.value then
        conds[fl.name] = c.stored == nil and c.value or c.stored
        values[fl.name] = c.value
      end
    end
  end
  return conds, values
end

-- The filters as GOV.UK selects, for the list's search form.
function Pages:filters_html(values)
  local out = {}
  for i, fl in ipairs(self.filters) do
    local items = { { value = "", text = t("pages.filter_all") } }
    for _, c in ipairs(choices_of(fl)) do
      items[#items + 1] = { value = c.value, text = c.text, selected = values[fl.name] == c.value }
    end
    out[i] = tostring(govuk.select { id = "filter-" .. fl.name:gsub("_", "-"), name = fl.name,
                                     label = { text = fl.label }, items = items })
  end
  return safe(table.concat(out, "\n"))
end

--- pages:mount(app, path [, opts]): declares the routes (see above). opts:
-- public, role, max_body (route options for every route).
function Pages:mount(app, path, opts)
  local e, spec = self.entity, self.spec
  local what = ("%s:mount(%q)"):format(self.what, tostring(path))
  opts = options.check(what, opts, mount_options)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[:*]") then
    options.fail(what, "the path must be a path inside the app such as \"/residents\"")
  end
  path = path:gsub("/+$", "")
  local route = { public = opts.public, role = opts.role, max_body = opts.max_body }
  local flow = spec.workflow
  if flow then flow:mount(app, path, { role = opts.role }) end
  local entry_form = self.form
  local file_route = form.route_options(opts, entry_form)
  local label = e.label
  -- "Add a resident" in English; other languages have no article here.
  local function add_title()
    return t("pages.add", { label = i18n.lang() == "en" and (fields.article(label) .. " " .. label) or label })
  end
  local function edit_title() return t("pages.edit", { label = label }) end
  local title = spec.title or (e.name:gsub("_", " "):gsub("^%l", string.upper))
  local columns, shown = self.columns, self.show
  local sortable = {}
  for _, c in ipairs(columns) do
    sortable[c] = not (e.field[c] and e.field[c].encrypted)   -- sealed values have no order
  end
  local per_page = spec.per_page or 25
  local can_create, can_edit, can_delete = spec.create ~= false, spec.edit ~= false, spec.delete == true
  local function url(p) return borough.url(path .. (p or "")) end
  local function ui_of(name) local item = entry_form.item[name] return item and item.ui end
  local pages = self

  -- the list
  app:get(path, route, function(req)
    local q = req.query
    local text = q.q and q.q:gsub("^%s+", ""):gsub("%s+$", "") or ""
    local sort = sortable[q.sort or ""] and q.sort or nil
    local desc = sort and q.dir == "desc"
    local page = math.max(1, math.tointeger(tonumber(q.page or "1") or 1) or 1)
    local order = sort and ((desc and "-" or "") .. sort) or nil
    local conds, chosen = pages:chosen(q)
    local records, info, last
    if text ~= "" and e.search_fields then
      records, info = e:search(text, { page = page, per_page = per_page, order = order, where = conds })
    else
      records, info = e:where(conds, { page = page, per_page = per_page, order = order })
      last = math.max(1, (e:count(conds) + per_page - 1) // per_page)
    end
    -- What the list is showing, carried by every link of the page.
    local state = { q = text ~= "" and text or nil, sort = sort, dir = desc and "desc" or nil }
    for k, v in pairs(chosen) do state[k] = v end
    local function link(changes)
      local s = {}
      for k, v in pairs(state) do s[k] = v end
      for k, v in pairs(changes) do s[k] = v or nil end
      local query = borough.urlencode(s)
      return url(query ~= "" and ("?" .. query) or "")
    end
    local head = {}
    for i, c in ipairs(columns) do
      local heading = pages:heading(c)
      local now = sort == c and (desc and "descending" or "ascending") or "none"
      local flip = { sort = c, dir = (sort == c and not desc) and "desc" or false, page = false }
      head[i] = not sortable[c] and { text = heading } or {
        html = ('<a class="govuk-link borough-sort" href="%s">%s</a>%s'):format(escape(link(flip)), escape(heading),
          now == "none" and "" or (now == "ascending" and ' <span aria-hidden="true">▲</span>' or ' <span aria-hidden="true">▼</span>')),
        attributes = { ["aria-sort"] = now },
      }
    end
    local rows = {}
    for i, r in ipairs(records) do
      local row = {}
      for j, c in ipairs(columns) do
        local html = pages:cell_html(c, r)
        if j == 1 then
          html = ('<a class="govuk-link" href="%s">%s</a>'):format(
            escape(url("/" .. r.id)), html ~= "" and html or escape(tostring(r.id)))
        end
        row[j] = { html = html }
      end
      rows[i] = row
    end
    local function at(n) return link({ page = n }) end
    local pagination
    if page > 1 or info.more then
      pagination = govuk.pagination {
        previous = page > 1 and { href = at(page - 1) } or nil,
        next = info.more and { href = at(page + 1) } or nil,
        items = last and page_items(at, page, last) or nil,
      }
    end
    local filtering = next(chosen) ~= nil
    local find = (e.search_fields or #pages.filters > 0) and {
      action = url(), box = e.search_fields ~= nil, value = text,
      label = t("pages.search_label", { label = title:lower() }),
      button = t(e.search_fields and "pages.search" or "pages.apply_filters"),
      clear = (text ~= "" or filtering) and url() or nil,
      clear_text = t(#pages.filters > 0 and "pages.clear_filters" or "pages.clear_search"),
    } or nil
    return borough.view(spec.views and spec.views.list or "borough/list", {
      title = title, label = label,
      search = find,
      filters = #pages.filters > 0 and pages:filters_html(chosen) or nil,
      table = #rows > 0 and govuk.table { head = head, rows = rows, caption = title,
                                          captionClasses = "govuk-visually-hidden" } or nil,
      nothing = t("pages.none"),
      pagination = pagination,
      add = can_create and { href = url("/new"), text = add_title() } or nil,
      deleted = q.deleted == "1" and t("pages.deleted", { label = label }) or nil,
    })
  end)

  local function form_page(req, ctx)
    ctx.back = ctx.back or url()
    return entry_form:show(req, ctx)
  end

  if can_create then
    app:get(path .. "/new", file_route, function(req)
      return form_page(req, { title = add_title(), submit = t("form.save") })
    end)
    app:post(path .. "/new", file_route, function(req)
      local values, errors, raw = entry_form:read(req)
      local record
      if values then
        record, errors = e:create(values)
        if not record then errors = form.errors(entry_form, errors) end
      end
      if not record then
        return form_page(req, { title = add_title(), submit = t("form.save"), errors = errors, raw = raw })
      end
      return borough.redirect(url("/" .. record.id .. "?saved=1"))
    end)
  end

  -- the details of one record
  if spec.details ~= false then app:get(path .. "/:id", route, function(req)
    local r = e:find(req.params.id)
    if not r then return borough.status(404) end
    local rows = {}
    for _, name in ipairs(shown) do
      local item = entry_form.item[name]
      rows[#rows + 1] = {
        key = { text = item and item.question or pages:heading(name) },
        value = { html = pages:cell_html(name, r) },
      }
    end
    -- The record is called by its first column (a name, a reference), else its id.
    local first = columns[1] and r[columns[1]]
    local name = first ~= nil and first ~= "" and e.field[columns[1]]
                 and form.display(e.field[columns[1]], first, ui_of(columns[1])) or nil
    return borough.view(spec.views and spec.views.record or "borough/record", {
      title = name or (label:gsub("^%l", string.upper) .. " " .. r.id), caption = title,
      back = url(), back_text = t("pages.back_to_list"),
      summary = govuk.summaryList { rows = rows },
      edit = can_edit and { href = url("/" .. r.id .. "/edit"), text = t("pages.edit", { label = label }) } or nil,
      delete = can_delete and { href = url("/" .. r.id .. "/delete"), text = t("pages.delete", { label = label }) } or nil,
      saved = req.query.saved == "1" and t("pages.saved", { label = label }) or nil,
      state = flow and flow:tag(r), steps = flow and flow:buttons(r), history = flow and flow:history_table(r),
    })
  end) end

  if can_edit then
    app:get(path .. "/:id/edit", file_route, function(req)
      local r = e:find(req.params.id)
      if not r then return borough.status(404) end
      return form_page(req, { title = edit_title(), values = r, submit = t("form.save"), back = url("/" .. r.id) })
    end)
    app:post(path .. "/:id/edit", file_route, function(req)
      local r = e:find(req.params.id)
      if not r then return borough.status(404) end
      local values, errors, raw = entry_form:read(req, r)
      local record
      if values then
        record, errors = e:update(r.id, values)
        if not record then errors = form.errors(entry_form, errors) end
      end
      if not record then
        return form_page(req, { title = edit_title(), values = r, raw = raw, errors = errors,
                                submit = t("form.save"), back = url("/" .. r.id) })
      end
      return borough.redirect(url("/" .. r.id .. "?saved=1"))
    end)
  end

  if can_delete then
    app:get(path .. "/:id/delete", route, function(req)
      local r = e:find(req.params.id)
      if not r then return borough.status(404) end
      return borough.view("borough/delete", {
        title = t("pages.delete_confirm", { label = label }), heading = true, back = url("/" .. r.id),
        form = safe('<form method="post" novalidate>' .. tostring(borough.csrf_field())
                    .. tostring(govuk.button { text = t("pages.delete_button"), classes = "govuk-button--warning" })
                    .. "</form>"),
      })
    end)
    app:post(path .. "/:id/delete", route, function(req)
      local r = e:find(req.params.id)
      if not r then return borough.status(404) end
      local ok, why = e:delete(r.id)
      if not ok then
        return borough.view("borough/delete", { title = t("pages.delete", { label = label }), heading = true,
                                                back = url("/" .. r.id), errors = { { text = why } } }, 409)
      end
      return borough.redirect(url("?deleted=1"))
    end)
  end
  return self
end

setmetatable(M, { __call = function(_, ...) return M.new(...) end })
borough.pages = M

return M
