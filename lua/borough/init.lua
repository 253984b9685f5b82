--- borough: the app object and its routes.
--
-- The global `borough` table already holds the platform's C functions
-- (borough.json, borough.redirect, borough.status, borough.text,
-- borough.escape, borough.url, borough.sleep). This module adds
-- borough.app, which every app.lua starts with:
--
--   local app = borough.app { title = "Hello", mount = "/hello" }
--   app:get("/", function(req) return "Hello, World!" end)
--   return app
--
-- Manifest fields (all optional):
--   title   shown on the server's home page and in page titles
--   mount   the path the app answers under (default "/<folder>"; "/" for the root)
--   host    a virtual host (e.g. "grants.example.gov.uk") the app answers on
--   public  true if routes need no sign-in unless a route says otherwise
--   roles   the roles this app knows
--   limits  { memory = bytes, instructions = n, time = seconds, body = bytes }

local App = {}
App.__index = App

local manifest_fields = {
  title = "string", mount = "string", host = "string", public = "boolean",
  roles = "table", limits = "table",
}

function borough.app(manifest)
  manifest = manifest or {}
  if type(manifest) ~= "table" then
    error("borough.app expects a table such as { title = \"Grants\" }", 2)
  end
  local app = { routes = {} }
  for k, v in pairs(manifest) do
    local want = manifest_fields[k]
    if not want then
      error(("borough.app: unknown field '%s'"):format(tostring(k)), 2)
    end
    if type(v) ~= want then
      error(("borough.app: %s must be a %s, not a %s"):format(k, want, type(v)), 2)
    end
    app[k] = v
  end
  return setmetatable(app, App)
end

local route_options = { public = "boolean", role = "string", csrf = "boolean", max_body = "number" }

-- Records one route. Errors point at the app:get(...) line (level 3).
local function add(app, method, pattern, opts, handler)
  if handler == nil then
    handler, opts = opts, {}
  end
  if type(pattern) ~= "string" then
    error(("app:%s: the pattern must be a string such as \"/cases/:id\""):format(method:lower()), 3)
  end
  if type(opts) ~= "table" then
    error(("app:%s(%q): options must be a table"):format(method:lower(), pattern), 3)
  end
  for k, v in pairs(opts) do
    local want = route_options[k]
    if not want then
      error(("app:%s(%q): unknown option '%s'"):format(method:lower(), pattern, tostring(k)), 3)
    end
    if type(v) ~= want then
      error(("app:%s(%q): %s must be a %s"):format(method:lower(), pattern, k, want), 3)
    end
  end
  if type(handler) ~= "function" then
    error(("app:%s(%q): the handler must be a function"):format(method:lower(), pattern), 3)
  end
  local ok, why = borough._check_route(pattern)
  if not ok then error(why, 3) end
  local routes = app.routes
  routes[#routes + 1] = {
    method = method, pattern = pattern, opts = opts, handler = handler,
    where = borough._where(3),
  }
  return app
end

--- app:get(pattern, [opts,] handler) and friends declare routes.
-- `pattern` segments: literal text, ":name" (into req.params.name) or a
-- final "*" (the rest of the path, into req.params.splat).
function App:get(pattern, opts, handler) return add(self, "GET", pattern, opts, handler) end
function App:post(pattern, opts, handler) return add(self, "POST", pattern, opts, handler) end
function App:put(pattern, opts, handler) return add(self, "PUT", pattern, opts, handler) end
function App:patch(pattern, opts, handler) return add(self, "PATCH", pattern, opts, handler) end
function App:delete(pattern, opts, handler) return add(self, "DELETE", pattern, opts, handler) end

return borough
