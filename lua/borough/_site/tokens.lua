--- The console's API tokens pages: the tokens of apps' data feeds
-- (borough.feed) as `borough token list` shows them, a form that makes
-- one as `borough token create` does, and Revoke (after a page that asks
-- to confirm) as `borough token revoke` does. The same C code does the
-- work (core/apitoken.c through core/ladmin.c), and writes the same audit
-- rows ("token create", "token revoke"), naming the admin.
--
-- A new token is shown once, on the page that answers the form: only its
-- SHA-256 is kept, so the list shows its first characters only.
local common = require "common"
local P, t = common.P, common.t

local M = {}

local DEFAULT_DAYS, MAX_DAYS = 90, 366

-- "measures, teams" -> { "measures", "teams" }, or nil if one is not a
-- name of the kind pattern allows (core/apitoken.c checks again).
local function words(s, pattern)
  local list = {}
  for w in s:gmatch("[^,%s]+") do
    if not w:find(pattern) or #w > 64 then return nil end
    list[#list + 1] = w
  end
  return list
end

-- The apps a token may be for: the catalog's, not the platform's own.
local function app_items(chosen)
  local items = { { value = "", text = t("admin.tokens.choose_app") } }
  for _, a in ipairs(common.apps()) do
    if not a.platform then
      items[#items + 1] = { value = a.name, text = a.title .. " (" .. a.name .. ")", selected = a.name == chosen }
    end
  end
  return items
end

-- One token, ready for the page.
local function row_of(tk, now)
  local state = tk.revoked_ms > 0 and "revoked" or now >= tk.expires_ms and "expired" or "active"
  return {
    id = tk.id, app = tk.app, name = tk.name, prefix = tk.prefix .. "…",
    entities = (tk.entities:gsub("^ ", ""):gsub(" $", ""):gsub(" ", ", ")),
    roles = tk.roles and tk.roles:gsub(" ", ", ") or t("admin.tokens.no_roles"), email = tk.email,
    created = common.when(tk.created_ms), created_by = tk.created_by,
    expires = common.when(tk.expires_ms), used = tk.used_ms > 0 and common.when(tk.used_ms) or t("admin.never"),
    uses = common.number(tk.uses),
    revoked = tk.revoked_ms > 0 and common.when(tk.revoked_ms) or nil,
    state = t("admin.tokens.state." .. state),
    colour = state == "active" and "green" or state == "expired" and "grey" or "red",
    revoke = state ~= "revoked" and { href = "/_admin/tokens/" .. tk.id .. "/revoke" } or nil,
  }
end

--- M.list(req [, done]): every token, newest first, with a banner saying
-- what was just done.
function M.list(req, done)
  local now = os.time() * 1000
  local rows = {}
  for _, tk in ipairs(P.tokens()) do rows[#rows + 1] = row_of(tk, now) end
  return common.page("tokens", "admin/tokens", {
    title = t("admin.tokens.title"), tokens = rows, done = done,
    count = common.counted("admin.tokens.count", #rows),
  })
end

-- ---- making one ----

local function new_page(values, list, status)
  local summary, by_field = common.errors_of(list or {})
  return common.page("tokens", "admin/token_new", {
    title = t("admin.tokens.new.title"), action = "/_admin/tokens/new", values = values,
    apps = app_items(values.app), max_days = MAX_DAYS, errors = summary, field_errors = by_field,
  }, status)
end

function M.new(req)
  return new_page({ days = tostring(DEFAULT_DAYS) })
end

function M.create(req)
  local f = req.form
  local function trim(k) return (f[k] or ""):match("^%s*(.-)%s*$") end
  local v = { app = trim("app"), name = trim("name"), entities = trim("entities"), roles = trim("roles"),
              days = trim("days") }
  local _, by_name = common.apps()
  local list = {}
  local app = by_name[v.app]
  if not app or app.platform then list[#list + 1] = { "app", t("admin.tokens.error.app") } end
  if v.name == "" or #v.name > 100 or not utf8.len(v.name) or v.name:find("%c") then
    list[#list + 1] = { "name", t("admin.tokens.error.name") }
  end
  local entities = words(v.entities, "^[a-z][a-z0-9_]*$")
  if not entities or #entities == 0 then list[#list + 1] = { "entities", t("admin.tokens.error.entities") } end
  local roles = words(v.roles, "^[a-z][a-z0-9_-]*$")
  if not roles then list[#list + 1] = { "roles", t("admin.tokens.error.roles") } end
  local days = v.days:find("^%d+$") and math.tointeger(tonumber(v.days))
  if not days or days < 1 or days > MAX_DAYS then
    list[#list + 1] = { "days", t("admin.tokens.error.days", { max = MAX_DAYS }) }
  end
  if #list > 0 then return new_page(v, list, 400) end
  -- true, the token, its number and its account; or nil, "invalid" and why.
  local ok, token, id, email = P.create_token(v.app, v.name, table.concat(entities, ","),
                                              table.concat(roles, ","), days)
  if not ok then return new_page(v, { { "app", id } }, 400) end
  return common.page("tokens", "admin/token_made", {
    title = t("admin.tokens.made.title"), token = token, id = id, email = email,
    app = app.title .. " (" .. app.name .. ")", name = v.name, entities = table.concat(entities, ", "),
    roles = #roles > 0 and table.concat(roles, ", ") or t("admin.tokens.no_roles"),
    expires = common.when((os.time() + days * 86400) * 1000),
  })
end

-- ---- revoking one ----

local function find(id)
  for _, tk in ipairs(P.tokens()) do
    if tk.id == id then return tk end
  end
end

--- GET: the page that asks to confirm.
function M.confirm(req)
  local id = math.tointeger(tonumber(req.params.id))
  local tk = id and find(id)
  if not tk then return borough.status(404) end
  local row = row_of(tk, os.time() * 1000)
  if not row.revoke then return M.list(req, t("admin.tokens.done.already", { id = id })) end
  return common.page("tokens", "admin/token_revoke", {
    title = t("admin.tokens.revoke.title", { id = id, name = tk.name }), tk = row, action = row.revoke.href,
  })
end

function M.revoke(req)
  local id = math.tointeger(tonumber(req.params.id))
  if not id then return borough.status(404) end
  local ok, code = P.revoke_token(id)
  if not ok and code == "missing" then return borough.status(404) end
  if not ok then return M.list(req, t("admin.tokens.done.already", { id = id })) end
  return M.list(req, t("admin.tokens.done.revoked", { id = id }))
end

return M
