-- A small app for the tests of lua/borough/workflow.lua: complaints that
-- are opened, answered within a service level, and closed. The pages are
-- generated (borough.pages) with the workflow's state, steps and history.
local app = borough.app { title = "Complaints", mount = "/complaints", roles = { "officer", "manager" } }
local models = require "models"

borough.pages(models.Complaints, {
  columns = { "subject", "state", "severity" }, fields = { "subject" }, workflow = models.ComplaintFlow,
  filters = { "state", "severity" },
}):mount(app, "/complaints")

return app
