-- borough.questions, and borough.flow with pages decided per record:
-- questions kept as data, asked one a page, with the "you cannot apply"
-- page for an ineligible answer, answers kept as JSON, a record's values
-- prefilled, and submit refusing.
local t = require "borough.test"
local questions = borough.questions
local links = borough.links
local m = require "models"

local QUESTIONS = {
  { name = "trading", type = "boolean", question = "Was the business trading on 11 March 2020?",
    ineligible = { "No" }, reason = "Only a business that was trading then can apply.\nTry the discretionary grant instead." },
  { name = "sector", type = "choice", question = "What does the business do?", options = { "Retail", "Hospitality", "Other" } },
  { name = "staff", type = "integer", question = "How many people work there?", label = "Number of staff", min = 0, max = 250 },
}

t.test("questions are checked as data", function()
  t.eq(questions.check(QUESTIONS), QUESTIONS)
  for _, c in ipairs {
    { { { name = "x", type = "colour", question = "?" } }, "Question 1: type must be one of" },
    { { { name = "X", type = "text", question = "?" } }, "Question 1: name must be lower-case" },
    { { { name = "x", type = "choice", question = "Which?" } }, "Question 1: a choice needs options" },
    { { { name = "x", type = "text", question = "Which?", ineligible = { "a" }, reason = "r" } },
      "Question 1: only yes or no and choice questions can have ineligible answers" },
    { { { name = "x", type = "boolean", question = "Which?", ineligible = { "maybe" }, reason = "r" } },
      "Question 1: 'maybe' is not an answer to this question" },
    { { { name = "x", type = "boolean", question = "Which?", ineligible = { "no" } } }, "Question 1: say why" },
    { { { name = "name", type = "text", question = "Name?" } }, "Question 1: the name name is taken" },
    { { { name = "x", type = "text", question = "Q", colour = "red" } }, "Question 1: unknown key 'colour'" },
  } do
    local ok, why = questions.check(c[1], { taken = { "name" } })
    t.eq(ok, nil)
    t.contains(why, c[2])
  end
end)

t.test("a question is added from the form's values, named from its words", function()
  local list = assert(questions.add({}, { question = "Was the business trading?", type = "boolean", ineligible = "No",
                                          reason = "Only then." }))
  t.eq(list[1].name, "business_trading")
  t.eq(list[1].ineligible, { "No" })
  list = assert(questions.add(list, { question = "Was the business trading?", type = "choice", options = "A\n\nB\n" }))
  t.eq(list[2].name, "business_trading_2")
  t.eq(list[2].options, { "A", "B" })
  local bad, errors = questions.add(list, { question = "Which?", type = "choice" })
  t.eq(bad, nil)
  t.eq(errors.options, "A choice needs options")
  t.eq(#questions.remove(list, "business_trading"), 1)
  t.eq(questions.describe(list[1]), "Yes or no. Cannot go on: No")
end)

local function case_with_link()
  local case = assert(m.Cases:create { name = "Ada's Cafe", sort_code = "089999", questions = json.encode(QUESTIONS) })
  return case, links.new("ask", case.id)
end

t.test("the questions are asked one a page; an ineligible answer shows why and goes no further", function()
  local case, token = case_with_link()
  local base = "/ask/" .. token
  local r = t.get(base)
  t.eq(r:header("location"), "/council" .. base .. "/trading")
  r = t.get(base .. "/trading")
  t.contains(r.body, "Was the business trading on 11 March 2020?")
  r = t.submit(r, {})
  t.eq(r.status, 200)
  t.contains(r.body, "Select an answer")
  r = t.submit(t.get(base .. "/trading"), { trading = "no" })
  t.eq(r:header("location"), "/council" .. base .. "/trading/stop")
  r = t.get(base .. "/trading/stop")
  t.contains(r.body, "You cannot apply")
  t.contains(r.body, "<p class=\"govuk-body\">Try the discretionary grant instead.</p>")
  t.contains(r.body, base .. "/trading?change=1")
  t.eq(t.get(base .. "/sector"):header("location"), "/council" .. base .. "/trading/stop", "no further")
  t.eq(t.get(base .. "/check"):header("location"), "/council" .. base .. "/trading/stop")
  -- changing the answer goes on
  r = t.submit(t.get(base .. "/trading?change=1"), { trading = "yes" })
  t.eq(t.get(base .. "/trading/stop"):header("location"), "/council" .. base)
end)

t.test("answers go into the record: the entity's fields, and the questions' as JSON; the link is spent", function()
  local case, token = case_with_link()
  local base = "/ask/" .. token
  t.submit(t.get(base .. "/trading"), { trading = "yes" })
  t.submit(t.get(base .. "/sector"), { sector = "Hospitality" })
  local r = t.submit(t.get(base .. "/staff"), { staff = "300" })
  t.contains(r.body, "Number of staff must be between 0 and 250")
  t.submit(t.get(base .. "/staff"), { staff = "12" })
  local bank = t.get(base .. "/bank")
  t.contains(bank.body, 'value="089999"', "the record's sort code is there already")
  r = t.submit(bank, { account_number = "66374959" })
  t.contains(r.body, "Enter a valid combination of sort code and account number")
  t.submit(bank, { account_number = "66374958" })
  r = t.get(base .. "/check")
  t.contains(r.body, "Hospitality")
  t.contains(r.body, "12")
  r = t.submit(r, {})
  t.eq(r:header("location"), "/council" .. base .. "/done")
  local now = m.Cases:find(case.id)
  t.eq(json.decode(now.answers), { trading = true, sector = "Hospitality", staff = 12 })
  t.eq(now.account_number, "66374958")
  t.eq(t.get(base .. "/trading").status, 410, "used")
end)

t.test("a submit that returns nil and a message undoes everything and says why", function()
  local case, token = case_with_link()
  m.Cases:update(case.id, { sort_code = "000000" })
  local base = "/ask/" .. token
  t.submit(t.get(base .. "/trading"), { trading = "yes" })
  t.submit(t.get(base .. "/sector"), { sector = "Retail" })
  t.submit(t.get(base .. "/staff"), { staff = "1" })
  t.submit(t.get(base .. "/bank"), { account_number = "12345678" })
  local r = t.submit(t.get(base .. "/check"), {})
  t.eq(r.status, 200)
  t.contains(r.body, "That sort code is not taken")
  t.eq(m.Cases:find(case.id).answers, nil, "nothing kept")
  t.eq(links.find("ask", token), case.id, "the link still works")
end)

t.test("the pages follow the record's questions as they change, with no reload", function()
  local case, token = case_with_link()
  m.Cases:update(case.id, { questions = json.encode({ { name = "colour", type = "text", question = "Favourite colour?" } }) })
  local r = t.get("/ask/" .. token)
  t.eq(r:header("location"), "/council/ask/" .. token .. "/colour")
  t.eq(t.get("/ask/" .. token .. "/trading").status, 404)
end)

t.test("a record's answers kept before (a no among them) open the pages already given", function()
  local case, token = case_with_link()
  m.Cases:update(case.id, { answers = json.encode({ trading = false, sector = "Retail" }) })
  local page = t.get("/ask/" .. token .. "/trading")
  t.match(page.body, 'id="trading%-2" name="trading" type="radio" value="no" checked')
  t.match(t.get("/ask/" .. token .. "/sector").body, 'value="Retail" checked')
end)
