"""The app the form tests use (test_forms_flow.py, test_a11y.py): an entity
with a field of most types behind generated pages, a standalone form, and a
one-thing-per-page flow with a conditional question and a reference."""

MODELS = r'''
local M = {}

M.Residents = borough.entity "residents" {
  label = "resident",
  search = { "first_name", "last_name" },
  { "first_name", "text", required = true, max_length = 50 },
  { "last_name", "text", required = true, max_length = 50 },
  { "date_of_birth", "date", max = "today" },
  { "email", "email" },
  { "phone", "phone" },
  { "postcode", "postcode" },
  { "grant", "money", max = "£500" },
  { "support", "choice", options = { "food", "medicine", "both" } },
  { "shielding", "boolean" },
  { "notes", "long_text" },
}

M.Applications = borough.entity "applications" {
  { "reference", "text", unique = true },
  { "full_name", "text", required = true, label = "Full name" },
  { "date_of_birth", "date", required = true, max = "today" },
  { "needs_help", "boolean", required = true, label = "Whether you need help" },
  { "help", "choice", options = { "Food", "Medicine", 'A "quoted" <b>choice</b> & more' }, label = "Help" },
  { "amount", "money", max = "£500" },
  { "details", "long_text", max_length = 500 },
}

-- Row rules: a person sees and changes only the north team's cases.
M.Cases = borough.entity "cases" {
  rules = {
    read = function(user) return { team = "north" } end,
    update = function(user, new) return new.team == "north" end,
  },
  { "title", "text", required = true },
  { "team", "choice", required = true, options = { "north", "south" } },
}

return M
'''

APP = r'''
local app = borough.app { public = true, title = "Forms & <pages>", mount = "/fx", roles = { "staff" } }
local M = require "models"

borough.pages(M.Residents, {
  title = "Residents", per_page = 3, delete = true,
  columns = { "last_name", "first_name", "postcode", "grant" },
  fields = { "first_name", "last_name", { "date_of_birth", hint = "For example, 27 3 1980" },
             "email", "phone", "postcode", "grant", "support", { "shielding", as = "checkbox", question = "Shielding" },
             "notes" },
}):mount(app, "/residents", { role = "staff" })

local Contact = borough.form {
  { "name", "text", required = true, question = "What is your name?", autocomplete = "name" },
  { "amount", "money", required = true, label = "Amount" },
}
Contact:mount(app, "/contact", { title = "Contact us", public = true,
  done = function(req, values) return borough.json(values) end })

borough.flow {
  name = "apply", entity = M.Applications, reference = "reference",
  pages = {
    { name = "name", title = "Your name", fields = { { "full_name", autocomplete = "name" } } },
    { "date_of_birth", question = "What is your date of birth?" },
    { "needs_help", question = "Do you need help?" },
    { "help", question = "What help do you need?", when = function(a) return a.needs_help == true end },
    { "amount", question = "How much do you need?" },
    { "details", question = "Tell us more" },
  },
  check = { title = "Check your answers", submit = "Send application" },
  done = { title = "Application sent", text = "We will contact you." },
}:mount(app, "/apply", { public = true })

local Evidence = borough.form {
  { "evidence", "file", required = true, question = "Upload your evidence",
    files = { max = 2000, types = { "png", "pdf" } } },
}
Evidence:mount(app, "/evidence", { title = "Evidence", public = true,
  done = function(req, values) return borough.json(values) end })

borough.pages(M.Cases, { columns = { "title", "team" } }):mount(app, "/cases", { role = "staff" })

-- A flow that keeps no entity: its own fields, and what to do when sent.
db.exec("CREATE TABLE IF NOT EXISTS survey (reference TEXT, colour TEXT, reason TEXT)")
borough.flow {
  name = "survey",
  fields = { { "colour", "choice", required = true, options = { "Red", "Blue" }, question = "Which colour?" },
             { "reason", "text", max_length = 20, question = "Why?" } },
  pages = { "colour", "reason" },
  submit = function(values, req, reference)
    db.exec("INSERT INTO survey (reference, colour, reason) VALUES (?, ?, ?)", reference, values.colour, values.reason)
  end,
}:mount(app, "/survey", { public = true })

return app
'''

TREE = {"fx": {"app.lua": APP, "models.lua": MODELS}}
