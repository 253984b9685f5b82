-- Tests of lua/borough/chart.lua: the figures' structure, numbers, words
-- and refusals, exactly.
local t = require "borough.test"
local chart = require "borough.chart"

local function bar()
  return tostring(chart.bar { title = "Calls by team", summary = "Team A made most calls.",
    labels = { "Team A", "Team <B>" }, series = { { name = "Calls", values = { 1200, 350 } } } })
end

t.test("a bar chart is a figure with a caption, a summary, a labelled picture and its data", function()
  local html = bar()
  t.match(html, '^<figure class="borough%-chart" id="chart%-calls%-by%-team">')
  t.contains(html, '<figcaption class="govuk-heading-s borough-chart__title" id="chart-calls-by-team-title">Calls by team</figcaption>')
  t.contains(html, '<p class="govuk-body borough-chart__summary" id="chart-calls-by-team-summary">Team A made most calls.</p>')
  t.contains(html, 'role="img" aria-labelledby="chart-calls-by-team-title" aria-describedby="chart-calls-by-team-summary"')
  t.match(html, '<span class="govuk%-details__summary%-text">%s*Show the data%s*</span>')
  t.contains(html, '<caption class="govuk-table__caption govuk-visually-hidden">Calls by team</caption>')
  t.contains(html, '<th scope="row" class="govuk-table__header">Team &lt;B&gt;</th>')
  t.contains(html, '<td class="govuk-table__cell govuk-table__cell--numeric">1,200</td>')
  t.contains(html, '>Team &lt;B&gt;</text>')
  t.no_match(html, "<B>")
  t.no_match(html, "<script")
  t.no_match(html, "style=")
end)

t.test("bar lengths are in proportion to the values, from zero", function()
  local html = bar()
  local widths = {}
  for w in html:gmatch('<rect x="[%d.]+" y="[%d.]+" width="([%d.]+)" height="22"') do widths[#widths + 1] = tonumber(w) end
  t.eq(#widths, 2)
  t.ok(math.abs(widths[1] / widths[2] - 1200 / 350) < 0.01, ("%s / %s"):format(widths[1], widths[2]))
end)

t.test("grouped series have a legend and a pattern each; stacked bars show the total", function()
  local opts = { title = "Cases", summary = "Open and closed.", labels = { "A", "B" },
    series = { { name = "Open", values = { 3, 4 } }, { name = "Closed", values = { 5, 6 } } } }
  local grouped = tostring(chart.bar(opts))
  t.contains(grouped, '<pattern id="chart-cases-p2"')
  t.contains(grouped, 'fill="url(#chart-cases-p2)"')
  t.contains(grouped, '>Closed</text>')
  opts.stacked = true
  local stacked = tostring(chart.bar(opts))
  t.contains(stacked, ' font-weight="bold">8</text>')
  t.contains(stacked, ' font-weight="bold">10</text>')
  t.contains(stacked, '<th scope="col" class="govuk-table__header govuk-table__header--numeric">Total</th>')
end)

t.test("numbers are grouped, with a prefix and suffix", function()
  local html = tostring(chart.bar { title = "Paid", summary = "Paid so far.", prefix = "£", labels = { "Grants" },
    series = { { name = "Paid", values = { 1234567.5 } } } })
  t.contains(html, ">£1,234,567.5</td>")
  html = tostring(chart.bar { title = "Rate", summary = "Rate.", suffix = "%", labels = { "A" },
    series = { { values = { 12 } } } })
  t.contains(html, ">12%</td>")
end)

t.test("a line chart leaves a gap for a missing value and marks each series differently", function()
  local html = tostring(chart.line { title = "Weekly", summary = "Up.", labels = { "w1", "w2", "w3", "w4" },
    series = { { name = "Calls", values = { 1, 2, 3, 4 } }, { name = "Visits", values = { 1, db.NULL, 3, 4 } } } })
  local lines = {}
  for points in html:gmatch('<polyline points="([^"]+)"') do lines[#lines + 1] = points end
  t.eq(#lines, 2, "the gap leaves Visits one line of two points (a lone point is only a marker)")
  local _, n = lines[1]:gsub(",", "")
  t.eq(n, 4)
  t.contains(html, 'stroke-dasharray="8 4"')
  t.contains(html, '<rect x="')     -- the second series' square markers
  t.contains(html, '<td class="govuk-table__cell govuk-table__cell--numeric"></td>')
end)

t.test("a RAG summary counts items and says each colour in words", function()
  local html = tostring(chart.rag { title = "Projects", summary = "Mostly green.", items = {
    { label = "Library", status = "green" }, { label = "Bridge", status = "red" }, { label = "Park", status = "green" } } })
  t.contains(html, ">Red: 1</text>")
  t.contains(html, ">Amber: 0</text>")
  t.contains(html, ">Green: 2</text>")
  t.contains(html, '<th scope="row" class="govuk-table__header">Bridge</th>')
  t.contains(html, "<title>Green: 2</title>")
  html = tostring(chart.rag { title = "Nothing", summary = "None.", counts = {} })
  t.contains(html, ">None yet</text>")
end)

t.test("wrong options are refused with the caller's line", function()
  t.raises(function() chart.bar { summary = "x", labels = { "a" }, series = { { values = { 1 } } } } end, "title is required")
  t.raises(function() chart.bar { title = "x", labels = { "a" }, series = { { values = { 1 } } } } end, "summary is required")
  t.raises(function() chart.line { title = "x", summary = "y", labels = { "a" }, series = { { values = { "lots" } } } } end,
           'values must be numbers, not "lots"')
  t.raises(function() chart.rag { title = "x", summary = "y", items = { { label = "a", status = "blue" } } } end,
           'items[1].status must be "red", "amber" or "green"')
  t.raises(function() chart.rag { title = "x", summary = "y", counts = { red = -1 } } end, "counts.red must be a whole number")
  local ok, err = pcall(function() chart.bar { title = "x", labels = { "a" }, series = { { values = { 1 } } } } end)
  t.match(err, "chart_test%.lua:%d+: borough%.chart%.bar: summary is required")
end)

t.test("charts in a template, in English and Welsh", function()
  local r = t.get("/")
  t.eq(r.status, 200)
  t.contains(r.body, 'id="chart-cases-by-department"')
  t.contains(r.body, 'id="chart-all-cases-by-department"')
  t.contains(r.body, "Housing &amp; homelessness &lt;services&gt;")
  r = t.get("/?lang=cy")
  t.contains(r.body, "Dangos y data")
  t.contains(r.body, ">Coch: 2</text>")
end)
