--- borough.pages: the pages staff need for an entity, without hand-written
-- HTML: a list (sortable, searchable, paged), a record's details, and forms
-- to add, change and (when asked) delete records.
--
--   borough.pages(app, "/residents", Residents, {
--     role = "staff",                                      -- route options
--     title = "Residents",                                  -- the list's heading
--     columns = { "last_name", "first_name", "postcode" },  -- the list's columns
--     fields = { "first_name", "last_name", { "postcode", hint = "For example, SW1A 1AA" } },
--     delete = true,
--   })
--
-- gives
--   GET  /residents               the list: ?q= searches (when the entity has
--                                 search fields), ?sort=last_name&dir=desc sorts,
--                                 ?page=2 pages
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
-- Options: public, role (passed to every route); title; columns (field
-- names, or id, created_at, updated_at; the first links to the record);
-- fields (the form's fields, as borough.form takes them; all by default,
-- but with a workflow not its state, due date or steps' fields);
-- show (the fields of the details page; all by default); per_page (25);
-- create = false, edit = false (no such pages); delete = true; workflow
-- (a borough.workflow of this entity whose path is this path): the details
-- page shows the state, the steps the person may take now and the history,
-- and the step pages are added (see borough/workflow.lua).

local govuk = require "borough.govuk"
local form = require "borough.form"
local fields = require "borough.fields"
local i18n = require "borough.i18n"

local t, escape, safe = i18n.t, borough.escape, borough.html

local M = {}

local system = { id = "ID", created_at = "Created", updated_at = "Updated" }

-- A column's field (nil for id and the timestamps) and its heading.
local function column(e, name, where)
  local f = e.field[name]
  if f then return f, f.label end
  if system[name] then return nil, system[name] end
  error(("%s borough.pages: %s has no field '%s'"):format(where or "", e.name, tostring(name)), 0)
end

local function cell_html(e, name, record, ui)
  local f = e.field[name]
  local v = record[name]
  if f then return tostring(form.display(f, v, ui)) end
  if v == nil then return "" end
  if name ~= "id" then v = fields.format_datetime(tostring(v)) end
  return escape(tostring(v))
end

-- "?q=...&sort=...&dir=...&page=..." from a table of query values.
local function query(q)
  local parts = {}
  for _, k in ipairs({ "q", "sort", "dir", "page" }) do
    local v = q[k]
    if v ~= nil and v ~= "" then
      parts[#parts + 1] = k .. "=" .. tostring(v):gsub("[^%w%-_.~]", function(c)
        return ("%%%02X"):format(c:byte())
      end)
    end
  end
  return #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
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

--- borough.pages(app, path, entity, opts): declares the pages (see above).
function M.mount(app, path, e, opts)
  opts = opts or {}
  if type(e) ~= "table" or not e.fields or not e.where then
    error("borough.pages(app, path, entity, opts): the third argument must be an entity", 2)
  end
  path = path:gsub("/+$", "")
  local route = { public = opts.public, role = opts.role }
  local flow = opts.workflow
  if flow and (flow.entity ~= e or flow.path ~= path) then
    error(("borough.pages: the workflow is of %s at %s, not of %s at %s"):format(flow.entity.name, flow.path,
          e.name, path), 2)
  end
  if flow then flow:routes(app, { role = opts.role }) end
  local entry_fields = opts.fields
  if flow and not entry_fields then
    -- The state, due date and step fields change only through the steps,
    -- which check their roles: the forms leave them out.
    local own = { [flow.state_field] = true, [flow.due_field] = true }
    for _, step in ipairs(flow.steps) do for _, name in ipairs(step.fields) do own[name] = true end end
    entry_fields = {}
    for _, f in ipairs(e.fields) do if not own[f.name] then entry_fields[#entry_fields + 1] = f.name end end
  end
  local entry_form = form.new(e, entry_fields or {})
  local file_route = form.route_options(opts, entry_form)
  local label = e.label
  -- "Add a resident" in English; other languages have no article here.
  local function add_title()
    return t("pages.add", { label = i18n.lang() == "en" and (fields.article(label) .. " " .. label) or label })
  end
  local function edit_title() return t("pages.edit", { label = label }) end
  local title = opts.title or (e.name:gsub("_", " "):gsub("^%l", string.upper))
  local columns = opts.columns
  if not columns then
    columns = {}
    for i = 1, math.min(4, #e.fields) do columns[i] = e.fields[i].name end
  end
  local sortable = {}
  local where = borough._where(2)
  for _, c in ipairs(columns) do
    column(e, c, where)
    sortable[c] = not (e.field[c] and e.field[c].encrypted)   -- sealed values have no order
  end
  for _, name in ipairs(opts.show or {}) do column(e, name, where) end
  local shown = opts.show
  if not shown then
    shown = {}
    for i, f in ipairs(e.fields) do shown[i] = f.name end
  end
  local per_page = opts.per_page or 25
  local can_create, can_edit, can_delete = opts.create ~= false, opts.edit ~= false, opts.delete == true
  local function url(p) return borough.url(path .. (p or "")) end
  local function ui_of(name) local item = entry_form.item[name] return item and item.ui end

  -- the list
  app:get(path, route, function(req)
    local q = req.query
    local text = q.q and q.q:gsub("^%s+", ""):gsub("%s+$", "") or ""
    local sort = sortable[q.sort or ""] and q.sort or nil
    local desc = sort and q.dir == "desc"
    local page = math.max(1, math.tointeger(tonumber(q.page or "1") or 1) or 1)
    local order = sort and ((desc and "-" or "") .. sort) or nil
    local records, info, last
    if text ~= "" and e.search_fields then
      records, info = e:search(text, { page = page, per_page = per_page, order = order })
    else
      records, info = e:where({}, { page = page, per_page = per_page, order = order })
      last = math.max(1, (e:count({}) + per_page - 1) // per_page)
    end
    local state = { q = text, sort = sort, dir = desc and "desc" or nil }
    local head = {}
    for i, c in ipairs(columns) do
      local _, heading = column(e, c)
      local now = sort == c and (desc and "descending" or "ascending") or "none"
      local flip = { q = text, sort = c, dir = (sort == c and not desc) and "desc" or nil }
      head[i] = not sortable[c] and { text = heading } or {
        html = ('<a class="govuk-link borough-sort" href="%s">%s</a>%s'):format(escape(url(query(flip))), escape(heading),
          now == "none" and "" or (now == "ascending" and ' <span aria-hidden="true">▲</span>' or ' <span aria-hidden="true">▼</span>')),
        attributes = { ["aria-sort"] = now },
      }
    end
    local rows = {}
    for i, r in ipairs(records) do
      local row = {}
      for j, c in ipairs(columns) do
        local html = cell_html(e, c, r, ui_of(c))
        if j == 1 then
          html = ('<a class="govuk-link" href="%s">%s</a>'):format(
            escape(url("/" .. r.id)), html ~= "" and html or escape(tostring(r.id)))
        end
        row[j] = { html = html }
      end
      rows[i] = row
    end
    local function at(n) local s = {} for k, v in pairs(state) do s[k] = v end s.page = n return url(query(s)) end
    local pagination
    if page > 1 or info.more then
      pagination = govuk.pagination {
        previous = page > 1 and { href = at(page - 1) } or nil,
        next = info.more and { href = at(page + 1) } or nil,
        items = last and page_items(at, page, last) or nil,
      }
    end
    return borough.view(opts.views and opts.views.list or "borough/list", {
      title = title, label = label,
      search = e.search_fields and {
        action = url(), value = text, label = t("pages.search_label", { label = title:lower() }),
        button = t("pages.search"), clear = text ~= "" and url() or nil, clear_text = t("pages.clear_search"),
      } or nil,
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
  app:get(path .. "/:id", route, function(req)
    local r = e:find(req.params.id)
    if not r then return borough.status(404) end
    local rows = {}
    for _, name in ipairs(shown) do
      local f = e.field[name]
      local item = entry_form.item[name]
      rows[#rows + 1] = {
        key = { text = item and item.question or (f and f.label) or system[name] or name },
        value = { html = cell_html(e, name, r, ui_of(name)) },
      }
    end
    -- The record is called by its first column (a name, a reference), else its id.
    local first = columns[1] and r[columns[1]]
    local name = first ~= nil and first ~= "" and e.field[columns[1]]
                 and tostring(form.display(e.field[columns[1]], first, ui_of(columns[1]))) or nil
    return borough.view(opts.views and opts.views.record or "borough/record", {
      title = name and safe(name) or (label:gsub("^%l", string.upper) .. " " .. r.id), caption = title,
      back = url(), back_text = t("pages.back_to_list"),
      summary = govuk.summaryList { rows = rows },
      edit = can_edit and { href = url("/" .. r.id .. "/edit"), text = t("pages.edit", { label = label }) } or nil,
      delete = can_delete and { href = url("/" .. r.id .. "/delete"), text = t("pages.delete", { label = label }) } or nil,
      saved = req.query.saved == "1" and t("pages.saved", { label = label }) or nil,
      state = flow and flow:tag(r), steps = flow and flow:buttons(r), history = flow and flow:history_table(r),
    })
  end)

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
end

setmetatable(M, { __call = function(_, ...) return M.mount(...) end })
borough.pages = M

return M
