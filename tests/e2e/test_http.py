#!/usr/bin/env python3
"""HTTP behaviour end to end (DESIGN.md, "HTTP behaviour"): keep-alive and
pipelining, chunked bodies, HEAD/OPTIONS/404/405, the built-in pages, Expect,
every limit with its status, the request-smuggling shapes (400 and close),
security headers, streamed responses, /healthz, graceful stop and several
workers. Every test starts its own server and speaks raw HTTP to it."""
import concurrent.futures
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import SLOW, Client, HELLO_APP, Server, run, test  # noqa: E402

# ---- apps ----

# One app with a route for each behaviour under test; bodies name the request
# so that answers can be matched to questions.
TEST_APP = {
    "app.lua": r'''
local app = borough.app { title = "Tests & <Co> \"quoted\"", mount = "/t", public = true }

app:get("/", function(req) return "home of t" end)
app:get("/id/:n", function(req) return borough.text("id " .. req.params.n) end)
app:get("/slow/:n", function(req)
  borough.sleep(0.05)
  return borough.text("slow " .. req.params.n)
end)
app:get("/ten", function(req) return borough.text("0123456789") end)
app:get("/thing", function(req) return borough.text("thing") end)
app:post("/thing", { csrf = false }, function(req) return borough.text("posted thing") end)
app:post("/echo", { csrf = false, max_body = 1000 }, function(req)
  return borough.text(req.method .. " " .. #req.body .. ":" .. req.body)
end)
app:post("/trailer", { csrf = false }, function(req)
  return borough.text("body=" .. req.body .. " trailer=" .. tostring(req.headers["x-trailer"]))
end)
app:get("/who", function(req) return borough.text(req.id) end)
local blob = string.rep("b", 8192 - 8)
app:get("/blob/:n", function(req)
  return borough.text(string.format("%08d", tonumber(req.params.n)) .. blob)
end)
app:get("/nap/:ms", function(req)
  log.info("napping " .. req.params.ms)
  borough.sleep(tonumber(req.params.ms) / 1000)
  return borough.text("woke after " .. req.params.ms)
end)
app:get("/err", function(req) error("deliberate failure") end)
app:get("/csp", function(req)
  return { headers = { ["Content-Security-Policy"] = "default-src 'none'" }, body = "own csp" }
end)
app:get("/csp-lower", function(req)
  return { headers = { ["content-security-policy"] = "default-src 'none'; frame-ancestors 'none'",
                       ["x-frame-options"] = "SAMEORIGIN" }, body = "own csp" }
end)
app:get("/inject", function(req)
  return { headers = { ["X-Evil"] = "a\r\nX-Injected: yes" }, body = "never sent" }
end)
app:get("/inject-lf", function(req)
  return { headers = { ["X-Evil"] = "a\nX-Injected: yes" }, body = "never sent" }
end)
app:get("/framing", function(req)
  return { headers = { ["Content-Length"] = "999", ["Transfer-Encoding"] = "gzip",
                       ["Connection"] = "close", ["X-Mine"] = "kept" },
           body = "hello" }
end)
app:get("/stream", function(req)
  local i = 0
  return { headers = { ["Content-Type"] = "text/plain" }, body = function()
    i = i + 1
    if i <= 3 then return "part" .. i .. ";" end
  end }
end)
app:get("/stream-slow", function(req)
  local i = 0
  return { headers = { ["Content-Type"] = "text/plain" }, body = function()
    i = i + 1
    if i > 3 then return nil end
    borough.sleep(0.02)
    return "tick" .. i .. ";"
  end }
end)
-- 160 blocks of 64 KiB (10 MiB), each starting with its number: more than
-- the kernel's socket buffers and the server's output buffer hold together.
app:get("/bigstream", function(req)
  local i = 0
  local filler = string.rep("abcdefghijklmnop", 4096 - 1)
  return { headers = { ["Content-Type"] = "application/octet-stream" }, body = function()
    i = i + 1
    if i > 160 then return nil end
    return string.format("%016d", i) .. filler
  end }
end)
return app
''',
    "static": {"app.css": "body { color: #0b0c0c }\n"},
}

APPS = {"t": TEST_APP}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "connect-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

NOT_FOUND_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Page not found</title></head>\n<body><main>\n<h1>Page not found</h1>\n"
    "<p>If you typed the web address, check it is correct.</p>\n</main></body></html>\n")


# ---- helpers ----

class Bytes(Client):
    """Parses responses out of bytes already received."""

    def __init__(self, data):
        self.sock = None
        self.buf = data

    def _fill(self):
        raise EOFError("no more bytes")


def responses(data, heads=()):
    """Every response in data (the i-th read as HEAD if i is in heads)."""
    b = Bytes(data)
    out = []
    while b.buf:
        out.append(b.read_response(head=len(out) in heads))
    return out


def talk(port, data, pieces=None, timeout=5):
    """Sends data (in pieces of these sizes, with short pauses, if given) and
    reads until the server closes. Returns (bytes, closed): closed is False
    when the server kept the connection open past the timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        try:
            if pieces:
                pos = i = 0
                while pos < len(data):
                    n = pieces[i % len(pieces)]
                    s.sendall(data[pos:pos + n])
                    pos += n
                    i += 1
                    time.sleep(0.003)
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass    # the server has answered and closed: read what it said
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, TimeoutError):
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
    finally:
        s.close()


def req(method, path, headers=(), body=b"", version="1.1", host="127.0.0.1"):
    """The bytes of one request; headers is a list of (name, value)."""
    lines = ["%s %s HTTP/%s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    lines += ["%s: %s" % hv for hv in headers]
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post(path, body, headers=()):
    if isinstance(body, str):
        body = body.encode()
    return req("POST", path, [("Content-Length", str(len(body)))] + list(headers), body)


def assert_security(r, csp=CSP):
    """The security headers DESIGN.md puts on every response, each once (the
    default CSP holds frame-ancestors 'none')."""
    assert r.headers.get("content-security-policy") == [csp], r
    assert r.headers.get("x-content-type-options") == ["nosniff"], r
    assert r.headers.get("referrer-policy") == ["same-origin"], r
    assert r.headers.get("x-frame-options") == ["DENY"], r


def assert_text(r, status, body):
    assert r.status == status, r
    assert r.header("content-type") == "text/plain; charset=utf-8", r
    assert r.body == body.encode(), r
    assert r.headers["content-length"] == [str(len(r.body))], r


def wait_until(cond, timeout, step=0.02):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


# ---- keep-alive ----

@test
def keep_alive_serves_several_requests_on_one_connection():
    with Server(APPS) as s:
        c = Client(s.port)
        for n in range(5):
            r = c.get("/t/id/%d" % n)
            assert_text(r, 200, "id %d" % n)
            assert r.version == "1.1" and r.header("connection") is None, r
        r = c.request("POST", "/t/echo", body="abc")
        assert_text(r, 200, "POST 3:abc")
        assert_text(c.get("/t/id/last"), 200, "id last")
        assert not c.closed(timeout=0.3)
        c.close()


@test
def http10_without_keep_alive_closes():
    with Server(APPS) as s:
        out, closed = talk(s.port, req("GET", "/t/id/1", version="1.0", host=None)
                           + req("GET", "/t/id/2", version="1.0", host=None))
        assert closed, out
        rs = responses(out)
        assert len(rs) == 1, rs
        assert_text(rs[0], 200, "id 1")
        assert rs[0].headers["connection"] == ["close"], rs[0]


@test
def http10_with_keep_alive_stays_open():
    with Server(APPS) as s:
        c = Client(s.port)
        for n in (1, 2, 3):
            c.send(req("GET", "/t/id/%d" % n, [("Connection", "keep-alive")], version="1.0", host=None))
            r = c.read_response()
            assert_text(r, 200, "id %d" % n)
            assert r.headers["connection"] == ["keep-alive"], r
        assert not c.closed(timeout=0.3)
        # Without the header the next one is the last.
        c.send(req("GET", "/t/id/4", version="1.0", host=None))
        r = c.read_response()
        assert_text(r, 200, "id 4")
        assert r.headers["connection"] == ["close"], r
        assert c.closed() and c.buf == b""
        c.close()


@test
def connection_close_closes_after_the_response():
    with Server(APPS) as s:
        out, closed = talk(s.port, req("GET", "/t/id/1", [("Connection", "close")])
                           + req("GET", "/t/id/2"))
        assert closed, out
        rs = responses(out)
        assert len(rs) == 1, rs
        assert_text(rs[0], 200, "id 1")
        assert rs[0].headers["connection"] == ["close"], rs[0]


# ---- pipelining ----

def pipeline():
    """Requests whose answers name them; the slow ones answer later than the
    quick ones after them would, so order is the server's doing."""
    reqs = [req("GET", "/t/slow/1"), req("GET", "/t/id/2"), post("/t/echo", "three"),
            req("HEAD", "/t/ten"), req("GET", "/t/slow/5"), req("GET", "/t/id/6"),
            req("GET", "/t/stream"), req("GET", "/t/id/8")]
    return b"".join(reqs)


def check_pipeline(rs):
    assert len(rs) == 8, rs
    assert_text(rs[0], 200, "slow 1")
    assert_text(rs[1], 200, "id 2")
    assert_text(rs[2], 200, "POST 5:three")
    assert rs[3].status == 200 and rs[3].body == b"" and rs[3].headers["content-length"] == ["10"], rs[3]
    assert_text(rs[4], 200, "slow 5")
    assert_text(rs[5], 200, "id 6")
    assert rs[6].status == 200 and rs[6].body == b"part1;part2;part3;", rs[6]
    assert rs[6].headers["transfer-encoding"] == ["chunked"], rs[6]
    assert_text(rs[7], 200, "id 8")


@test
def pipelined_requests_in_one_write_are_answered_in_order():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(pipeline())
        check_pipeline([c.read_response(head=i == 3) for i in range(8)])
        assert not c.closed(timeout=0.3) and c.buf == b""
        assert_text(c.get("/t/id/after"), 200, "id after")
        c.close()


@test
def pipelined_requests_split_at_odd_boundaries_are_answered_in_order():
    with Server(APPS) as s:
        for pieces in ([1], [3, 1, 7, 2, 13, 5, 11], [97, 41, 211]):
            c = Client(s.port)
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = pipeline()
            pos = k = 0
            while pos < len(data):
                n = pieces[k % len(pieces)]
                c.send(data[pos:pos + n])
                pos += n
                k += 1
                time.sleep(0.001)
            check_pipeline([c.read_response(head=i == 3) for i in range(8)])
            assert not c.closed(timeout=0.2) and c.buf == b"", pieces
            c.close()


@test
def pipelined_requests_after_connection_close_are_not_answered():
    with Server(APPS) as s:
        data = (req("GET", "/t/slow/1") + req("GET", "/t/id/2", [("Connection", "close")])
                + req("GET", "/t/id/3"))
        out, closed = talk(s.port, data)
        assert closed, out
        rs = responses(out)
        assert [r.body for r in rs] == [b"slow 1", b"id 2"], rs


@test
def pipelined_requests_after_half_close_are_all_answered():
    """A client may send its requests, then shut down its side: every
    request it sent is answered, then the server closes."""
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("GET", "/t/slow/1") + req("GET", "/t/id/2") + req("GET", "/t/slow/3")
               + post("/t/echo", "four"))
        c.sock.shutdown(socket.SHUT_WR)
        rs = [c.read_response() for _ in range(4)]
        assert [r.body for r in rs] == [b"slow 1", b"id 2", b"slow 3", b"POST 4:four"], rs
        assert c.closed() and c.buf == b""
        c.close()
        # A request cut short by the EOF is not answered, and the close is prompt.
        c = Client(s.port)
        c.send(req("GET", "/t/slow/1") + b"GET /t/id/2 HTTP/1.1\r\nHost: x\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        t0 = time.time()
        assert_text(c.read_response(), 200, "slow 1")
        assert c.closed() and c.buf == b""
        assert time.time() - t0 < 2 * SLOW
        c.close()


def send_in_background(c, data, half_close=False):
    """Sends data on c from a thread (the server may not read it all before
    the client reads answers); returns the thread to join."""
    def send():
        c.send(data)
        if half_close:
            c.sock.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    return t


@test
def long_pipeline_is_answered_when_the_client_reads_late():
    """More answers than the server queues (1 MiB) before it waits for the
    client to read: the rest of the pipeline is answered once it does."""
    with Server(APPS) as s:
        for half_close in (False, True):
            c = Client(s.port)
            n = 3000     # 150 KB of requests, 25 MB of answers
            sender = send_in_background(c, b"".join(req("GET", "/t/blob/%d" % i) for i in range(n)),
                                        half_close)
            time.sleep(0.5)
            for i in range(n):
                r = c.read_response()
                assert r.status == 200 and r.body[:8] == b"%08d" % i and len(r.body) == 8192, (i, r)
            sender.join()
            assert c.closed(timeout=2 if half_close else 0.3) == half_close and c.buf == b""
            c.close()
        # Many small answers, read as they come.
        c = Client(s.port)
        sender = send_in_background(c, b"".join(req("GET", "/t/id/%d" % i) for i in range(5000)))
        for i in range(5000):
            assert_text(c.read_response(), 200, "id %d" % i)
        sender.join()
        c.close()


# ---- chunked request bodies ----

@test
def chunked_request_body_is_reassembled():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Transfer-Encoding", "chunked")])
               + b"5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n")
        assert_text(c.read_response(), 200, "POST 16:hello 0123456789")
        # Upper-case hex sizes, and the connection stays usable.
        c.send(req("POST", "/t/echo", [("Transfer-Encoding", "chunked")])
               + b"1A\r\n" + b"z" * 26 + b"\r\n0\r\n\r\n")
        assert_text(c.read_response(), 200, "POST 26:" + "z" * 26)
        assert_text(c.get("/t/id/9"), 200, "id 9")
        c.close()


@test
def chunked_request_body_sent_slowly_is_reassembled():
    with Server(APPS) as s:
        body = b"".join(b"%x\r\n%s\r\n" % (len(w), w) for w in (b"one ", b"two ", b"three")) + b"0\r\n\r\n"
        data = req("POST", "/t/echo", [("Transfer-Encoding", "chunked"), ("Connection", "close")]) + body
        out, closed = talk(s.port, data, pieces=[1, 2, 3])
        assert closed
        rs = responses(out)
        assert len(rs) == 1
        assert_text(rs[0], 200, "POST 13:one two three")


@test
def chunk_extensions_are_accepted_and_trailers_ignored():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("POST", "/t/trailer", [("Transfer-Encoding", "chunked")])
               + b'3;name=value;quoted="a;b"\r\nabc\r\n2 ; x=y\r\nde\r\n0;last\r\n'
               + b"X-Trailer: from the trailer\r\nAnother: one\r\n\r\n")
        assert_text(c.read_response(), 200, "body=abcde trailer=nil")
        assert_text(c.get("/t/id/next"), 200, "id next")
        c.close()


@test
def many_small_chunks_are_fine():
    with Server(APPS) as s:
        c = Client(s.port)
        body = b"".join(b"1\r\n%c\r\n" % (97 + i % 26) for i in range(300)) + b"0\r\n\r\n"
        c.send(req("POST", "/t/echo", [("Transfer-Encoding", "chunked")]) + body)
        expect = "".join(chr(97 + i % 26) for i in range(300))
        assert_text(c.read_response(), 200, "POST 300:" + expect)
        c.close()


def assert_rejected(port, data, status, why, follow=True, pieces=None):
    """data gets exactly one answer, `status` with the reason in its body,
    and the connection is closed: a request sent after it is not answered."""
    if follow:
        data += req("GET", "/t/id/smuggled")
    out, closed = talk(port, data, pieces=pieces)
    assert closed, "connection left open after %r: %r" % (data[:80], out)
    rs = responses(out)
    assert len(rs) == 1, rs
    r = rs[0]
    assert r.status == status, (data[:200], r)
    assert r.headers["connection"] == ["close"], r
    assert r.header("content-type") == "text/plain; charset=utf-8", r
    reason = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
              417: "Expectation Failed", 431: "Request Header Fields Too Large", 501: "Not Implemented",
              505: "HTTP Version Not Supported"}[status]
    assert r.reason == reason, r
    assert r.text == "%d %s: %s\n" % (status, reason, why), (data[:200], r.text)
    assert b"smuggled" not in out
    assert_security(r)
    return r


@test
def chunk_framing_abuse_is_refused():
    with Server(APPS) as s:
        te = [("Transfer-Encoding", "chunked")]
        # One huge extension on a small chunk.
        assert_rejected(s.port, req("POST", "/t/echo", te) + b"3;" + b"e" * 20000 + b"\r\nabc\r\n0\r\n\r\n",
                        400, "chunk framing too large")
        # Thousands of bytes of extensions and no data at all.
        assert_rejected(s.port, req("POST", "/t/echo", te) + b"0" + b";e=v" * 3000 + b"\r\n\r\n",
                        400, "chunk framing too large")
        # Extensions far outweighing the data, chunk after chunk.
        assert_rejected(s.port, req("POST", "/t/echo", te)
                        + (b"1;" + b"x" * 100 + b"\r\na\r\n") * 60 + b"0\r\n\r\n",
                        400, "chunk framing too large")
        # Trailers going on and on after one byte of data.
        assert_rejected(s.port, req("POST", "/t/echo", te) + b"1\r\na\r\n0\r\n"
                        + (b"X-U: " + b"u" * 60 + b"\r\n") * 100 + b"\r\n",
                        400, "chunk framing too large")
        # An abuse sent slowly is found all the same.
        assert_rejected(s.port, req("POST", "/t/echo", te) + b"0" + b";e=v" * 2000 + b"\r\n\r\n",
                        400, "chunk framing too large", pieces=[1500])


@test
def malformed_chunk_framing_is_refused():
    with Server(APPS) as s:
        te = [("Transfer-Encoding", "chunked")]
        for body, why in ((b"x\r\nabc\r\n0\r\n\r\n", "invalid chunk size"),
                          (b"-3\r\nabc\r\n0\r\n\r\n", "invalid chunk size"),
                          (b" 3\r\nabc\r\n0\r\n\r\n", "invalid chunk size"),
                          (b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n", "invalid chunk size"),
                          (b"3\r\nabcX\r\n0\r\n\r\n", "chunk data not followed by CRLF"),
                          (b"3\rabc\r\n0\r\n\r\n", "bare CR in chunked framing"),
                          (b"3\r\nabc\r\n0\r\n\n", "bare LF in chunked framing"),
                          (b"3;\x01\r\nabc\r\n0\r\n\r\n", "invalid character in chunked framing"),
                          (b"3\r\nabc\r\n0\r\nX-T: a\r\n b\r\n\r\n", "obsolete line folding")):
            assert_rejected(s.port, req("POST", "/t/echo", te) + body, 400, why)


# ---- methods, routing and built-in pages ----

@test
def head_returns_the_get_headers_without_a_body():
    with Server(APPS) as s:
        c = Client(s.port)
        get = c.get("/t/ten")
        head = c.request("HEAD", "/t/ten")
        assert head.status == 200 and head.body == b"", head
        assert head.headers["content-length"] == ["10"] == get.headers["content-length"], (head, get)
        assert head.header("content-type") == get.header("content-type") == "text/plain; charset=utf-8"
        assert_security(head)
        # No stray body bytes: the next answer on the connection is intact.
        assert_text(c.get("/t/id/after-head"), 200, "id after-head")
        head = c.request("HEAD", "/healthz")
        assert head.status == 200 and head.headers["content-length"] == ["3"], head
        head = c.request("HEAD", "/t/nope")
        assert head.status == 404 and head.headers["content-length"] == [str(len(NOT_FOUND_PAGE))], head
        head = c.request("HEAD", "/t/stream")
        assert head.status == 200 and head.headers["transfer-encoding"] == ["chunked"], head
        assert_text(c.get("/t/id/end"), 200, "id end")
        assert c.buf == b""
        c.close()


@test
def options_lists_allowed_methods():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.request("OPTIONS", "/t/thing")
        assert r.status == 204 and r.body == b"", r
        assert r.headers["allow"] == ["GET, HEAD, POST, OPTIONS"], r
        assert r.header("content-length") is None, r
        assert_security(r)
        r = c.request("OPTIONS", "/t/echo")
        assert r.status == 204 and r.headers["allow"] == ["POST, OPTIONS"], r
        r = c.request("OPTIONS", "/t/no-such-page")
        assert r.status == 404, r
        assert_text(c.get("/t/id/1"), 200, "id 1")
        c.close()


@test
def unknown_path_in_an_app_is_404():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.get("/t/no/such/page")
        assert r.status == 404 and r.reason == "Not Found", r
        assert r.text == NOT_FOUND_PAGE, r.text
        assert r.header("content-type") == "text/html; charset=utf-8"
        assert r.header("cache-control") == "no-store"
        assert_security(r)
        # A 404 does not end the connection.
        assert_text(c.get("/t/id/1"), 200, "id 1")
        c.close()


@test
def wrong_method_in_an_app_is_405_with_allow():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.request("DELETE", "/t/thing")
        assert r.status == 405 and r.reason == "Method Not Allowed", r
        assert r.headers["allow"] == ["GET, HEAD, POST, OPTIONS"], r
        assert "<h1>Method not allowed</h1>" in r.text, r
        assert_security(r)
        r = c.request("PUT", "/t/id/3", body="x")
        assert r.status == 405 and r.headers["allow"] == ["GET, HEAD, OPTIONS"], r
        r = c.get("/t/echo")
        assert r.status == 405 and r.headers["allow"] == ["POST, OPTIONS"], r
        assert_text(c.request("POST", "/t/thing", body=""), 200, "posted thing")
        c.close()


@test
def path_outside_any_app_is_404():
    with Server(APPS) as s:
        for path in ("/nowhere", "/tt", "/t-other/x", "/favicon.ico"):
            c = Client(s.port)
            r = c.get(path)
            assert r.status == 404 and r.text == NOT_FOUND_PAGE, (path, r)
            assert_security(r)
            c.close()


@test
def home_page_lists_mounted_apps():
    apps = {"t": TEST_APP, "hello": HELLO_APP,
            "plain": {"app.lua": 'local app = borough.app { public = true, mount = "/plain/x" }\n'
                                 'app:get("/", function() return "p" end)\nreturn app\n'}}
    with Server(apps) as s:
        r = Client(s.port).get("/")
        assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8", r
        assert_security(r)
        text = r.text
        # The site's front door (lua/borough/_site): the public apps, by title.
        assert "<title>Services - Services</title>" in text, text
        links = re.findall(r'<h2 class="govuk-heading-m govuk-!-margin-bottom-1"><a class="govuk-link" href="([^"]*)">'
                           r'([^<]*)</a></h2>', text)
        assert links == [("/hello/", "Hello"), ("/plain/x/", "plain"),
                         ("/t/", "Tests &amp; &lt;Co&gt; &quot;quoted&quot;")], links
        assert "<Co>" not in text, text
        r = Client(s.port).request("HEAD", "/")
        assert r.status == 200 and r.body == b"" and int(r.header("content-length")) == len(text.encode())
        r = Client(s.port).request("POST", "/", body="x")
        assert r.status == 405 and r.headers["allow"] == ["GET, HEAD, OPTIONS"], r


@test
def mount_without_slash_redirects():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.get("/t")
        assert r.status == 301 and r.headers["location"] == ["/t/"] and r.body == b"", r
        assert_security(r)
        r = c.get("/t?a=1&b=two%20words")
        assert r.status == 301 and r.headers["location"] == ["/t/?a=1&b=two%20words"], r
        r = c.request("HEAD", "/t?x")
        assert r.status == 301 and r.headers["location"] == ["/t/?x"], r
        r = c.request("POST", "/t?q=1", body="data")
        assert r.status == 308 and r.reason == "Permanent Redirect", r
        assert r.headers["location"] == ["/t/?q=1"], r
        r = c.request("PUT", "/t", body="data")
        assert r.status == 308 and r.headers["location"] == ["/t/"], r
        r = c.get("/t/")
        assert r.status == 200 and r.body == b"home of t", r
        c.close()


@test
def healthz_answers_ok():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.get("/healthz")
        assert_text(r, 200, "ok\n")
        assert r.header("cache-control") == "no-store"
        assert_security(r)
        r = c.request("POST", "/healthz", body="")
        assert r.status == 405 and r.headers["allow"] == ["GET, HEAD, OPTIONS"], r
        assert_security(r)
        assert_text(c.get("/healthz?probe=1"), 200, "ok\n")
        c.close()


@test
def server_without_apps_answers_healthz_and_home():
    with Server({}) as s:
        c = Client(s.port)
        assert_text(c.get("/healthz"), 200, "ok\n")
        r = c.get("/")
        assert r.status == 200, r
        assert '<p class="govuk-body">There are no services here yet.</p>' in r.text, r.text
        assert_security(r)
        r = c.get("/anything")
        assert r.status == 404 and r.text == NOT_FOUND_PAGE, r
        c.close()


# ---- Expect ----

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@test
def expect_100_continue_gets_continue_before_the_answer():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Content-Length", "5"), ("Expect", "100-continue")]))
        assert c._exact(len(CONTINUE)) == CONTINUE
        assert not c.closed(timeout=0.2) and c.buf == b""   # nothing more until the body comes
        c.send(b"hello")
        assert_text(c.read_response(), 200, "POST 5:hello")
        # Chunked, and case-insensitive.
        c.send(req("POST", "/t/echo", [("Transfer-Encoding", "chunked"), ("Expect", "100-Continue")]))
        assert c._exact(len(CONTINUE)) == CONTINUE
        c.send(b"2\r\nhi\r\n0\r\n\r\n")
        assert_text(c.read_response(), 200, "POST 2:hi")
        # No body, no 100.
        c.send(req("GET", "/t/id/1", [("Expect", "100-continue")]))
        r = c.read_response()
        assert_text(r, 200, "id 1")
        c.close()


@test
def expect_with_an_oversized_body_gets_413_without_continue():
    with Server(APPS) as s:
        expect = [("Content-Length", "1001"), ("Expect", "100-continue")]
        assert_rejected(s.port, req("POST", "/t/echo", expect), 413, "body over the limit", follow=False)
        out, closed = talk(s.port, req("POST", "/t/echo", [("Content-Length", "5000"),
                                                           ("Expect", "100-continue")]))
        assert closed and out.startswith(b"HTTP/1.1 413 Content Too Large\r\n"), out
        assert b"100 Continue" not in out


@test
def unknown_expectation_gets_417():
    with Server(APPS) as s:
        assert_rejected(s.port, post("/t/echo", "abc", [("Expect", "something-else")]),
                        417, "unsupported Expect")


@test
def expect_from_http10_is_ignored():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Content-Length", "3"), ("Expect", "100-continue")],
                   version="1.0", host=None))
        assert not c.closed(timeout=0.3) and c.buf == b"", c.buf
        c.send(b"abc")
        r = c.read_response()
        assert_text(r, 200, "POST 3:abc")
        c.close()


# ---- limits ----

@test
def head_over_16k_is_431():
    with Server(APPS) as s:
        # Exactly 16 KiB of head is fine; one byte more is not.
        base = req("GET", "/t/id/1", [("X-Pad", "")])
        pad = 16384 - len(base)
        ok = req("GET", "/t/id/1", [("X-Pad", "p" * pad)])
        assert len(ok) == 16384
        out, closed = talk(s.port, ok + req("GET", "/t/id/2", [("Connection", "close")]))
        rs = responses(out)
        assert closed and [r.body for r in rs] == [b"id 1", b"id 2"], rs
        big = req("GET", "/t/id/1", [("X-Pad", "p" * (pad + 1))])
        assert_rejected(s.port, big, 431, "header block too large")
        # Spread over many headers, and one huge header.
        many = req("GET", "/t/id/1", [("X-H%d" % i, "v" * 400) for i in range(50)])
        assert_rejected(s.port, many, 431, "header block too large")
        assert_rejected(s.port, req("GET", "/t/id/1", [("Cookie", "c" * 70000)]), 431,
                        "header block too large", follow=False)


@test
def request_line_over_16k_is_414():
    with Server(APPS) as s:
        assert_rejected(s.port, req("GET", "/t/id/" + "a" * 17000), 414, "request line too long")
        # Sent slowly, the limit is found before the line ends.
        assert_rejected(s.port, b"GET /t/id/" + b"a" * 20000, 414, "request line too long",
                        follow=False, pieces=[4096])


@test
def more_than_100_header_lines_is_431():
    with Server(APPS) as s:
        # Host plus 99 more: 100 fields, accepted.
        ok = req("GET", "/t/id/1", [("X-H%d" % i, "v") for i in range(99)])
        out, closed = talk(s.port, ok + req("GET", "/t/id/2", [("Connection", "close")]))
        rs = responses(out)
        assert [r.body for r in rs] == [b"id 1", b"id 2"], rs
        # Host plus 100 more: 431.
        assert_rejected(s.port, req("GET", "/t/id/1", [("X-H%d" % i, "v") for i in range(100)]),
                        431, "too many header fields")
        assert_rejected(s.port, req("GET", "/t/id/1", [("X", "") for i in range(1000)]),
                        431, "too many header fields")


@test
def body_over_max_body_is_413_up_front():
    with Server(APPS) as s:
        c = Client(s.port)
        assert_text(c.request("POST", "/t/echo", body="b" * 1000), 200, "POST 1000:" + "b" * 1000)
        c.close()
        # The answer comes from the head alone: no body is sent.
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Content-Length", "1001")]))
        r = c.read_response()
        assert r.status == 413 and r.text == "413 Content Too Large: body over the limit\n", r
        assert r.headers["connection"] == ["close"]
        assert_security(r)
        assert c.closed() and c.buf == b""
        c.close()
        assert_rejected(s.port, post("/t/echo", "b" * 1001), 413, "body over the limit")
        # The default limit (1 MiB) applies to routes without max_body.
        c = Client(s.port)
        c.send(req("POST", "/t/thing", [("Content-Length", str(1024 * 1024 + 1))]))
        r = c.read_response()
        assert r.status == 413, r
        c.close()


@test
def chunked_body_growing_past_max_body_is_413():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Transfer-Encoding", "chunked")]))
        c.send(b"190\r\n" + b"a" * 400 + b"\r\n")
        c.send(b"190\r\n" + b"b" * 400 + b"\r\n")
        assert not c.closed(timeout=0.3) and c.buf == b""   # 800 bytes: still within 1000
        c.send(b"190\r\n" + b"c" * 400 + b"\r\n")
        r = c.read_response()
        assert r.status == 413 and r.text == "413 Content Too Large: body over the limit\n", r
        assert r.headers["connection"] == ["close"]
        assert c.closed() and c.buf == b""
        c.close()
        # In one write, with a request after it that must not be answered.
        assert_rejected(s.port, req("POST", "/t/echo", [("Transfer-Encoding", "chunked")])
                        + b"3e9\r\n" + b"x" * 1001 + b"\r\n0\r\n\r\n", 413, "body over the limit")


@test
def slow_head_is_408_then_closed():
    with Server(APPS, args=["--header-timeout", "0.5"]) as s:
        c = Client(s.port)
        t0 = time.time()
        c.send(b"GET /t/id/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        r = c.read_response()
        assert r.status == 408 and r.reason == "Request Timeout", r
        assert r.text == "408 Request Timeout: the head arrived too slowly\n", r
        assert r.headers["connection"] == ["close"]
        assert_security(r)
        assert time.time() - t0 >= 0.45
        assert c.closed() and c.buf == b""
        c.close()
        # A head trickling in byte by byte does not reset the clock.
        c = Client(s.port)
        t0 = time.time()
        for ch in b"GET /t/id/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 100:
            try:
                c.send(bytes([ch]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.02)
        r = c.read_response()
        assert r.status == 408 and r.text == "408 Request Timeout: the head arrived too slowly\n", r
        assert time.time() - t0 < 2 * SLOW
        c.close()
        # A quick request on a server with that timeout is unaffected.
        assert_text(Client(s.port).get("/t/id/2"), 200, "id 2")


@test
def slow_body_is_408_then_closed():
    with Server(APPS, args=["--body-timeout", "0.5"]) as s:
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Content-Length", "10")]) + b"abc")
        t0 = time.time()
        r = c.read_response()
        assert r.status == 408, r
        assert r.text == "408 Request Timeout: the body arrived too slowly\n", r
        assert r.headers["connection"] == ["close"]
        assert_security(r)
        assert time.time() - t0 >= 0.4
        assert c.closed() and c.buf == b""
        c.close()
        # A chunked body that stops half way.
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Transfer-Encoding", "chunked")]) + b"5\r\nab")
        r = c.read_response()
        assert r.status == 408 and r.text == "408 Request Timeout: the body arrived too slowly\n", r
        assert c.closed()
        c.close()
        # A body that comes in time is answered.
        c = Client(s.port)
        c.send(req("POST", "/t/echo", [("Content-Length", "6")]) + b"abc")
        time.sleep(0.2)
        c.send(b"def")
        assert_text(c.read_response(), 200, "POST 6:abcdef")
        c.close()


@test
def idle_keep_alive_connection_is_closed_quietly():
    with Server(APPS, args=["--idle-timeout", "0.5"]) as s:
        c = Client(s.port)
        assert_text(c.get("/t/id/1"), 200, "id 1")
        time.sleep(0.25)
        assert_text(c.get("/t/id/2"), 200, "id 2")   # still open: the clock restarts
        t0 = time.time()
        assert c.closed(timeout=5)
        assert c.buf == b"", c.buf                      # no response, not even a 408
        assert time.time() - t0 >= 0.4
        c.close()
        assert not re.search(r" 408 Request Timeout", s.log()), s.log()


@test
def silent_new_connection_is_closed_quietly():
    with Server(APPS, args=["--header-timeout", "0.5"]) as s:
        c = Client(s.port)
        t0 = time.time()
        assert c.closed(timeout=5)
        assert c.buf == b"" and time.time() - t0 >= 0.4
        c.close()


@test
def connections_over_the_cap_get_503():
    with Server(APPS, args=["--max-conns", "3"]) as s:
        first = [Client(s.port) for _ in range(3)]
        for i, c in enumerate(first):
            assert_text(c.get("/t/id/%d" % i), 200, "id %d" % i)
        extra = Client(s.port)
        r = extra.read_response()
        assert r.status == 503 and r.reason == "Service Unavailable", r
        assert r.headers["retry-after"] == ["1"], r
        assert r.headers["connection"] == ["close"], r
        assert r.text == "The server is busy. Try again soon.\r\n", r
        assert_security(r)
        assert extra.closed() and extra.buf == b""
        extra.close()
        for i, c in enumerate(first):
            assert_text(c.get("/t/id/again%d" % i), 200, "id again%d" % i)
        # Once one goes, a newcomer is served.
        first[0].close()

        def newcomer_served():
            c = Client(s.port)
            try:
                c.send(req("GET", "/t/id/new"))
                r = c.read_response()
                return r.status == 200 and r.body == b"id new"
            except (EOFError, ConnectionResetError):
                return False
            finally:
                c.close()
        assert wait_until(newcomer_served, 5)
        for c in first[1:]:
            c.close()


# ---- request smuggling shapes ----

SMUGGLING = [
    # (name, request bytes, status, the reason given in the body)
    ("content-length and transfer-encoding",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "both Content-Length and Transfer-Encoding"),
    ("transfer-encoding and content-length",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
     400, "both Content-Length and Transfer-Encoding"),
    ("two equal content-lengths",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
     400, "more than one Content-Length"),
    ("two different content-lengths",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
     400, "more than one Content-Length"),
    ("content-length with a plus",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length with a minus",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length with a space inside",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1 0\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length list",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length list without space",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3,3\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length not digits",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: three\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length hex",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length with a suffix",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3a\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length empty",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("content-length huge",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\nabc",
     400, "invalid Content-Length"),
    ("transfer-encoding gzip",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
     400, "unsupported Transfer-Encoding"),
    ("transfer-encoding chunked, gzip",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
     400, "unsupported Transfer-Encoding"),
    ("transfer-encoding gzip, chunked",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     400, "unsupported Transfer-Encoding"),
    ("transfer-encoding chunkedx",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n",
     400, "unsupported Transfer-Encoding"),
    ("transfer-encoding identity",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
     400, "unsupported Transfer-Encoding"),
    ("transfer-encoding twice",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n",
     400, "more than one Transfer-Encoding"),
    ("transfer-encoding in HTTP/1.0",
     b"POST /t/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "Transfer-Encoding in an HTTP/1.0 request"),
    ("obs-fold",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
     400, "obsolete line folding"),
    ("obs-fold with a tab",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n",
     400, "obsolete line folding"),
    ("obs-fold hiding a transfer-encoding",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n"
     b"\r\nabc",
     400, "obsolete line folding"),
    ("whitespace before the colon",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A : a\r\n\r\n",
     400, "invalid character in a header name"),
    ("whitespace before the colon of transfer-encoding",
     b"POST /t/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding : chunked\r\n\r\nabc",
     400, "invalid character in a header name"),
    ("tab before the colon",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A\t: a\r\n\r\n",
     400, "invalid character in a header"),
    ("bare CR in a value",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
     400, "bare CR in the head"),
    ("bare CR ending a line",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\rX-A: a\r\n\r\n",
     400, "bare CR in the head"),
    ("bare LF in the head",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\nX-A: a\r\n\r\n",
     400, "bare LF in the head"),
    ("bare LF ending the head",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\n\n",
     400, "bare LF in the head"),
    ("bare LF ending the request line",
     b"GET /t/id/1 HTTP/1.1\nHost: h\r\n\r\n",
     400, "bare LF in the head"),
    ("NUL in a value",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
     400, "invalid character in a header"),
    ("control character in a value",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n",
     400, "invalid character in a header"),
    ("escape in a value",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\x1bb\r\n\r\n",
     400, "invalid character in a header"),
    ("DEL in a value",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n",
     400, "invalid character in a header"),
    ("NUL in a name",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX\x00A: a\r\n\r\n",
     400, "invalid character in a header"),
    ("line without a colon",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nX-A a\r\n\r\n",
     400, "invalid character in a header"),
    ("empty name",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n",
     400, "invalid character in a header"),
    ("missing Host",
     b"GET /t/id/1 HTTP/1.1\r\nX-A: a\r\n\r\n",
     400, "missing Host"),
    ("two Host headers",
     b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nHost: other\r\n\r\n",
     400, "more than one Host"),
    ("HTTP/2.0 request line",
     b"GET /t/id/1 HTTP/2.0\r\nHost: h\r\n\r\n",
     505, "unsupported HTTP version"),
    ("HTTP/3.0 request line",
     b"GET /t/id/1 HTTP/3.0\r\nHost: h\r\n\r\n",
     505, "unsupported HTTP version"),
    ("request line without a version",
     b"GET /t/id/1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("request line with two spaces",
     b"GET  /t/id/1 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("request line with a trailing space",
     b"GET /t/id/1 HTTP/1.1 \r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("request line with a tab",
     b"GET\t/t/id/1 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("request line with a word too many",
     b"GET /t/id/1 HTTP/1.1 x\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("request line starting with a space",
     b" GET /t/id/1 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("version not HTTP",
     b"GET /t/id/1 HTTX/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("version in lower case",
     b"GET /t/id/1 http/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("version with two digits",
     b"GET /t/id/1 HTTP/1.10\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("method with a bad character",
     b"G@T /t/id/1 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("unknown method",
     b"BREW /t/id/1 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "unknown method"),
    ("target without a slash",
     b"GET t/id/1 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request target"),
    ("control character in the target",
     b"GET /t/id/1\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
     400, "malformed request line"),
    ("CONNECT",
     b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
     501, "CONNECT is not supported"),
]


@test
def smuggling_shapes_get_400_and_close():
    with Server(APPS) as s:
        for name, data, status, why in SMUGGLING:
            follow = req("GET", "/t/id/smuggled")
            out, closed = talk(s.port, data + follow)
            assert closed, "%s: connection left open: %r" % (name, out)
            rs = responses(out)
            assert len(rs) == 1, "%s: %r" % (name, rs)
            r = rs[0]
            assert r.status == status, "%s: %r" % (name, r)
            assert r.headers["connection"] == ["close"], "%s: %r" % (name, r)
            assert r.text == "%d %s: %s\n" % (status, r.reason, why), "%s: %r" % (name, r.text)
            assert b"smuggled" not in out and b"id 1" not in out, name
            assert_security(r)
        # The server is none the worse.
        assert_text(Client(s.port).get("/t/id/1"), 200, "id 1")


@test
def smuggling_shapes_after_a_good_request_on_the_same_connection():
    """A bad request pipelined after a good one: the good one is answered,
    then 400, then nothing."""
    with Server(APPS) as s:
        for name, data, status, why in SMUGGLING:
            out, closed = talk(s.port, req("GET", "/t/id/first") + data + req("GET", "/t/id/smuggled"))
            assert closed, name
            rs = responses(out)
            assert len(rs) == 2, "%s: %r" % (name, rs)
            assert_text(rs[0], 200, "id first")
            assert rs[1].status == status and rs[1].headers["connection"] == ["close"], "%s: %r" % (name, rs)
            assert rs[1].text == "%d %s: %s\n" % (status, rs[1].reason, why), "%s: %r" % (name, rs[1])
            assert b"smuggled" not in out, name


@test
def smuggling_shapes_sent_byte_by_byte():
    with Server(APPS) as s:
        for name, data, status, why in SMUGGLING[::4]:
            out, closed = talk(s.port, data + req("GET", "/t/id/smuggled"), pieces=[1])
            assert closed, name
            rs = responses(out)
            assert len(rs) == 1 and rs[0].status == status, "%s: %r" % (name, rs)
            assert rs[0].text == "%d %s: %s\n" % (status, rs[0].reason, why), "%s: %r" % (name, rs[0])
            assert b"smuggled" not in out, name


@test
def leading_empty_lines_are_ignored():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(b"\r\n\r\n" + req("GET", "/t/id/1"))
        assert_text(c.read_response(), 200, "id 1")
        c.close()


@test
def absolute_form_target_is_routed_by_path():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("GET", "http://127.0.0.1/t/id/abs"))
        assert_text(c.read_response(), 200, "id abs")
        c.close()


# ---- security headers ----

@test
def security_headers_on_every_response():
    with Server(APPS) as s:
        c = Client(s.port)
        checks = [("GET", "/t/id/1", 200), ("GET", "/t/nope", 404), ("GET", "/t/err", 500),
                  ("GET", "/t/static/app.css", 200), ("GET", "/t/static/missing.css", 404),
                  ("GET", "/", 200), ("GET", "/healthz", 200), ("GET", "/nowhere", 404),
                  ("GET", "/t", 301), ("DELETE", "/t/thing", 405), ("OPTIONS", "/t/thing", 204),
                  ("GET", "/t/stream", 200), ("HEAD", "/t/id/1", 200)]
        for method, path, status in checks:
            r = c.request(method, path)
            assert r.status == status, (method, path, r)
            assert_security(r)
            assert r.headers.get("server") == ["borough"], r
            assert len(r.headers.get("date", [])) == 1, r
        r = c.get("/t/static/app.css")
        assert r.body == b"body { color: #0b0c0c }\n", r
        assert r.header("content-type") == "text/css; charset=utf-8", r
        r = c.get("/t/err")
        assert "<h1>Sorry, there is a problem with the service</h1>" in r.text, r
        assert "deliberate failure" not in r.text
        c.close()
        # The answers the connection gives itself carry them too.
        out, _ = talk(s.port, b"GET /t/id/1 HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n")
        assert_security(responses(out)[0])


@test
def app_csp_replaces_the_default():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.get("/t/csp")
        assert r.status == 200 and r.body == b"own csp", r
        assert_security(r, csp="default-src 'none'")
        assert r.headers["content-security-policy"] == ["default-src 'none'"]
        # Names are case-insensitive; each default header is replaced on its own.
        r = c.get("/t/csp-lower")
        assert r.headers["content-security-policy"] == ["default-src 'none'; frame-ancestors 'none'"], r
        assert r.headers["x-frame-options"] == ["SAMEORIGIN"], r
        assert r.headers["x-content-type-options"] == ["nosniff"], r
        assert r.headers["referrer-policy"] == ["same-origin"], r
        # The next response has the defaults again.
        assert_security(c.get("/t/id/1"))
        c.close()


@test
def header_with_cr_lf_is_not_injected():
    with Server(APPS) as s:
        c = Client(s.port)
        for path in ("/t/inject", "/t/inject-lf"):
            r = c.get(path)
            assert r.status == 500, r
            assert "x-injected" not in r.headers and "x-evil" not in r.headers, r
            assert b"never sent" not in r.body
            assert_security(r)
        assert_text(c.get("/t/id/1"), 200, "id 1")
        c.close()
        assert "invalid response header X-Evil" in s.log()


@test
def framing_headers_from_the_app_are_ignored():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.get("/t/framing")
        assert r.status == 200 and r.body == b"hello", r
        assert r.headers["content-length"] == ["5"], r
        assert "transfer-encoding" not in r.headers and "connection" not in r.headers, r
        assert r.headers["x-mine"] == ["kept"], r
        # Its Connection: close did not end the connection.
        assert_text(c.get("/t/id/1"), 200, "id 1")
        c.close()


# ---- streamed responses ----

@test
def streamed_body_is_chunked():
    with Server(APPS) as s:
        c = Client(s.port)
        r = c.get("/t/stream")
        assert r.status == 200 and r.body == b"part1;part2;part3;", r
        assert r.headers["transfer-encoding"] == ["chunked"], r
        assert "content-length" not in r.headers, r
        assert r.header("content-type") == "text/plain"
        assert_security(r)
        # The exact framing: one chunk per piece, then the last chunk.
        c.send(req("GET", "/t/stream"))
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            data += c.sock.recv(65536)
        framed = b"6\r\npart1;\r\n6\r\npart2;\r\n6\r\npart3;\r\n0\r\n\r\n"
        assert data.split(b"\r\n\r\n", 1)[1] == framed, data
        r = c.get("/t/stream-slow")
        assert r.status == 200 and r.body == b"tick1;tick2;tick3;", r
        assert_text(c.get("/t/id/1"), 200, "id 1")
        c.close()


@test
def streamed_body_to_http10_is_close_delimited():
    with Server(APPS) as s:
        for path in ("/t/stream", "/t/stream-slow"):
            out, closed = talk(s.port,
                               req("GET", path, [("Connection", "keep-alive")], version="1.0", host=None)
                               + req("GET", "/t/id/2", version="1.0", host=None))
            assert closed, out
            head, body = out.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            assert b"\r\nConnection: close" in head, head
            assert b"Transfer-Encoding" not in head and b"Content-Length" not in head, head
            want = b"part1;part2;part3;" if path == "/t/stream" else b"tick1;tick2;tick3;"
            assert body == want, body


@test
def large_streamed_body_survives_a_slow_reader():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("GET", "/t/bigstream"))
        # Not reading for a while: the server fills the buffers and waits
        # (the handler's pump is suspended), rather than holding it all.
        time.sleep(0.5 * SLOW)
        assert "GET /t/bigstream" not in s.log(), "the whole body was produced without a reader"
        data = b""
        while True:
            chunk = c.sock.recv(32 * 1024)
            assert chunk, "closed early after %d bytes" % len(data)
            data += chunk
            if data.endswith(b"\r\n0\r\n\r\n"):
                break
            if len(data) < 3 * 1024 * 1024:
                time.sleep(0.002)
        c.buf = data
        r = c.read_response()
        assert r.status == 200 and r.headers["transfer-encoding"] == ["chunked"], r
        filler = b"abcdefghijklmnop" * (4096 - 1)
        want = b"".join(b"%016d" % i + filler for i in range(1, 161))
        assert len(r.body) == 160 * 65536 and r.body == want
        assert c.buf == b""
        assert_text(c.get("/t/id/after"), 200, "id after")
        c.close()


# ---- graceful stop ----

@test
def sigterm_lets_a_running_request_finish():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("GET", "/t/nap/1000"))
        s.wait_log(r"napping 1000")
        t0 = time.time()
        s.signal(signal.SIGTERM)
        r = c.read_response()
        assert_text(r, 200, "woke after 1000")
        assert r.headers["connection"] == ["close"], r
        assert c.closed() and c.buf == b""
        c.close()
        assert s.proc.wait(timeout=10 * SLOW) == 0, s.log()
        assert time.time() - t0 < 5 * SLOW
        assert "stopped" in s.log()


@test
def sigterm_refuses_new_connections():
    with Server(APPS) as s:
        c = Client(s.port)
        c.send(req("GET", "/t/nap/2000"))
        s.wait_log(r"napping 2000")
        s.signal(signal.SIGTERM)

        def gone():
            try:
                n = Client(s.port, timeout=2)
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:
                return False        # caught in the listener's closing
            try:
                r = n.read_response()      # accepted in the race: shed politely
                assert r.status == 503, r
            except (EOFError, ConnectionResetError):
                pass
            finally:
                n.close()
            return False
        assert wait_until(gone, 1.5)
        assert s.proc.poll() is None          # still finishing the request
        r = c.read_response()
        assert_text(r, 200, "woke after 2000")
        c.close()
        assert s.proc.wait(timeout=10 * SLOW) == 0, s.log()


@test
def sigterm_closes_idle_keep_alive_connections_at_once():
    with Server(APPS) as s:
        busy = Client(s.port)
        busy.send(req("GET", "/t/nap/3000"))
        s.wait_log(r"napping 3000")
        idle = Client(s.port)
        assert_text(idle.get("/t/id/1"), 200, "id 1")
        t0 = time.time()
        s.signal(signal.SIGTERM)
        assert idle.closed(timeout=5) and idle.buf == b""
        assert time.time() - t0 < 1.5, time.time() - t0   # well before the busy one ends
        assert s.proc.poll() is None
        idle.close()
        assert_text(busy.read_response(), 200, "woke after 3000")
        busy.close()
        assert s.proc.wait(timeout=10 * SLOW) == 0, s.log()


@test
def drain_limit_cuts_off_a_long_request():
    with Server(APPS, args=["--drain", "0.5"]) as s:
        c = Client(s.port)
        c.send(req("GET", "/t/nap/5000"))
        s.wait_log(r"napping 5000")
        t0 = time.time()
        s.signal(signal.SIGTERM)
        assert s.proc.wait(timeout=10 * SLOW) == 0, s.log()
        elapsed = time.time() - t0
        assert elapsed < min(1.5 * SLOW, 4.0), elapsed
        try:
            r = c.read_response()
        except (EOFError, ConnectionResetError):
            r = None
        # Cut off: the handler fails where it waited, so the client gets a 500.
        assert r is not None and r.status == 500, r
        assert r.headers["connection"] == ["close"], r
        c.close()
        assert "the server is stopping" in s.log()


@test
def wall_clock_cap_ends_a_waiting_handler():
    apps = {"w": {"app.lua": r'''
local app = borough.app { mount = "/w", public = true, limits = { time = 1 } }
app:get("/nap", function(req)
  borough.sleep(10)
  return borough.text("should not wake")
end)
app:get("/quick", function(req) return borough.text("quick") end)
return app
'''}}
    with Server(apps) as s:
        c = Client(s.port)
        t0 = time.time()
        r = c.get("/w/nap")
        assert r.status == 500 and b"should not wake" not in r.body, r
        assert 0.9 <= time.time() - t0 < 3 * SLOW, time.time() - t0
        assert "the request ran for too long (limits.time)" in s.log(), s.log()
        # The app goes on serving (on the same connection).
        assert_text(c.get("/w/quick"), 200, "quick")
        c.close()


# ---- several workers ----

@test
def several_workers_answer_every_connection():
    for workers in (2, 3):
        with Server(APPS, workers=workers) as s:
            def one(i):
                c = Client(s.port)
                try:
                    ids = []
                    for j in range(5):
                        r = c.get("/t/who")
                        assert r.status == 200, r
                        ids.append(r.text)
                        assert_text(c.get("/t/id/%d-%d" % (i, j)), 200, "id %d-%d" % (i, j))
                    c.send(req("GET", "/t/slow/%d" % i) + req("GET", "/t/id/%d" % i))
                    assert_text(c.read_response(), 200, "slow %d" % i)
                    assert_text(c.read_response(), 200, "id %d" % i)
                    return ids
                finally:
                    c.close()
            with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
                results = list(pool.map(one, range(60)))
            ids = [i for r in results for i in r]
            assert len(ids) == 300 and len(set(ids)) == 300, "request ids repeat"
            used = {re.match(r"^[0-9a-f]+\.(\d+)-[0-9a-f]+$", i).group(1) for i in ids}
            assert used <= {str(n) for n in range(1, workers + 1)}, used
            assert len(used) >= 2, "only worker(s) %s served" % used


if __name__ == "__main__":
    run()
