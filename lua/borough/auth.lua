--- borough.auth: staff sign-in, sign-out and change of password, and the
-- platform's answer when a signed-in person lacks a route's role.
--
-- Every app has these pages under its own mount (so they work for an app
-- on its own host too, in its own look and language):
--
--   <mount>/_account/sign-in     GET the form; POST email and password
--   <mount>/_account/sign-out    GET a page with the button; POST signs out
--   <mount>/_account/password    GET/POST: current, new and confirmed password
--   <mount>/_account/sso         GET: off to the council's identity provider
--   <mount>/_account/sso/callback    GET: back from it (code and state)
--   <mount>/_account/signed-out  GET: back from signing out there too
--   <mount>/_account/two-factor  GET/POST: the second step of a password
--                                sign-in (a code from an authenticator app,
--                                or a recovery code)
--   <mount>/_account/two-factor/setup   GET the QR code; POST a code: sets
--                                two-factor codes up, shows recovery codes
--
-- A session is good on every app of the same host (the cookie's path is
-- "/"); what a person may do in each app depends on their roles there.
-- A route that is not public sends an anonymous visitor to
-- <mount>/_account/sign-in?next=<the page asked for> (core/request.c), and
-- back after sign-in. `next` is only ever a path on this site: anything
-- else goes to the app's start page.
--
-- Single sign-on (OpenID Connect, core/lsso.c) is set up per site with
-- `borough sso`; the sign-in page then offers "Sign in with <provider>",
-- and the password form too unless the site hides it (`passwords = off`;
-- it stays at sign-in?with=password for break-glass accounts). A password
-- account that holds the role admin anywhere (or any password account, if
-- the site says `two_factor = all`) gets its session only after a second
-- step with a code from an authenticator app.
--
-- The checks themselves are in C (core/lauth.c, core/lsso.c,
-- core/session.c): argon2id on the thread pool, a dummy hash for unknown
-- addresses, throttling per account and per client address, ID tokens
-- verified, sessions in data/borough.db.

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

--- auth.errors_of(list): a form's errors, { { field, text }, ... }, as the
-- GOV.UK error summary's list (each a link to its field) and a map from
-- field to text for each field's message; nil and {} when there are none.
-- (The admin console's forms use it too.)
local function errors_of(list)
  if #list == 0 then return nil, {} end
  local summary, by_field = {}, {}
  for _, e in ipairs(list) do
    summary[#summary + 1] = { text = e[2], href = "#" .. e[1] }
    by_field[e[1]] = e[2]
  end
  return summary, by_field
end

-- path under the app's mount, with ?next= when the request has a safe one.
local function with_next(req, path)
  local url, next = borough.url(path), auth.safe_next(req.query.next)
  if next then url = url .. "?next=" .. encode(next) end
  return url
end

local function no_store(r, status)
  r.status = status or r.status or 200
  r.headers = r.headers or {}
  r.headers["Cache-Control"] = "no-store"
  return r
end

local function sign_in_page(req, email, list, status, signed_out)
  local summary, by_field = errors_of(list or {})
  local info = private.sso_info()
  local label = info.provider and i18n.t("auth.sso.button", { provider = info.provider })
    or i18n.t("auth.sso.button_default")
  return no_store(borough.view("borough/sign_in", {
    title = i18n.t("auth.sign_in.title"), action = with_next(req, PREFIX .. "/sign-in"), email = email or "",
    errors = summary, field_errors = by_field, signed_out = signed_out or req.query.signed_out == "1",
    sso_href = info.sso and with_next(req, PREFIX .. "/sso") or nil, sso_label = label,
    passwords = info.passwords or req.query.with == "password" or #(list or {}) > 0,
  }), status)
end

local function sign_in(req)
  local email = (req.form.email or ""):match("^%s*(.-)%s*$")
  local password = req.form.password or ""
  local list = {}
  if email == "" then list[#list + 1] = { "email", i18n.t("auth.error.email") } end
  if password == "" then list[#list + 1] = { "password", i18n.t("auth.error.password") } end
  if #list > 0 then return sign_in_page(req, email, list, 400) end
  local ok, cookie_or_why, minutes_or_step = private.sign_in(email, password)
  if not ok then
    local minutes = minutes_or_step
    local message = cookie_or_why == "throttled"
      and i18n.t(minutes == 1 and "auth.error.throttled_one" or "auth.error.throttled", { minutes = minutes })
      or i18n.t("auth.error.wrong")
    return sign_in_page(req, email, { { "email", message } }, cookie_or_why == "throttled" and 429 or 400)
  end
  -- With a second step to come, the cookie names the waiting sign-in.
  local step = minutes_or_step
  local to = step == "two-factor" and with_next(req, PREFIX .. "/two-factor")
    or step == "enrol" and with_next(req, PREFIX .. "/two-factor/setup")
    or auth.safe_next(req.query.next) or borough.url("/")
  local r = borough.redirect(to, 303)
  r.headers = r.headers or {}
  r.headers["Set-Cookie"] = cookie_or_why
  return no_store(r)
end

-- ---- single sign-on ----

-- The page for a sign-in single sign-on could not finish.
local STATUS = { off = 404, expired = 400, cancelled = 400, refused = 403, unavailable = 502, config = 500,
                 disabled = 403, conflict = 409, claims = 403, overage = 403, busy = 429 }

local function sso_problem(req, kind)
  local info = private.sso_info()
  local again = kind ~= "off" and kind ~= "disabled" and kind ~= "config"
  return no_store(borough.view("borough/sso_problem", {
    title = i18n.t("auth.sso." .. kind .. ".title"), text = i18n.t("auth.sso." .. kind .. ".text"),
    again_href = again and with_next(req, PREFIX .. "/sso") or nil,
    password_href = info.passwords and with_next(req, PREFIX .. "/sign-in") or nil,
  }), STATUS[kind] or 400)
end

local function sso_start(req)
  local url, cookie_or_why = private.sso_begin(borough.url(PREFIX .. "/sso/callback"), auth.safe_next(req.query.next))
  if not url then return sso_problem(req, cookie_or_why) end
  local r = borough.redirect(url, 303)
  r.headers["Set-Cookie"] = cookie_or_why
  return no_store(r)
end

local function sso_callback(req)
  local q = req.query
  local ok, cookies_or_why, next = private.sso_finish(borough.url(PREFIX .. "/sso/callback"), q.state, q.code, q.error)
  if not ok then return sso_problem(req, cookies_or_why) end
  local r = borough.redirect(auth.safe_next(next) or borough.url("/"), 303)
  r.headers["Set-Cookie"] = cookies_or_why
  return no_store(r)
end

-- ---- two-factor codes ----

local function two_factor_page(req, list, status)
  local summary, by_field = errors_of(list or {})
  return no_store(borough.view("borough/two_factor", {
    title = i18n.t("auth.2fa.title"), action = with_next(req, PREFIX .. "/two-factor"),
    errors = summary, field_errors = by_field,
  }), status)
end

local function throttled_message(minutes)
  return i18n.t(minutes == 1 and "auth.error.throttled_one" or "auth.error.throttled", { minutes = minutes })
end

local function two_factor_form(req)
  local step = private.two_factor_pending()
  if step == "enrol" then return borough.redirect(with_next(req, PREFIX .. "/two-factor/setup"), 303) end
  if not step then return borough.redirect(with_next(req, PREFIX .. "/sign-in"), 303) end
  return two_factor_page(req)
end

local function two_factor(req)
  local code = (req.form.code or ""):match("^%s*(.-)%s*$")
  if code == "" then return two_factor_page(req, { { "code", i18n.t("auth.2fa.error.code") } }, 400) end
  local ok, cookies_or_why, minutes = private.two_factor(code)
  if ok then
    local r = borough.redirect(auth.safe_next(req.query.next) or borough.url("/"), 303)
    r.headers["Set-Cookie"] = cookies_or_why
    return no_store(r)
  elseif cookies_or_why == "throttled" then
    return two_factor_page(req, { { "code", throttled_message(minutes) } }, 429)
  elseif cookies_or_why == "wrong" then
    return two_factor_page(req, { { "code", i18n.t("auth.2fa.error.wrong") } }, 400)
  end
  return two_factor_form(req)          -- expired: sign in again; enrol: set codes up
end

local function setup_page(req, list, status)
  local summary, by_field = errors_of(list or {})
  local secret, qr, cookie = private.totp_setup(i18n.t("auth.2fa.setup.qr"))
  if not secret then return borough.redirect(with_next(req, PREFIX .. "/sign-in"), 303) end
  local r = borough.view("borough/two_factor_setup", {
    title = i18n.t("auth.2fa.setup.title"), action = with_next(req, PREFIX .. "/two-factor/setup"),
    secret = secret, qr = qr, errors = summary, field_errors = by_field,
  })
  if cookie then
    r.headers = r.headers or {}
    r.headers["Set-Cookie"] = cookie
  end
  return no_store(r, status)
end

local function setup(req)
  local code = (req.form.code or ""):match("^%s*(.-)%s*$")
  if code == "" then return setup_page(req, { { "code", i18n.t("auth.2fa.error.setup_code") } }, 400) end
  local ok, cookies_or_why, codes = private.totp_confirm(code)
  if not ok then
    if cookies_or_why == "throttled" then
      return setup_page(req, { { "code", throttled_message(codes) } }, 429)
    elseif cookies_or_why == "wrong" then
      return setup_page(req, { { "code", i18n.t("auth.2fa.error.setup_wrong") } }, 400)
    end
    return borough.redirect(with_next(req, PREFIX .. "/sign-in"), 303)
  end
  local r = borough.view("borough/recovery_codes", {
    title = i18n.t("auth.2fa.done.title"), codes = codes, next = auth.safe_next(req.query.next) or borough.url("/"),
  })
  r.headers = r.headers or {}
  r.headers["Set-Cookie"] = cookies_or_why
  return no_store(r)
end

local function sign_out_page(req)
  if not req.user then return borough.redirect(borough.url(PREFIX .. "/sign-in"), 303) end
  local account = private.account()
  return no_store(borough.view("borough/sign_out", {
    title = i18n.t("auth.sign_out.title"), email = req.user.email,
    action = borough.url(PREFIX .. "/sign-out"),
    password_href = account.password and borough.url(PREFIX .. "/password") or nil,
    two_factor_href = account.password and borough.url(PREFIX .. "/two-factor/setup") or nil,
    two_factor_text = i18n.t(account.two_factor and "auth.2fa.link_again" or "auth.2fa.link"),
  }))
end

local function sign_out(req)
  -- A session single sign-on began ends at the provider too, if it offers that.
  local provider = private.sso_sign_out(borough.url(PREFIX .. "/signed-out"))
  local cookie = private.sign_out()
  local r
  if provider then
    r = borough.view("borough/signing_out", { title = i18n.t("auth.sso.signing_out.title"), provider_href = provider })
  else
    r = borough.redirect(borough.url(PREFIX .. "/sign-in") .. "?signed_out=1", 303)
  end
  r.headers = r.headers or {}
  r.headers["Set-Cookie"] = cookie
  return no_store(r)
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

--- borough.status(code): for an error the platform has words for (the
-- messages error.<code>.title and .text: 403, 404, 405, 500, 503), its page
-- in the app's look and the request's language, as the server's own error
-- pages are; for any other code, or with a body, the plain response.
local plain_status = borough.status
function borough.status(code, body)
  if body == nil and math.type(code) == "integer" and code >= 400 and i18n.has("error." .. code .. ".title") then
    local r = borough.view("borough/error", { code = code })
    r.status = code
    r.headers = r.headers or {}
    r.headers["Cache-Control"] = "no-store"
    return r
  end
  return plain_status(code, body)
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
  route(app, "GET", PREFIX .. "/sso", { public = true }, sso_start)
  route(app, "GET", PREFIX .. "/sso/callback", { public = true }, sso_callback)
  route(app, "GET", PREFIX .. "/signed-out", { public = true }, function(req) return sign_in_page(req, nil, nil, 200, true) end)
  route(app, "GET", PREFIX .. "/two-factor", { public = true }, two_factor_form)
  route(app, "POST", PREFIX .. "/two-factor", { public = true }, two_factor)
  route(app, "GET", PREFIX .. "/two-factor/setup", { public = true }, function(req) return setup_page(req) end)
  route(app, "POST", PREFIX .. "/two-factor/setup", { public = true }, setup)
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

auth.errors_of = errors_of

return auth
