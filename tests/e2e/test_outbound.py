#!/usr/bin/env python3
"""http.request: outbound HTTP and HTTPS from app code, on the event loop.

A local HTTP server (and two HTTPS ones, with certificates made here by
openssl from a test CA and from a CA nobody trusts) play the services an
app calls. The app may reach only the hosts its manifest allows; expected
failures come back as nil and a message, mistakes in the call raise."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from lib import SLOW, Client, Server, get, run, test, wait_for


class Service:
    """A small HTTP(S) service on a free loopback port."""

    def __init__(self, context=None):
        service = self
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body, headers=()):
                body = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                service.requests.append((self.command, self.path, dict(self.headers), body))
                path = self.path.split("?")[0]
                if path == "/ok":
                    self.send(200, "hello", [("Content-Type", "text/plain"), ("X-Twice", "a"), ("X-Twice", "b")])
                elif path == "/echo":
                    self.send(201, json.dumps({"method": self.command, "body": body,
                                               "token": self.headers.get("X-Token"),
                                               "type": self.headers.get("Content-Type")}))
                elif path == "/slow":
                    time.sleep(float(self.path.split("=")[1]))
                    self.send(200, "slow done")
                elif path == "/hang":
                    time.sleep(30)
                elif path == "/big":
                    self.send(200, "x" * 100000)
                elif path == "/redirect":
                    self.send(302, "", [("Location", "/ok")])
                elif path == "/loop":
                    self.send(302, "", [("Location", "/loop")])
                elif path == "/away":
                    self.send(302, "", [("Location", "http://elsewhere.test/")])
                elif path == "/to":
                    # /to?307&http://... : a redirect (302 unless a status is given) to what follows
                    status, _, location = self.path.split("?", 1)[1].partition("&")
                    self.send(int(status), "", [("Location", location)])
                else:
                    self.send(404, "no")

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if context:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


APP = '''
local app = borough.app { title = "Out", mount = "/out", public = true,
                          allow_hosts = { "127.0.0.1", "localhost" }, limits = { time = %(time)d } }

-- /call?url=...&method=...&max_size=...&timeout=...&redirects=...
app:get("/call", function(req)
  local q = req.query
  local res, err = http.request {
    url = q.url, method = q.method, body = q.body,
    headers = q.token and { ["X-Token"] = q.token, ["Content-Type"] = "text/plain" } or nil,
    max_size = tonumber(q.max_size), timeout = tonumber(q.timeout), redirects = tonumber(q.redirects),
  }
  if not res then return borough.json({ error = err }) end
  return borough.json({ status = res.status, body = res.body, twice = res.headers["x-twice"],
                        type = res.headers["content-type"], url = res.url })
end)

-- /secret?url=...: a call that carries credentials (and one header that is not one)
app:get("/secret", function(req)
  local res, err = http.request {
    url = req.query.url, method = req.query.method, body = req.query.method and "b=1" or nil,
    headers = { Authorization = "Bearer s3cret", Cookie = "sid=abc", ["Proxy-Authorization"] = "Basic cHJveHk=",
                ["X-Trace"] = "t1" },
  }
  if not res then return borough.json({ error = err }) end
  return borough.json({ status = res.status, body = res.body, url = res.url })
end)

app:get("/fast", function() return "fast" end)

app:get("/in-tx", function(req)
  return db.tx(function() return http.request { url = req.query.url } end)
end)

app:get("/bad", function(req)
  local cases = {
    option = { url = req.query.url, colour = "red" },
    header = { url = req.query.url, headers = { ["X-A"] = "one\\r\\nX-B: two" } },
    host_header = { url = req.query.url, headers = { Host = "example.com" } },
    method = { url = req.query.url, method = "BREW" },
  }
  return http.request(cases[req.query.case])
end)

-- Waits in an app coroutine: the wait passes through coroutine.wrap.
app:get("/wrapped", function(req)
  local f = coroutine.wrap(function() local r = http.request { url = req.query.url } return r.body end)
  return f()
end)

return app
'''


def call(port, service_port, path, host="127.0.0.1", scheme="http", **params):
    url = "%s://%s:%d%s" % (scheme, host, service_port, path)
    q = "&".join("%s=%s" % (k, quote(str(v))) for k, v in params.items())
    r = get(port, "/out/call?url=%s%s" % (quote(url), "&" + q if q else ""))
    assert r.status == 200, r
    return json.loads(r.body)


def app(time_limit=30):
    return {"out": {"app.lua": APP % {"time": time_limit}}}


@test
def a_request_to_an_allowed_host_returns_status_headers_and_body():
    svc = Service()
    try:
        with Server(app()) as s:
            r = call(s.port, svc.port, "/ok")
            assert r["status"] == 200 and r["body"] == "hello", r
            assert r["twice"] == "a, b" and r["type"] == "text/plain", r
            r = call(s.port, svc.port, "/echo", method="POST", body="a=1", token="t0k")
            assert r["status"] == 201, r
            assert json.loads(r["body"]) == {"method": "POST", "body": "a=1", "token": "t0k", "type": "text/plain"}, r
            assert svc.requests[-1][2]["User-Agent"].startswith("borough/"), svc.requests[-1]
            r = call(s.port, svc.port, "/redirect")
            assert r["status"] == 200 and r["body"] == "hello", r
            assert r["url"] == "http://127.0.0.1:%d/ok" % svc.port, r
            r = call(s.port, svc.port, "/redirect", redirects=0)
            assert r["status"] == 302, r
            r = call(s.port, svc.port, "/missing")
            assert r["status"] == 404 and r["body"] == "no", r
    finally:
        svc.stop()


@test
def hosts_the_manifest_does_not_allow_are_refused():
    svc = Service()
    try:
        with Server(app()) as s:
            r = call(s.port, 80, "/", host="example.com")
            assert r == {"error": "the app may not reach example.com:80 (add it to the app's allowed hosts)"}, r
            r = call(s.port, svc.port, "/away")
            assert r["error"].startswith("redirect refused: the app may not reach elsewhere.test:80"), r
            assert all(req[1] != "/" for req in svc.requests)
    finally:
        svc.stop()


CREDENTIALS = ("Authorization", "Cookie", "Proxy-Authorization")


def secret_call(port, url, **params):
    q = "".join("&%s=%s" % (k, quote(str(v))) for k, v in params.items())
    r = get(port, "/out/secret?url=%s%s" % (quote(url, safe=""), q))
    assert r.status == 200, r
    return json.loads(r.body)


@test
def credentials_are_dropped_when_a_redirect_leaves_the_origin():
    a, b = Service(), Service()
    try:
        with Server(app()) as s:
            # The same origin (scheme, host and port): every header follows.
            r = secret_call(s.port, "http://127.0.0.1:%d/to?302&/ok" % a.port)
            assert r["status"] == 200 and r["body"] == "hello", r
            assert [req[1] for req in a.requests] == ["/to?302&/ok", "/ok"], a.requests
            for req in a.requests:
                assert [req[2].get(h) for h in CREDENTIALS + ("X-Trace",)] == \
                    ["Bearer s3cret", "sid=abc", "Basic cHJveHk=", "t1"], req
            # Another port: the credentials stay behind, the rest follows.
            for status, method in ((302, None), (307, "POST"), (308, "PUT")):
                a.requests.clear()
                b.requests.clear()
                r = secret_call(s.port, "http://127.0.0.1:%d/to?%d&http://127.0.0.1:%d/echo" % (a.port, status, b.port),
                                **({"method": method} if method else {}))
                assert r["status"] == 201, r
                assert a.requests[0][2].get("Authorization") == "Bearer s3cret", a.requests
                (m, path, headers, body), = b.requests
                assert (m, path) == (method or "GET", "/echo"), b.requests
                assert [headers.get(h) for h in CREDENTIALS] == [None, None, None], headers
                assert headers.get("X-Trace") == "t1", headers
                assert body == ("b=1" if method else ""), b.requests
            # Another host on the same port: the same.
            a.requests.clear()
            r = secret_call(s.port, "http://127.0.0.1:%d/to?302&http://localhost:%d/ok" % (a.port, a.port))
            assert r["status"] == 200 and r["url"] == "http://localhost:%d/ok" % a.port, r
            first, second = a.requests
            assert first[2].get("Authorization") == "Bearer s3cret", first
            assert [second[2].get(h) for h in CREDENTIALS] == [None, None, None], second
            # Back to the first origin after leaving it: they stay dropped.
            a.requests.clear()
            b.requests.clear()
            r = secret_call(s.port, "http://127.0.0.1:%d/to?302&http://127.0.0.1:%d/to?302&http://127.0.0.1:%d/ok"
                            % (a.port, b.port, a.port))
            assert r["status"] == 200, r
            assert [req[1] for req in a.requests + b.requests] == [
                "/to?302&http://127.0.0.1:%d/to?302&http://127.0.0.1:%d/ok" % (b.port, a.port), "/ok",
                "/to?302&http://127.0.0.1:%d/ok" % a.port], (a.requests, b.requests)
            assert a.requests[1][2].get("Authorization") is None, a.requests
    finally:
        a.stop()
        b.stop()


@test
def allow_hosts_entries_are_checked_at_load():
    bad = '''local app = borough.app { public = true, allow_hosts = { "https://api.example.gov.uk" } }
return app'''
    with Server({"bad": {"app.lua": bad}}) as s:
        r = get(s.port, "/bad/")
        assert r.status == 503, r
        assert 'allow_hosts[1] must be a host such as "api.example.gov.uk"' in s.log(), s.log()


@test
def limits_on_size_time_and_redirects_give_nil_and_a_message():
    svc = Service()
    try:
        with Server(app()) as s:
            r = call(s.port, svc.port, "/big", max_size=1000)
            assert r == {"error": "the response from 127.0.0.1 is over 1000 bytes"}, r
            t0 = time.time()
            r = call(s.port, svc.port, "/hang", timeout=0.5)
            assert r == {"error": "no complete response from 127.0.0.1 within 0.5 s"}, r
            assert time.time() - t0 < 3 * SLOW
            r = call(s.port, svc.port, "/loop", redirects=3)
            assert r["error"].startswith("too many redirects (more than 3)"), r
            r = call(s.port, 1, "/")
            assert r == {"error": "cannot connect to 127.0.0.1:1: connection refused"}, r
            r = call(s.port, svc.port, "/", host="nowhere.invalid")
            assert "may not reach nowhere.invalid" in r["error"], r
    finally:
        svc.stop()


@test
def mistakes_in_the_call_raise():
    svc = Service()
    try:
        with Server(app()) as s:
            url = quote("http://127.0.0.1:%d/ok" % svc.port)
            for case, message in [
                ("option", "http.request: unknown option 'colour'"),
                ("header", "http.request: the value of header X-A may not contain CR, LF or NUL"),
                ("host_header", "http.request: the Host header is set by the client itself"),
                ("method", "http.request: method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            ]:
                r = get(s.port, "/out/bad?case=%s&url=%s" % (case, url))
                assert r.status == 500, r
                s.wait_log(message)
            r = get(s.port, "/out/in-tx?url=%s" % url)
            assert r.status == 500, r
            s.wait_log(r"http.request cannot wait here \(inside db.tx")
            assert svc.requests == [], svc.requests
    finally:
        svc.stop()


@test
def a_slow_call_does_not_delay_other_requests_on_the_worker():
    svc = Service()
    try:
        with Server(app(), workers=1) as s:
            slow = Client(s.port, timeout=20)
            url = quote("http://127.0.0.1:%d/slow?s=%s" % (svc.port, 2 * SLOW))
            t0 = time.time()
            slow.send(("GET /out/call?url=%s HTTP/1.1\r\nHost: x\r\n\r\n" % url).encode())
            wait_for(lambda: svc.requests, 5, "the slow call to start")
            latencies = []
            for _ in range(20):
                t = time.time()
                r = get(s.port, "/out/fast")
                latencies.append(time.time() - t)
                assert r.status == 200 and r.body == b"fast", r
            assert time.time() - t0 < 2 * SLOW, "the fast requests waited for the slow one"
            assert max(latencies) < 0.25 * SLOW, latencies
            r = slow.read_response()
            assert r.status == 200 and json.loads(r.body)["body"] == "slow done", r
            assert time.time() - t0 >= 2 * SLOW
            slow.close()
            # The same through a coroutine the app made.
            r = get(s.port, "/out/wrapped?url=%s" % quote("http://127.0.0.1:%d/ok" % svc.port))
            assert r.status == 200 and r.body == b"hello", r
    finally:
        svc.stop()


@test
def the_request_time_limit_ends_a_wait_and_abandons_the_call():
    svc = Service()
    try:
        with Server(app(time_limit=1)) as s:
            t0 = time.time()
            r = get(s.port, "/out/call?url=%s" % quote("http://127.0.0.1:%d/hang" % svc.port))
            assert r.status == 500, r
            assert time.time() - t0 < 4 * SLOW
            s.wait_log(r"app.lua:\d+: the request ran for too long \(limits.time\)")
            r = get(s.port, "/out/fast")
            assert r.status == 200, r
    finally:
        svc.stop()


@test
def a_server_stop_ends_a_waiting_call():
    svc = Service()
    try:
        s = Server(app(), args=["--drain", "0.5"]).start()
        try:
            c = Client(s.port, timeout=20)
            url = quote("http://127.0.0.1:%d/hang" % svc.port)
            c.send(("GET /out/call?url=%s HTTP/1.1\r\nHost: x\r\n\r\n" % url).encode())
            wait_for(lambda: svc.requests, 5, "the call to start")
            t0 = time.time()
            s.signal(signal.SIGTERM)
            r = c.read_response()
            assert r.status == 500, r
            status = s.proc.wait(timeout=10 * SLOW)
            assert status == 0, (status, s.log())
            assert time.time() - t0 < 5 * SLOW
            assert "the server is stopping" in s.log(), s.log()
        finally:
            s.stop()
            shutil.rmtree(s.tmp, ignore_errors=True)
    finally:
        svc.stop()


def make_certs(dir):
    """A test CA and a certificate it signs for localhost; another CA and a
    certificate for localhost that the first does not know."""
    script = """
set -e
for ca in trusted unknown; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=$ca-test-ca \
    -keyout $ca-ca.key -out $ca-ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout $ca.key -out $ca.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost\\n' > ext.cnf
  openssl x509 -req -in $ca.csr -CA $ca-ca.pem -CAkey $ca-ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out $ca.pem 2>/dev/null
done
"""
    subprocess.run(["sh", "-c", script], cwd=dir, check=True)


def tls_service(dir, which):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(dir, which + ".pem"), os.path.join(dir, which + ".key"))
    return Service(ctx)


@test
def https_verifies_the_certificate_against_the_trusted_cas():
    dir = tempfile.mkdtemp(prefix="borough-e2e-certs-")
    make_certs(dir)
    good, unknown = tls_service(dir, "trusted"), tls_service(dir, "unknown")
    try:
        env = {"SSL_CERT_FILE": os.path.join(dir, "trusted-ca.pem")}
        with Server(app(), env=env) as s:
            r = call(s.port, good.port, "/ok", host="localhost", scheme="https")
            assert r["status"] == 200 and r["body"] == "hello", r
            r = call(s.port, good.port, "/echo", host="localhost", scheme="https", method="PUT", body="over tls")
            assert json.loads(r["body"])["body"] == "over tls", r
            # The certificate names localhost, not 127.0.0.1.
            r = call(s.port, good.port, "/ok", host="127.0.0.1", scheme="https")
            assert r == {"error": "TLS with 127.0.0.1: certificate verification failed: "
                                  "The certificate Common Name (CN) does not match with the expected CN"}, r
            # Signed by a CA the server does not trust.
            r = call(s.port, unknown.port, "/ok", host="localhost", scheme="https")
            assert r == {"error": "TLS with localhost: certificate verification failed: "
                                  "The certificate is not correctly signed by the trusted CA"}, r
            # A redirect from https to http is refused, before anything is sent over http.
            plain = Service()
            try:
                r = secret_call(s.port, "https://localhost:%d/to?302&http://127.0.0.1:%d/ok" % (good.port, plain.port))
                assert r == {"error": "redirect refused: from https to http (http://127.0.0.1:%d/ok)" % plain.port}, r
                assert plain.requests == [], plain.requests
            finally:
                plain.stop()
        # By default only the system's CAs are trusted: the test CA is not one.
        with Server(app()) as s:
            r = call(s.port, good.port, "/ok", host="localhost", scheme="https")
            assert r["error"].startswith("TLS with localhost: certificate verification failed:"), r
    finally:
        good.stop()
        unknown.stop()
        shutil.rmtree(dir, ignore_errors=True)


run()
