--- What the front door and the admin console's pages share: the
-- platform's private functions (core/ladmin.c, given to this app only),
-- rendering a page, and times, spans, sizes and pages in words in the
-- request's language.

local i18n = require "borough.i18n"
local layout = require "borough.layout"
local fields = require "borough.fields"

local M = {}

--- The console's functions: one front end to the actions `borough user`,
-- `borough reload`, `borough outbox|jobs`, `borough audit`,
-- `borough token` and `borough status` have (core/ladmin.c lists them).
M.P = assert(borough._admin(), "the admin console's functions were already taken")

local t = i18n.t
M.t = t

M.PER_PAGE = 50

--- The console's sections, in the order its navigation shows them.
M.SECTIONS = {
  { key = "apps", path = "/_admin/apps" },
  { key = "people", path = "/_admin/people" },
  { key = "queues", path = "/_admin/queues" },
  { key = "audit", path = "/_admin/audit" },
  { key = "tokens", path = "/_admin/tokens" },
  { key = "health", path = "/_admin/health" },
}

--- M.page(section, view, ctx [, status]): a console page: the sections'
-- navigation (section marked), "Admin console" in the header. (Like any
-- page for someone signed in, the server sends it Cache-Control: no-store.)
function M.page(section, name, ctx, status)
  local nav = {}
  for _, s in ipairs(M.SECTIONS) do
    nav[#nav + 1] = { text = t("admin.section." .. s.key), href = s.path, current = s.key == section }
  end
  ctx.sections, ctx.home = nav, "/_admin"
  local service = { name = t("admin.service"), url = "/_admin" }
  local r = layout.with_service(service, borough.view, name, ctx)
  r.status = status or r.status
  return r
end

--- M.front(view, ctx): a page of the front door.
function M.front(name, ctx)
  return layout.with_service({ name = t("site.service"), url = "/" }, borough.view, name, ctx)
end

-- ---- in words ----

local function counted(key, n)
  return t(key .. (n == 1 and "_one" or "_other"), { n = M.number(n) })
end

--- M.counted(key, n): "1 account" or "3 accounts": the message key_one
-- or key_other with n in it.
M.counted = counted

--- M.number(n): 12345 -> "12,345".
function M.number(n)
  local s = tostring(math.tointeger(n) or n)
  local sign, int, rest = s:match("^(%-?)(%d+)(.*)$")
  if not int then return s end
  local grouped = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. grouped .. rest
end

--- M.when(ms): Unix milliseconds as GOV.UK writes a UK time:
-- "7 December 2026 at 9:58pm" ("7 Rhagfyr 2026 am 9:58yh").
function M.when(ms)
  if not ms or ms <= 0 then return t("admin.never") end
  local s = ms // 1000
  s = s + fields.uk_offset(s)
  local y, mo, d = fields.civil_from_days(s // 86400)
  local hour, minute = s % 86400 // 3600, s % 3600 // 60
  local clock = t(hour < 12 and "admin.clock.am" or "admin.clock.pm",
                  { hour = (hour + 11) % 12 + 1, minute = ("%02d"):format(minute) })
  return t("admin.when", { day = d, month = t("admin.month." .. mo), year = y, time = clock })
end

--- M.stamp(iso): an audit row's time ("2026-11-26T09:30:00.123Z") the same way.
function M.stamp(iso)
  local y, mo, d, h, mi, s = (iso or ""):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return iso or "" end
  local days = fields.days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  return M.when(((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(s) * 1000)
end

--- M.span(ms): "3 days 4 hours", "2 hours 5 minutes", "5 minutes", "less than a minute".
function M.span(ms)
  local m = ms // 60000
  local h, d = m // 60, m // 1440
  if d > 0 then return counted("admin.span.days", d) .. " " .. counted("admin.span.hours", h % 24) end
  if h > 0 then return counted("admin.span.hours", h) .. " " .. counted("admin.span.minutes", m % 60) end
  if m > 0 then return counted("admin.span.minutes", m) end
  return t("admin.span.under_minute")
end

--- M.size(bytes): "94.2 kB".
function M.size(n)
  if not n or n < 0 then return t("admin.none") end
  if n < 1000 then return counted("admin.bytes", n) end
  if n < 1e6 then return ("%.1f kB"):format(n / 1e3) end
  if n < 1e9 then return ("%.1f MB"):format(n / 1e6) end
  return ("%.1f GB"):format(n / 1e9)
end

-- ---- forms ----

--- M.errors_of(list): a form's errors as the GOV.UK error summary and each
-- field's message (lua/borough/auth.lua, whose sign-in forms use it too).
M.errors_of = require("borough.auth").errors_of

-- ---- lists ----

--- M.page_number(req): the page of a list asked for (1 and up).
function M.page_number(req)
  return math.max(1, math.tointeger(tonumber(req.query.page or "1") or 1) or 1)
end

--- M.pages(base, query, page, total): the GOV.UK pagination's options
-- for page of total rows, PER_PAGE a page, or nil when one page holds them.
function M.pages(base, query, page, total)
  local last = math.max(1, (total + M.PER_PAGE - 1) // M.PER_PAGE)
  if last == 1 then return nil end
  local function href(p)
    local q = {}
    for k, v in pairs(query) do q[k] = v end
    q.page = p > 1 and p or nil
    local s = borough.urlencode(q)
    return base .. (s ~= "" and ("?" .. s) or "")
  end
  local items = {}
  for p = math.max(1, page - 2), math.min(last, page + 2) do
    items[#items + 1] = { number = p, href = href(p), current = p == page }
  end
  return {
    previous = page > 1 and { href = href(page - 1) } or nil,
    next = page < last and { href = href(page + 1) } or nil,
    items = items,
  }
end

-- ---- the catalog ----

local cached, cached_version

--- M.apps(): the catalog's apps, a map from name to app, and the
-- catalog's version; read again only when the server publishes a new
-- catalog (the front door's case).
function M.apps()
  local version = M.P.catalog_version()
  if version ~= cached_version then
    local list = M.P.catalog()
    local by_name = {}
    for _, a in ipairs(list) do by_name[a.name] = a end
    cached, cached_version = { list = list, by_name = by_name }, version
  end
  return cached.list, cached.by_name, cached_version
end

return M
