-- The smallest complete borough app: two routes, one with a parameter.
-- Served at http://127.0.0.1:8080/hello/ by `make run`.
local app = borough.app { public = true, title = "Hello", mount = "/hello",
                          description = "The smallest borough app: a page and a greeting" }

app:get("/", function(req)
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    .. "<title>Hello</title><link rel=\"stylesheet\" href=\"static/hello.css\"></head>"
    .. "<body><main><h1>Hello, World!</h1>"
    .. "<p>This page comes from <code>apps/hello/app.lua</code>. "
    .. "Try <a href=\"greet/Ada\">greet/Ada</a>.</p></main></body></html>\n"
end)

app:get("/greet/:name", function(req)
  return borough.json { greeting = "Hello, " .. req.params.name .. "!" }
end)

return app
