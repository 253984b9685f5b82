local t = require "borough.test"

t.test("the start page shows the service's name", function()
  local r = t.get("/")
  t.eq(r.status, 200)
  t.contains(r.body, '<h1 class="govuk-heading-xl">__TITLE__</h1>')
end)
