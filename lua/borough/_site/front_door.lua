--- The site's front door (GET / when no app holds the root): the apps a
-- visitor may use, by title, each with the one line its manifest's
-- description gives: the public ones, and for a signed-in person also
-- those they hold a role in; a sign-in link for staff, and for the site's
-- admin a link to the console. The catalog is read again only when the
-- server publishes a new one, so an anonymous visit costs one page render.
local common = require "common"
local t = common.t

return function(req)
  local list = common.apps()
  local mine = req.user and common.P.my_apps() or {}
  local apps = {}
  for _, a in ipairs(list) do
    if not a.platform and a.mount and (a.public or mine[a.name]) then
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
