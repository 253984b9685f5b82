#!/usr/bin/env python3
"""End-to-end tests of form safety: CSRF tokens (missing, wrong, from another
browser, expired: 403 and nothing written) and file uploads (streamed
multipart parsing, per-field size and type limits, types judged from the
content, storage under data/<app>/files/ with unguessable names, files
served only through the app's routes, truncated bodies).
"""
import hashlib
import hmac
import json
import os
import re
import socket
import sys
import textwrap
import time
import zipfile
import io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, SLOW  # noqa: E402

APP = textwrap.dedent('''
    local app = borough.app { public = true, title = "Forms", mount = "/f" }
    db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")

    app:get("/form", function(req) return borough.view("form", {}) end)
    app:post("/note", function(req)
      db.exec("INSERT INTO notes (body) VALUES (?)", req.form.body)
      return "saved"
    end)
    app:put("/note", function(req) return "put ok" end)
    app:delete("/note", function(req) return "deleted" end)
    app:post("/hook", { csrf = false }, function(req) return "hook " .. req.body end)
    app:get("/count", function(req)
      return borough.text(tostring(db.one("SELECT count(*) AS n FROM notes").n))
    end)

    app:post("/upload", {
      max_body = 30000,
      files = {
        evidence = { max = 4000, types = { "pdf", "png", "jpeg" } },
        sheet = { max = 10000, types = { "docx", "xlsx", "csv" } },
      },
    }, function(req)
      local out = { form = req.form, files = {} }
      for field, f in pairs(req.files) do
        local r = { name = f.name, size = f.size, type = f.type, content_type = f.content_type,
                    error = f.error, message = f.message }
        if not f.error and req.form.keep then r.ref = borough.keep_file(f) end
        out.files[field] = r
      end
      if req.form.fail then error("the handler failed after the upload") end
      return borough.json(out)
    end)
    app:get("/file/:ref", function(req)
      return borough.file(req.params.ref, { name = req.query.name, download = req.query.download == "1" })
    end)
    return app
''')

VIEWS = {"form.html": '<form method="post" action="/f/note">{{ csrf_field() }}<input name="body"></form>'}


def server():
    return Server({"f": {"app.lua": APP, "views": VIEWS}})


def form_token(c):
    """GETs the form; returns (cookie header value, token)."""
    r = c.get("/f/form")
    assert r.status == 200, r
    m = re.search(r'<input type="hidden" name="csrf_token" value="(\d+\.[0-9a-f]{32})">', r.text)
    assert m, r.text
    cookie = r.header("set-cookie")
    assert re.fullmatch(r"borough_csrf=[0-9a-f]{32}; Path=/; HttpOnly; SameSite=Lax", cookie), cookie
    return cookie.split(";")[0], m.group(1)


def count(c):
    return c.get("/f/count").text


def post(c, cookie, fields, path="/f/note"):
    from urllib.parse import urlencode
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        h["Cookie"] = cookie
    return c.request("POST", path, h, urlencode(fields))


# ---------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------

@test
def a_form_with_its_token_is_accepted():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        r = post(c, cookie, {"csrf_token": token, "body": "hello"})
        assert r.status == 200 and r.text == "saved", r
        assert count(c) == "1"
        # The same browser's next form reuses its cookie: no new one is set.
        r = c.get("/f/form", {"Cookie": cookie})
        assert r.header("set-cookie") is None, r
        # PUT and DELETE may carry the token in a header.
        for m, want in (("PUT", "put ok"), ("DELETE", "deleted")):
            r = c.request(m, "/f/note", {"Cookie": cookie, "X-CSRF-Token": token})
            assert r.status == 200 and r.text == want, r
        c.close()
        key = os.path.join(s.data_dir, "csrf.key")
        assert os.stat(key).st_mode & 0o777 == 0o600 and os.path.getsize(key) == 32


@test
def missing_wrong_foreign_and_expired_tokens_get_403_and_nothing_is_written():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        other_cookie, other_token = form_token(Client(s.port))
        ts, mac = token.split(".")
        wrong = ts + "." + ("0" if mac[0] != "0" else "1") + mac[1:]
        cases = [
            ("no token", cookie, {"body": "x"}),
            ("no cookie", None, {"csrf_token": token, "body": "x"}),
            ("wrong MAC", cookie, {"csrf_token": wrong, "body": "x"}),
            ("malformed", cookie, {"csrf_token": "hello", "body": "x"}),
            ("another browser's token", cookie, {"csrf_token": other_token, "body": "x"}),
            ("another browser's cookie", other_cookie, {"csrf_token": token, "body": "x"}),
            ("empty", cookie, {"csrf_token": "", "body": "x"}),
        ]
        for why, ck, fields in cases:
            r = post(c, ck, fields)
            assert r.status == 403, (why, r)
            assert r.header("cache-control") == "no-store", r
            assert "<h1>You cannot do that</h1>" in r.text, r.text
        assert count(c) == "0"
        r = c.request("DELETE", "/f/note", {"Cookie": cookie})
        assert r.status == 403, r
        s.wait_log(r"POST /f/note refused: no CSRF token")
        s.wait_log(r"POST /f/note refused: a wrong CSRF token")
        s.wait_log(r"POST /f/note refused: no CSRF cookie")

        # Tokens are HMAC-SHA256 with the deployment's key: one made now
        # passes, one made 13 hours ago has expired.
        key = open(os.path.join(s.data_dir, "csrf.key"), "rb").read()
        nonce = cookie.split("=")[1]

        def make(t):
            msg = b"borough-csrf\0" + nonce.encode() + b"\0\0" + str(t).encode()
            return "%d.%s" % (t, hmac.new(key, msg, hashlib.sha256).hexdigest()[:32])

        now = int(time.time())
        assert post(c, cookie, {"csrf_token": make(now), "body": "fresh"}).status == 200
        r = post(c, cookie, {"csrf_token": make(now - 13 * 3600), "body": "old"})
        assert r.status == 403, r
        r = post(c, cookie, {"csrf_token": make(now + 3600), "body": "future"})
        assert r.status == 403, r
        s.wait_log(r"POST /f/note refused: an expired CSRF token")
        assert count(c) == "1"
        # In Welsh too.
        r = post(c, cookie, {"body": "x"}, "/f/note?lang=cy")
        assert r.status == 403 and "<h1>Ni allwch wneud hynny</h1>" in r.text, r.text
        c.close()


@test
def a_route_with_csrf_false_takes_posts_without_a_token():
    with server() as s:
        c = Client(s.port)
        r = c.request("POST", "/f/hook", {"Content-Type": "application/json"}, '{"event":1}')
        assert r.status == 200 and r.text == 'hook {"event":1}', r
        c.close()


# ---------------------------------------------------------------------------
# Uploads
# ---------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
BOUNDARY = "----borough-test-7MA4YWxkTrZu0gW"


def docx(inner="word/document.xml"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(inner, "<w:document/>")
    return buf.getvalue()


def multipart(fields, files, boundary=BOUNDARY, close=True):
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (boundary, name, value)).encode()
    for name, filename, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name, filename)).encode()
        out += data + b"\r\n"
    if close:
        out += ("--%s--\r\n" % boundary).encode()
    return out


def upload(c, cookie, token, files, fields=(), path="/f/upload"):
    body = multipart([("csrf_token", token)] + list(fields), files)
    return c.request("POST", path, {"Cookie": cookie, "Content-Type": "multipart/form-data; boundary=" + BOUNDARY},
                     body)


def tmp_files(s):
    d = os.path.join(s.data_dir, "f", "files", "tmp")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@test
def an_upload_within_its_limits_is_stored_and_served_back_by_the_app():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        r = upload(c, cookie, token, [("evidence", "C:\\Users\\me\\scan 1.pdf", PDF), ("sheet", "a.docx", docx())],
                   [("keep", "1"), ("note", "two files")])
        assert r.status == 200, r
        out = json.loads(r.body)
        assert out["form"] == {"csrf_token": token, "keep": "1", "note": "two files"}, out
        ev, sh = out["files"]["evidence"], out["files"]["sheet"]
        assert re.fullmatch(r"[0-9a-f]{64}\.pdf", ev.pop("ref")), ev
        assert ev == {"name": "scan 1.pdf", "size": len(PDF), "type": "pdf", "content_type": "application/pdf"}, ev
        assert re.fullmatch(r"[0-9a-f]{64}\.docx", sh["ref"]), sh
        assert sh["type"] == "docx", sh
        ref = out["files"]["evidence"] if False else json.loads(r.body)["files"]["evidence"]["ref"]
        stored = os.path.join(s.data_dir, "f", "files", ref)
        assert open(stored, "rb").read() == PDF
        assert os.stat(stored).st_mode & 0o077 == 0, oct(os.stat(stored).st_mode)
        assert tmp_files(s) == []
        # Served back through the app's own route only.
        r = c.get("/f/file/%s?name=scan%%201.pdf" % ref)
        assert r.status == 200 and r.body == PDF, r
        assert r.header("content-type") == "application/pdf", r
        assert r.header("content-disposition") == 'inline; filename="scan 1.pdf"', r
        assert r.header("cache-control") == "private, no-store", r
        assert r.header("x-content-type-options") == "nosniff", r
        r = c.get("/f/file/%s?download=1" % sh["ref"])
        assert r.status == 200 and r.header("content-disposition") == "attachment", r
        assert r.header("content-type").startswith("application/vnd.openxmlformats-officedocument.wordprocessingml"), r
        # No other way in: static files do not reach data/, and a made-up or
        # malformed reference is refused.
        assert c.get("/f/static/../../data/f/files/" + ref).status in (400, 404)
        assert c.get("/f/file/" + "0" * 64 + ".pdf").status == 404
        assert c.get("/f/file/..%2f..%2fcsrf.key").status == 500
        c.close()


@test
def a_wrong_type_disguised_by_its_name_is_refused():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        cases = [
            ("evidence", "invoice.pdf", b"<html><script>alert(1)</script></html>"),
            ("evidence", "photo.png", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 50),
            ("evidence", "notes.pdf", b"plain text pretending"),
            ("sheet", "data.csv", b"\x00\x01\x02binary\xff\xfe"),
            ("sheet", "report.docx", docx("other/thing.xml")),
            ("sheet", "budget.xlsx", PDF),
        ]
        for field, name, data in cases:
            r = upload(c, cookie, token, [(field, name, data)], [("keep", "1")])
            assert r.status == 200, r
            f = json.loads(r.body)["files"][field]
            assert f["error"] == "wrong_type" and "ref" not in f, (name, f)
            want = ("The selected file must be a PDF, PNG or JPG" if field == "evidence"
                    else "The selected file must be a DOCX, XLSX or CSV")
            assert f["message"] == want, (name, f)
        # Right types, whatever the name says.
        r = upload(c, cookie, token, [("evidence", "scan.txt", PNG), ("sheet", "list.csv", "name,age\nAnn,4\n".encode())])
        files = json.loads(r.body)["files"]
        assert files["evidence"]["type"] == "png" and "error" not in files["evidence"], files
        assert files["sheet"]["type"] == "csv" and files["sheet"]["content_type"] == "text/csv; charset=utf-8", files
        assert tmp_files(s) == []
        c.close()


@test
def an_oversize_file_is_refused_and_not_kept():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        big = PDF + b"x" * 5000
        r = upload(c, cookie, token, [("evidence", "big.pdf", big)], [("keep", "1")])
        f = json.loads(r.body)["files"]["evidence"]
        assert f == {"name": "big.pdf", "size": len(big), "error": "too_large",
                     "message": "The selected file must be smaller than 3 KB"}, f
        r = upload(c, cookie, token, [("evidence", "big.pdf", big)], [("keep", "1")], "/f/upload?lang=cy")
        f = json.loads(r.body)["files"]["evidence"]
        assert f["message"] == "Mae’n rhaid i’r ffeil a ddewiswyd fod yn llai na 3 KB", f
        assert tmp_files(s) == []
        assert not [n for n in os.listdir(os.path.join(s.data_dir, "f", "files")) if n != "tmp"]
        # A body over the route's max_body: 413 before the handler.
        r = upload(c, cookie, token, [("sheet", "huge.csv", b"a,b\n" * 9000)])
        assert r.status == 413, r
        assert tmp_files(s) == []
        c.close()


@test
def empty_inputs_text_fields_and_a_handler_failure_leave_no_files():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        r = upload(c, cookie, token, [("evidence", "", b"")], [("title", "caf\u00e9 & <b>")])
        out = json.loads(r.body)
        assert out["files"] == [] or out["files"] == {}, out
        assert out["form"]["title"] == "caf\u00e9 & <b>", out
        r = upload(c, cookie, token, [("evidence", "e.pdf", b"")])
        assert json.loads(r.body)["files"]["evidence"]["error"] == "empty"
        r = upload(c, cookie, token, [("evidence", "ok.pdf", PDF)], [("keep", "1"), ("fail", "1")])
        assert r.status == 500, r
        assert tmp_files(s) == []
        c.close()


@test
def multipart_without_a_token_is_refused_and_its_files_removed():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        body = multipart([], [("evidence", "a.pdf", PDF)])
        r = c.request("POST", "/f/upload", {"Cookie": cookie,
                                            "Content-Type": "multipart/form-data; boundary=" + BOUNDARY}, body)
        assert r.status == 403, r
        assert tmp_files(s) == []
        c.close()


@test
def truncated_and_malformed_multipart_bodies_are_refused():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        ct = "multipart/form-data; boundary=" + BOUNDARY
        # The closing boundary never comes, though Content-Length is honest.
        body = multipart([("csrf_token", token)], [("evidence", "a.pdf", PDF)], close=False)
        r = c.request("POST", "/f/upload", {"Cookie": cookie, "Content-Type": ct}, body)
        assert r.status == 400, r
        c.close()
        # No boundary parameter, a part without Content-Disposition, junk.
        for ctype, data in (("multipart/form-data", b"--x\r\n\r\n"),
                            (ct, ("--%s\r\nContent-Type: text/plain\r\n\r\nx\r\n--%s--\r\n"
                                  % (BOUNDARY, BOUNDARY)).encode()),
                            (ct, ("--%s\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--%sJUNK"
                                  % (BOUNDARY, BOUNDARY)).encode())):
            c = Client(s.port)
            r = c.request("POST", "/f/upload", {"Cookie": cookie, "Content-Type": ctype}, data)
            assert r.status == 400, (ctype, data, r)
            c.close()
        # The connection drops halfway through a file: nothing is left.
        body = multipart([("csrf_token", token)], [("evidence", "a.pdf", PDF + b"y" * 3000)])
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW)
        head = ("POST /f/upload HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (cookie, ct, len(body))).encode()
        sock.sendall(head + body[:len(body) // 2])
        time.sleep(0.2 * SLOW)
        sock.close()
        deadline = time.time() + 5 * SLOW
        while tmp_files(s) and time.time() < deadline:
            time.sleep(0.05)
        assert tmp_files(s) == []
        # The server carries on.
        c = Client(s.port)
        assert c.get("/f/count").status == 200
        c.close()


@test
def bodies_arriving_in_small_pieces_parse_the_same():
    with server() as s:
        c = Client(s.port)
        cookie, token = form_token(c)
        body = multipart([("csrf_token", token), ("keep", "1")], [("evidence", "a.pdf", PDF * 20)])
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW)
        head = ("POST /f/upload HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: multipart/form-data; "
                "boundary=%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (cookie, BOUNDARY, len(body))).encode()
        sock.sendall(head)
        for i in range(0, len(body), 7):
            sock.sendall(body[i:i + 7])
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        head, _, payload = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), data[:300]
        f = json.loads(payload)["files"]["evidence"]
        assert f["size"] == len(PDF) * 20 and f["type"] == "pdf", f
        assert open(os.path.join(s.data_dir, "f", "files", f["ref"]), "rb").read() == PDF * 20
        c.close()


run()
