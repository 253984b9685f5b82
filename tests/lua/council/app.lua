-- The fixture of the building blocks council apps share (tests/e2e/test_grants.py
-- runs its tests): bank details, single-use links, budgets, payment runs,
-- flags, questions as data in a flow, imports that update, and groups kept
-- apart by membership.
local app = borough.app { title = "Council pieces", mount = "/council",
                          roles = { "officer", "checker", "auditor", "coordinator" } }
local m = require "models"

borough.flow {
  name = "ask", entity = m.Cases, record = function(req)
    local id, why = borough.links.find("ask", req.params.token)
    if not id then return nil, borough.links.page(why, { contact = "Call 0300 123 4567." }) end
    return m.Cases:find(id)
  end,
  answers = "answers",
  pages = function(req, case)
    local list = json.decode(case.questions or "[]")
    local pages = borough.questions.pages(list, { title = "You cannot apply" })
    pages[#pages + 1] = { name = "bank", title = "Bank details", fields = { "sort_code", "account_number" } }
    return pages, "case-" .. case.id .. "-" .. case.updated_at
  end,
  submit = function(case, req)
    if case.sort_code == "000000" then return nil, "That sort code is not taken" end
    borough.links.use("ask", case.id)
  end,
}:mount(app, "/ask/:token", { public = true })


borough.pages(m.Cases, { columns = { "name", "team", "state" }, filters = { "team", "state" }, workflow = m.Flow })
  :mount(app, "/cases", { role = { "officer", "checker" } })

borough.pages(m.Notes, { columns = { "text", "team" } }):mount(app, "/notes")
m.Access:mount(app, "/teams", { back = function() return "/notes" end })

return app
