-- The benchmark app of ../shared/bench/SPEC.md: the same four workloads the
-- nginx+Lua and Node.js anchors serve, doing the same work (a real SQLite
-- query per request, real escaping, no caching).
local app = borough.app { title = "Bench", mount = "/", public = true }

app:get("/hello", function(req)
  return borough.text("Hello, World!")
end)

app:get("/residents/:id", function(req)
  local id = req.params.id
  if not id:match("^%d+$") then return borough.status(404) end
  local r = db.one("SELECT id, name, postcode, vulnerable FROM residents WHERE id = ?", tonumber(id))
  if not r then return borough.status(404) end
  return borough.json(r)
end)

local escape = borough.escape

app:get("/residents", function(req)
  local n = tonumber((req.query.page or ""):match("^%d+")) or 1
  if n < 1 then n = 1 end
  local rows = db.query("SELECT id, name, postcode, vulnerable FROM residents ORDER BY id LIMIT 50 OFFSET ?",
    (n - 1) * 50)
  local out = { '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Residents page ', n,
    '</title></head><body>\n<table>\n<tr><th>id</th><th>name</th><th>postcode</th><th>vulnerable</th></tr>\n' }
  for i = 1, #rows do
    local r = rows[i]
    out[#out + 1] = "<tr><td>" .. r.id .. "</td><td>" .. escape(r.name) .. "</td><td>" .. escape(r.postcode)
      .. "</td><td>" .. (r.vulnerable == 1 and "yes" or "no") .. "</td></tr>\n"
  end
  out[#out + 1] = "</table>\n</body></html>\n"
  return { headers = { ["Content-Type"] = "text/html; charset=utf-8" }, body = table.concat(out) }
end)

app:post("/referrals", { csrf = false }, function(req)
  local f = req.form
  local rid, kind = f.resident_id, f.kind
  if not (rid and rid:match("^%d+$")) or not kind then return borough.status(400) end
  local _, id = db.exec("INSERT INTO referrals (resident_id, kind, note, created_at) "
    .. "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", tonumber(rid), kind, f.note or "")
  return borough.redirect("/referrals/" .. id, 303)
end)

return app
