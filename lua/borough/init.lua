--- borough: the app object and its routes.
--
-- The global `borough` table already holds the platform's C functions
-- (borough.json, borough.redirect, borough.status, borough.text,
-- borough.escape, borough.url, borough.sleep). This module adds
-- borough.app, which every app.lua starts with, borough.cookie, and reaches
-- the building blocks (borough.entity, .form, .flow, .pages, .workflow,
-- .download, .govuk): an app uses each as borough.<name>, and `require`
-- for its own modules only.
--
--   local app = borough.app { title = "Hello", mount = "/hello" }
--   app:get("/", function(req) return "Hello, World!" end)
--   return app
--
-- Manifest fields (all optional):
--   title   shown on the site's front door and in page titles
--   description  one line for the front door: what the app is for
--   mount   the path the app answers under (default "/<folder>"; "/" for the root)
--   host    a virtual host (e.g. "grants.example.gov.uk") the app answers on
--   public  true if routes need no sign-in unless a route says otherwise
--   roles   the roles this app knows: every role a route, page, form, flow
--           or workflow step names must be one of them, or admin
--   limits  { memory = bytes, instructions = n, time = seconds, body = bytes }
--   lang    the language of pages when a request asks for none ("en" or "cy")
--   allow_hosts  the hosts http.request may reach: "api.example.gov.uk",
--           "api.example.gov.uk:8443" (that port only), "*.example.gov.uk"

-- Views, GOV.UK components and translations (borough.view, borough.t, ...).
local view = require "borough.view"
local i18n = require "borough.i18n"
local layout = require "borough.layout"
local upload = require "borough.upload"
require "borough.govuk"
require "borough.chart"
require "borough.csrf"

-- Forms, one-thing-per-page flows and generated pages for entities
-- (borough.form, borough.flow, borough.pages; see borough/form.lua and
-- borough/pages.lua).
require "borough.form"
require "borough.pages"

-- Entities: records declared in models.lua (see borough/entity.lua).
borough.entity = require("borough.entity").declare

-- Workflows (borough/workflow.lua), loaded on first use: the entity that
-- keeps their history belongs only to apps that have one.
function borough.workflow(spec)
  local flow = require("borough.workflow").new(spec)
  return flow
end

-- CSV files for people to download (borough/download.lua).
borough.download = require "borough.download"

-- Live updates: events published on channels, and the streams pages follow
-- them by (borough/events.lua; app:events below).
borough.events = require "borough.events"

-- Red, amber and green by thresholds (borough/rag.lua), and returns due by a
-- deadline each day (borough/returns.lua).
borough.rag = require "borough.rag"
borough.returns = require "borough.returns"

-- A data feed of chosen entities for BI tools, for API tokens
-- (borough/feed.lua): borough.feed { Entity, ... }:mount(app, "/_feed").
function borough.feed(spec)
  return require("borough.feed").new(spec)
end

-- Questions kept as data (a scheme's, a form's a manager edits), asked by
-- borough.flow (borough/questions.lua).
borough.questions = require "borough.questions"

-- Building blocks that keep records of their own: UK bank details and the
-- modulus check's table (borough.bank), single-use links (borough.links),
-- budgets (borough.budget), payment runs (borough.payments) and flags for
-- a second person to clear (borough.flags), groups kept apart by
-- membership (borough.members). Each declares its entities
-- when the app first names it, so only the apps that use one have its
-- tables; that must be while the app loads (models.lua or app.lua), when
-- tables are made.
local own_records = { bank = "borough.bank", links = "borough.links", budget = "borough.budget",
                      payments = "borough.payments", flags = "borough.flags", members = "borough.members" }
local loaded = false
setmetatable(borough, { __index = function(_, k)
  local name = own_records[k]
  if not name then return nil end
  if loaded then
    error(("borough.%s keeps records of its own: name it while the app loads (local %s = borough.%s at the "
           .. "top of models.lua), so that its tables are made"):format(k, k, k), 2)
  end
  local m = require(name)
  rawset(borough, k, m)
  return m
end })

-- Background jobs (app:job, app:every), GOV.UK Notify, and their globals
-- `jobs` and `notify` (DESIGN.md); `http` is core/lhttp.c's.
local options = require "borough.options"
local job_declarations = require "borough.jobs"
jobs = job_declarations
notify = require "borough.notify"
local platform_pages = { require "borough.notify_pages", require "borough.jobs_page", require "borough.auth" }

local App = {}
App.__index = App

local manifest_fields = {
  title = "string", description = "string", mount = "string", host = "string", public = "boolean",
  roles = "table", limits = "table", lang = "string", allow_hosts = "table",
}

local limit_fields = { memory = true, instructions = true, time = true, body = true, streams = true }

-- A mount is "/" or a path of segments made of letters, digits and - _ . ~
-- ("." and ".." are not segments); trailing slashes do not count. The server
-- applies the same rule (bo_mount_normalise); checking here puts the line of
-- app.lua in the message.
local function valid_mount(mount)
  local path = mount:gsub("/+$", "")
  if mount:sub(1, 1) ~= "/" or path:find("[^%w%-_.~/]") or path:find("//", 1, true) then
    return false
  end
  for segment in path:gmatch("[^/]+") do
    if segment == "." or segment == ".." then return false end
  end
  return true
end

-- A host is a name such as "grants.example.gov.uk": letters, digits, '-'
-- and '.', without a scheme, a port or a path.
local function valid_host(host)
  return host:find("^[%w%-]+[%w%-.]*$") ~= nil and not host:find("..", 1, true)
end

-- An allow_hosts entry: a host name or IPv4 address, optionally "*." before
-- it (any host under it) and ":port" after it.
local function valid_allowed_host(entry)
  if type(entry) ~= "string" then return false end
  local host, port = entry:match("^(.-):(%d+)$")
  if port and (tonumber(port) < 1 or tonumber(port) > 65535) then return false end
  host = host or entry
  return valid_host((host:gsub("^%*%.", ""))) and not host:find("*", 2, true)
end

-- Checks one manifest field; errors point at the borough.app{...} line (level 3).
local function check_field(k, v)
  if k == "mount" and not valid_mount(v) then
    error(("borough.app: mount must be a path such as \"/grants\", not %q"):format(v), 3)
  elseif k == "host" and not valid_host(v) then
    error(("borough.app: host must be a host name such as \"grants.example.gov.uk\", not %q"):format(v), 3)
  elseif k == "allow_hosts" then
    for i, entry in ipairs(v) do
      if not valid_allowed_host(entry) then
        error(("borough.app: allow_hosts[%d] must be a host such as \"api.example.gov.uk\", "
               .. "\"*.example.gov.uk\" or \"api.example.gov.uk:8443\", not %s")
              :format(i, type(entry) == "string" and ("%q"):format(entry) or ("a " .. type(entry))), 3)
      end
    end
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    if n ~= #v then error("borough.app: allow_hosts must be a list of hosts", 3) end
  elseif k == "limits" then
    for name, n in pairs(v) do
      if not limit_fields[name] then
        error(("borough.app: unknown limit '%s' (limits are memory, instructions, time, body and streams)")
              :format(tostring(name)), 3)
      end
      if math.type(n) == "float" then n = math.tointeger(n) end
      if math.type(n) ~= "integer" or n <= 0 then
        error(("borough.app: limits.%s must be a positive whole number"):format(name), 3)
      end
    end
  end
end

function borough.app(manifest)
  manifest = manifest or {}
  if type(manifest) ~= "table" then
    error("borough.app expects a table such as { title = \"Grants\" }", 2)
  end
  local app = { routes = {}, jobs = {}, schedules = {} }
  for k, v in pairs(manifest) do
    local want = manifest_fields[k]
    if not want then
      error(("borough.app: unknown field '%s'"):format(tostring(k)), 2)
    end
    if type(v) ~= want then
      error(("borough.app: %s must be a %s, not a %s"):format(k, want, type(v)), 2)
    end
    check_field(k, v)
    app[k] = v
  end
  for i, role in ipairs(app.roles or {}) do
    if not options.valid_role(role) or role == "public" then
      error(("borough.app: roles[%d] must be a role name such as \"assessor\" (lower-case letters, digits, "
             .. "'_' and '-'; \"public\" is the word for what anyone may do, not a role)"):format(i), 2)
    end
  end
  if app.lang then i18n.set_default(app.lang) end
  -- borough.url at load time answers with the prefix declared here: the
  -- server reads the manifest only once app.lua has returned.
  if app.mount then
    borough._declare_mount((app.mount:gsub("/+$", "")))
  elseif app.host then
    borough._declare_mount("")
  end
  return setmetatable(app, App)
end

local route_options = {
  public = "boolean", role = "role", csrf = "boolean", max_body = "number", files = "table",
}

-- Records one route. Mistakes name the app's line (the app:get(...) line,
-- or the line that called a building block declaring routes).
local function add(app, method, pattern, opts, handler)
  if handler == nil then
    handler, opts = opts, {}
  end
  if type(pattern) ~= "string" then
    options.fail(("app:%s"):format(method:lower()), "the pattern must be a string such as \"/cases/:id\"")
  end
  local what = ("app:%s(%q)"):format(method:lower(), pattern)
  options.check(what, opts, route_options)
  if type(handler) ~= "function" then options.fail(what, "the handler must be a function") end
  local ok, why = borough._check_route(pattern)
  if not ok then error(options.where() .. " " .. why, 0) end
  local routes = app.routes
  routes[#routes + 1] = {
    method = method, pattern = pattern, opts = opts, handler = handler, where = options.where(),
    uploads = opts.files and upload.rules(opts.files, what),
  }
end

--- app:get(pattern, [opts,] handler) and friends declare routes.
-- `pattern` segments: literal text, ":name" (into req.params.name) or a
-- final "*" (the rest of the path, into req.params.splat).
function App:get(pattern, opts, handler) add(self, "GET", pattern, opts, handler) return self end
function App:post(pattern, opts, handler) add(self, "POST", pattern, opts, handler) return self end
function App:put(pattern, opts, handler) add(self, "PUT", pattern, opts, handler) return self end
function App:patch(pattern, opts, handler) add(self, "PATCH", pattern, opts, handler) return self end
function App:delete(pattern, opts, handler) add(self, "DELETE", pattern, opts, handler) return self end

--- app:events(pattern, [opts,] fn): an event stream (live updates) at
-- GET pattern; fn(req) returns the channels the connection follows. See
-- borough/events.lua.
function App:events(pattern, opts, fn)
  local checked, handler = borough.events.route(pattern, opts, fn)
  add(self, "GET", pattern, checked, handler)
  return self
end

--- app:job(name, [opts,] fn): the handler of one-off jobs queued with
-- jobs.enqueue(name, args); app:every(schedule, [opts,] fn): recurring
-- work ("every 15 minutes", "every day at 07:00"). See borough/jobs.lua.
function App:job(name, opts, fn) job_declarations.declare(self, name, opts, fn) return self end
function App:every(schedule, opts, fn) job_declarations.every(self, schedule, opts, fn) return self end


--- borough.cookie(name, value [, opts]): a Set-Cookie header value with
-- safe defaults: HttpOnly, SameSite=Lax, Secure over HTTPS, and the app's
-- own paths only. value nil or false clears the cookie. opts: max_age
-- (seconds; without it the cookie ends with the browser session), path (a
-- path inside the app, "/" by default), same_site ("Lax" or "Strict"),
-- http_only = false (only for a value a script must read).
--   local res = borough.view("done", ctx)
--   res.headers["Set-Cookie"] = borough.cookie("seen_intro", "yes", { max_age = 86400 })
local cookie_options = { max_age = "integer", path = "path", same_site = "string", http_only = "boolean" }

function borough.cookie(name, value, opts)
  opts = options.check("borough.cookie", opts, cookie_options)
  if type(name) ~= "string" or not name:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
    options.fail("borough.cookie", "the name must be letters, digits and - _ . (a cookie name)")
  end
  if value ~= nil and value ~= false and (type(value) ~= "string" or value:find('[%c%s",;\\\127-\255]')) then
    options.fail("borough.cookie", "the value must be text without spaces, quotes, commas, semicolons or "
                                   .. "backslashes (borough.urlencode it)")
  end
  if opts.same_site and opts.same_site ~= "Lax" and opts.same_site ~= "Strict" then
    options.fail("borough.cookie", "same_site must be \"Lax\" or \"Strict\"")
  end
  local path = borough.url(opts.path or "/"):gsub("/+$", "")
  local req = borough._request()
  local clear = value == nil or value == false
  return ("%s=%s; Path=%s%s%s; SameSite=%s%s"):format(name, clear and "" or value, path == "" and "/" or path,
    clear and "; Max-Age=0" or (opts.max_age and ("; Max-Age=" .. math.tointeger(opts.max_age)) or ""),
    opts.http_only == false and "" or "; HttpOnly", opts.same_site or "Lax", req and req.secure and "; Secure" or "")
end

--- Called by the server once app.lua has returned the app: compiles every
-- view, so that a template mistake stops the load with its file:line.
function borough._loaded(app)
  loaded = true
  options.check_roles(app.roles)
  layout.set_service(app)
  view.load_all()
  -- The platform's own routes (<mount>/_outbox, /_jobs, /_notify/callback),
  -- unless the app has its own of the same method and path.
  local function platform_route(a, method, pattern, opts, handler)
    for _, r in ipairs(a.routes) do
      if r.method == method and r.pattern == pattern then return end
    end
    a.routes[#a.routes + 1] = { method = method, pattern = pattern, opts = opts, handler = handler,
                                where = "lua/borough (the platform's " .. pattern .. ")" }
  end
  for _, pages in ipairs(platform_pages) do pages.add_routes(app, platform_route) end
  -- borough.url never doubles the mount: once no route of the app can start
  -- with the mount (a route /complaints in an app at /complaints could), a
  -- path that does is taken as a URL already made.
  local mount = {}
  for seg in borough.url("/"):gmatch("[^/]+") do mount[#mount + 1] = seg end
  local clash = #mount == 0
  for _, r in ipairs(app.routes) do
    local i, hit = 0, true
    for seg in r.pattern:gmatch("[^/]+") do
      i = i + 1
      if i > #mount then break end
      if seg:sub(1, 1) == "*" then break end
      if seg ~= mount[i] and seg:sub(1, 1) ~= ":" then hit = false break end
    end
    clash = clash or (hit and (i >= #mount or r.pattern:find("*", 1, true) ~= nil))
  end
  if not clash then borough._url_settled() end
  -- Upload rules by route index (0-based, the order routes were declared).
  local rules = {}
  for i, route in ipairs(app.routes) do rules[i - 1] = route.uploads end
  borough._upload_rules(rules)
end

return borough
