-- A small app for the tests of lua/borough/workflow.lua: complaints that
-- are opened, answered within a service level, and closed.
local app = borough.app { title = "Complaints", mount = "/complaints", roles = { "officer", "manager" } }
local models = require "models"
local Flow = models.ComplaintFlow

app:get("/complaints/:id", function(req)
  local c = models.Complaints:find(req.params.id)
  if not c then return borough.status(404) end
  return borough.view("show", { c = c, tag = Flow:tag(c), buttons = Flow:buttons(c), history = Flow:history_table(c) })
end)

Flow:routes(app)

return app
