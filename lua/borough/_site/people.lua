--- The console's People pages: accounts found by name or address, one
-- account with its roles and where each came from (given by hand, or by
-- single sign-on's mapping of a group), and the actions `borough user`
-- has: add, a new password, roles, disable and enable, end sessions, reset
-- two-factor codes. Each is one POST, answered with the account's page
-- and a banner saying what was done.
--
-- The console will not lock its admin out: nobody may disable their own
-- account or take away their own admin role here (the command line can,
-- for whoever runs it on the server).
local common = require "common"
local P, t = common.P, common.t

local M = {}

local SITE = "_site"

local function person_href(email)
  return "/_admin/people/" .. borough.urlencode(email)
end

function M.list(req)
  local q = (req.query.q or ""):match("^%s*(.-)%s*$")
  local page = common.page_number(req)
  local rows, total = P.people(q, (page - 1) * common.PER_PAGE, common.PER_PAGE)
  local people = {}
  for _, a in ipairs(rows) do
    people[#people + 1] = {
      name = a.name, email = a.email, href = person_href(a.email), disabled = a.disabled,
      roles = a.roles or t("admin.people.no_roles"),
      seen = a.seen_ms > 0 and common.when(a.seen_ms) or t("admin.never"),
    }
  end
  return common.page("people", "admin/people", {
    title = t("admin.people.title"), q = q, people = people,
    found = q ~= "" and common.counted("admin.people.found", total) or common.counted("admin.people.all", total),
    pagination = common.pages("/_admin/people", { q = q ~= "" and q or nil }, page, total),
  })
end

-- ---- adding someone ----

local function new_page(req, values, list, status)
  local summary, by_field = common.errors_of(list or {})
  return common.page("people", "admin/person_new", {
    title = t("admin.people.add.title"), action = "/_admin/people/new", values = values or {},
    errors = summary, field_errors = by_field,
  }, status)
end

function M.new(req)
  return new_page(req)
end

function M.add(req)
  local f = req.form
  local v = { name = (f.name or ""):match("^%s*(.-)%s*$"), email = (f.email or ""):match("^%s*(.-)%s*$") }
  local list = {}
  if v.name == "" then list[#list + 1] = { "name", t("admin.people.error.name") } end
  if v.email == "" or not v.email:find("^[^@%s]+@[^@%s]+$") then
    list[#list + 1] = { "email", t("admin.people.error.email") }
  elseif P.person(v.email) then
    list[#list + 1] = { "email", t("admin.people.error.exists") }
  end
  local hash
  if (f.password or "") == "" then
    list[#list + 1] = { "password", t("admin.people.error.password") }
  elseif #list == 0 then
    local problem
    hash, problem = P.hash_password(f.password, v.email)
    if not hash then list[#list + 1] = { "password", problem } end
  end
  if #list > 0 then return new_page(req, v, list, 400) end
  local ok, _, why = P.add_person(v.email, v.name, hash)
  if not ok then return new_page(req, v, { { "email", why } }, 400) end
  return M.show(req, v.email, t("admin.people.done.added", { email = v.email }))
end

-- ---- one person ----

local function sources(role)
  if not role.source then return t("admin.people.by_hand") end
  local group = role.source:match("^sso (.*)$")
  return group and t("admin.people.by_sso", { group = group }) or role.source
end

--- M.show(req [, email, done, list, status]): the account's page, with a
-- banner saying what was just done, or the errors of a form on it.
function M.show(req, email, done, list, status)
  email = email or req.params.email
  local a = P.person(email)
  if not a then return borough.status(404) end
  local me = req.user.email:lower() == a.email:lower()
  local href = person_href(a.email)
  local roles = {}
  for _, r in ipairs(a.role_list) do
    local locked = me and r.app == SITE and r.role == "admin"
    roles[#roles + 1] = {
      app = r.app == SITE and t("admin.people.site_app") or r.app, role = r.role, source = sources(r),
      remove = not locked and { app = r.app, role = r.role, label = t("admin.people.remove_role", { role = r.role, app = r.app }) } or nil,
    }
  end
  local apps = { { value = "", text = t("admin.people.choose_app") } }
  for _, app in ipairs(common.apps()) do
    apps[#apps + 1] = { value = app.name, text = app.platform and t("admin.people.site_app") or (app.title .. " (" .. app.name .. ")") }
  end
  local summary, by_field = common.errors_of(list or {})
  local signs_in = {}
  if a.password then signs_in[#signs_in + 1] = t("admin.people.with_password") end
  if a.sso then signs_in[#signs_in + 1] = t("admin.people.with_sso") end
  return common.page("people", "admin/person", {
    title = a.name, a = a, me = me, done = done, errors = summary, field_errors = by_field,
    state = a.disabled and t("admin.people.disabled") or t("admin.people.active"),
    signs_in = #signs_in > 0 and table.concat(signs_in, ", ") or t("admin.people.no_sign_in"),
    two_factor = t(a.two_factor and "admin.people.two_factor_on" or "admin.people.two_factor_off"),
    created = common.when(a.created_ms), seen = a.seen_ms > 0 and common.when(a.seen_ms) or t("admin.never"),
    sessions = common.counted("admin.people.sessions", a.sessions),
    roles = roles, apps = apps,
    actions = {
      disable = not a.disabled and not me and (href .. "/disable") or nil,
      enable = a.disabled and (href .. "/enable") or nil,
      end_sessions = href .. "/sessions-end",
      reset = a.two_factor and (href .. "/two-factor-reset") or nil,
      password = href .. "/password",
      add_role = href .. "/roles",
      remove_role = href .. "/roles/remove",
    },
  }, status)
end

-- The outcome of an action on the account: its page with a banner, or a
-- 404 if the account has gone meanwhile.
local function after(req, ok, code, done)
  if not ok and code == "missing" then return borough.status(404) end
  return M.show(req, nil, done)
end

function M.disable(req)
  local email = req.params.email
  if email:lower() == req.user.email:lower() then
    return M.show(req, nil, nil, { { "disable", t("admin.people.error.self_disable") } }, 400)
  end
  local ok, code = P.set_disabled(email, true)
  return after(req, ok, code, t("admin.people.done.disabled"))
end

function M.enable(req)
  local ok, code = P.set_disabled(req.params.email, false)
  return after(req, ok, code, t("admin.people.done.enabled"))
end

function M.end_sessions(req)
  local ok, code, n = P.end_sessions(req.params.email)
  if ok then n = code end
  return after(req, ok, code, ok and common.counted("admin.people.done.sessions", n) or nil)
end

function M.reset_two_factor(req)
  local ok, code = P.reset_two_factor(req.params.email)
  return after(req, ok, code, t("admin.people.done.two_factor"))
end

function M.password(req)
  local email, password = req.params.email, req.form.password or ""
  if password == "" then
    return M.show(req, nil, nil, { { "password", t("admin.people.error.password") } }, 400)
  end
  local hash, problem = P.hash_password(password, email)
  if not hash then return M.show(req, nil, nil, { { "password", problem } }, 400) end
  local ok, code = P.set_password(email, hash)
  return after(req, ok, code, t("admin.people.done.password"))
end

function M.add_role(req)
  local app, role = req.form.app or "", (req.form.role or ""):match("^%s*(.-)%s*$")
  local list = {}
  if app == "" then list[#list + 1] = { "app", t("admin.people.error.app") } end
  if not role:find("^[a-z][a-z0-9_-]*$") or #role > 64 then list[#list + 1] = { "role", t("admin.people.error.role") } end
  if #list > 0 then return M.show(req, nil, nil, list, 400) end
  local ok, code, changed = P.set_role(req.params.email, app, role, false)
  if not ok and code == "invalid" then return M.show(req, nil, nil, { { "app", t("admin.people.error.app") } }, 400) end
  if ok then changed = code end
  return after(req, ok, code, t(changed and "admin.people.done.role_added" or "admin.people.done.role_had",
                                { role = role, app = app }))
end

function M.remove_role(req)
  local email, app, role = req.params.email, req.form.app or "", req.form.role or ""
  if email:lower() == req.user.email:lower() and app == SITE and role == "admin" then
    return M.show(req, nil, nil, { { "app", t("admin.people.error.self_admin") } }, 400)
  end
  local ok, code, changed = P.set_role(email, app, role, true)
  if not ok and code == "invalid" then return borough.status(400) end
  if ok then changed = code end
  return after(req, ok, code, t(changed and "admin.people.done.role_removed" or "admin.people.done.role_lacked",
                                { role = role, app = app }))
end

return M
