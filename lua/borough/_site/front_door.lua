--- The site's front door (GET / when no app holds the root): the apps a
-- visitor may use, by title, each with the one line its manifest's
-- description gives: those whose start page is public, and for a
-- signed-in person also those they hold a role in; a sign-in link for staff, and for the site's
-- admin a link to the console.
--
-- It is every newcomer's first page, so an anonymous visit is cheap: the
-- page an anonymous visitor sees depends only on the catalog and the
-- language, and is made once for each until the server publishes a new
-- catalog.
local common = require "common"
local i18n = require "borough.i18n"
local t = common.t

local anonymous, anonymous_version = {}, nil

local function page(req, list, mine)
  local apps = {}
  for _, a in ipairs(list) do
    if not a.platform and a.mount and (a.open_start or mine[a.name]) then
      apps[#apps + 1] = {
        title = a.title, description = a.description, serving = a.serving,
        href = a.mount == "/" and "/" or (a.mount .. "/"),
      }
    end
  end
  table.sort(apps, function(x, y) return x.title:lower() < y.title:lower() end)
  return common.front("front_door", {
    title = t("site.title"), apps = apps, me = req.user,
    console_href = req.user and req.user.roles.admin and "/_admin" or nil,
    sign_in_href = "/_account/sign-in",
  })
end

return function(req)
  local list, _, version = common.apps()
  if req.user then return page(req, list, common.P.my_apps()) end
  if version ~= anonymous_version then anonymous, anonymous_version = {}, version end
  local lang = i18n.lang()
  local body = anonymous[lang]
  if not body then
    body = page(req, list, {}).body
    anonymous[lang] = body
  end
  return borough.status(200, body)
end
