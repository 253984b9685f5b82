local t = require "borough.test"
local Feedback = require("models").Feedback

-- Answers one question page: GETs it, fills in its form, returns the response.
local function answer(client, page, fields)
  local r = client:get("/feedback/" .. page)
  t.eq(r.status, 200, page)
  return client:submit(r, fields)
end

t.test("the start page links to the form", function()
  local r = t.get("/")
  t.eq(r.status, 200)
  t.contains(r.body, "Give feedback on a council service")
  t.contains(r.body, 'href="/tutorial/feedback"')
end)

t.test("a question left empty shows the error summary, linked to the field", function()
  local r = t.get("/feedback/service")
  t.contains(r.body, "Which service do you want to give feedback on?")
  r = t.submit(r, {})
  t.eq(r.status, 200)
  t.contains(r.body, "There is a problem")
  t.contains(r.body, '<a href="#service">Select service</a>')
  t.contains(r.body, "<title>Error: ")
end)

t.test("feedback is sent after checking the answers, with a reference", function()
  local c = t.client()
  t.eq(answer(c, "service", { service = "Libraries" }):header("location"), "/tutorial/feedback/rating")
  t.eq(answer(c, "rating", { rating = "Satisfied" }).status, 303)
  t.eq(answer(c, "comments", { comments = "More opening hours, please." }).status, 303)
  t.eq(answer(c, "email", {}):header("location"), "/tutorial/feedback/check")

  local check = c:get("/feedback/check")
  t.contains(check.body, "Check your answers before sending your feedback")
  t.contains(check.body, "More opening hours, please.")
  t.contains(check.body, 'Change<span class="govuk-visually-hidden"> rating</span>')

  -- Change an answer: back to check answers afterwards.
  local r = c:get("/feedback/rating?change=1")
  r = c:submit(r, { rating = "Very satisfied" })
  t.eq(r:header("location"), "/tutorial/feedback/check")

  r = c:submit(c:get("/feedback/check"), {})
  t.eq(r:header("location"), "/tutorial/feedback/done")
  local done = c:get("/feedback/done")
  t.contains(done.body, "Feedback sent")
  local ref = done.body:match("<strong>(%u%u%u%d%d%d%d%u)</strong>")
  t.ok(ref, "a reference like HDJ2123F")

  local saved = Feedback:find { reference = ref }
  t.eq(saved.rating, "Very satisfied")
  t.eq(saved.service, "Libraries")
  t.eq(db.one("SELECT count(*) AS n FROM _borough_drafts").n, 0)
end)

t.test("staff pages ask for sign-in; the form does not", function()
  t.eq(t.get("/feedback/service").status, 200)
  local r = t.get("/responses")
  t.eq(r.status, 303)
  t.match(r:header("location"), "^/tutorial/_account/sign%-in")
end)

t.test("staff see the feedback in a list, and each response", function()
  t.login("sam.staff@example.gov.uk", { roles = { "staff" } })
  local f = Feedback:create { reference = "ABC1234D", service = "Parking", rating = "Dissatisfied",
                              comments = "Not enough spaces" }
  local list = t.get("/responses")
  t.eq(list.status, 200)
  t.contains(list.body, "ABC1234D")
  t.match(list.body, "%d+ %a+ %d%d%d%d at %d+:%d%d[ap]m")      -- when it was sent, in UK time
  t.contains(t.get("/responses?q=spaces").body, "ABC1234D")
  local one = t.get("/responses/" .. f.id)
  t.contains(one.body, "Not enough spaces")
  local r = t.submit(t.get("/responses/" .. f.id .. "/edit"), { notes = "Passed to the parking team" })
  t.eq(r.status, 303)
  t.eq(Feedback:find(f.id).notes, "Passed to the parking team")
end)
