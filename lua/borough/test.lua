--- borough.test: tests for an app, run by `borough test APP`.
--
-- A test file is apps/<app>/tests/<name>_test.lua:
--
--   local t = require "borough.test"
--
--   t.test("the start page names the service", function()
--     local r = t.get("/")
--     t.eq(r.status, 200)
--     t.contains(r.body, "<h1 class=\"govuk-heading-xl\">Notes</h1>")
--   end)
--
--   t.test("a note is saved", function()
--     local form = t.get("/notes/new")
--     local r = t.submit(form, { text = "Called back" })  -- hidden fields (the CSRF token) come along
--     t.eq(r.status, 303)
--     t.eq(db.one("SELECT text FROM notes").text, "Called back")
--   end)
--
-- `borough test` starts the real server in-process with the app alone and an
-- empty, temporary data folder; the client below speaks HTTP to it, so a
-- test sees exactly what a browser would (headers, redirects, cookies). The
-- test code itself runs in a state of the app, with its modules (`require
-- "models"`) and its database (`db`), so it can prepare rows and check them.
-- Tests run in file name order, then in the order they are declared; they
-- share the database, and each starts with an empty cookie jar.
--
-- Paths are the app's own, as in app:get: t.get("/cases/1") asks for
-- <mount>/cases/1. A path starting with "//" is taken from the site root
-- ("//healthz" asks for /healthz).

local http = borough._test_http
local mount = borough._test_mount or ""
local json = json

local t = {}
local tests = {}

-------------------------------------------------------------------------------
-- Declaring tests
-------------------------------------------------------------------------------

--- t.test(name, fn): declares a test; fn fails by raising an error (any
-- assertion below does).
function t.test(name, fn)
  if type(name) ~= "string" or type(fn) ~= "function" then
    error("t.test(name, fn) wants a name and a function", 2)
  end
  tests[#tests + 1] = { name = name, fn = fn }
end

-------------------------------------------------------------------------------
-- Assertions: each raises "file:line: what went wrong" at the test's line.
-------------------------------------------------------------------------------

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local ok, text = pcall(json.encode, v)
    if ok then return text end
  end
  return tostring(v)
end

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function fail(msg, extra)
  error((extra and extra .. ": " or "") .. msg, 3)
end

--- t.eq(actual, expected [, what]): equal values (tables compared deeply).
function t.eq(actual, expected, what)
  if not deep_equal(actual, expected) then
    fail("expected " .. show(expected) .. ", got " .. show(actual), what)
  end
end

--- t.ok(value [, what]): a value other than nil and false.
function t.ok(value, what)
  if not value then fail("expected a true value, got " .. show(value), what) end
  return value
end

--- t.contains(text, fragment [, what]): text holds fragment (plain text).
function t.contains(text, fragment, what)
  if type(text) ~= "string" or not text:find(fragment, 1, true) then
    local shown = type(text) == "string" and #text > 300 and show(text:sub(1, 300)) .. "..." or show(text)
    fail("expected " .. show(fragment) .. " in " .. shown, what)
  end
end

--- t.no_match / t.match(text, pattern [, what]): a Lua pattern matches (or not).
function t.match(text, pattern, what)
  if type(text) ~= "string" or not text:find(pattern) then
    fail("expected text matching " .. show(pattern) .. ", got " .. show(text), what)
  end
end

function t.no_match(text, pattern, what)
  if type(text) == "string" and text:find(pattern) then
    fail("expected no match of " .. show(pattern) .. " in " .. show(text), what)
  end
end

--- t.raises(fn [, fragment]): fn raises an error (whose message holds fragment).
function t.raises(fn, fragment)
  local ok, err = pcall(fn)
  if ok then fail("expected an error, but it ran without one") end
  if fragment and not tostring(err):find(fragment, 1, true) then
    fail("expected an error with " .. show(fragment) .. ", got " .. show(tostring(err)))
  end
  return err
end

--- t.fail(message): fails the test here.
function t.fail(message)
  error(message, 2)
end

-------------------------------------------------------------------------------
-- Responses
-------------------------------------------------------------------------------

local Response = {}
Response.__index = Response

--- r:json(): the body decoded as JSON.
function Response:json()
  return json.decode(self.body)
end

--- r:header(name): a header's value (names in any case).
function Response:header(name)
  return self.headers[name:lower()]
end

-------------------------------------------------------------------------------
-- The client
-------------------------------------------------------------------------------

local Client = {}
Client.__index = Client

--- t.client(): a new client with its own cookie jar (the functions t.get,
-- t.post, ... use one made afresh for each test).
function t.client()
  return setmetatable({ cookies = {} }, Client)
end

--- Encodes { name = value | {values} } as a form body (names sorted, so the
-- body is the same every run).
local function form_body(fields)
  return borough.urlencode(fields)
end
t.form_body = form_body

local function target(path)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
    error("a path starts with /, not " .. show(path), 3)
  end
  if path:sub(1, 2) == "//" then return path:sub(2) end
  return mount .. path
end

local function remember_cookies(self, headers)
  for _, h in ipairs(headers) do
    if h[1] == "set-cookie" then
      local name, value = h[2]:match("^%s*([^=;%s]+)=([^;]*)")
      if name then
        local attrs = h[2]:lower()
        if attrs:find("max%-age=0") or attrs:find("max%-age=%-") or value == "" then
          self.cookies[name] = nil
        else
          self.cookies[name] = value
        end
      end
    end
  end
end

--- client:request{ method =, path =, headers = {...}, body = "..." }
function Client:request(req)
  if not http then error("borough.test works only under `borough test`", 2) end
  local headers = {}
  for k, v in pairs(req.headers or {}) do headers[k] = v end
  local jar = {}
  for k, v in pairs(self.cookies) do jar[#jar + 1] = k .. "=" .. v end
  if #jar > 0 then
    table.sort(jar)
    headers["Cookie"] = table.concat(jar, "; ")
  end
  local status, list, body = http(req.method or "GET", target(req.path), headers, req.body or "")
  remember_cookies(self, list)
  local r = setmetatable({ status = status, headers = {}, body = body, path = req.path }, Response)
  for _, h in ipairs(list) do
    local old = r.headers[h[1]]
    r.headers[h[1]] = old and old .. ", " .. h[2] or h[2]
  end
  return r
end

function Client:get(path, opts)
  opts = opts or {}
  return self:request { method = "GET", path = path, headers = opts.headers }
end

function Client:delete(path, opts)
  opts = opts or {}
  return self:request { method = "DELETE", path = path, headers = opts.headers }
end

--- client:post(path, fields | body [, opts]): a table is sent as a form,
-- a string as it is (opts.headers may set its Content-Type).
local function sender(method)
  return function(self, path, data, opts)
    opts = opts or {}
    local headers = {}
    for k, v in pairs(opts.headers or {}) do headers[k] = v end
    if type(data) == "table" then
      data = form_body(data)
      headers["Content-Type"] = headers["Content-Type"] or "application/x-www-form-urlencoded"
    end
    return self:request { method = method, path = path, headers = headers, body = data or "" }
  end
end
Client.post = sender("POST")
Client.put = sender("PUT")
Client.patch = sender("PATCH")

--- client:json(method, path, value): sends value as JSON.
function Client:json(method, path, value)
  return self:request { method = method, path = path, body = json.encode(value),
    headers = { ["Content-Type"] = "application/json" } }
end

-------------------------------------------------------------------------------
-- Forms
-------------------------------------------------------------------------------

local entities = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", ["#39"] = "'", ["#x27"] = "'" }

local function unescape(s)
  return (s:gsub("&(#?x?%w+);", function(e)
    if entities[e] then return entities[e] end
    local n = e:match("^#(%d+)$")
    if n then return utf8.char(tonumber(n)) end
    return "&" .. e .. ";"
  end))
end

local function attr(tag, name)
  local v = tag:match("%s" .. name .. '%s*=%s*"([^"]*)"') or tag:match("%s" .. name .. "%s*=%s*'([^']*)'")
  return v and unescape(v)
end

--- t.forms(html): the forms of a page, each { action =, method =, fields =
-- { name = value | {values} } } with the values a browser would send as the
-- page stands (hidden fields, text, checked boxes and radios, selected
-- options, textareas).
function t.forms(html)
  local forms = {}
  for open, inner in html:gmatch("(<form[^>]*>)(.-)</form>") do
    local f = { action = attr(open, "action"), method = (attr(open, "method") or "get"):upper(), fields = {} }
    local function add(name, value)
      local old = f.fields[name]
      if old == nil then
        f.fields[name] = value
      elseif type(old) == "table" then
        old[#old + 1] = value
      else
        f.fields[name] = { old, value }
      end
    end
    for tag in inner:gmatch("<input[^>]*>") do
      local name, kind = attr(tag, "name"), (attr(tag, "type") or "text"):lower()
      local checked = tag:find("%schecked[%s/>=]") ~= nil
      if name and kind ~= "submit" and kind ~= "button" and kind ~= "file"
          and ((kind ~= "checkbox" and kind ~= "radio") or checked) then
        add(name, attr(tag, "value") or (kind == "checkbox" and "on" or ""))
      end
    end
    for tag, text in inner:gmatch("(<textarea[^>]*>)(.-)</textarea>") do
      local name = attr(tag, "name")
      if name then add(name, unescape(text:gsub("^\n", ""))) end
    end
    for tag, options in inner:gmatch("(<select[^>]*>)(.-)</select>") do
      local name = attr(tag, "name")
      local first, selected
      for opt, label in options:gmatch("(<option[^>]*>)(.-)</option>") do
        local value = attr(opt, "value") or unescape(label)
        if first == nil then first = value end
        if selected == nil and opt:find("%sselected[%s/>=]") then selected = value end
      end
      local chosen = selected or first
      if name and chosen then add(name, chosen) end
    end
    forms[#forms + 1] = f
  end
  return forms
end

--- client:submit(response, fields [, which]): fills in a form of the page
-- in response (the first, or which: a number, or the action it posts to)
-- with fields (a value of false removes a field) and sends it as a browser
-- would, to its action (the page itself when it has none).
function Client:submit(response, fields, which)
  local forms = t.forms(response.body or "")
  local form
  if type(which) == "number" then
    form = forms[which]
  elseif type(which) == "string" then
    for _, f in ipairs(forms) do
      if f.action == which then form = f break end
    end
  else
    form = forms[1]
  end
  if not form then
    error("no " .. (which and show(which) .. " " or "") .. "form on the page " .. show(response.path), 2)
  end
  local values = {}
  for k, v in pairs(form.fields) do values[k] = v end
  for k, v in pairs(fields or {}) do
    if v == false then values[k] = nil else values[k] = v end
  end
  local path = form.action
  if path == nil then
    path = response.path                -- the page itself: already the app's own path
    if form.method == "GET" then path = path:gsub("%?.*$", "") end
  elseif path:sub(1, #mount + 1) == mount .. "/" and mount ~= "" then
    path = path:sub(#mount + 1)         -- back to the app's own path
  elseif path:sub(1, 1) == "/" and mount ~= "" then
    path = "/" .. path                  -- outside the app: from the site root
  elseif path:sub(1, 1) ~= "/" then
    local base = (response.path or "/"):gsub("[^/]*$", "")
    path = base .. path
  end
  if form.method == "GET" then
    local query = form_body(values)
    return self:get(path .. (query ~= "" and "?" .. query or ""))
  end
  return self:post(path, values)
end

--- client:login(email [, opts]): signs in as a member of staff, so that
-- later requests carry the session; opts.roles lists their roles in this
-- app.
--
-- Extension point: staff accounts and sessions arrive with sign-in
-- (DESIGN.md, "Identity"). That work provides
-- `require("borough.auth").test_login(client, email, opts)`, which creates
-- the account in the test's data folder and signs this client in through
-- the sign-in page; this function calls it once it exists.
function Client:login(email, opts)
  local found, auth = pcall(require, "borough.auth")
  if found and type(auth) == "table" and auth.test_login then
    return auth.test_login(self, email, opts or {})
  end
  error("t.login: this platform has no staff sign-in yet; test public routes (public = true)", 2)
end

--- t.outbox(reference): the message of the app's outbox with this
-- reference ({ id, kind, recipient, template_id, body, reference, state,
-- status }), its recipient and body (the message as Notify gets it, JSON)
-- opened, since the outbox keeps them sealed; nil if there is none.
function t.outbox(reference)
  local row = db.one("SELECT id, kind, recipient, template_id, body, reference, state, status "
                     .. "FROM _borough_outbox WHERE reference = ?", reference)
  if row then borough._notify.open({ row }) end
  return row
end

-- The module-level client: t.get(...) is the current test's client:get(...).
local current = t.client()
for _, name in ipairs { "request", "get", "post", "put", "patch", "delete", "json", "submit", "login" } do
  t[name] = function(...) return current[name](current, ...) end
end

-------------------------------------------------------------------------------
-- The runner's side (called by `borough test`, not by tests)
-------------------------------------------------------------------------------

--- Returns the tests declared so far and forgets them (one file at a time).
function t._take()
  local list = tests
  tests = {}
  return list
end

--- Runs one test with a fresh client; raises its failure.
function t._run(test)
  current = t.client()
  test.fn()
end

return t
