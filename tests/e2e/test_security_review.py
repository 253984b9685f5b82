"""Findings of the security review of sign-in, sessions, CSRF, forms, row
rules, encrypted fields and downloads, each kept as a test against the real
server: CSV downloads that a spreadsheet would run as formulas."""
import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Client, Server, run, test  # noqa: E402

MODELS = r'''
local M = {}
M.items = borough.entity "items" {
  { "name", "text" },
  { "amount", "money" },
  { "count", "number" },
}
return M
'''

APP = r'''
local app = borough.app { title = "Review", mount = "/r", public = true }
local m = require "models"
local download = require "borough.download"
app:post("/items", { csrf = false }, function(req)
  local r, errors = m.items:create(json.decode(req.body))
  if not r then return borough.json({ errors = errors }, 422) end
  return borough.json(r)
end)
app:get("/items.csv", function(req) return m.items:download() end)
app:get("/raw.csv", function(req)
  return download.csv("raw.csv", { "a", "b" }, function(after)
    if after then return {} end
    return { { -5, "-5" }, { "@SUM(A1)", "\tx" }, { "\rx", "+1+1" } }, nil
  end)
end)
return app
'''

TREE = {"review": {"app.lua": APP, "models.lua": MODELS}}


def rows(body):
    return list(csv.reader(io.StringIO(body.decode(), newline="")))


@test
def csv_download_defuses_formulas():
    with Server(TREE) as s:
        c = Client(s.port)
        for doc in ({"name": "=HYPERLINK(\"http://evil.example\",\"x\")", "amount": "-12.50", "count": -3},
                    {"name": "plain", "amount": "4.00", "count": 7},
                    {"name": "-2+3", "amount": "0", "count": 0}):
            r = c.request("POST", "/r/items", {"Content-Type": "application/json"}, json_body(doc))
            assert r.status == 200, r.text()
        got = rows(c.get("/r/items.csv").body)
        assert got[0][:4] == ["id", "name", "amount", "count"], got[0]
        assert got[1][1:4] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "-12.50", "-3"], got[1]
        assert got[2][1:4] == ["plain", "4.00", "7"], got[2]
        assert got[3][1:4] == ["'-2+3", "0.00", "0"], got[3]
        got = rows(c.get("/r/raw.csv").body)
        assert got[1:] == [["-5", "-5"], ["'@SUM(A1)", "'\tx"], ["'\rx", "'+1+1"]], got


def json_body(doc):
    import json
    return json.dumps(doc).encode()


if __name__ == "__main__":
    run()
