-- The shielding benchmark app: a paged list and a search over the
-- residents imported from tools/gen_shielding.py (docs/performance.md).
local app = borough.app { title = "Shielding list", mount = "/shielding", public = true }
local Residents = require("models").Residents

app:get("/residents", function(req)
  local order = req.query.order == "id" and "id" or { "last_name", "first_name" }   -- the index's order
  local list, page = Residents:where({}, { order = order, page = req.query.page, after = req.query.after })
  return borough.json({ residents = list, page = page })
end)

app:get("/search", function(req)
  local list, page = Residents:search(req.query.q or "", { page = req.query.page })
  return borough.json({ residents = list, page = page })
end)

return app
