--- borough.members: records kept apart by membership of a group (a
-- portfolio, a department), so that people see only the groups they are
-- members of, and the records that belong to them.
--
--   local members = borough.members        -- name it in models.lua (it keeps its table)
--   local Access = members.of("portfolios", { all = "council_wide", admin = "portfolio_office" })
--
--   M.Portfolios = borough.entity "portfolios" { rules = Access:rules("id", { write = "manager" }), ... }
--   M.Projects = borough.entity "projects" { rules = Access:rules("portfolio"),
--     { "portfolio", "reference", to = "portfolios", required = true, index = true }, ... }
--
--   Access:ids(user)                 -> the ids of the user's groups, or true (every group)
--   Access:is(user, id [, "manager"]) -> whether the user may act in group id
--   Access:add(id, email [, { level = "manager", name = }])  -> the membership, or nil and errors
--   Access:remove(id, email)         -> true, or nil and why (a group keeps one manager)
--   Access:list(id)                  -> the members, managers first
--   Access:mount(app, "/portfolios") -> GET/POST /portfolios/:id/members, for the group's managers
--
-- A membership is a record of the entity "group_members": the kind of
-- group (the groups' entity name), the group's id, the person's email
-- address (as they sign in; kept in lower case, so it may be given before
-- their first sign-in), their name, and their level: "member" (reads and
-- writes the group's records) or "manager" (also manages its members, and
-- whatever the app gives managers). Every change is in the audit trail.
--
-- Two app roles reach past membership: `all` reads every group (a
-- council-wide view, for the few given it) and writes none; `admin`
-- reads, writes and manages every group, and makes new ones (a portfolio
-- office). Give both sparingly: a group kept apart holds what only its
-- members should see.
--
-- The rules are SQL (see docs/apps.md, "Row rules"): a record of another
-- group is not found (a guessed id answers 404), and lists, counts,
-- search and downloads hold only the user's groups' records.

local options = require "borough.options"
local i18n = require "borough.i18n"
local govuk = require "borough.govuk"

local M = {}
local t, safe, escape = i18n.t, borough.html, borough.escape

local Members = borough.entity "group_members" {
  label = "member",
  indexes = { { "email", "kind" }, { "kind", "group_id" } },
  { "kind", "text", required = true },
  { "group_id", "integer", required = true },
  { "email", "email", required = true, label = "Email address" },
  { "name", "text", max_length = 100 },
  { "level", "choice", required = true, default = "member", label = "Access",
    options = { { "member", "Member" }, { "manager", "Manager (also manages members)" } } },
}
M.Members = Members

local Group = {}
Group.__index = Group

--- members.of(kind [, { all = role, admin = role }]) -> the access to the
-- groups of the entity called kind.
function M.of(kind, opts)
  local what = ("members.of(%q)"):format(tostring(kind))
  if type(kind) ~= "string" or not kind:find("^[a-z][a-z0-9_]*$") then
    options.fail("members.of", "kind is the groups' entity name, such as \"portfolios\"")
  end
  opts = options.check(what, opts, { all = "role", admin = "role" })
  local function names(v) return type(v) == "table" and v or { v } end
  return setmetatable({ kind = kind, what = what, all = names(opts.all), admin_roles = names(opts.admin) }, Group)
end

local function has(user, roles)
  for _, r in ipairs(roles) do if user.roles[r] then return true end end
  return false
end

local function email_of(user)
  return type(user) == "table" and type(user.email) == "string" and user.email:lower() or nil
end

--- Whether user (borough.user(), or nil) has the admin role of these groups.
function Group:admin(user)
  return user ~= nil and has(user, self.admin_roles)
end

--- The ids of the groups user is a member of (a list), or true when their
-- role reaches every group.
function Group:ids(user)
  if not user then return {} end
  if has(user, self.all) or has(user, self.admin_roles) then return true end
  local email, ids = email_of(user), {}
  if not email then return ids end
  for i, m in ipairs(Members:where({ kind = self.kind, email = email }, { per_page = 500 })) do ids[i] = m.group_id end
  return ids
end

--- Whether user may act in group id: a member of it (a manager, if level
-- is "manager"), or one with the admin role.
function Group:is(user, id, level)
  if not user then return false end
  if self:admin(user) then return true end
  local email, gid = email_of(user), math.tointeger(tonumber(id))
  if not email or not gid then return false end
  local m = Members:find { kind = self.kind, group_id = gid, email = email }
  return m ~= nil and (level ~= "manager" or m.level == "manager")
end

--- The row rules of an entity whose records belong to a group through
-- field (its reference to the group; "id" for the groups' own entity):
-- members read them, members (or managers, with write = "manager") make
-- and change them, and a record cannot be moved to a group the person is
-- not in. Only the admin role makes a group.
function Group:rules(field, opts)
  opts = options.check(self.what .. ":rules", opts, { write = "string" })
  local level = opts.write or "member"
  if level ~= "member" and level ~= "manager" then
    options.fail(self.what .. ":rules", "write is \"member\" or \"manager\"")
  end
  local function may(user, r) return r ~= nil and self:is(user, r[field], level) end
  return {
    read = function(user)
      local ids = self:ids(user)
      if ids == true then return true end
      return { [field] = { ["in"] = ids } }
    end,
    create = function(user, record) return may(user, record) end,
    update = function(user, record, before) return may(user, record) and may(user, before) end,
    delete = function(user, record) return may(user, record) end,
  }
end

--- The members of group id: managers first ("manager" sorts before
-- "member"), then by name and email.
function Group:list(id)
  return Members:where({ kind = self.kind, group_id = id }, { order = { "level", "name", "email" }, per_page = 500 })
end

--- Makes email a member of group id (or changes their level and name):
-- opts.level ("member" by default), opts.name. Returns the membership, or
-- nil and errors (as Entity:create gives them).
function Group:add(id, email, opts)
  opts = options.check(self.what .. ":add", opts, { level = "string", name = "string" })
  return db.tx(function()
    local values = { kind = self.kind, group_id = id, email = type(email) == "string" and email:lower() or email,
                     level = opts.level or "member", name = opts.name }
    local known = type(values.email) == "string" and Members:find { kind = self.kind, group_id = id, email = values.email }
    if known then return Members:update(known.id, { level = values.level, name = values.name or known.name }) end
    return Members:create(values)
  end)
end

--- Ends email's membership of group id. A group keeps at least one
-- manager: removing the last is refused (nil and why).
function Group:remove(id, email)
  return db.tx(function()
    local m = Members:find { kind = self.kind, group_id = id, email = tostring(email):lower() }
    if not m then return true end
    if m.level == "manager" and Members:count { kind = self.kind, group_id = id, level = "manager" } <= 1 then
      return nil, t("members.last_manager")
    end
    local ok, why = Members:delete(m.id)
    if not ok then return nil, why end
    return true
  end)
end

-- The form that adds a member (the membership's own fields).
local AddForm
local function add_form()
  AddForm = AddForm or borough.form(Members, { { "email", autocomplete = "off", spellcheck = false },
                                              { "name", question = "Name (optional)" }, "level" })
  return AddForm
end

--- Access:mount(app, path): the members page of each group, for its
-- managers and the admin role: GET/POST <path>/:id/members (the list and
-- the form that adds someone or changes their level) and POST
-- <path>/:id/members/:member/remove. A group the person may not see
-- answers 404; one they are not a manager of, 403. The view is
-- borough/members (an app view of that name replaces it).
function Group:mount(app, path, opts)
  local what = ("%s:mount(%q)"):format(self.what, tostring(path))
  opts = options.check(what, opts, { back = "function" })
  local form = add_form()
  local entity = require "borough.entity"

  local function group_of(req)
    local e = entity.get(self.kind)
    if not e then error(what .. ": there is no entity called " .. self.kind, 0) end
    local g = e:find(req.params.id)
    if not g then return nil, borough.status(404) end
    if not self:is(req.user, g.id, "manager") then return nil, borough.status(403) end
    return g, nil, e
  end

  local function page(req, g, e, ctx, status)
    local here = path .. "/" .. g.id .. "/members"
    local rows = {}
    for i, m in ipairs(self:list(g.id)) do
      local button = '<form method="post" action="' .. escape(borough.url(here .. "/" .. m.id .. "/remove")) .. '">'
        .. tostring(borough.csrf_field()) .. tostring(govuk.button {
          html = escape(t("members.remove")) .. '<span class="govuk-visually-hidden"> ' .. escape(m.email) .. "</span>",
          classes = "govuk-button--secondary govuk-!-margin-bottom-0" }) .. "</form>"
      rows[i] = { { text = m.name or "" }, { text = m.email },
                  { text = t(m.level == "manager" and "members.manager" or "members.member") }, { html = safe(button) } }
    end
    local first = e.fields[1] and g[e.fields[1].name]
    ctx.title = t("members.title", { name = tostring(first or g.id) })
    ctx.intro = t("members.intro", { label = e.label or self.kind })
    ctx.back = borough.url(opts.back and opts.back(g) or (path .. "/" .. g.id))
    ctx.table = #rows > 0 and govuk.table { caption = t("members.current"), captionClasses = "govuk-table__caption--m",
      head = { { text = t("members.name") }, { text = t("members.email") }, { text = t("members.level") },
               { html = '<span class="govuk-visually-hidden">' .. escape(t("members.actions")) .. "</span>" } },
      rows = rows } or nil
    ctx.form = form:html { values = { level = "member" }, errors = ctx.errors, raw = ctx.raw, submit = t("members.add"),
                           action = borough.url(here) }
    return borough.view("borough/members", ctx, status)
  end

  app:get(path .. "/:id/members", function(req)
    local g, refused, e = group_of(req)
    if not g then return refused end
    return page(req, g, e, { added = req.query.added, removed = req.query.removed })
  end)

  app:post(path .. "/:id/members", function(req)
    local g, refused, e = group_of(req)
    if not g then return refused end
    local values, errors, raw = form:read(req)
    local m
    if values then
      m, errors = self:add(g.id, values.email, { level = values.level, name = values.name })
      if m then return borough.redirect(borough.url(path .. "/" .. g.id .. "/members?added=" .. borough.urlencode(m.email))) end
      errors = require("borough.form").errors(form, errors)
    end
    return page(req, g, e, { errors = errors, raw = raw }, 400)
  end)

  app:post(path .. "/:id/members/:member/remove", function(req)
    local g, refused, e = group_of(req)
    if not g then return refused end
    local m = Members:find(req.params.member)
    if not m or m.kind ~= self.kind or m.group_id ~= g.id then return borough.status(404) end
    local ok, why = self:remove(g.id, m.email)
    if not ok then return page(req, g, e, { errors = { { text = why, href = "#email" } } }, 409) end
    return borough.redirect(borough.url(path .. "/" .. g.id .. "/members?removed=" .. borough.urlencode(m.email)))
  end)
  return self
end

return M
