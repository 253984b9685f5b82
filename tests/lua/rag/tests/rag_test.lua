-- borough.rag (thresholds, the worst, tags) and borough.returns (deadlines in UK time).
local t = require "borough.test"
local rag, returns = borough.rag, borough.returns

t.test("a number is judged by its thresholds, in the direction that is good", function()
  local lower = { good = "lower", amber = 5, red = 10 }
  t.eq({ rag.judge(4, lower), rag.judge(5, lower), rag.judge(9.5, lower), rag.judge(10, lower) },
       { "green", "amber", "amber", "red" })
  local higher = { good = "higher", amber = 90, red = 75 }
  t.eq({ rag.judge(91, higher), rag.judge(90, higher), rag.judge(76, higher), rag.judge(75, higher) },
       { "green", "amber", "amber", "red" })
  t.eq(rag.judge(50, { good = "lower", red = 40 }), "red")            -- amber left out
  t.eq(rag.judge(30, { good = "lower", red = 40 }), "green")
  t.eq(rag.judge(nil, lower), nil)
  t.eq(rag.judge("7", lower), nil)                                    -- text is no number
  t.eq(rag.judge(7, { good = "lower" }), nil)                         -- no thresholds: no rating
  t.raises(function() rag.judge(7, { amber = 5 }) end, 'good must be "lower" or "higher"')
end)

t.test("the worst of several ratings, and counts", function()
  t.eq(rag.worst { "green", "amber", "green" }, "amber")
  t.eq(rag.worst({ "green", nil, "red" }, 3), "red")
  t.eq(rag.worst { "blue", "green" }, "green")
  t.eq(rag.worst {}, nil)
  t.eq(rag.count({ "red", "green", nil, "green", "x" }, 5), { red = 0 + 1, amber = 0, green = 2 })
end)

t.test("a rating is a tag that says its colour in words, in the page's language", function()
  local r = t.get("/tag/amber")
  t.match(r.body, '<strong class="govuk%-tag govuk%-tag%-%-orange">%s*Amber%s*</strong>')
  r = t.get("/tag/red?lang=cy")
  t.match(r.body, '<strong class="govuk%-tag govuk%-tag%-%-red">%s*Coch%s*</strong>')
  r = t.get("/tag/nothing?lang=en")
  t.match(r.body, '<strong class="govuk%-tag govuk%-tag%-%-grey">%s*None yet%s*</strong>')
end)

t.test("deadlines are UK time: GMT in winter, BST in summer", function()
  t.eq(returns.deadline("2024-01-15", "16:00"), "2024-01-15T16:00:00Z")
  t.eq(returns.deadline("2024-07-15", "16:00"), "2024-07-15T15:00:00Z")
  t.eq(returns.deadline("2024-03-31", "09:30"), "2024-03-31T08:30:00Z")   -- the day the clocks go forward
  t.eq(returns.deadline("2024-10-27", "00:30"), "2024-10-26T23:30:00Z")   -- and back (still BST at 00:30)
  t.eq(returns.deadline("2024-10-27", "16:00"), "2024-10-27T16:00:00Z")
  t.raises(function() returns.deadline("2024-01-15", "25:00") end, "a deadline is HH:MM")
  t.raises(function() returns.deadline("15/1/2024", "16:00") end, "a date is YYYY-MM-DD")
end)

t.test("a return is on time, late, due or missing", function()
  t.eq(returns.status("2024-07-15", "16:00", "2024-07-15T14:59:59Z"), "on_time")
  t.eq(returns.status("2024-07-15", "16:00", "2024-07-15T15:00:00Z"), "on_time")
  t.eq(returns.status("2024-07-15", "16:00", "2024-07-15T15:00:01Z"), "late")
  local noon = 1721044800                                          -- 2024-07-15T12:00:00Z
  t.eq(returns.status("2024-07-15", "16:00", nil, noon), "due")
  t.eq(returns.status("2024-07-15", "16:00", nil, noon + 4 * 3600), "missing")
end)

t.test("today in the UK, and the days before it", function()
  t.eq(returns.today(1721080800), "2024-07-15")                   -- 22:00 UTC, 23:00 BST
  t.eq(returns.today(1721087999), "2024-07-16")                   -- 23:59:59 UTC, 00:59:59 BST
  t.eq(returns.today(1705363199), "2024-01-15")                   -- 23:59:59 GMT
  t.eq(returns.days("2024-03-02", 3), { "2024-02-29", "2024-03-01", "2024-03-02" })
  t.eq(returns.days("2025-01-01", 2), { "2024-12-31", "2025-01-01" })
  t.eq(type(returns.today()), "string")
end)
