--- borough.options: the one check of what an app gives a building block.
--
-- Every building block (routes, forms, flows, generated pages, workflows,
-- downloads, imports, jobs) checks the options it is given here, so that a
-- typo is a load error naming the app's own file:line rather than an option
-- silently ignored (a step whose `roles` was never read could be taken by
-- anyone). Who may do a thing is always `role = "x"` or a list of names;
-- every name must be one of the app's declared `roles` (or `admin`), which
-- borough._loaded checks once app.lua has run, when the roles are known.
--
--   local options = require "borough.options"
--   options.check("borough.pages(residents)", opts, { title = "string", role = "role", ... })
--   options.fail("borough.pages(residents)", "columns names no field 'nope'")

local M = {}

--- The app's file:line: of the code that called into the platform (the
-- innermost frame in the app's folder), or "" outside app code.
function M.where()
  return borough._app_where()
end

--- Raises "<app file:line:> what: message".
function M.fail(what, message)
  local where = M.where()
  error((where ~= "" and (where .. " ") or "") .. what .. ": " .. message, 0)
end

-- A role name: lower-case letters, digits, '_' and '-', starting with a
-- letter (`borough user role` applies the same rule).
function M.valid_role(role)
  return type(role) == "string" and #role <= 64 and role:find("^[a-z][a-z0-9_%-]*$") ~= nil
end

-- The roles named by building blocks while the app loads: { role =,
-- where =, what = }, checked against the app's roles once it has loaded.
local named = {}

--- Checks `role = "x"` or `role = { "x", "y" }` and remembers each name
-- for the check against the app's roles. public_ok: "public" may be given
-- (a workflow step anyone may take). Returns the list of names.
function M.role(what, value, public_ok)
  local list = type(value) == "table" and value or { value }
  local n = 0
  for _ in pairs(list) do n = n + 1 end
  local ok = (type(value) == "string" or type(value) == "table") and n == #list and n > 0
  for _, r in ipairs(list) do ok = ok and M.valid_role(r) end
  if not ok then
    M.fail(what, "role must be a role name such as \"assessor\" (lower-case letters, digits, '_' and '-') "
                 .. "or a list of them")
  end
  local where = M.where()
  for _, r in ipairs(list) do
    if r == "public" and not public_ok then
      M.fail(what, "role \"public\" is for workflow steps anyone may take; a page anyone may open says public = true")
    end
    if r ~= "public" then named[#named + 1] = { role = r, where = where, what = what } end
  end
  return list
end

--- Raises, naming where it was given, for the first role named while the
-- app loaded that is not one of declared (a list) or admin.
function M.check_roles(declared)
  local known = { admin = true }
  for _, r in ipairs(declared or {}) do known[r] = true end
  for _, use in ipairs(named) do
    if not known[use.role] then
      error(("%s%s: role \"%s\" is not one of the app's roles (declare it: borough.app { roles = { ... } })")
            :format(use.where ~= "" and (use.where .. " ") or "", use.what, use.role), 0)
    end
  end
end

--- The URL of a where-next target (redirect = ...): a path inside the app
-- ("/cases/12"), made a URL by borough.url (which never doubles the mount).
function M.target(what, path)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
    error(("%s: redirect must give a path inside the app such as \"/cases/12\", not %s")
          :format(what, type(path) == "string" and ("%q"):format(path) or tostring(path)), 0)
  end
  return borough.url(path)
end

-- What an option must be: a Lua type name, "role" (see M.role), "path"
-- (a path inside the app, "/..."), true (anything), or a list of these.
local function fits(kind, v)
  if kind == true then return true end
  if type(kind) == "table" then
    for _, k in ipairs(kind) do if fits(k, v) then return true end end
    return false
  end
  if kind == "role" then return type(v) == "string" or type(v) == "table" end
  if kind == "path" then return type(v) == "string" and v:sub(1, 1) == "/" end
  if kind == "integer" then return math.type(v) == "integer" or (math.type(v) == "float" and math.tointeger(v) ~= nil) end
  return type(v) == kind
end

local function describe(kind)
  if type(kind) == "table" then
    local parts = {}
    for i, k in ipairs(kind) do parts[i] = describe(k) end
    return table.concat(parts, " or ")
  end
  if kind == "path" then return "a path inside the app such as \"/cases\"" end
  if kind == "role" then return "a role name or a list of them" end
  if kind == "integer" then return "a whole number" end
  return "a " .. kind
end

-- Words an app may reach for that the platform spells otherwise.
local hints = {
  roles = "who may do it is role = \"x\" or role = { \"x\", \"y\" }",
  path = "the path is the second argument of mount(app, path, opts)",
}

--- Checks that opts (a table, or nil) holds only the options in known
-- ({ name = kind }), each of its kind; the list part of opts is left to
-- the caller. Roles (kind "role") are checked with M.role. Returns opts
-- (or an empty table).
function M.check(what, opts, known, public_ok)
  if opts == nil then return {} end
  if type(opts) ~= "table" then M.fail(what, "options must be a table") end
  for k, v in pairs(opts) do
    if math.type(k) ~= "integer" then
      local kind = known[k]
      if kind == nil then
        local names = {}
        for name in pairs(known) do names[#names + 1] = name end
        table.sort(names)
        M.fail(what, ("unknown option '%s' (%s)"):format(tostring(k),
          hints[k] or ("the options are " .. table.concat(names, ", "))))
      end
      if not fits(kind, v) then M.fail(what, ("%s must be %s"):format(k, describe(kind))) end
      if kind == "role" then M.role(what, v, public_ok) end
    end
  end
  return opts
end

return M
