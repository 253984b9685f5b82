#!/usr/bin/env python3
"""End-to-end tests of static files (apps/<app>/static/, served at
<mount>/static/...): media types, ETag and If-None-Match, HEAD,
Cache-Control, and every traversal shape we know, none of which may answer
anything but a 404 that leaks no file.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, raw  # noqa: E402

APP_SOURCE = '''-- APP-SOURCE-MARKER: this text must never be served
local app = borough.app { public = true, title = "Hello", mount = "/hello" }
app:get("/", function(req) return "Hello, World!" end)
return app
'''
CSS = b"body { color: #0b0c0c; }\n"
JS = b"document.documentElement.className += ' js-enabled';\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes((i * 7 + 3) % 256 for i in range(70000))
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>\n'
HTML = b"<!DOCTYPE html>\n<title>Static page</title>\n"
SECRET = b"TOP-SECRET-OUTSIDE-THE-APP\n"
DOTENV = b"PASSWORD=DOTENV-SECRET\n"

NOT_FOUND = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             "<title>Page not found</title></head>\n<body><main>\n<h1>Page not found</h1>\n"
             "<p>If you typed the web address, check it is correct.</p>\n</main></body></html>\n").encode()

MARKERS = (b"APP-SOURCE-MARKER", b"TOP-SECRET", b"DOTENV-SECRET", b"OTHER-APP-SECRET", b"root:x:0:0")


def static_server():
    """A server whose apps hold static files, with symlinks added before it
    starts. secret.txt lies outside the apps folder."""
    srv = Server({
        "hello": {
            "app.lua": APP_SOURCE,
            "static": {
                "site.css": CSS, "app.js": JS, "logo.png": PNG, "icon.svg": SVG, "page.html": HTML,
                "data.xyz": b"unknown kind\n", "LICENSE": b"no extension\n", "my file.txt": b"spaced\n",
                "caf\u00e9.txt": b"accented\n", "UPPER.CSS": b"upper\n",
                ".env": DOTENV,
                "sub": {"deep.css": b"/* deep */\n", ".hidden": DOTENV},
            },
        },
        "other": {
            "app.lua": 'local app = borough.app { public = true, title = "Other" }\nreturn app\n',
            "static": {"secret.txt": b"OTHER-APP-SECRET\n"},
        },
        "bare": {"app.lua": 'local app = borough.app { public = true, title = "Bare" }\nreturn app\n'},
    })
    with open(os.path.join(srv.tmp, "secret.txt"), "wb") as f:
        f.write(SECRET)
    static = os.path.join(srv.apps_dir, "hello", "static")
    os.symlink(os.path.join(srv.tmp, "secret.txt"), os.path.join(static, "outside.txt"))
    os.symlink("../../../secret.txt", os.path.join(static, "outside-relative.txt"))
    os.symlink("../app.lua", os.path.join(static, "app-source.txt"))
    os.symlink("../../other/static/secret.txt", os.path.join(static, "other-app.txt"))
    os.symlink("/etc", os.path.join(static, "etc"))
    os.symlink("sub/deep.css", os.path.join(static, "inside.css"))
    os.symlink("site.css", os.path.join(static, "alias.css"))
    os.symlink("sub", os.path.join(static, "subdir"))
    os.symlink("loop-b", os.path.join(static, "loop-a"))
    os.symlink("loop-a", os.path.join(static, "loop-b"))
    os.symlink("nowhere.css", os.path.join(static, "dangling.css"))
    os.mkfifo(os.path.join(static, "pipe.css"))
    return srv


def etag_of(srv, name):
    st = os.stat(os.path.join(srv.apps_dir, "hello", "static", name))
    return '"%x-%x"' % (st.st_size, st.st_mtime_ns)


def assert_served(r, body, ctype):
    assert r.status == 200, r
    assert r.headers.get("content-type") == [ctype], r
    assert r.headers.get("cache-control") == ["no-cache"], r
    assert len(r.headers.get("etag", [])) == 1, r
    assert r.headers.get("x-content-type-options") == ["nosniff"], r
    assert r.body == body, (r.body[:100], body[:100])
    assert r.header("content-length") == str(len(body)), r


def assert_refused(r, what):
    assert r.status == 404, (what, r)
    assert r.body == NOT_FOUND, (what, r)
    assert r.headers.get("content-type") == ["text/html; charset=utf-8"], (what, r)
    assert "etag" not in r.headers, (what, r)


@test
def media_types_and_exact_bodies():
    with static_server() as s:
        c = Client(s.port)
        for name, body, ctype in [
            ("site.css", CSS, "text/css; charset=utf-8"),
            ("app.js", JS, "text/javascript; charset=utf-8"),
            ("logo.png", PNG, "image/png"),
            ("icon.svg", SVG, "image/svg+xml; charset=utf-8"),
            ("page.html", HTML, "text/html; charset=utf-8"),
            ("data.xyz", b"unknown kind\n", "application/octet-stream"),
            ("LICENSE", b"no extension\n", "application/octet-stream"),
            ("sub/deep.css", b"/* deep */\n", "text/css; charset=utf-8"),
        ]:
            r = c.get("/hello/static/" + name)
            assert_served(r, body, ctype)
            assert r.headers["etag"] == [etag_of(s, name)], (name, r)
        # A %-encoded name, and a query string that is not part of the file name.
        assert_served(c.get("/hello/static/my%20file.txt"), b"spaced\n", "text/plain; charset=utf-8")
        assert_served(c.get("/hello/static/site.css?v=123"), CSS, "text/css; charset=utf-8")
        assert_served(c.get("/hello/static/%73ite.css"), CSS, "text/css; charset=utf-8")
        assert_served(c.get("/hello/static/caf%C3%A9.txt"), b"accented\n", "text/plain; charset=utf-8")
        assert_served(c.get("/hello/static/UPPER.CSS"), b"upper\n", "text/css; charset=utf-8")
        c.close()


@test
def etag_and_if_none_match():
    with static_server() as s:
        c = Client(s.port)
        tag = etag_of(s, "site.css")
        for inm in (tag, "W/" + tag, '"nope", ' + tag, ' "a" ,, %s ' % tag, "*"):
            r = c.get("/hello/static/site.css", {"If-None-Match": inm})
            assert r.status == 304, (inm, r)
            assert r.body == b"", r
            assert r.headers.get("etag") == [tag], r
            assert r.headers.get("cache-control") == ["no-cache"], r
            assert "content-type" not in r.headers and "content-length" not in r.headers, r
        # No match, a malformed list, or the tag of another file: the whole file.
        for inm in ('"nope"', tag[:-2] + '"', tag[1:-1], etag_of(s, "app.js"), "%s, garbage" % tag, "W/"):
            r = c.get("/hello/static/site.css", {"If-None-Match": inm})
            assert_served(r, CSS, "text/css; charset=utf-8")
        # A changed file gets a new tag, and the old one no longer matches.
        path = os.path.join(s.apps_dir, "hello", "static", "site.css")
        with open(path, "ab") as f:
            f.write(b"/* more */\n")
        r = c.get("/hello/static/site.css", {"If-None-Match": tag})
        assert_served(r, CSS + b"/* more */\n", "text/css; charset=utf-8")
        assert r.headers["etag"] == [etag_of(s, "site.css")] and r.headers["etag"] != [tag], r
        c.close()


@test
def head_answers_the_headers_only():
    with static_server() as s:
        c = Client(s.port)
        r = c.request("HEAD", "/hello/static/logo.png")
        assert r.status == 200 and r.body == b"", r
        assert r.header("content-length") == str(len(PNG)), r
        assert r.header("content-type") == "image/png", r
        assert r.headers.get("etag") == [etag_of(s, "logo.png")], r
        assert r.header("cache-control") == "no-cache", r
        r = c.request("HEAD", "/hello/static/logo.png", {"If-None-Match": etag_of(s, "logo.png")})
        assert r.status == 304 and r.body == b"", r
        # The connection is still in step: no body bytes were sent.
        assert_served(c.get("/hello/static/site.css"), CSS, "text/css; charset=utf-8")
        r = c.request("HEAD", "/hello/static/missing.css")
        assert r.status == 404 and r.body == b"", r
        assert_served(c.get("/hello/static/app.js"), JS, "text/javascript; charset=utf-8")
        c.close()


TRAVERSALS = [
    "/hello/static/../app.lua",
    "/hello/static/%2e%2e/app.lua",
    "/hello/static/%2E%2E/app.lua",
    "/hello/static/..%2fapp.lua",
    "/hello/static/..%2Fapp.lua",
    "/hello/static/%2e%2e%2fapp.lua",
    "/hello/static/.%2e/app.lua",
    "/hello/static/%2e./app.lua",
    "/hello/static/sub/../../app.lua",
    "/hello/static/sub/%2e%2e/%2e%2e/app.lua",
    "/hello/static/..%5capp.lua",
    "/hello/static/%5c..%5capp.lua",
    "/hello/static/sub%5c..%5c..%5capp.lua",
    "/hello/static/..\\app.lua",
    "/hello/static/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "/hello/static/../../../secret.txt",
    "/hello/static/%2e%2e/%2e%2e/other/static/secret.txt",
    "/hello/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/hello/static//etc/passwd",
    "/hello/static//site.css",
    "/hello/static/sub//deep.css",
    "/hello/static/./site.css",
    "/hello/static/%2e/site.css",
    "/hello/static/site.css/",
    "/hello//static/site.css",
    "/hello/static/%2fetc%2fpasswd",
    "/hello/static/.env",
    "/hello/static/%2eenv",
    "/hello/static/sub/.hidden",
    "/hello/static/sub/%2ehidden",
    "/hello/static/site.css%00",
    "/hello/static/site.css%00.png",
    "/hello/static/%00",
    "/hello/static/site.css%",
    "/hello/static/site.css%2",
    "/hello/static/%zz",
    "/hello/static/outside.txt",
    "/hello/static/outside-relative.txt",
    "/hello/static/app-source.txt",
    "/hello/static/other-app.txt",
    "/hello/static/etc/passwd",
    "/hello/static/sub",
    "/hello/static/subdir",
    "/hello/static/missing.css",
    "/hello/static/loop-a",
    "/hello/static/dangling.css",
    "/hello/static/pipe.css",
    "/hello/static/" + "a/" * 2100 + "x.css",
    "/hello/static/" + "%41" * 4000,
    "/hello/static/",
    "/hello/static",
    "/bare/static/site.css",
    "/other/static/%2e%2e/app.lua",
]


@test
def traversal_attempts_are_refused_with_404():
    with static_server() as s:
        for path in TRAVERSALS:
            # Raw bytes: no client library gets the chance to tidy the path.
            out = raw(s.port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path)
                      .encode("latin-1"))
            for marker in MARKERS:
                assert marker not in out, (path, out[:400])
            head, _, body = out.partition(b"\r\n\r\n")
            status = int(head.split(b" ")[1])
            # A path the parser itself refuses (a bare backslash) may be a 400.
            if status == 400 and "\\" in path:
                continue
            assert status == 404, (path, out[:400])
            assert body == NOT_FOUND, (path, out[:400])
        # What the symlinks point to inside the folder is served, under the link's name.
        c = Client(s.port)
        assert_served(c.get("/hello/static/inside.css"), b"/* deep */\n", "text/css; charset=utf-8")
        assert_served(c.get("/hello/static/alias.css"), CSS, "text/css; charset=utf-8")
        assert_served(c.get("/hello/static/subdir/deep.css"), b"/* deep */\n", "text/css; charset=utf-8")
        # The other app serves its own file at its own mount.
        r = c.get("/other/static/secret.txt")
        assert r.status == 200 and r.body == b"OTHER-APP-SECRET\n", r
        c.close()
        log = s.log()
        for marker in MARKERS:
            assert marker.decode() not in log, marker


@test
def host_and_root_apps_serve_their_own_static_files():
    srv = Server({
        "grants": {"app.lua": 'local app = borough.app { public = true, host = "grants.example.test" }\nreturn app\n',
                   "static": {"g.css": b"/* grants */\n"}},
        "site": {"app.lua": 'local app = borough.app { public = true, mount = "/" }\nreturn app\n',
                 "static": {"s.css": b"/* site */\n"}},
    })
    with srv as s:
        c = Client(s.port)
        r = c.request("GET", "/static/g.css", host="grants.example.test:80")
        assert_served(r, b"/* grants */\n", "text/css; charset=utf-8")
        assert_served(c.get("/static/s.css"), b"/* site */\n", "text/css; charset=utf-8")
        assert_refused(c.get("/static/g.css"), "grants file by path")
        assert_refused(c.request("GET", "/static/s.css", host="grants.example.test"), "site file by host")
        assert_refused(c.get("/static/%2e%2e/app.lua"), "root traversal")
        c.close()


@test
def only_get_and_head_serve_static_files():
    with static_server() as s:
        c = Client(s.port)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = c.request(method, "/hello/static/site.css")
            assert r.status == 404 and r.body == NOT_FOUND, (method, r)
        assert_served(c.get("/hello/static/site.css"), CSS, "text/css; charset=utf-8")
        c.close()


@test
def absolute_form_targets_are_routed_by_path():
    with static_server() as s:
        c = Client(s.port)
        c.send(b"GET http://127.0.0.1/hello/static/site.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert_served(c.read_response(), CSS, "text/css; charset=utf-8")
        c.send(b"GET http://127.0.0.1:8080/hello/static/sub/deep.css?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert_served(c.read_response(), b"/* deep */\n", "text/css; charset=utf-8")
        for target in ("http://127.0.0.1/hello/static/%2e%2e/app.lua",
                       "http://127.0.0.1/hello/static/..%2fapp.lua",
                       "http://127.0.0.1/hello/static/.env",
                       "http://127.0.0.1/hello/static/outside.txt"):
            c.send(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % target).encode())
            assert_refused(c.read_response(), target)
        c.send(b"GET http://127.0.0.1/hello/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"Hello, World!", r
        c.close()


run()
