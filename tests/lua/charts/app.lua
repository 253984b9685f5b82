-- A small app for the tests of lua/borough/chart.lua: one page with a bar,
-- a stacked bar, a line and a RAG chart made in a template, and the same
-- charts made in Lua, so both ways are tested and checked by axe.
local app = borough.app { title = "Charts", mount = "/charts", public = true }

local weeks = { "2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov", "7 Dec" }

app:get("/", function(req)
  return borough.view("charts", {
    title = "Charts",
    departments = { "Adult social care", "Housing & homelessness <services>", "Libraries" },
    open = { 120, 45, 3 }, closed = { 80, 30, 12 },
    weeks = weeks, calls = { 410, 380, 520, 610, 590, 640 }, visits = { 40, 55, nil, 70, 65, 90 },
  })
end)

app:get("/lua", function(req)
  return borough.view("lua", {
    title = "Charts from Lua",
    spend = borough.chart.bar { title = "Spend by scheme", summary = "Small business grants are most of the spend.",
      prefix = "£", labels = { "Small business grant", "Discretionary" },
      series = { { name = "Paid", values = { 38250000, 2975000.5 } } } },
    projects = borough.chart.rag { title = "Projects by status", summary = "Most projects are on track.",
      items = { { label = "New library", status = "green" }, { label = "Bridge repair", status = "red" },
                { label = "Digital front door", status = "amber" }, { label = "Parks", status = "green" } } },
  })
end)

return app
