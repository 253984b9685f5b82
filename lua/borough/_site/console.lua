--- GET /_admin: the console's sections, each with what it is for.
local common = require "common"
local t = common.t

return function(req)
  local sections = {}
  for _, s in ipairs(common.SECTIONS) do
    sections[#sections + 1] = { title = t("admin.section." .. s.key), href = s.path,
                                text = t("admin.section." .. s.key .. ".text") }
  end
  return common.page(nil, "admin/index", { title = t("admin.service"), index = sections })
end
