--- borough.auth: staff sign-in, sign-out and change of password, and the
-- platform's answer when a signed-in person lacks a route's role.
--
-- Every app has these pages under its own mount (so they work for an app
-- on its own host too, in its own look and language):
--
--   <mount>/_account/sign-in     GET the form; POST email and password
--   <mount>/_account/sign-out    GET a page with the button; POST signs out
--   <mount>/_account/password    GET/POST: current, new and confirmed password
--
-- A session is good on every app of the same host (the cookie's path is
-- "/"); what a person may do in each app depends on their roles there.
-- A route that is not public sends an anonymous visitor to
-- <mount>/_account/sign-in?next=<the page asked for> (core/request.c), and
-- back after sign-in. `next` is only ever a path on this site: anything
-- else goes to the app's start page.
--
-- The checks themselves are in C (core/lauth.c, core/session.c): argon2id
-- on the thread pool, a dummy hash for unknown addresses, throttling per
-- account and per client address, sessions in data/borough.db.

local i18n = require "borough.i18n"
local view = require "borough.view"

local private = assert(borough._auth(), "borough.auth: the platform's functions were already taken")

local auth = {}

local PREFIX = "/_account"

--- auth.safe_next(next): next if it is a path on this site ("/cases?page=2"),
-- else nil. Refused: absolute URLs, "//host" and "/\host" (which browsers
-- read as another host), control characters and backslashes.
function auth.safe_next(next)
  if type(next) ~= "string" or #next > 2000 or next:sub(1, 1) ~= "/" then return nil end
  local second = next:sub(2, 2)
  if second == "/" or second == "\\" then return nil end
  if next:find("[%c\\]") then return nil end
  return next
end

-- %-encodes s for a query value.
local function encode(s)
  return (s:gsub("[^%w%-_.~/]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- The error summary's list and the fields' messages, from { field = message } in order.
local function errors_of(list)
  if #list == 0 then return nil, {} end
  local summary, by_field = {}, {}
  for _, e in ipairs(list) do
    summary[#summary + 1] = { text = e[2], href = "#" .. e[1] }
    by_field[e[1]] = e[2]
  end
  return summary, by_field
end

local function sign_in_page(req, email, list, status)
  local summary, by_field = errors_of(list or {})
  local next = auth.safe_next(req.query.next)
  local action = borough.url(PREFIX .. "/sign-in")
  if next then action = action .. "?next=" .. encode(next) end
  local r = borough.view("borough/sign_in", {
    title = i18n.t("auth.sign_in.title"), action = action, email = email or "",
    errors = summary, field_errors = by_field, signed_out = req.query.signed_out == "1",
  })
  r.status = status or 200
  r.headers = r.headers or {}
  r.headers["Cache-Control"] = "no-store"
  return r
end

local function sign_in(req)
  local email = (req.form.email or ""):match("^%s*(.-)%s*$")
  local password = req.form.password or ""
  local list = {}
  if email == "" then list[#list + 1] = { "email", i18n.t("auth.error.email") } end
  if password == "" then list[#list + 1] = { "password", i18n.t("auth.error.password") } end
  if #list > 0 then return sign_in_page(req, email, list, 400) end
  local ok, cookie_or_why, minutes = private.sign_in(email, password)
  if not ok then
    local message = cookie_or_why == "throttled"
      and i18n.t(minutes == 1 and "auth.error.throttled_one" or "auth.error.throttled", { minutes = minutes })
      or i18n.t("auth.error.wrong")
    return sign_in_page(req, email, { { "email", message } }, cookie_or_why == "throttled" and 429 or 400)
  end
  local r = borough.redirect(auth.safe_next(req.query.next) or borough.url("/"), 303)
  r.headers = r.headers or {}
  r.headers["Set-Cookie"] = cookie_or_why
  r.headers["Cache-Control"] = "no-store"
  return r
end

local function sign_out_page(req)
  if not req.user then return borough.redirect(borough.url(PREFIX .. "/sign-in"), 303) end
  local r = borough.view("borough/sign_out", {
    title = i18n.t("auth.sign_out.title"), email = req.user.email,
    action = borough.url(PREFIX .. "/sign-out"), password_href = borough.url(PREFIX .. "/password"),
  })
  r.headers = r.headers or {}
  r.headers["Cache-Control"] = "no-store"
  return r
end

local function sign_out(req)
  local cookie = private.sign_out()
  local r = borough.redirect(borough.url(PREFIX .. "/sign-in") .. "?signed_out=1", 303)
  r.headers = r.headers or {}
  r.headers["Set-Cookie"] = cookie
  return r
end

local function password_page(req, list, status)
  local summary, by_field = errors_of(list or {})
  local r = borough.view("borough/password", {
    title = i18n.t("auth.password.title"), action = borough.url(PREFIX .. "/password"),
    errors = summary, field_errors = by_field,
  })
  r.status = status or 200
  r.headers = r.headers or {}
  r.headers["Cache-Control"] = "no-store"
  return r
end

local function change_password(req)
  local f = req.form
  local current, new, confirm = f.current or "", f.new or "", f.confirm or ""
  local list = {}
  if current == "" then list[#list + 1] = { "current", i18n.t("auth.error.current") } end
  if new == "" then
    list[#list + 1] = { "new", i18n.t("auth.error.new") }
  else
    local problem = private.password_problem(new, req.user.email)
    if problem then
      list[#list + 1] = { "new", problem }
    elseif new == current then
      list[#list + 1] = { "new", i18n.t("auth.error.same") }
    elseif confirm ~= new then
      list[#list + 1] = { "confirm", i18n.t("auth.error.confirm") }
    end
  end
  if #list > 0 then return password_page(req, list, 400) end
  local ok, cookie_or_field, detail = private.change_password(current, new)
  if not ok then
    if cookie_or_field == "throttled" then
      return password_page(req, { { "current", i18n.t(detail == 1 and "auth.error.throttled_one" or "auth.error.throttled", { minutes = detail }) } }, 429)
    elseif cookie_or_field == "new" then
      return password_page(req, { { "new", detail } }, 400)
    end
    return password_page(req, { { "current", i18n.t("auth.error.current_wrong") } }, 400)
  end
  local r = borough.view("borough/password_done", { title = i18n.t("auth.password.done"), home = borough.url("/") })
  r.headers = r.headers or {}
  r.headers["Set-Cookie"] = cookie_or_field
  r.headers["Cache-Control"] = "no-store"
  return r
end

--- The answer when a signed-in person lacks every role a route names
-- (called by the server instead of the route's handler): 403, in the
-- app's look and the request's language.
function borough._forbidden(req)
  local r = borough.view("borough/forbidden", { title = i18n.t("error.403.title"), email = req.user and req.user.email or "" })
  r.status = 403
  r.headers = r.headers or {}
  r.headers["Cache-Control"] = "no-store"
  return r
end

-- The page layout shows a "Sign out" link to whoever is signed in.
view.globals.signed_in = borough.user

--- Adds the pages to app with route(app, method, pattern, opts, handler)
-- (borough._loaded does, for every app).
function auth.add_routes(app, route)
  route(app, "GET", PREFIX .. "/sign-in", { public = true }, function(req) return sign_in_page(req) end)
  route(app, "POST", PREFIX .. "/sign-in", { public = true }, sign_in)
  route(app, "GET", PREFIX .. "/sign-out", { public = true }, sign_out_page)
  route(app, "POST", PREFIX .. "/sign-out", { public = true }, sign_out)
  route(app, "GET", PREFIX .. "/password", { public = false }, function(req) return password_page(req) end)
  route(app, "POST", PREFIX .. "/password", { public = false }, change_password)
end

--- test_login(client, email, opts): for `borough test` (t.login): makes
-- the account (opts.name, opts.roles: a list of roles in this app) in the
-- test's data folder, starts a session and gives the client its cookie.
function auth.test_login(client, email, opts)
  if not borough._test_session then error("t.login works only under `borough test`", 3) end
  if type(email) ~= "string" or not email:find("@", 1, true) then
    error("t.login(email [, { roles = {...} }]) wants an email address", 3)
  end
  opts = opts or {}
  local roles = opts.roles or {}
  if type(roles) == "string" then roles = { roles } end
  client.cookies.borough_session = borough._test_session(email, opts.name or email, roles)
  return client
end

return auth
