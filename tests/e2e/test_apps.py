#!/usr/bin/env python3
"""End-to-end tests of the app API of DESIGN.md ("App folder", "Command
line", "HTTP behaviour") against the real server: the manifest, routes, the
req table, every response form, db, host and root mounting, broken apps
beside working ones, and `borough check`.

Each test starts its own server on a free port and asserts exact statuses,
headers and bodies. Static files have their own file, test_static_files.py.
"""
import json
import os
import re
import sqlite3
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, SLOW, BOROUGH, write_tree, HELLO_APP, borough, Folder, query  # noqa: E402
import pglib  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


def request(port, method, path, headers=None, body=b"", host="127.0.0.1"):
    c = Client(port)
    try:
        return c.request(method, path, headers, body, host)
    finally:
        c.close()


def get(port, path, headers=None, host="127.0.0.1"):
    return request(port, "GET", path, headers, host=host)


def expect(r, status, body=None, ctype="text/html; charset=utf-8"):
    """Checks status, Content-Type (None: no Content-Type at all) and, if
    given, the exact body; returns the response."""
    assert r.status == status, r
    assert r.headers.get("content-type") == ([ctype] if ctype else None), r
    if body is not None:
        want = body.encode() if isinstance(body, str) else body
        assert r.body == want, (r.body, want)
    return r


def expect_json(r, value, status=200):
    expect(r, status, ctype="application/json")
    assert json.loads(r.body) == value, r.body
    return r


def line_of(source, text):
    """The 1-based line of source that holds text (exactly once)."""
    lines = [i + 1 for i, l in enumerate(source.splitlines()) if text in l]
    assert len(lines) == 1, (text, lines)
    return lines[0]


def page(title, text):
    """The body of a platform page (request.c, bo_request_respond_page)."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>%s</title></head>\n<body><main>\n<h1>%s</h1>\n%s\n</main></body></html>\n"
            % (title, title, text))


UNAVAILABLE = page("Sorry, the service is unavailable", "<p>You will be able to use the service later.</p>")
NOT_FOUND = page("Page not found", "<p>If you typed the web address, check it is correct.</p>")


def status_page(reason):
    """The body borough.status(code) makes (lapi.c, l_status)."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>%s</title>'
            "</head><body><main><h1>%s</h1></main></body></html>\n" % (reason, reason))


def front_door(r):
    """The apps the front door at "/" lists (lua/borough/_site), as
    (link, title) pairs in order; link is None for one not serving."""
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8", r
    out = []
    for h2 in re.findall(r'<h2 class="govuk-heading-m govuk-!-margin-bottom-1">\s*(.*?)\s*</h2>', r.text, re.S):
        m = re.match(r'<a class="govuk-link" href="([^"]*)">(.*)</a>$', h2)
        out.append((m.group(1), m.group(2)) if m else (None, h2))
    return out


SECURITY_HEADERS = {
    "x-content-type-options": ["nosniff"],
    "referrer-policy": ["same-origin"],
}


def assert_security_headers(r):
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (name, r)
    csp = r.header("content-security-policy")
    assert csp and "frame-ancestors 'none'" in csp, r


# ---------------------------------------------------------------------------
# The manifest: borough.app{title, mount, host, public, limits}
# ---------------------------------------------------------------------------

@test
def manifest_title_and_mount_show_on_the_home_page():
    apps = {
        "grants": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Grants & <loans>", mount = "/business/grants" }
            app:get("/", function(req) return "grants home" end)
            return app
        ''')},
        "plain": {"app.lua": lua('''
            local app = borough.app { public = true }
            app:get("/", function(req) return "plain home" end)
            return app
        ''')},
    }
    with Server(apps) as s:
        expect(get(s.port, "/business/grants/"), 200, "grants home")
        # The mount without its slash redirects to it.
        r = get(s.port, "/business/grants?x=1")
        assert r.status == 301 and r.header("location") == "/business/grants/?x=1", r
        # No mount: the folder name. No title: the folder name.
        expect(get(s.port, "/plain/"), 200, "plain home")
        r = get(s.port, "/")
        assert front_door(r) == [("/business/grants/", "Grants &amp; &lt;loans&gt;"), ("/plain/", "plain")], r
        assert_security_headers(r)
        expect(get(s.port, "/grants/"), 404, NOT_FOUND)


@test
def manifest_public_and_limits_are_accepted_and_applied():
    apps = {"lim": {"app.lua": lua('''
        local app = borough.app {
          title = "Limits", mount = "/lim", public = true,
          limits = { memory = 32 * 1024 * 1024, instructions = 200000, time = 5, body = 16 },
        }
        app:post("/echo", { csrf = false }, function(req) return req.body end)
        app:get("/spin", function(req)
          local n = 0
          while true do n = n + 1 end
        end)
        app:get("/ok", function(req) return "still here" end)
        return app
    ''')}}
    with Server(apps) as s:
        expect(request(s.port, "POST", "/lim/echo", body="0123456789abcdef"), 200, "0123456789abcdef")
        r = request(s.port, "POST", "/lim/echo", body="0123456789abcdefX")
        assert r.status == 413, r
        r = get(s.port, "/lim/spin")
        expect(r, 500)
        s.wait_log(r"error \[lim\] id=\S+ /\S*/apps/lim/app\.lua:%d: the code ran too many instructions "
                   r"\(limits\.instructions\)" % line_of(apps["lim"]["app.lua"], "while true do"))
        expect(get(s.port, "/lim/ok"), 200, "still here")


# ---------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------

ROUTES_APP = {"app.lua": lua('''
    local app = borough.app { public = true, title = "Routes", mount = "/r" }
    local function show(req) return req.method .. " " .. req.path end
    app:get("/thing", show)
    app:post("/thing", show)
    app:put("/thing", show)
    app:patch("/thing", show)
    app:delete("/thing", show)
    app:get("/opts", { public = true }, show)
    app:post("/opts", { csrf = false, max_body = 8 }, show)
    app:put("/opts", { public = false, csrf = false }, show)
    app:patch("/opts", { max_body = 4, csrf = false }, show)
    app:get("/token", function(req) return borough.text(borough.csrf_token()) end)
    app:delete("/opts", { csrf = false }, show)
    -- Declared most general first: precedence must not depend on order.
    app:get("/items/*", function(req) return "splat " .. req.params.splat end)
    app:get("/items/:id", function(req) return "param " .. req.params.id end)
    app:get("/items/new", function(req) return "literal new" end)
    app:get("/:a/b", function(req) return "param-first " .. req.params.a end)
    app:get("/a/:b", function(req) return "literal-first " .. req.params.b end)
    app:get("/cases/:case/notes/:note", function(req)
      return borough.json(req.params)
    end)
    app:get("/files/*", function(req) return borough.json(req.params) end)
    app:get("/about/", function(req) return "about" end)
    app:get("/", function(req) return "root " .. req.path end)
    return app
''')}


@test
def routes_for_every_method_with_and_without_opts():
    with Server({"r": ROUTES_APP}) as s:
        c = Client(s.port)
        # Unsafe methods on routes without csrf = false need a CSRF token.
        t = c.get("/r/token")
        nonce = t.header("set-cookie").split(";")[0]
        token = {"Cookie": nonce, "X-CSRF-Token": t.text}
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            expect(c.request(m, "/r/thing", token), 200, "%s /thing" % m)
            if m == "PUT":      # PUT /opts says public = false: anonymous, it goes to sign in
                r = expect(c.request(m, "/r/opts"), 303, "", ctype=None)
                assert r.header("location") == "/r/_account/sign-in?next=/r/opts", r
            else:
                expect(c.request(m, "/r/opts"), 200, "%s /opts" % m)
        # max_body from the route's opts.
        expect(c.request("POST", "/r/opts", body="12345678"), 200, "POST /opts")
        c.close()
        r = request(s.port, "POST", "/r/opts", body="123456789")
        assert r.status == 413, r
        r = request(s.port, "PATCH", "/r/opts", body="12345")
        assert r.status == 413, r
        # OPTIONS lists what the path allows.
        r = request(s.port, "OPTIONS", "/r/thing")
        assert r.status == 204 and r.body == b"", r
        assert r.header("allow") == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", r
        # A method no route has: 405 with Allow.
        r = request(s.port, "POST", "/r/items/1")
        expect(r, 405)
        assert r.header("allow") == "GET, HEAD, OPTIONS", r
        expect(get(s.port, "/r/nothing/here/at/all"), 404, NOT_FOUND)


@test
def route_params_are_percent_decoded_and_splat_takes_the_rest():
    with Server({"r": ROUTES_APP}) as s:
        c = Client(s.port)
        expect_json(c.get("/r/cases/A%2012/notes/caf%C3%A9%2Fx"),
                    {"case": "A 12", "note": "caf\u00e9/x"})
        expect_json(c.get("/r/files/a/b%20c/d.txt"), {"splat": "a/b c/d.txt"})
        expect_json(c.get("/r/files/one"), {"splat": "one"})
        expect(c.get("/r/items/x%2By"), 200, "param x+y")
        # '+' is a plus in a path, not a space.
        expect(c.get("/r/items/a+b"), 200, "param a+b")
        c.close()
        # A malformed escape or an encoded NUL is a bad request.
        expect(get(s.port, "/r/items/%zz"), 400)
        expect(get(s.port, "/r/items/%00"), 400)
        expect(get(s.port, "/r/items/%4"), 400)


@test
def route_precedence_literal_beats_param_beats_splat():
    with Server({"r": ROUTES_APP}) as s:
        c = Client(s.port)
        expect(c.get("/r/items/new"), 200, "literal new")
        expect(c.get("/r/items/42"), 200, "param 42")
        expect(c.get("/r/items/42/edit"), 200, "splat 42/edit")
        # The first segment that differs decides.
        expect(c.get("/r/a/b"), 200, "literal-first b")
        expect(c.get("/r/z/b"), 200, "param-first z")
        c.close()


@test
def trailing_slash_is_ignored_and_head_is_answered_by_get():
    with Server({"r": ROUTES_APP}) as s:
        c = Client(s.port)
        expect(c.get("/r/items/new/"), 200, "literal new")
        expect(c.get("/r/items/7/"), 200, "param 7")
        expect(c.get("/r/about"), 200, "about")
        expect(c.get("/r/about/"), 200, "about")
        expect(c.get("/r/"), 200, "root /")
        r = c.request("HEAD", "/r/items/7")
        expect(r, 200, b"")
        assert r.header("content-length") == str(len("param 7")), r
        # Nothing of the body leaked into the connection.
        expect(c.get("/r/items/8"), 200, "param 8")
        r = c.request("HEAD", "/r/")
        expect(r, 200, b"")
        assert r.header("content-length") == "6", r
        expect(c.get("/r/thing"), 200, "GET /thing")
        c.close()


# ---------------------------------------------------------------------------
# The req table
# ---------------------------------------------------------------------------

REQ_APP = {"app.lua": lua('''
    local app = borough.app { public = true, title = "Req", mount = "/req" }
    local function dump(req)
      return borough.json {
        method = req.method, path = req.path, params = req.params,
        query = req.query, query_all = req.query_all,
        form = req.form, form_all = req.form_all,
        files_type = type(req.files), files_empty = next(req.files) == nil,
        user_is_nil = req.user == nil, ip = req.ip,
        cookies = req.cookies, body = req.body,
      }
    end
    app:get("/dump", dump)
    app:get("/dump/:name", dump)
    app:post("/dump", { csrf = false }, dump)
    app:put("/dump", { csrf = false }, dump)
    app:get("/headers", function(req)
      return borough.json {
        headers = req.headers,
        upper = req.headers["X-Multi"] == nil,
      }
    end)
    app:post("/body", { csrf = false }, function(req)
      return { headers = { ["Content-Type"] = "application/octet-stream" }, body = req.body }
    end)
    app:get("/id", function(req) return borough.text(req.id) end)
    app:get("/fail", function(req) error("deliberate failure") end)
    return app
''')}


@test
def req_method_path_params_query():
    with Server({"req": REQ_APP}) as s:
        r = get(s.port, "/req/dump/Ada%20L?a=1&a=2&b=x+y&c=%41%zz&d&=e&f=%E2%9C%93")
        v = json.loads(expect(r, 200, ctype="application/json").body)
        assert v["method"] == "GET", v
        assert v["path"] == "/dump/Ada%20L", v
        assert v["params"] == {"name": "Ada L"}, v
        assert v["query"] == {"a": "1", "b": "x y", "c": "A%zz", "d": "", "": "e", "f": "\u2713"}, v
        assert v["query_all"] == {"a": ["1", "2"], "b": ["x y"], "c": ["A%zz"], "d": [""], "": ["e"],
                                  "f": ["\u2713"]}, v
        assert v["form"] == {} and v["form_all"] == {}, v
        assert v["files_type"] == "table" and v["files_empty"] is True, v
        assert v["user_is_nil"] is True, v
        assert v["ip"] == "127.0.0.1", v
        assert v["cookies"] == {} and v["body"] == "", v
        # No query at all: empty tables.
        v = json.loads(get(s.port, "/req/dump").body)
        assert v["query"] == {} and v["query_all"] == {} and v["params"] == {}, v
        assert v["path"] == "/dump", v


@test
def req_form_is_urlencoded_body():
    with Server({"req": REQ_APP}) as s:
        body = "name=Ada+Lovelace&x=%26%3D&x=2&empty=&flag&pct=100%25&bad=%G1"
        for ctype in ("application/x-www-form-urlencoded",
                      "application/x-www-form-urlencoded; charset=UTF-8",
                      "Application/X-WWW-Form-Urlencoded"):
            r = request(s.port, "POST", "/req/dump", {"Content-Type": ctype}, body)
            v = json.loads(expect(r, 200, ctype="application/json").body)
            assert v["form"] == {"name": "Ada Lovelace", "x": "&=", "empty": "", "flag": "",
                                 "pct": "100%", "bad": "%G1"}, (ctype, v)
            assert v["form_all"] == {"name": ["Ada Lovelace"], "x": ["&=", "2"], "empty": [""],
                                     "flag": [""], "pct": ["100%"], "bad": ["%G1"]}, (ctype, v)
            assert v["body"] == body and v["method"] == "POST", v
        # Another content type: no form, the body as sent.
        r = request(s.port, "PUT", "/req/dump", {"Content-Type": "application/json"}, '{"a":1}')
        v = json.loads(r.body)
        assert v["form"] == {} and v["form_all"] == {} and v["body"] == '{"a":1}', v
        assert v["method"] == "PUT", v


@test
def req_headers_cookies_body_and_id():
    with Server({"req": REQ_APP}) as s:
        c = Client(s.port)
        head = ("GET /req/headers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Multi: a\r\nX-Custom-Thing: V a l\r\n"
                "x-multi: b\r\nX-MULTI: c\r\nCookie: a=1; b=\"q r\"\r\nCookie: c=3\r\n\r\n")
        c.send(head.encode())
        r = c.read_response()
        v = json.loads(expect(r, 200, ctype="application/json").body)
        assert v["headers"] == {"host": "127.0.0.1", "x-multi": "a, b, c", "x-custom-thing": "V a l",
                                "cookie": 'a=1; b="q r"; c=3'}, v
        assert v["upper"] is True, v
        r = c.request("GET", "/req/dump", {"Cookie": 'sid=abc; theme="dark"; sid=second; flag; e='})
        v = json.loads(r.body)
        assert v["cookies"] == {"sid": "abc", "theme": "dark", "e": ""}, v
        # The body, byte for byte.
        blob = bytes(range(256)) * 3
        r = c.request("POST", "/req/body", {"Content-Type": "application/octet-stream"}, blob)
        expect(r, 200, blob, ctype="application/octet-stream")
        # req.id is the id of the access log line and of a 500 page.
        r = c.request("GET", "/req/id")
        rid = expect(r, 200, ctype="text/plain; charset=utf-8").text
        assert re.fullmatch(r"[0-9a-f]+\.\d+-[0-9a-f]+", rid), rid
        s.wait_log(r"req GET /req/id 200 \S+ \S+ id=%s ip=127\.0\.0\.1" % re.escape(rid))
        r = c.request("GET", "/req/fail")
        expect(r, 500)
        m = re.search(r"<p>Reference: (\S+)</p>", r.text)
        assert m, r
        s.wait_log(r"error \[req\] id=%s /\S*/apps/req/app\.lua:%d: deliberate failure"
                   % (re.escape(m.group(1)), line_of(REQ_APP["app.lua"], "deliberate failure")))
        c.close()


# ---------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------

RESP_APP = {"app.lua": lua('''
    local app = borough.app { public = true, title = "Responses", mount = "/resp" }
    db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    app:get("/string", function(req) return "<p>hi</p>" end)
    app:get("/json", function(req)
      return borough.json { b = 1, a = { 1, 2, "three" }, c = "x\\"y", d = false, e = 1.5 }
    end)
    app:get("/json201", function(req) return borough.json({ ok = true }, 201) end)
    app:get("/json-array", function(req) return borough.json { 3, 2, 1 } end)
    app:get("/row", function(req)
      return borough.json(db.one("SELECT 3 AS zeta, 'x' AS alpha, NULL AS mid, 2.5 AS beta"))
    end)
    app:get("/rows", function(req)
      return borough.json(db.query("SELECT 2 AS b, 1 AS a UNION ALL SELECT 4, 3"))
    end)
    app:get("/empty", function(req)
      return borough.json(db.query("SELECT * FROM t WHERE id < 0"))
    end)
    app:get("/redirect", function(req) return borough.redirect("/resp/string") end)
    app:post("/redirect", { csrf = false }, function(req) return borough.redirect("/resp/string") end)
    app:get("/redirect301", function(req) return borough.redirect("https://example.test/", 301) end)
    app:post("/redirect307", { csrf = false }, function(req) return borough.redirect("/resp/x", 307) end)
    app:get("/status404", function(req) return borough.status(404) end)
    app:get("/status409", function(req) return borough.status(409, "<p>taken</p>") end)
    app:get("/status410", function(req) return borough.status(410) end)
    app:get("/text", function(req) return borough.text("a < b & c") end)
    app:get("/text202", function(req) return borough.text("queued", 202) end)
    app:get("/table", function(req)
      return {
        status = 201,
        headers = { ["Set-Cookie"] = { "a=1; Path=/", "b=2; HttpOnly" }, ["X-One"] = "1" },
        body = "made",
      }
    end)
    app:get("/table-type", function(req)
      return { headers = { ["content-type"] = "text/csv" }, body = "a,b\\n" }
    end)
    app:get("/table-empty", function(req) return {} end)
    app:get("/table-override", function(req)
      return {
        headers = {
          ["Content-Security-Policy"] = "default-src 'none'",
          ["Content-Length"] = "999", ["Transfer-Encoding"] = "chunked", ["Connection"] = "close",
          ["Date"] = "yesterday", ["Server"] = "evil",
        },
        body = "framed by the server",
      }
    end)
    app:get("/nothing", function(req) end)
    app:get("/number", function(req) return 42 end)
    app:get("/bad-body", function(req) return { body = { "not", "text" } } end)
    app:get("/bad-status", function(req) return { status = 99 } end)
    app:get("/bad-header", function(req)
      return { headers = { ["X-Evil"] = "a\\r\\nSet-Cookie: pwned=1" }, body = "x" }
    end)
    app:get("/bad-redirect", function(req) return borough.redirect("/x\\r\\nSet-Cookie: pwned=1") end)
    app:get("/url", function(req)
      return borough.json { here = borough.url("/x"), root = borough.url("/"), at_load = LOAD_URL }
    end)
    app:get("/url-bad", function(req) return borough.url("x") end)
    app:get("/escape", function(req)
      return borough.text(borough.escape([[a & b < c > d " e ' f &amp;]]) .. "|" .. borough.escape("plain"))
    end)
    LOAD_URL = borough.url("/static/site.css")
    return app
''')}


@test
def response_string_json_and_db_rows():
    with Server({"resp": RESP_APP}) as s:
        c = Client(s.port)
        r = expect(c.get("/resp/string"), 200, "<p>hi</p>")
        assert_security_headers(r)
        expect(c.get("/resp/json"), 200, '{"a":[1,2,"three"],"b":1,"c":"x\\"y","d":false,"e":1.5}',
               ctype="application/json")
        expect(c.get("/resp/json201"), 201, '{"ok":true}', ctype="application/json")
        expect(c.get("/resp/json-array"), 200, "[3,2,1]", ctype="application/json")
        # A row keeps its SELECT column order; NULL columns come out as null.
        expect(c.get("/resp/row"), 200, '{"zeta":3,"alpha":"x","mid":null,"beta":2.5}',
               ctype="application/json")
        expect(c.get("/resp/rows"), 200, '[{"b":2,"a":1},{"b":4,"a":3}]', ctype="application/json")
        expect(c.get("/resp/empty"), 200, "[]", ctype="application/json")
        c.close()


@test
def response_redirect_status_and_text():
    with Server({"resp": RESP_APP}) as s:
        c = Client(s.port)
        r = expect(c.get("/resp/redirect"), 302, b"", ctype=None)
        assert r.headers["location"] == ["/resp/string"], r
        assert r.header("content-length") == "0", r
        r = expect(c.request("POST", "/resp/redirect"), 303, b"", ctype=None)
        assert r.headers["location"] == ["/resp/string"], r
        r = expect(c.get("/resp/redirect301"), 301, b"", ctype=None)
        assert r.headers["location"] == ["https://example.test/"], r
        r = expect(c.request("POST", "/resp/redirect307"), 307, b"", ctype=None)
        assert r.headers["location"] == ["/resp/x"], r
        # An error the platform has words for: its GOV.UK page, in the
        # request's language, never cached; any other code: the plain page.
        r = expect(c.get("/resp/status404"), 404)
        assert b'<h1 class="govuk-heading-l">Page not found</h1>' in r.body, r.body
        assert b"govuk-template" in r.body and b'lang="en"' in r.body, r.body
        assert r.header("cache-control") == "no-store", r
        r = expect(c.get("/resp/status404?lang=cy"), 404)
        assert "Heb ddod o hyd i’r dudalen".encode() in r.body and b'lang="cy"' in r.body, r.body
        expect(c.get("/resp/status409"), 409, "<p>taken</p>")
        expect(c.get("/resp/status410"), 410, status_page("Gone"))
        expect(c.get("/resp/text"), 200, "a < b & c", ctype="text/plain; charset=utf-8")
        expect(c.get("/resp/text202"), 202, "queued", ctype="text/plain; charset=utf-8")
        c.close()


@test
def response_table_with_repeated_headers_and_nothing():
    with Server({"resp": RESP_APP}) as s:
        c = Client(s.port)
        r = expect(c.get("/resp/table"), 201, "made")
        assert r.headers["set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"], r
        assert r.headers["x-one"] == ["1"], r
        # The app's Content-Type replaces the default, whatever its case.
        expect(c.get("/resp/table-type"), 200, "a,b\n", ctype="text/csv")
        # An empty table: 200, no body and so no Content-Type.
        r = expect(c.get("/resp/table-empty"), 200, b"", ctype=None)
        assert r.header("content-length") == "0", r
        # The app may replace a security header; framing and hop-by-hop
        # headers stay the server's.
        r = expect(c.get("/resp/table-override"), 200, "framed by the server")
        assert r.headers["content-security-policy"] == ["default-src 'none'"], r
        assert r.headers["x-content-type-options"] == ["nosniff"], r
        assert r.headers["content-length"] == [str(len("framed by the server"))], r
        assert "transfer-encoding" not in r.headers and "connection" not in r.headers, r
        assert r.headers["server"] == ["borough"] and r.headers["date"] != ["yesterday"], r
        # Returning nothing: 204 with no body and no Content-Length.
        r = expect(c.get("/resp/nothing"), 204, b"", ctype=None)
        assert "content-length" not in r.headers, r
        # The connection is still in step.
        expect(c.get("/resp/string"), 200, "<p>hi</p>")
        c.close()


@test
def response_of_the_wrong_kind_is_a_500_with_a_log_line():
    with Server({"resp": RESP_APP}) as s:
        c = Client(s.port)
        # A result of the wrong kind names the route and the app's line that declared it.
        def line_of(route):
            return RESP_APP["app.lua"].splitlines().index(next(
                l for l in RESP_APP["app.lua"].splitlines() if 'app:get("%s"' % route in l)) + 1
        for path, why in [
            ("/resp/number", r"apps/resp/app\.lua:%d: GET /number: the handler returned a number; return a "
                             r"string, a response \(borough\.view, borough\.json, borough\.redirect, \.\.\.\), "
                             r"a table \{ status =, headers =, body = \} or nothing" % line_of("/number")),
            ("/resp/bad-body", r"apps/resp/app\.lua:%d: GET /bad-body: the response body must be a string or a "
                               r"function, not a table" % line_of("/bad-body")),
            ("/resp/bad-status", r"response status must be a whole number from 200 to 599"),
            ("/resp/bad-header", r"invalid response header X-Evil"),
            ("/resp/bad-redirect", r"bad argument #1 to 'redirect' \(a redirect URL may not contain CR, LF or NUL\)"),
            ("/resp/url-bad", r"bad argument #1 to 'url' \(an app path starts with '/'\)"),
        ]:
            r = c.get(path)
            expect(r, 500)
            assert "set-cookie" not in r.headers and b"pwned" not in r.body, r
            rid = re.search(r"<p>Reference: (\S+)</p>", r.text).group(1)
            s.wait_log(r"error \[resp\] id=%s .*%s" % (re.escape(rid), why))
        expect(c.get("/resp/string"), 200, "<p>hi</p>")
        c.close()


@test
def response_url_and_escape():
    apps = {
        "resp": RESP_APP,
        "rooted": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Root", mount = "/" }
            local at_load = borough.url("/x")
            app:get("/url", function(req) return borough.json { here = borough.url("/x"), at_load = at_load } end)
            return app
        ''')},
        # The folder name is not the mount: at load time, before the server has
        # read the manifest, borough.url must still use the declared mount
        # (the asserts would make the app fail to load).
        "folder": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Elsewhere", mount = "/else/where/" }
            local at_load = borough.url("/x")
            assert(at_load == "/else/where/x", at_load)
            app:get("/url", function(req) return borough.json { here = borough.url("/x"), at_load = at_load } end)
            return app
        ''')},
        "hosted": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Hosted", host = "h.example.test" }
            local at_load = borough.url("/x")
            assert(at_load == "/x", at_load)
            app:get("/url", function(req) return borough.json { here = borough.url("/x"), at_load = at_load } end)
            return app
        ''')},
    }
    with Server(apps) as s:
        expect_json(get(s.port, "/resp/url"),
                    {"here": "/resp/x", "root": "/resp/", "at_load": "/resp/static/site.css"})
        expect_json(get(s.port, "/url"), {"here": "/x", "at_load": "/x"})
        expect_json(get(s.port, "/else/where/url"), {"here": "/else/where/x", "at_load": "/else/where/x"})
        expect_json(get(s.port, "/url", host="h.example.test"), {"here": "/x", "at_load": "/x"})
        assert " error " not in s.log(), s.log()
        expect(get(s.port, "/resp/escape"), 200, "a &amp; b &lt; c &gt; d &quot; e &#39; f &amp;amp;|plain",
               ctype="text/plain; charset=utf-8")


@test
def sleep_waits_without_blocking_the_worker():
    apps = {"nap": {"app.lua": lua('''
        local app = borough.app { public = true, title = "Nap" }
        db.exec("CREATE TABLE IF NOT EXISTS log (what TEXT)")
        app:get("/sleep/:ms", function(req)
          db.exec("INSERT INTO log VALUES (?)", "before " .. req.params.ms)
          borough.sleep(tonumber(req.params.ms) / 1000)
          db.exec("INSERT INTO log VALUES (?)", "after")
          return "woke " .. req.params.ms .. " " .. req.path
        end)
        app:get("/now", function(req) return "now" end)
        app:get("/count", function(req) return tostring(db.one("SELECT count(*) AS n FROM log").n) end)
        return app
    ''')}}
    with Server(apps, workers=1) as s:
        slow = Client(s.port)
        slow.send(b"GET /nap/sleep/1500 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # The one worker answers others while the first request waits.
        t0 = time.time()
        for _ in range(3):
            expect(get(s.port, "/nap/now"), 200, "now")
        assert time.time() - t0 < 1.0 * SLOW, time.time() - t0
        expect(slow.read_response(), 200, "woke 1500 /sleep/1500")
        assert time.time() - t0 >= 1.4, time.time() - t0
        expect(get(s.port, "/nap/count"), 200, "2")
        slow.close()
        assert " error " not in s.log(), s.log()


# ---------------------------------------------------------------------------
# db
# ---------------------------------------------------------------------------

DB_APP = {"app.lua": lua('''
    local app = borough.app { public = true, title = "DB", mount = "/db" }
    db.exec([[CREATE TABLE IF NOT EXISTS residents (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, score REAL, photo BLOB)]])

    app:post("/exec", { csrf = false }, function(req)
      local c1, id1 = db.exec("INSERT INTO residents (name, age) VALUES (?, ?), (?, ?)", "Ada", 36, "Bo", 7)
      local c2, id2 = db.exec("UPDATE residents SET age = age + 1 WHERE age > ?", 0)
      local c3, id3 = db.exec("DELETE FROM residents WHERE name = ?", "nobody")
      return borough.json { c1, id1, c2, id2, c3, id3 }
    end)

    app:get("/types", function(req)
      db.exec("DELETE FROM residents")
      db.exec("INSERT INTO residents (id, name, age, score, photo) VALUES (1, 'Ada', 36, 2.0, X'00FF41')")
      db.exec("INSERT INTO residents (id, name, score) VALUES (?, ?, ?)", 2, "Bo", 0.25)
      db.exec("INSERT INTO residents (id, name, age) VALUES (?, ?, ?)", 3, "Cy", 9007199254740993)
      local rows = db.query("SELECT id, name, age, score, photo FROM residents ORDER BY id")
      local out = {}
      for i, row in ipairs(rows) do
        local keys = {}
        for k in pairs(row) do keys[#keys + 1] = k end
        table.sort(keys)
        out[i] = {
          keys = table.concat(keys, ","),
          id = math.type(row.id), age = row.age and math.type(row.age),
          age_value = row.age and tostring(row.age),
          score = row.score and math.type(row.score), score_value = row.score and tostring(row.score),
          photo = row.photo and type(row.photo),
          photo_bytes = row.photo and table.concat({ row.photo:byte(1, -1) }, ","),
        }
      end
      return borough.json(out)
    end)

    app:get("/one/:id", function(req)
      local row = db.one("SELECT id, name FROM residents WHERE id = ?", tonumber(req.params.id))
      if not row then return borough.status(404) end
      return borough.json(row)
    end)

    app:post("/bound", { csrf = false }, function(req)
      local _, id = db.exec("INSERT INTO residents (name) VALUES (?)", req.form.name)
      local row = db.one("SELECT name FROM residents WHERE id = ?", id)
      local again = db.one("SELECT count(*) AS n FROM residents WHERE name = ?", req.form.name)
      return borough.json { name = row.name, n = again.n }
    end)

    app:get("/count", function(req)
      return borough.json(db.one("SELECT count(*) AS n FROM residents"))
    end)

    app:get("/errors", function(req)
      local out = {}
      local function try(name, ...)
        local ok, err = pcall(...)
        out[name] = ok and "no error" or err
      end
      try("too_few", db.exec, "INSERT INTO residents (name, age) VALUES (?, ?)", "x")
      try("too_many", db.one, "SELECT ?", 1, 2)
      try("none_wanted", db.query, "SELECT 1", 1)
      try("two_statements", db.exec, "INSERT INTO residents (name) VALUES ('a'); DELETE FROM residents")
      try("two_selects", db.query, "SELECT 1; SELECT 2")
      try("bad_sql", db.query, "SELEKT 1")
      try("bad_value", db.exec, "SELECT ?", {})
      try("no_sql", db.query, "  -- nothing here")
      try("sleep_in_tx", db.tx, function() borough.sleep(0.01) end)
      try("begin", db.exec, "BEGIN IMMEDIATE")
      try("commit", db.exec, "  /* hidden */ commit")
      try("savepoint", db.exec, "SAVEPOINT mine")
      try("rollback", db.query, "ROLLBACK")
      try("vacuum", db.exec, "VACUUM")
      try("schema_delete", db.exec, "DELETE FROM sqlite_master")
      try("schema_insert", db.exec, "INSERT INTO sqlite_schema VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(a)')")
      try("attach", db.exec, "ATTACH DATABASE '/tmp/x.db' AS x")
      try("pragma_write", db.exec, "PRAGMA journal_mode = DELETE")
      local ok = pcall(db.one, "SELECT 1 AS one;  -- a trailing semicolon and comment are fine")
      out.trailing_ok = ok
      out.count = db.one("SELECT count(*) AS n FROM residents").n
      return borough.json(out)
    end)

    app:post("/tx/commit", { csrf = false }, function(req)
      local a, b = db.tx(function(x)
        db.exec("INSERT INTO residents (name) VALUES (?)", x)
        db.exec("INSERT INTO residents (name) VALUES (?)", x .. "2")
        return "done", 7
      end, req.form.name)
      return borough.json { a, b }
    end)

    app:post("/tx/fail", { csrf = false }, function(req)
      db.tx(function()
        db.exec("INSERT INTO residents (name) VALUES ('lost')")
        error("tx failure on purpose")
      end)
      return "not reached"
    end)

    app:post("/tx/caught", { csrf = false }, function(req)
      local ok, err = pcall(db.tx, function()
        db.exec("INSERT INTO residents (name) VALUES ('lost')")
        error({ code = 7 })
      end)
      return borough.json { ok = ok, code = err.code }
    end)

    app:post("/tx/nested", { csrf = false }, function(req)
      db.tx(function()
        db.exec("INSERT INTO residents (name) VALUES ('outer1')")
        local ok, err = pcall(db.tx, function()
          db.exec("INSERT INTO residents (name) VALUES ('inner-lost')")
          error("inner failure", 0)
        end)
        assert(not ok and err == "inner failure")
        db.tx(function()
          db.exec("INSERT INTO residents (name) VALUES ('inner-kept')")
        end)
        db.exec("INSERT INTO residents (name) VALUES ('outer2')")
      end)
      return "ok"
    end)

    app:post("/tx/sleep", { csrf = false }, function(req)
      db.tx(function()
        db.exec("INSERT INTO residents (name) VALUES ('slept')")
        borough.sleep(0.01)
      end)
      return "not reached"
    end)

    app:get("/names", function(req)
      local names = {}
      for i, row in ipairs(db.query("SELECT name FROM residents ORDER BY id")) do names[i] = row.name end
      return borough.json(json.array(names))
    end)

    app:post("/reset", { csrf = false }, function(req) db.exec("DELETE FROM residents") end)
    return app
''')}


@test
def db_exec_returns_changes_and_last_insert_id():
    with Server({"db": DB_APP}) as s:
        expect(request(s.port, "POST", "/db/exec"), 200, "[2,2,2,2,0,2]", ctype="application/json")


@test
def db_query_keeps_types_and_omits_nulls():
    with Server({"db": DB_APP}) as s:
        expect_json(get(s.port, "/db/types"), [
            {"keys": "age,id,name,photo,score", "id": "integer", "age": "integer", "age_value": "36",
             "score": "float", "score_value": "2.0", "photo": "string", "photo_bytes": "0,255,65"},
            {"keys": "id,name,score", "id": "integer", "score": "float", "score_value": "0.25"},
            {"keys": "age,id,name", "id": "integer", "age": "integer", "age_value": "9007199254740993"},
        ])


@test
def db_one_returns_a_row_or_nil_and_parameters_are_bound():
    with Server({"db": DB_APP}) as s:
        c = Client(s.port)
        evil = "x'); DROP TABLE residents; --"
        r = c.post_form("/db/bound", {"name": evil})
        expect_json(r, {"name": evil, "n": 1})
        r = c.post_form("/db/bound", {"name": "Robert'); DELETE FROM residents WHERE ('1'='1"})
        expect_json(r, {"name": "Robert'); DELETE FROM residents WHERE ('1'='1", "n": 1})
        expect_json(c.get("/db/count"), {"n": 2})
        expect_json(c.get("/db/one/1"), {"id": 1, "name": evil})
        assert b"Page not found" in expect(c.get("/db/one/99"), 404).body
        c.close()
        # Stored verbatim, as the database's own client sees it.
        assert query(os.path.join(s.data_dir, "db", "app.db"), "SELECT name FROM residents WHERE id = 1") == [
            {"name": evil}]


@test
def db_errors_are_refused_with_clear_messages():
    # What each engine itself says differs; what the platform says does not.
    if pglib.shared():
        engine = {
            "bad_sql": 'db: syntax error at or near "SELEKT"',
            "vacuum": "db: VACUUM is not allowed",
            "schema_delete": 'db: relation "sqlite_master" does not exist',
            "schema_insert": 'db: relation "sqlite_schema" does not exist',
            "attach": "db: this statement is not in the portable SQL subset (docs/apps.md)",
            "pragma_write": "db: this statement is not in the portable SQL subset (docs/apps.md)",
        }
    else:
        engine = {
            "bad_sql": 'db: near "SELEKT": syntax error',
            "vacuum": "db: VACUUM is not allowed",
            "schema_delete": "db: table sqlite_master may not be modified",
            "schema_insert": "db: table sqlite_master may not be modified",
            "attach": "db: not authorized",
            "pragma_write": "db: not authorized",
        }
    with Server({"db": DB_APP}) as s:
        expect_json(get(s.port, "/db/errors"), {
            "too_few": "db: the SQL has 2 parameters but 1 value was given",
            "too_many": "db: the SQL has 1 parameter but 2 values were given",
            "none_wanted": "db: the SQL has 0 parameters but 1 value was given",
            "two_statements": "db: only one SQL statement is allowed per call",
            "two_selects": "db: only one SQL statement is allowed per call",
            "bad_sql": engine["bad_sql"],
            "bad_value": "db: cannot bind a table (parameter 1)",
            "no_sql": "db: no SQL statement given",
            "sleep_in_tx": "%s:%d: borough.sleep cannot wait here (inside db.tx, a metamethod or an iterator)"
                           % (os.path.join(s.apps_dir, "db", "app.lua"),
                              line_of(DB_APP["app.lua"], 'try("sleep_in_tx"')),
            "begin": "db: transaction statements are not allowed; use db.tx(fn) for a transaction",
            "commit": "db: transaction statements are not allowed; use db.tx(fn) for a transaction",
            "savepoint": "db: transaction statements are not allowed; use db.tx(fn) for a transaction",
            "rollback": "db: transaction statements are not allowed; use db.tx(fn) for a transaction",
            "vacuum": engine["vacuum"],
            "schema_delete": engine["schema_delete"],
            "schema_insert": engine["schema_insert"],
            "attach": engine["attach"],
            "pragma_write": engine["pragma_write"],
            "trailing_ok": True,
            "count": 0,
        })
        # None of that left a transaction open: a write from the next request is durable.
        expect_json(request(s.port, "POST", "/db/tx/commit", {"Content-Type": "application/x-www-form-urlencoded"},
                            "name=Kept"), ["done", 7])
        assert query(os.path.join(s.data_dir, "db", "app.db"), "SELECT name FROM residents ORDER BY id") == [
            {"name": "Kept"}, {"name": "Kept2"}]


@test
def db_tx_commits_on_return_and_rolls_back_on_error():
    with Server({"db": DB_APP}) as s:
        c = Client(s.port)
        expect_json(c.post_form("/db/tx/commit", {"name": "Ann"}), ["done", 7])
        # An error inside db.tx reaches the handler: 500, nothing stored.
        r = c.request("POST", "/db/tx/fail")
        expect(r, 500)
        rid = re.search(r"<p>Reference: (\S+)</p>", r.text).group(1)
        s.wait_log(r"error \[db\] id=%s \S*apps/db/app\.lua:\d+: tx failure on purpose" % re.escape(rid))
        # Caught by pcall: the error value comes through unchanged.
        expect_json(c.request("POST", "/db/tx/caught"), {"ok": False, "code": 7})
        # Savepoints: the failed inner transaction alone is undone.
        expect(c.request("POST", "/db/tx/nested"), 200, "ok")
        # borough.sleep inside db.tx: refused, the transaction rolled back.
        expect(c.request("POST", "/db/tx/sleep"), 500)
        s.wait_log(r"error \[db\] .*borough\.sleep cannot wait here \(inside db\.tx")
        expect_json(c.get("/db/names"), ["Ann", "Ann2", "outer1", "inner-kept", "outer2"])
        # The database is not left locked or inside a transaction.
        expect_json(c.post_form("/db/tx/commit", {"name": "Zed"}), ["done", 7])
        expect_json(c.get("/db/count"), {"n": 7})
        c.close()


@test
def db_schema_changes_while_serving():
    apps = {"mig": {"app.lua": lua('''
        local app = borough.app { public = true, title = "Migrations" }
        db.exec("CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, ref TEXT)")
        app:get("/all", function(req) return borough.json(db.query("SELECT * FROM cases")) end)
        app:get("/first", function(req) return borough.json(db.one("SELECT * FROM cases")) end)
        app:post("/add", { csrf = false }, function(req)
          db.exec("INSERT INTO cases (ref) VALUES (?)", req.form.ref)
        end)
        app:post("/migrate", { csrf = false }, function(req)
          db.exec("ALTER TABLE cases ADD COLUMN status TEXT NOT NULL DEFAULT 'open'")
          db.exec("CREATE INDEX cases_status ON cases (status)")
          db.exec("CREATE TABLE scratch (x TEXT)")
          db.exec("DROP TABLE scratch")
        end)
        return app
    ''')}}
    with Server(apps) as s:
        c = Client(s.port)
        assert c.post_form("/mig/add", {"ref": "C-1"}).status == 204
        expect(c.get("/mig/all"), 200, '[{"id":1,"ref":"C-1"}]', ctype="application/json")
        expect(c.get("/mig/first"), 200, '{"id":1,"ref":"C-1"}', ctype="application/json")
        assert c.request("POST", "/mig/migrate").status == 204
        # The same SQL text, re-prepared by SQLite: the rows carry the new column.
        for _ in range(2):
            expect(c.get("/mig/all"), 200, '[{"id":1,"ref":"C-1","status":"open"}]', ctype="application/json")
            expect(c.get("/mig/first"), 200, '{"id":1,"ref":"C-1","status":"open"}', ctype="application/json")
        c.close()


@test
def db_file_is_per_app_in_wal_mode():
    # Each app has a database of its own: a file in WAL mode on SQLite, a
    # schema on PostgreSQL; one app cannot see another's tables.
    kv = ("db.exec(\"INSERT INTO kv (k, v) VALUES ('who', '%s') ON CONFLICT (k) DO UPDATE SET v = excluded.v\")")
    two = {
        "one": {"app.lua": lua('''
            local app = borough.app { public = true, title = "One" }
            db.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)")
            %s
            app:get("/", function(req) return db.one("SELECT v FROM kv WHERE k = 'who'").v end)
            app:get("/peek", function(req)
              local ok = pcall(db.query, "SELECT count(*) AS n FROM only_two")
              return ok and "seen" or "unseen"
            end)
            return app
        ''' % (kv % "one"))},
        "two": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Two" }
            db.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)")
            db.exec("CREATE TABLE IF NOT EXISTS only_two (x TEXT)")
            %s
            app:get("/", function(req) return db.one("SELECT v FROM kv WHERE k = 'who'").v end)
            return app
        ''' % (kv % "two"))},
    }
    with Server(two, workers=2) as s:
        for _ in range(4):
            expect(get(s.port, "/one/"), 200, "one")
            expect(get(s.port, "/two/"), 200, "two")
        expect(get(s.port, "/one/peek"), 200, "unseen")
        for app, tables in (("one", ["kv"]), ("two", ["kv", "only_two"])):
            path = os.path.join(s.data_dir, app, "app.db")
            assert query(path, "SELECT v FROM kv") == [{"v": app}]
            if pglib.shared():
                names = query(path, "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() "
                                    "AND tablename NOT LIKE '\\_borough\\_%' ORDER BY tablename")
                assert [r["name"] for r in names] == tables, names
                continue
            assert os.path.isfile(path), path
            con = sqlite3.connect(path)
            try:
                assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
                assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                                                  )] == tables
            finally:
                con.close()


# ---------------------------------------------------------------------------
# Host mounting and the root mount
# ---------------------------------------------------------------------------

@test
def host_app_answers_only_its_host():
    apps = {
        "grants": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Grants", host = "grants.example.test" }
            app:get("/", function(req) return "grants " .. req.path .. " " .. borough.url("/apply") end)
            app:get("/apply", function(req) return "apply " .. req.path end)
            return app
        ''')},
        "hello": HELLO_APP,
    }
    with Server(apps) as s:
        for host in ("grants.example.test", "grants.example.test:8080", "GRANTS.Example.TEST"):
            expect(get(s.port, "/", host=host), 200, "grants / /apply")
            expect(get(s.port, "/apply", host=host), 200, "apply /apply")
        # The hello app still answers on that host by path? No: the host app takes the whole host.
        expect(get(s.port, "/hello/", host="grants.example.test"), 404, NOT_FOUND)
        # Other hosts never reach it.
        for host in ("127.0.0.1", "other.example.test", "example.test", "grants.example.test.evil",
                     "xgrants.example.test"):
            expect(get(s.port, "/apply", host=host), 404, NOT_FOUND)
            expect(get(s.port, "/hello/", host=host), 200, "Hello, World!")
        # A host-only app has no path to list on the front door.
        assert front_door(get(s.port, "/")) == [("/hello/", "Hello")]


@test
def host_and_mount_together():
    apps = {"grants": {"app.lua": lua('''
        local app = borough.app { public = true, title = "Grants", host = "grants.example.test", mount = "/grants" }
        app:get("/", function(req) return "grants " .. borough.url("/x") end)
        return app
    ''')}}
    with Server(apps) as s:
        expect(get(s.port, "/", host="grants.example.test"), 200, "grants /x")
        expect(get(s.port, "/grants/"), 200, "grants /grants/x")


@test
def root_app_takes_unclaimed_paths_but_not_healthz():
    apps = {
        "site": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Site", mount = "/" }
            app:get("/", function(req) return "site home" end)
            app:get("/*", function(req) return "site " .. req.path .. " " .. req.params.splat end)
            app:post("/healthz", function(req) return "never" end)
            return app
        ''')},
        "hello": HELLO_APP,
    }
    with Server(apps) as s:
        expect(get(s.port, "/"), 200, "site home")
        expect(get(s.port, "/about/us"), 200, "site /about/us about/us")
        expect(get(s.port, "/hellox"), 200, "site /hellox hellox")
        expect(get(s.port, "/hello/"), 200, "Hello, World!")
        r = expect(get(s.port, "/healthz"), 200, "ok\n", ctype="text/plain; charset=utf-8")
        assert r.header("cache-control") == "no-store", r
        r = request(s.port, "POST", "/healthz")
        assert r.status == 405, r


# ---------------------------------------------------------------------------
# Broken apps beside a working one
# ---------------------------------------------------------------------------

GOOD_APP = {"app.lua": lua('''
    local app = borough.app { public = true, title = "Good", mount = "/good" }
    app:get("/", function(req) return "good" end)
    return app
''')}

# name -> (app.lua, a regular expression for the message after "apps/<name>/app.lua")
BROKEN = {
    "syntax": (lua('''
        local app = borough.app { public = true, title = "Syntax" }
        app:get("/", function(req)
          return "x" +
        end)
        return app
    '''), r":4: unexpected symbol near 'end'"),
    "loaderr": (lua('''
        local app = borough.app { public = true, title = "Load error" }
        local t = nil
        app:get("/", function(req) return "x" end)
        local n = t.field
        return app
    '''), r":4: attempt to index a nil value \(local 't'\)"),
    "noreturn": (lua('''
        local app = borough.app { public = true, title = "No return" }
        app:get("/", function(req) return "x" end)
    '''), r": must end with `return app`, the app made by borough\.app\{\.\.\.\}"),
    "badroute": (lua('''
        local app = borough.app { public = true, title = "Bad route" }
        app:get("/", function(req) return "x" end)
        app:get("cases/:id", function(req) return "x" end)
        return app
    '''), r":3: invalid route pattern \"cases/:id\": it must start with '/'"),
    "badsplat": (lua('''
        local app = borough.app { public = true, title = "Bad splat" }
        app:get("/", function(req) return "x" end)

        app:get("/files/*/more", function(req) return "x" end)
        return app
    '''), r":4: invalid route pattern \"/files/\*/more\": '\*' must be the last segment"),
    "duproute": (lua('''
        local app = borough.app { public = true, title = "Duplicate" }
        app:get("/cases/:id", function(req) return "x" end)
        app:post("/cases/:id", function(req) return "x" end)
        app:get("/cases/:name/", function(req) return "y" end)
        return app
    '''), r":4: route GET /cases/:name/ is declared twice \(first as /cases/:id\)"),
    "unknownfield": (lua('''
        -- a comment first
        local app = borough.app { public = true, title = "Unknown", colour = "red" }
        return app
    '''), r":2: borough\.app: unknown field 'colour'"),
    "wrongtype": (lua('''
        local app = borough.app { public = true,
          title = 5,
        }
        return app
    '''), r":1: borough\.app: title must be a string, not a number"),
    "badmount": (lua('''
        local app = borough.app { public = true, title = "Bad mount",
          mount = "no-slash" }
        app:get("/", function(req) return "x" end)
        return app
    '''), r":1: borough\.app: mount must be a path such as \"/grants\", not \"no-slash\""),
    "badopt": (lua('''
        local app = borough.app { public = true, title = "Bad option" }
        app:get("/", { pubic = true }, function(req) return "x" end)
        return app
    '''), r":2: app:get\(\"/\"\): unknown option 'pubic' \(the options are csrf, files, max_body, public, role\)"),
}


# More manifest mistakes, each caught at the line of its borough.app call.
MANIFEST_ERRORS = {
    "m1": ('local app = borough.app { public = true, mount = "/a//b" }', r'mount must be a path such as "/grants", not "/a//b"'),
    "m2": ('local app = borough.app { public = true, mount = "/a/../b" }', r'mount must be a path such as "/grants", not "/a/\.\./b"'),
    "m3": ('local app = borough.app { public = true, mount = "/gr ants" }', r'mount must be a path such as "/grants", not "/gr ants"'),
    "m4": ('local app = borough.app { public = true, mount = "" }', r'mount must be a path such as "/grants", not ""'),
    "h1": ('local app = borough.app { public = true, host = "https://x.example.test" }',
           r'host must be a host name such as "grants\.example\.gov\.uk", not "https://x\.example\.test"'),
    "h2": ('local app = borough.app { public = true, host = "x.example.test:8080" }',
           r'host must be a host name such as "grants\.example\.gov\.uk", not "x\.example\.test:8080"'),
    "l1": ('local app = borough.app { public = true, limits = { memory = -1 } }', r"limits\.memory must be a positive whole number"),
    "l2": ('local app = borough.app { public = true, limits = { time = 1.5 } }', r"limits\.time must be a positive whole number"),
    "l3": ('local app = borough.app { public = true, limits = { cpu = 1 } }',
           r"unknown limit 'cpu' \(limits are memory, instructions, time, body and streams\)"),
    "p1": ('local app = borough.app { public = "yes" }', r"public must be a boolean, not a string"),
    "r1": ('local app = borough.app { public = true, roles = "admin" }', r"roles must be a table, not a string"),
    "s1": ('local app = borough.app "Grants"', r'borough\.app expects a table such as \{ title = "Grants" \}'),
}


def broken_tree(names=None):
    tree = {"good": GOOD_APP}
    for name, (source, _) in BROKEN.items():
        if names is None or name in names:
            tree[name] = {"app.lua": source}
    return tree


@test
def broken_apps_answer_503_beside_a_working_one():
    with Server(broken_tree()) as s:
        expect(get(s.port, "/good/"), 200, "good")
        for name, (_, why) in BROKEN.items():
            r = expect(get(s.port, "/%s/" % name), 503, UNAVAILABLE)
            assert_security_headers(r)
            r = expect(get(s.port, "/%s/anything/else" % name), 503, UNAVAILABLE)
            s.wait_log(r"error \[%s\] /\S*/apps/%s/app\.lua%s" % (name, name, why))
        # One line per broken app, no more.
        for name in BROKEN:
            lines = [l for l in s.log().splitlines() if "[%s]" % name in l and " error " in l]
            assert len(lines) == 1, (name, lines)
        # The front door lists what a visitor may use: a public app that
        # does not load shows without a link; one whose manifest was never
        # read (public or not) not at all. The console's Apps page shows all.
        listed = front_door(get(s.port, "/"))
        assert ("/good/", "Good") in listed, listed
        assert all(link is None for link, title in listed if title != "Good"), listed
        expect(get(s.port, "/good/"), 200, "good")


@test
def two_apps_claiming_one_mount():
    apps = {
        "alpha": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Alpha", mount = "/shared" }
            app:get("/", function(req) return "alpha" end)
            return app
        ''')},
        "beta": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Beta", mount = "/shared/" }
            app:get("/", function(req) return "beta" end)
            return app
        ''')},
        "gamma": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Gamma", host = "g.example.test" }
            app:get("/", function(req) return "gamma" end)
            return app
        ''')},
        "delta": {"app.lua": lua('''
            local app = borough.app { public = true, title = "Delta", host = "G.example.test" }
            app:get("/", function(req) return "delta" end)
            return app
        ''')},
        "good": GOOD_APP,
    }
    with Server(apps) as s:
        expect(get(s.port, "/shared/"), 200, "alpha")
        expect(get(s.port, "/beta/"), 503, UNAVAILABLE)
        expect(get(s.port, "/good/"), 200, "good")
        s.wait_log(r"error \[beta\] /\S*/apps/beta/app\.lua: mount /shared is already used by another app")
        # Hosts too: "delta" sorts first and keeps the host.
        expect(get(s.port, "/", host="g.example.test"), 200, "delta")
        s.wait_log(r"error \[gamma\] /\S*/apps/gamma/app\.lua: host g\.example\.test is already used by another app")
        listed = front_door(get(s.port, "/"))
        assert listed == [("/shared/", "Alpha"), ("/good/", "Good")], listed


# ---------------------------------------------------------------------------
# borough check
# ---------------------------------------------------------------------------

@test
def check_reports_every_broken_app_and_exits_1():
    with Folder(broken_tree()) as root:
        status, out, err = borough("check", "apps", cwd=root)
        assert status == 1, (status, out, err)
        assert out == "ok apps/good (/good)\n", out
        lines = err.splitlines()
        assert len(lines) == len(BROKEN), lines
        for name, (_, why) in BROKEN.items():
            matching = [l for l in lines if l.startswith("apps/%s/app.lua" % name)]
            assert len(matching) == 1, (name, lines)
            assert re.fullmatch(r"apps/%s/app\.lua%s" % (name, why), matching[0]), (matching[0], why)
        # check must not leave data behind in the folder it was run from.
        assert sorted(os.listdir(root)) == ["apps"], os.listdir(root)


@test
def check_reports_manifest_errors_at_their_line():
    tree = {"good": GOOD_APP}
    for name, (line, _) in MANIFEST_ERRORS.items():
        tree[name] = {"app.lua": "-- line 1\n\n" + line + "\nreturn app\n"}
    with Folder(tree) as root:
        status, out, err = borough("check", "apps", cwd=root)
        assert status == 1 and out == "ok apps/good (/good)\n", (status, out, err)
        lines = err.splitlines()
        assert len(lines) == len(MANIFEST_ERRORS), lines
        for line, (name, (_, why)) in zip(lines, sorted(MANIFEST_ERRORS.items())):
            assert re.fullmatch(r"apps/%s/app\.lua:3: (borough\.app: )?%s" % (name, why), line), (line, why)
    # The server keeps the good app and marks the rest unavailable.
    with Server(dict(tree)) as s:
        expect(get(s.port, "/good/"), 200, "good")
        for name in MANIFEST_ERRORS:
            s.wait_log(r"error \[%s\] /\S*/apps/%s/app\.lua:3: " % (name, name))
        expect(get(s.port, "/m1/"), 503, UNAVAILABLE)


@test
def check_passes_good_apps_and_single_folders():
    tree = {"good": GOOD_APP, "hello": HELLO_APP, "root": {"app.lua": lua('''
        local app = borough.app { public = true, mount = "/" }
        return app
    ''')}, "hosted": {"app.lua": lua('''
        local app = borough.app { public = true, host = "h.example.test" }
        return app
    ''')}, "notes": {"README.txt": "not an app: no app.lua"}}
    with Folder(tree) as root:
        status, out, err = borough("check", "apps", cwd=root)
        assert (status, err) == (0, ""), (status, out, err)
        assert out == ("ok apps/good (/good)\nok apps/hello (/hello)\nok apps/hosted (h.example.test)\n"
                       "ok apps/root (/)\n"), out
        # The default PATH is apps.
        assert borough("check", cwd=root) == (0, out, ""), borough("check", cwd=root)
        # One app folder.
        assert borough("check", "apps/hello", cwd=root) == (0, "ok apps/hello (/hello)\n", "")
        assert borough("check", "apps/hello/", cwd=root) == (0, "ok apps/hello (/hello)\n", "")
        write_tree(os.path.join(root, "apps"), {"syntax": {"app.lua": BROKEN["syntax"][0]}})
        status, out, err = borough("check", "apps/syntax", cwd=root)
        assert (status, out) == (1, ""), (status, out, err)
        assert re.fullmatch(r"apps/syntax/app\.lua%s\n" % BROKEN["syntax"][1], err), err
        # A missing folder, and a folder with no apps.
        status, out, err = borough("check", "missing", cwd=root)
        assert (status, out) == (1, ""), (status, out, err)
        assert err == "borough check: cannot open the apps folder missing: No such file or directory\n", err
        status, out, err = borough("check", "apps/notes", cwd=root)
        assert (status, out) == (1, ""), (status, out, err)
        assert err.startswith("borough check: no apps in apps/notes"), err


@test
def command_line_usage_errors_exit_2():
    for args, first, usage in [
        (("check", "a", "b"), "borough check: takes one PATH, not b", "usage: borough check [PATH]"),
        (("frobnicate",), "borough: unknown command frobnicate", "  borough serve"),
        (("serve", "--workers", "0"), "borough serve: --workers wants a number from 1 to 256, not 0",
         "usage: borough serve"),
        (("serve", "--workers", "many"), "borough serve: --workers wants a number from 1 to 256, not many",
         "usage: borough serve"),
        (("serve", "--listen"), "borough serve: --listen needs a value", "usage: borough serve"),
        (("serve", "--listen", "nowhere"), "borough serve: --listen wants HOST:PORT, not nowhere",
         "usage: borough serve"),
        (("serve", "--bogus", "1"), "borough serve: unknown option --bogus", "usage: borough serve"),
        (("version", "extra"), "borough version: takes no arguments", "usage: borough version"),
        ((), "usage:", "  borough serve"),
    ]:
        status, out, err = borough(*args)
        assert status == 2, (args, status, out, err)
        assert out == "", (args, out)
        lines = err.splitlines()
        assert lines[0] == first, (args, err)
        assert any(l.startswith(usage) for l in lines), (args, err)
    status, out, err = borough("version")
    assert status == 0 and err == "", (status, out, err)
    assert re.fullmatch(r"borough \S+ \(Lua 5\.4, SQLite 3\.\S+, libuv 1\.\S+\)\n", out), out
    # serve with an apps folder that does not exist is a user error.
    status, out, err = borough("serve", "/nonexistent/apps", "--listen", "127.0.0.1:0")
    assert status == 1 and err == "borough serve: the apps folder /nonexistent/apps does not exist\n", (status, err)


# ---------------------------------------------------------------------------
# db at load time and with several workers
# ---------------------------------------------------------------------------

@test
def db_at_load_time_works_with_several_workers():
    apps = {"notes": {"app.lua": lua('''
        local app = borough.app { public = true, title = "Notes" }
        db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        local at_load = db.one("SELECT count(*) AS n FROM notes")
        app:post("/", { csrf = false }, function(req)
          local _, id = db.exec("INSERT INTO notes (body) VALUES (?)", req.form.body)
          return borough.redirect(borough.url("/" .. id))
        end)
        app:get("/:id", function(req)
          local row = db.one("SELECT id, body FROM notes WHERE id = ?", math.tointeger(tonumber(req.params.id)))
          if not row then return borough.status(404) end
          return borough.json(row)
        end)
        app:get("/", function(req) return borough.text(at_load.n .. " notes at load") end)
        return app
    ''')}}
    with Server(apps, workers=3) as s:
        expect(get(s.port, "/notes/"), 200, "0 notes at load", ctype="text/plain; charset=utf-8")
        for i in range(1, 7):
            c = Client(s.port)
            r = c.post_form("/notes/", {"body": "note %d & more" % i})
            assert r.status == 303 and r.header("location") == "/notes/%d" % i, r
            expect_json(c.get("/notes/%d" % i), {"id": i, "body": "note %d & more" % i})
            c.close()


run()
