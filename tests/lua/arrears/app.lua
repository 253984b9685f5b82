-- A fixture app for the app API (tests/e2e/test_app_api.py): a council-tax
-- arrears service, as docs/apps.md has it: accounts imported, a link to a
-- questionnaire emailed to each resident, officers' pages with a workflow,
-- a download. Routes under /t/ exercise single functions for the tests.
local app = borough.app { title = "Council tax arrears", mount = "/arrears", roles = { "officer" } }
local m = require "models"
local Accounts = m.Accounts

-- The questionnaire: one question per page, under the emailed link. The
-- answers go into the imported record; sending them takes the workflow's
-- public step.
borough.flow {
  name = "questionnaire",
  entity = Accounts,
  record = function(req) return Accounts:find { token = req.params.token, state = "awaiting_answers" } end,
  pages = {
    { "income", question = "What is your monthly income?", hint = "Before tax, in pounds", required = true },
    { "can_pay", question = "Can you pay something each month?", required = true },
    { "plan", question = "How would you like to pay?", required = true,
      when = function(a) return a.can_pay == true end },
    { "note", question = "Is there anything else we should know?" },
  },
  submit = function(account) m.Cases:move(account, "answer", {}, { user = false }) end,
}:mount(app, "/q/:token", { public = true })

-- A flow with no entity: its pages give the questions and hints.
borough.flow {
  name = "callback",
  fields = { { "phone", "phone", required = true }, { "best_time", "choice", options = { "morning", "afternoon" } } },
  pages = {
    { "phone", question = "What number should we call?", hint = "A UK number" },
    { "best_time", question = "When is best to call?" },
  },
  submit = function() end,
}:mount(app, "/callback", { public = true })

borough.pages(Accounts, {
  title = "Accounts",
  columns = { "account_ref", "name", "state", "plan" },
  filters = { "state", "plan" },
  workflow = m.Cases,
}):mount(app, "/accounts", { role = "officer" })

-- A form whose fields cover every kind of input, for the error summary.
local Everything = borough.form {
  { "full_name", "text", required = true },
  { "pick_one", "choice", required = true, options = { "a", "b" } },
  { "pick_many_more", "choice", required = true, options = { "a", "b", "c", "d", "e", "f", "g" } },
  { "date_of_birth", "date", required = true },
  { "agree_terms", "boolean", required = true, as = "checkbox" },
  { "yes_or_no", "boolean", required = true },
  { "long_story", "long_text", required = true },
  { "money_owed", "money", required = true },
}
Everything:mount(app, "/everything", { public = true, title = "Everything",
  done = function(req, values) return borough.json(values) end })

-- A form of an entity that asks its fields in another order than the
-- entity declares them: errors are listed as the page has them.
borough.form(Accounts, { "name", "account_ref" }):mount(app, "/t/order", { public = true, redirect = "/t/order" })

app:get("/t/download", { role = "officer" }, function(req)
  local q = req.query
  local function list(s) if not s then return nil end local l = {} for w in s:gmatch("[^,]+") do l[#l + 1] = w end return l end
  return Accounts:download(nil, { columns = list(q.columns), exclude = list(q.exclude) })
end)

-- db.tx: nil, err rolls back (and returns them); values commit; inner
-- failures undo only the inner part.
db.exec("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
app:post("/t/tx", { public = true, csrf = false }, function(req)
  db.exec("DELETE FROM notes")
  local a, b = db.tx(function()
    db.exec("INSERT INTO notes (text) VALUES ('refused')")
    return nil, "not today"
  end)
  local c, d = db.tx(function()
    db.exec("INSERT INTO notes (text) VALUES ('kept')")
    local x, y = db.tx(function()
      db.exec("INSERT INTO notes (text) VALUES ('inner refused')")
      return false, { field = "why" }
    end)
    return "done", x == false and y.field
  end)
  local texts = {}
  for i, r in ipairs(db.query("SELECT text FROM notes ORDER BY rowid")) do texts[i] = r.text end
  return borough.json { first = { a == nil, b }, second = { c, d }, notes = json.array(texts) }
end)

-- A view's response, its status, headers and cookies set by the handler.
app:get("/t/view", { public = true }, function(req)
  local res = borough.view("borough/confirmation", { title = "Made", text = "ok" })
  res.status = 202
  res.headers["X-Made-By"] = "arrears"
  res.headers["Set-Cookie"] = { borough.cookie("seen", "yes", { max_age = 60 }), borough.cookie("old", nil) }
  return res
end)
app:get("/t/json", { public = true }, function(req)
  local res = borough.json({ ok = true })
  res.headers["Cache-Control"] = "no-store"
  return res
end)

-- Links: absolute ones (for emails) from the public URL, never the Host
-- header; borough.url never doubles the mount.
app:get("/t/url", { public = true }, function(req)
  return borough.json {
    link = borough.url("/q/" .. borough.urlencode("a b/c"), { absolute = true }),
    twice = borough.url(borough.url("/accounts")),
    query = borough.urlencode { q = "gr smi", page = 2, tag = { "a", "b" }, none = false },
  }
end)

return app
