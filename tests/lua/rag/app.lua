-- A fixture app for borough.rag and borough.returns (tests/rag_test.lua):
-- a tag in the page's language.
local app = borough.app { title = "RAG", mount = "/rag", public = true }

app:get("/tag/:rating", function(req)
  return borough.view("tag", { tag = borough.rag.tag(req.params.rating) })
end)

return app
