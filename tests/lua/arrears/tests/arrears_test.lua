-- Tests of the app API on the arrears fixture app: the app a newcomer writes
-- from docs/apps.md, and what the platform does for it.
local t = require "borough.test"
local m = require "models"
local Accounts = m.Accounts

local CSV = "account_ref,name,email,token\n"
  .. "CT-1001,Ann Example,ann@example.org,tok-ann\n"
  .. "CT-1002,Bob Example,bob@example.org,tok-bob\n"
  .. "CT-1003,Cat Example,cat@example.org,tok-cat\n"

local function ids_and_summary(body)
  local ids = {}
  for id in body:gmatch(' id="([^"]+)"') do ids[id] = true end
  local summary = body:match('<div class="govuk%-error%-summary.-</ul>') or ""
  local hrefs = {}
  for href in summary:gmatch('<a href="#([^"]+)"') do hrefs[#hrefs + 1] = href end
  return ids, hrefs
end

t.test("accounts are imported before anyone has answered: the questionnaire's fields may be empty", function()
  local summary = t.ok(Accounts:import(CSV))
  t.eq(summary.imported, 3)
  local ann = Accounts:find { account_ref = "CT-1001" }
  t.eq(ann.income, nil)
  t.eq(ann.state, "awaiting_answers")
end)

t.test("the emailed link leads straight into the questionnaire, its links holding the token", function()
  local r = t.get("/q/tok-ann")
  t.eq(r.status, 302)
  t.eq(r:header("location"), "/arrears/q/tok-ann/income")
  local page = t.get("/q/tok-ann/income")
  t.eq(page.status, 200)
  t.contains(page.body, 'action="/arrears/q/tok-ann/income"')
  t.no_match(page.body, ":token")
  t.contains(page.body, "What is your monthly income?")
  t.contains(page.body, "Before tax, in pounds")
  -- an unknown or spent token has no questionnaire
  t.eq(t.get("/q/tok-nobody").status, 404)
  t.eq(t.get("/q/tok-nobody/income").status, 404)
end)

t.test("a question the form requires must be answered, though the entity may be without it", function()
  local page = t.get("/q/tok-ann/income")
  local r = t.submit(page, { income = "" })
  t.eq(r.status, 200)
  t.contains(r.body, '<a href="#income">Enter monthly income</a>')
  t.contains(r.body, "<title>Error: What is your monthly income?")
end)

t.test("a second person's link in the same browser never shows the first one's answers", function()
  local r = t.submit(t.get("/q/tok-ann/income"), { income = "1234.56" })
  t.eq(r.status, 303)
  t.eq(r:header("location"), "/arrears/q/tok-ann/can-pay")
  t.contains(r:header("set-cookie"), "; Path=/arrears/q/tok-ann; ")
  t.contains(t.get("/q/tok-ann/income").body, 'value="1234.56"')
  -- the same browser (the same cookies), another token: no answers
  local other = t.get("/q/tok-bob/income")
  t.eq(other.status, 200)
  t.no_match(other.body, "1234")
  t.eq(t.get("/q/tok-bob"):header("location"), "/arrears/q/tok-bob/income")
  t.eq(t.get("/q/tok-bob/check"):header("location"), "/arrears/q/tok-bob/income")
end)

t.test("check answers says Not provided for an optional question left empty, in Welsh too", function()
  t.submit(t.get("/q/tok-cat/income"), { income = "900" })
  local r = t.submit(t.get("/q/tok-cat/can-pay"), { can_pay = "yes" })
  t.eq(r:header("location"), "/arrears/q/tok-cat/plan")
  t.submit(t.get("/q/tok-cat/plan"), { plan = "weekly" })
  r = t.submit(t.get("/q/tok-cat/note"), { note = "" })
  t.eq(r:header("location"), "/arrears/q/tok-cat/check")
  local check = t.get("/q/tok-cat/check")
  t.contains(check.body, "Weekly payments")             -- a choice by its label
  t.contains(check.body, "£900")
  t.match(check.body, "Is there anything else we should know%?.-Not provided")
  t.contains(t.get("/q/tok-cat/check?lang=cy").body, "Heb ei ddarparu")
  t.contains(check.body, 'href="/arrears/q/tok-cat/note?change=1"')
  -- Sending changes the imported record, takes the workflow's public step,
  -- and spends the link.
  r = t.submit(check, {})
  t.eq(r.status, 303)
  t.eq(r:header("location"), "/arrears/q/tok-cat/done")
  t.contains(t.get("/q/tok-cat/done").body, "govuk-panel")
  local cat = Accounts:find { account_ref = "CT-1003" }
  t.eq({ cat.income, cat.can_pay, cat.plan, cat.state }, { 90000, true, "weekly", "answered" })
  t.eq(m.Cases:history(cat)[1].step, "answer")
  t.eq(t.get("/q/tok-cat/income").status, 404)
end)

t.test("a flow without an entity shows its pages' questions and hints", function()
  local page = t.get("/callback/phone")
  t.contains(page.body, "What number should we call?")
  t.contains(page.body, "A UK number")
  local r = t.submit(page, { phone = "" })
  t.contains(r.body, '<a href="#phone">Enter phone</a>')
end)

t.test("every link of the error summary goes to an input of the page, in the order of the page", function()
  local page = t.get("/everything")
  local r = t.submit(page, { pick_one = "", yes_or_no = "" })
  local ids, hrefs = ids_and_summary(r.body)
  t.eq(hrefs, { "full-name", "pick-one", "pick-many-more", "date-of-birth-day", "yes-or-no", "long-story",
                "money-owed" })
  for _, href in ipairs(hrefs) do t.ok(ids[href], "#" .. href .. " is an element of the page") end
  -- the first input of radios, a checkbox and a date has that id
  t.contains(r.body, '<input class="govuk-radios__input" id="pick-one" name="pick_one" type="radio" value="a"')
  t.contains(r.body, '<input class="govuk-checkboxes__input" id="agree-terms" name="agree_terms" type="checkbox"')
  t.match(r.body, '<input class="govuk%-input govuk%-date%-input__input[^"]*" id="date%-of%-birth%-day"')
  -- an error found after the others (a field given, but wrong) still comes in the page's order
  r = t.submit(page, { full_name = "Ann", money_owed = "lots", date_of_birth_day = "31", date_of_birth_month = "2",
                       date_of_birth_year = "2001" })
  _, hrefs = ids_and_summary(r.body)
  t.eq(hrefs[1], "pick-one")
  t.eq(hrefs[#hrefs], "money-owed")
  -- a form asking an entity's fields in its own order lists them in that order
  _, hrefs = ids_and_summary(t.submit(t.get("/t/order"), {}).body)
  t.eq(hrefs, { "name", "account-ref" })
end)

t.test("display gives plain text for messages, display_html escaped HTML for pages", function()
  local f = Accounts.field
  t.eq(borough.form.display(f.income, 125050), "£1,250.50")
  t.eq(borough.form.display(f.plan, "monthly"), "Monthly payments")
  t.eq(borough.form.display(f.can_pay, false), "No")
  t.eq(borough.form.display(f.note, "a < b\nc"), "a < b\nc")
  t.eq(tostring(borough.form.display_html(f.note, "a < b\nc")), "a &lt; b<br>c")
  t.eq(borough.form.display(f.note, nil), "")
end)

t.test("the officers' list shows labels, and filters by state and plan", function()
  t.login("olu@example.org", { roles = { "officer" } })
  local ann = Accounts:find { account_ref = "CT-1001" }
  Accounts:update(ann.id, { plan = "monthly" })
  local list = t.get("/accounts")
  t.contains(list.body, "Awaiting answers")
  t.contains(list.body, "Monthly payments")
  t.no_match(list.body, "awaiting_answers<")
  local filtered = t.get("/accounts?state=answered")
  t.contains(filtered.body, ">CT-1003<")
  t.no_match(filtered.body, "CT-1001")
  t.contains(filtered.body, '<option value="plan_agreed">Plan agreed</option>')
  t.contains(t.get("/accounts?plan=monthly").body, "CT-1001")
  t.no_match(t.get("/accounts?plan=monthly").body, "CT-1003")
  -- the record's page leaves the secret out; the list never had it
  local show = t.get("/accounts/" .. ann.id)
  t.no_match(show.body, "tok%-ann")
end)

t.test("downloads leave a secret field out unless named, and take the columns asked for", function()
  t.login("olu@example.org", { roles = { "officer" } })
  local r = t.get("/t/download")
  t.eq(r.status, 200)
  local header = r.body:match("^[^\r\n]*")
  t.eq(header, "id,account_ref,name,email,income,can_pay,plan,note,state,created_at,updated_at")
  t.no_match(r.body, "tok%-")
  r = t.get("/t/download?columns=account_ref,token")
  t.eq(r.body:match("^[^\r\n]*"), "account_ref,token")
  t.contains(r.body, "CT-1002,tok-bob")
  r = t.get("/t/download?exclude=email,note,income")
  t.eq(r.body:match("^[^\r\n]*"), "id,account_ref,name,can_pay,plan,state,created_at,updated_at")
  t.raises(function() Accounts:download(nil, { colums = { "name" } }) end, "accounts:download: unknown option 'colums'")
  t.raises(function() Accounts:csv(nil, { columns = { "nope" } }) end, "accounts:csv: accounts has no field 'nope'")
  t.raises(function() Accounts:import(CSV, { skip_bad_row = true }) end, "accounts:import: unknown option 'skip_bad_row'")
end)

t.test("db.tx rolls back on nil, err and returns them; an inner failure undoes only the inner part", function()
  local r = t.post("/t/tx", {})
  t.eq(r:json(), { first = { true, "not today" }, second = { "done", "why" }, notes = { "kept" } })
end)

t.test("a view's response: the handler sets its status, headers and cookies", function()
  local r = t.get("/t/view")
  t.eq(r.status, 202)
  t.eq(r:header("x-made-by"), "arrears")
  t.contains(r:header("set-cookie"), "seen=yes; Path=/arrears; Max-Age=60; HttpOnly; SameSite=Lax")
  t.contains(r:header("set-cookie"), "old=; Path=/arrears; Max-Age=0; HttpOnly; SameSite=Lax")
  t.contains(r.body, "<title>Made - Council tax arrears</title>")
  r = t.get("/t/json")
  t.eq(r:header("cache-control"), "no-store")
  t.eq(r:json(), { ok = true })
  t.raises(function() borough.cookie("bad name", "x") end, "borough.cookie: the name must be")
  t.raises(function() borough.cookie("n", "a;b") end, "the value must be text without")
  t.raises(function() borough.cookie("n", "v", { maxage = 1 }) end, "borough.cookie: unknown option 'maxage'")
end)

t.test("absolute links come from the public URL, never the Host header; borough.url never doubles the mount", function()
  local r = t.get("/t/url", { headers = { Host = "evil.example" } })
  local v = r:json()
  t.match(v.link, "^http://127%.0%.0%.1:%d+/arrears/q/a%%20b%%2Fc$")
  t.eq(v.twice, "/arrears/accounts")
  t.eq(v.query, "page=2&q=gr%20smi&tag=a&tag=b")
  t.raises(function() borough.url("/x", { absolute = true }) end, "an absolute URL is made while a request or a job runs")
  t.raises(function() borough.url("/x", { absolut = true }) end, "borough.url: unknown option 'absolut'")
end)
