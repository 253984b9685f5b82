--- borough.layout: what the GOV.UK page layout (views/govuk/template.html)
-- shows around an app's pages: the council's name and logo from the
-- deployment's site.conf, the service's name and link, the asset URLs, and
-- the link to the other language. Templates reach these as
-- {{ site().name }}, {{ service().name }}, {{ assets() }},
-- {{ other_language() }} and {{ url("/path") }} (borough.url).

local view = require "borough.view"
local i18n = require "borough.i18n"

local layout = {}

local site_info           -- read once per app state
local service_info = { name = "", url = "/" }

--- layout.set_service(app): the app's title and mount, for the header.
function layout.set_service(app)
  service_info = { name = app.title or "", url = borough.url("/") }
end

function layout.site()
  if not site_info then site_info = borough._site() end
  return site_info
end

function layout.service()
  return service_info
end

--- layout.with_service(service, fn, ...): fn(...) (which renders a page)
-- with the header naming service ({ name =, url = }) instead of the app:
-- for the pages of one app that are a part of the site of their own (the
-- platform's admin console). Rendering never waits, so no other page sees it.
function layout.with_service(service, fn, ...)
  local before = service_info
  service_info = service
  local ok, res = pcall(fn, ...)
  service_info = before
  if not ok then error(res, 0) end
  return res
end

function layout.assets()
  return layout.site().assets or "/assets"
end

-- The header's logo: the council's logo (if any) and name.
function layout.header_logo()
  local site = layout.site()
  local name = site.name ~= "" and site.name or service_info.name
  local html = borough.escape(name)
  if site.logo then
    html = ('<img class="borough-header__logo" src="%s" alt="">%s'):format(borough.escape(site.logo), html)
  end
  return view.safe(html)
end

--- The link to the page in the other language: { href, text, lang }.
function layout.other_language()
  local other = i18n.lang() == "cy" and "en" or "cy"
  return { href = "?lang=" .. other, text = i18n.names[other], lang = other }
end

view.globals.url = borough.url
view.globals.site = layout.site
view.globals.service = layout.service
view.globals.assets = layout.assets
view.globals.header_logo = layout.header_logo
view.globals.other_language = layout.other_language

return layout
