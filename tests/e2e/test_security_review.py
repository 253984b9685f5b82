"""Findings of the security review of sign-in, sessions, CSRF, forms, row
rules, encrypted fields and downloads, each kept as a test against the real
server: CSV downloads that a spreadsheet would run as formulas; sign-in
attempts sent all at once, which must not get past the throttle; drafts of
a flow whose entity has encrypted fields; generated edit pages of a
workflow's entity."""
import csv
import io
import os
import re
import subprocess
import sys
import threading
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from formlib import Browser  # noqa: E402
from lib import BOROUGH, Client, Server, execute, query, run, staff_cookie, test  # noqa: E402

MODELS = r'''
local M = {}
M.items = borough.entity "items" {
  { "name", "text" },
  { "amount", "money" },
  { "count", "number" },
}
M.referrals = borough.entity "referrals" {
  { "reference", "text" },
  { "full_name", "text", required = true },
  { "nhs_number", "nhs_number", encrypted = true, lookup = true, label = "NHS number" },
}
M.cases = borough.entity "cases" {
  { "subject", "text", required = true },
  { "outcome", "text" },
  { "state", "text" },
  { "due_at", "datetime" },
}
M.flow = borough.workflow {
  entity = M.cases,
  states = { { "open", "Open", due = "2 days" }, { "closed", "Closed" } },
  steps = { { "close", "Close", from = "open", to = "closed", role = "manager", fields = { "outcome" } } },
}
return M
'''

APP = r'''
local app = borough.app { title = "Review", mount = "/r", public = true, roles = { "officer", "manager" } }
local m = require "models"
app:post("/items", { csrf = false }, function(req)
  local r, errors = m.items:create(json.decode(req.body))
  if not r then return borough.json({ errors = errors }, 422) end
  return borough.json(r)
end)
borough.flow {
  name = "refer", entity = m.referrals, reference = "reference",
  pages = { "full_name", "nhs_number" },
}:mount(app, "/refer", { public = true })
borough.pages(m.cases, { workflow = m.flow }):mount(app, "/cases", { role = "officer" })
app:get("/items.csv", function(req) return m.items:download() end)
app:get("/raw.csv", function(req)
  return borough.download.csv("raw.csv", { "a", "b" }, function(after)
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


@test
def sign_in_attempts_at_once_are_throttled_too():
    """The throttle counts an attempt when it starts, not when its password
    check ends: 30 guesses sent together get at most 5 checked."""
    with Server(TREE) as s:
        p = subprocess.run([BOROUGH, "user", "add", "jo@example.gov.uk", "--name", "Jo", "--data", s.data_dir],
                           input=b"correct horse battery\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr
        page = Client(s.port).get("/r/_account/sign-in")
        nonce = re.search(r"borough_csrf=([0-9a-f]+)", page.header("set-cookie")).group(1)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page.body).group(1).decode()
        body = urlencode({"email": "jo@example.gov.uk", "password": "a wrong guess at it",
                          "csrf_token": token}).encode()
        clients = [Client(s.port, timeout=60) for _ in range(30)]
        statuses = []

        def guess(c):
            r = c.request("POST", "/r/_account/sign-in", {"Cookie": "borough_csrf=" + nonce,
                          "Content-Type": "application/x-www-form-urlencoded"}, body)
            statuses.append(r.status)

        threads = [threading.Thread(target=guess, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = query(os.path.join(s.data_dir, "borough.db"), "SELECT action FROM platform_audit")
        checked = sum(1 for r in rows if r["action"] == "sign-in-failed")
        assert sorted(set(statuses)) == [400, 429], statuses
        assert checked <= 5, (checked, statuses)
        # The right password is throttled now too, and a success forgives the account.
        r = Client(s.port).request("POST", "/r/_account/sign-in", {"Cookie": "borough_csrf=" + nonce,
                                   "Content-Type": "application/x-www-form-urlencoded"},
                                   body.replace(b"a+wrong+guess+at+it", b"correct+horse+battery"))
        assert r.status == 429, r


@test
def drafts_keep_encrypted_answers_sealed():
    """A flow's draft of an entity with encrypted fields is sealed in
    _borough_drafts (a stolen app.db must not show them), and still
    works: the answers come back on the check page and make the record."""
    with Server(TREE) as s:
        b = Browser(s.port)
        page = b.get("/r/refer")
        page = b.follow(page) if page.status in (302, 303) else page
        r = b.submit(page, {"full_name": "Ann Example"})
        assert r.status == 303, r
        r = b.submit(b.follow(r), {"nhs_number": "943 476 5919"})
        assert r.status == 303, r
        rows = query(os.path.join(s.data_dir, "review", "app.db"), "SELECT data FROM _borough_drafts")
        assert len(rows) == 1, rows
        assert "9434765919" not in rows[0]["data"] and "943 476 5919" not in rows[0]["data"], rows
        assert "Ann Example" not in rows[0]["data"], rows
        # A draft that does not open (altered) is no draft: the flow starts again.
        other = Browser(s.port)
        other.cookies = dict(b.cookies)
        app_db = os.path.join(s.data_dir, "review", "app.db")
        execute(app_db, "UPDATE _borough_drafts SET data = ?", rows[0]["data"][:-2] + "AA")
        r2 = other.get("/r/refer/check")
        assert r2.status < 500 and "Ann Example" not in r2.text and "9434765919" not in r2.text, r2.text
        assert "does not open" in s.log(), s.log()
        execute(app_db, "UPDATE _borough_drafts SET data = ?", rows[0]["data"])
        check = b.follow(r)
        assert check.status == 200 and "9434765919" in check.text, check.text[:3000]
        r = b.submit(check)
        assert r.status == 303, r
        done = query(os.path.join(s.data_dir, "review", "app.db"), "SELECT full_name, nhs_number FROM referrals")
        assert len(done) == 1 and done[0]["full_name"] == "Ann Example", done
        assert done[0]["nhs_number"].startswith("bo1."), done


@test
def generated_edit_pages_leave_a_workflow_to_its_steps():
    """With a workflow and no fields given, the generated forms do not ask
    for the state, the due date or a step's fields: an officer cannot close
    a case (a manager's step) by editing it."""
    with Server(TREE) as s:
        b = Browser(s.port)
        b.cookies["borough_session"] = staff_cookie(s, "review", roles=("officer",))["Cookie"].split("=", 1)[1]
        page = b.get("/r/cases/new")
        assert page.status == 200, page
        assert 'name="state"' not in page.text and 'name="outcome"' not in page.text, page.text
        assert 'name="due-at' not in page.text and 'name="due_at' not in page.text, page.text
        r = b.submit(page, {"subject": "Bins not collected"})
        assert r.status == 303, r.text[:2000]
        case = query(os.path.join(s.data_dir, "review", "app.db"), "SELECT id, state FROM cases")[0]
        assert case["state"] == "open", case
        edit = b.get("/r/cases/%d/edit" % case["id"])
        assert edit.status == 200 and 'name="state"' not in edit.text, edit.text
        r = b.submit(edit, {"subject": "Bins", "state": "closed", "outcome": "done"})
        assert r.status == 303, r.text[:2000]
        case = query(os.path.join(s.data_dir, "review", "app.db"), "SELECT subject, state, outcome FROM cases")[0]
        assert case == {"subject": "Bins", "state": "open", "outcome": None}, case


def json_body(doc):
    import json
    return json.dumps(doc).encode()


if __name__ == "__main__":
    run()
