-- __TITLE__: made by `borough new __NAME__`.
--
-- Routes go here; each handler prepares what its page shows and hands it
-- to a view in views/. Tests live in tests/ and `borough test __NAME__`
-- runs them. See docs/apps.md for routes, views, forms and the database.
local app = borough.app { title = "__TITLE__", mount = "/__NAME__", public = true }

app:get("/", function(req)
  return borough.view("index", { title = "__TITLE__" })
end)

return app
