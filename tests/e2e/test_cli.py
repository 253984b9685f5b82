#!/usr/bin/env python3
"""End-to-end tests of the operator's and author's command line (DESIGN.md,
"Command line"): `borough new`, `borough test` with lua/borough/test.lua,
and `borough version`. Exact outputs and exit statuses."""
import os
import re
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, borough, Folder, get  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


# ---- borough new ----

@test
def new_makes_an_app_that_passes_check_and_test():
    with Folder({}) as root:
        status, out, err = borough("new", "case-notes", cwd=root)
        assert (status, err) == (0, ""), (status, out, err)
        assert out == ("made apps/case-notes: app.lua, views/index.html, tests/app_test.lua\n"
                       "next: borough check apps/case-notes && borough test apps/case-notes, "
                       "then open /case-notes/ on the running server\n"), out
        files = sorted(os.path.relpath(os.path.join(d, f), os.path.join(root, "apps", "case-notes"))
                       for d, _, fs in os.walk(os.path.join(root, "apps", "case-notes")) for f in fs)
        assert files == ["app.lua", "tests/app_test.lua", "views/index.html"], files
        app = open(os.path.join(root, "apps", "case-notes", "app.lua")).read()
        assert 'borough.app { title = "Case notes", mount = "/case-notes", public = true }' in app, app
        assert "__" not in app
        assert borough("check", "apps/case-notes", cwd=root) == (0, "ok apps/case-notes (/case-notes)\n", "")
        assert borough("test", "case-notes", cwd=root) == \
            (0, "ok   case-notes: the start page shows the service's name\n1 passed, 0 failed\n", "")
        # `borough test` leaves no data behind.
        assert sorted(os.listdir(root)) == ["apps"], os.listdir(root)
        with Server(os.path.join(root, "apps")) as s:
            r = get(s.port, "/case-notes/")
            assert r.status == 200, r
            assert '<h1 class="govuk-heading-xl">Case notes</h1>' in r.text, r.text


@test
def new_refuses_bad_names_and_existing_folders():
    with Folder({"taken": {"app.lua": "return 1\n"}}) as root:
        assert borough("new", "taken", cwd=root) == (1, "", "borough new: apps/taken already exists\n")
        for bad in ["Bad", "9lives", "a/b", "_x", "x" * 65, "with space"]:
            status, out, err = borough("new", bad, cwd=root)
            assert (status, out) == (2, ""), (bad, status, out, err)
            assert err.startswith("borough new: %s is not a good app name: use a-z first" % bad), err
        status, out, err = borough("new", cwd=root)
        assert status == 2 and err.startswith("borough new: needs the NAME of the new app\nusage: "), err
        status, out, err = borough("new", "x", "--apps", "nowhere", cwd=root)
        assert (status, err) == (1, "borough new: the apps folder nowhere does not exist\n"), err
        assert sorted(os.listdir(os.path.join(root, "apps"))) == ["taken"]


# ---- borough test ----

NOTES = {
    "app.lua": lua('''
        local app = borough.app { title = "Notes", mount = "/notes", public = true, roles = { "editor" } }
        local words = require "lib.words"
        db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
        app:get("/", function(req)
          return '<form method="post" action="/notes/save">' .. borough.csrf_token_field()
            .. '<input type="hidden" name="kind" value="call &amp; note">'
            .. '<input name="text" value=""><input type="checkbox" name="urgent" value="yes" checked>'
            .. '<select name="team"><option value="a">A</option><option value="b" selected>B</option></select>'
            .. '<textarea name="more">\\nsee &lt;file&gt;</textarea><button>Save</button></form>'
        end)
        app:post("/save", function(req)
          local _, id = db.exec("INSERT INTO notes (text) VALUES (?)", req.form.text)
          return borough.json { id = id, kind = req.form.kind, urgent = req.form.urgent, team = req.form.team,
                                more = req.form.more }
        end)
        app:get("/cookie", function(req) return { headers = { ["Set-Cookie"] = "sid=42; Path=/" }, body = "set" } end)
        app:get("/echo-cookie", function(req) return req.headers.cookie or "none" end)
        app:get("/word", function(req) return words.word end)
        app:get("/me", { role = "editor" }, function(req) return req.user.email end)
        return app
    ''').replace("borough.csrf_token_field()", "'<input type=\"hidden\" name=\"csrf_token\" value=\"' "
                 ".. borough.csrf_token() .. '\">'"),
    "lib/words.lua": 'return { word = "hello" }\n',
    "tests/a_client_test.lua": lua('''
        local t = require "borough.test"
        local words = require "lib.words"

        t.test("a form goes back with its hidden fields", function()
          local page = t.get("/")
          local r = t.submit(page, { text = "Called back" })
          t.eq(r.status, 200)
          local v = r:json()
          t.eq(v, { id = 1, kind = "call & note", urgent = "yes", team = "b", more = "see <file>" })
          t.eq(db.one("SELECT text FROM notes WHERE id = ?", v.id).text, "Called back")
        end)

        t.test("cookies last for a test", function()
          t.get("/cookie")
          t.eq(t.get("/echo-cookie").body, "sid=42")
        end)

        t.test("and no longer", function()
          t.eq(t.get("/echo-cookie").body, "none")
        end)

        t.test("tests see the app's modules and the site root", function()
          t.eq(t.get("/word").body, words.word)
          t.eq(t.get("//healthz").body, "ok\\n")
        end)
    '''),
    "tests/b_failures_test.lua": lua('''
        local t = require "borough.test"

        t.test("a wrong status", function()
          t.eq(t.get("/nope").status, 200)
        end)

        t.test("missing text", function()
          t.contains(t.get("/word").body, "goodbye")
        end)

        t.test("t.login signs in", function()
          t.eq({ t.get("/me").status, t.login("ada@example.gov.uk", { roles = { "editor" } }):get("/me").body }, { 303, "ada@example.gov.uk" })
        end)

        t.test("an error in the test itself", function()
          local x = nil
          return x.field
        end)
    '''),
    "tests/c_broken_test.lua": "local t = require 'borough.test'\nt.test('never', function()\n",
    "tests/notes.lua": "error('not a test file: its name does not end in _test.lua')\n",
}


@test
def test_runs_every_test_and_reports_each_failure_at_its_line():
    with Folder({"notes": NOTES}) as root:
        status, out, err = borough("test", "apps/notes", cwd=root)
        assert status == 1, (status, out, err)
        assert out == textwrap.dedent('''\
            ok   notes: a form goes back with its hidden fields
            ok   notes: cookies last for a test
            ok   notes: and no longer
            ok   notes: tests see the app's modules and the site root
            FAIL notes: a wrong status
                 apps/notes/tests/b_failures_test.lua:4: expected 200, got 404
            FAIL notes: missing text
                 apps/notes/tests/b_failures_test.lua:8: expected "goodbye" in "hello"
            ok   notes: t.login signs in
            FAIL notes: an error in the test itself
                 apps/notes/tests/b_failures_test.lua:17: attempt to index a nil value (local 'x')
            FAIL notes: tests/c_broken_test.lua did not run
                 apps/notes/tests/c_broken_test.lua:3: 'end' expected (to close 'function' at line 2) near <eof>
            5 passed, 4 failed
            '''), out


@test
def test_starts_each_run_with_an_empty_database():
    tree = {"count": {
        "app.lua": lua('''
            local app = borough.app { mount = "/count", public = true }
            db.exec("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY)")
            app:post("/hit", { csrf = false }, function(req)
              db.exec("INSERT INTO hits DEFAULT VALUES")
              return tostring(db.one("SELECT count(*) AS n FROM hits").n)
            end)
            return app
        '''),
        "tests/hit_test.lua": lua('''
            local t = require "borough.test"
            t.test("the first hit is the first", function()
              t.eq(db.one("SELECT count(*) AS n FROM hits").n, 0)
              t.eq(t.post("/hit", "").body, "1")
              t.eq(t.post("/hit", "").body, "2")
            end)
        '''),
    }}
    with Folder(tree) as root:
        for _ in range(2):
            assert borough("test", "count", cwd=root) == (0, "ok   count: the first hit is the first\n"
                                                             "1 passed, 0 failed\n", "")


@test
def test_of_an_apps_folder_runs_the_apps_that_have_tests():
    broken = {"app.lua": "error('boom')\n", "tests/x_test.lua": "local t = require 'borough.test'\n"}
    plain = {"app.lua": 'local app = borough.app { public = true }\napp:get("/", function() return "x" end)\n'
             'return app\n'}
    ok_app = {"app.lua": plain["app.lua"], "tests/x_test.lua": lua('''
        local t = require "borough.test"
        t.test("it answers", function() t.eq(t.get("/").body, "x") end)
    ''')}
    with Folder({"broken": broken, "plain": plain, "working": ok_app}) as root:
        status, out, err = borough("test", cwd=root)
        assert status == 1, (status, out, err)
        assert out == ("FAIL broken: the app did not load\n"
                       "     apps/broken/app.lua:1: boom\n"
                       "ok   working: it answers\n"
                       "1 passed, 1 failed\n"), out
        assert borough("test", "apps/plain", cwd=root) == (0, "plain: no tests (add tests/*_test.lua)\n"
                                                             "0 passed, 0 failed\n", "")
        status, out, err = borough("test", "nothing-here", cwd=root)
        assert (status, out) == (1, ""), (status, out, err)
        assert err == ("borough test: nothing-here is not an app folder, an app of apps/ or an apps folder\n"), err


# ---- borough version ----

@test
def version_names_the_platform_and_its_libraries():
    status, out, err = borough("version")
    assert (status, err) == (0, ""), (status, out, err)
    assert re.fullmatch(r"borough \d+\.\d+\.\d+ \(Lua 5\.4, SQLite 3\.\d+\.\d+, libuv 1\.\d+\.\d+\)\n", out), out
    assert borough("--version") == (0, out, "")
    status, out2, err = borough("version", "extra")
    assert status == 2 and err.startswith("borough version: takes no arguments\n"), err


run()
