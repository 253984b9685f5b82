#!/usr/bin/env python3
"""HTTPS end to end (`serve --tls-cert FILE --tls-key FILE`): real peers
(curl, openssl s_client, Python's ssl module) against the real server, with
a CA and certificates the test makes with the openssl command line.

TLS 1.2 succeeds; TLS 1.0, 1.1 and weak suites (no forward secrecy, CBC,
RC4, 3DES, NULL, export) are refused; a client that stalls mid-handshake
neither blocks others nor stays past the handshake timeout; keep-alive,
pipelining and large streamed bodies over TLS; HSTS on every HTTPS
response; Secure cookies and req.secure; session resumption; the redirect
listener; certificate and key errors at start; reloading the certificate.
"""
import atexit
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BOROUGH, SLOW, Client, Server, reload, run, test  # noqa: E402

HSTS = "max-age=31536000; includeSubDomains"

APP = {"app.lua": r'''
local app = borough.app { title = "TLS", mount = "/t", public = true }
app:get("/", function(req) return borough.text("hello over " .. req.scheme) end)
app:get("/scheme", function(req) return borough.text(req.scheme .. " " .. tostring(req.secure)) end)
app:get("/form", function(req) return borough.text(borough.csrf_token()) end)
app:get("/id/:n", function(req) return borough.text("id " .. req.params.n) end)
app:get("/slow/:n", function(req)
  borough.sleep(0.05)
  return borough.text("slow " .. req.params.n)
end)
app:post("/echo", { csrf = false, max_body = 4000000 }, function(req)
  return borough.text(#req.body .. ":" .. req.body:sub(1, 16))
end)
-- 64 KiB pieces of a known pattern; n pieces.
local piece = {}
for i = 0, 4095 do piece[#piece + 1] = string.format("%015x\n", i) end
piece = table.concat(piece)
app:get("/big/:n", function(req)
  local left = tonumber(req.params.n)
  return { headers = { ["Content-Type"] = "application/octet-stream" }, body = function()
    if left == 0 then return nil end
    left = left - 1
    return piece
  end }
end)
app:get("/whole/:n", function(req)
  return { headers = { ["Content-Type"] = "application/octet-stream" },
           body = string.rep(piece, tonumber(req.params.n)) }
end)
return app
'''}
APPS = {"t": APP}
PIECE = b"".join(b"%015x\n" % i for i in range(4096))

# ---- certificates ----

CERTS = tempfile.mkdtemp(prefix="borough-tls-certs-")
atexit.register(shutil.rmtree, CERTS, True)


def cert_path(name):
    return os.path.join(CERTS, name)


def openssl(*args):
    p = subprocess.run(["openssl", *args], cwd=CERTS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout.decode()


def make_certs():
    """A CA; two RSA server certificates for localhost and 127.0.0.1 signed by
    it (the second as a renewal, with another subject); an ECDSA one; an
    unrelated key."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=borough test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    with open(cert_path("ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, key, subject in (("server", "rsa:2048", "/O=first/CN=localhost"),
                               ("renewed", "rsa:2048", "/O=renewed/CN=localhost"),
                               ("ecdsa", "ec", "/O=ecdsa/CN=localhost")):
        extra = ["-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" else []
        openssl("req", "-newkey", key, *extra, "-nodes", "-subj", subject, "-keyout", name + ".key",
                "-out", name + ".csr")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "ext.cnf", "-out", name + ".pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key")
    with open(cert_path("garbage.pem"), "w") as f:
        f.write("this is not a certificate\n")


make_certs()
CA = cert_path("ca.pem")


def tls_args(cert="server", extra=()):
    return ["--tls-cert", cert_path(cert + ".pem"), "--tls-key", cert_path(cert + ".key"), *extra]


def https_server(workers=1, args=(), cert="server"):
    return Server(APPS, workers=workers, args=tls_args(cert, args))


def context():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class TLSClient(Client):
    """lib's Client over TLS (verifying the server against the test's CA)."""

    def __init__(self, port, timeout=10, ctx=None, ragged_eofs=True):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
        self.sock = (ctx or context()).wrap_socket(raw, server_hostname="localhost",
                                                   suppress_ragged_eofs=ragged_eofs)
        self.buf = b""


def curl(port, path, *args):
    p = subprocess.run(["curl", "-sS", "-i", "--cacert", CA, "--resolve", "localhost:%d:127.0.0.1" % port,
                        *args, "https://localhost:%d%s" % (port, path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


def s_client(port, *args, send=b"", servername="localhost"):
    """Runs openssl s_client against the server: a handshake, and with send
    a request whose answer it reads until the server closes. Returns its
    output."""
    wait = ["-ign_eof"] if send else []
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", servername,
                        "-CAfile", CA, *wait, *args],
                       input=send, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SLOW)
    return p.stdout.decode("latin-1")


def established(out):
    m = re.search(r"^(New|Reused), (TLSv[\d.]+), Cipher is (\S+)", out, re.M)
    return m and m.group(3) != "(NONE)" and m.groups()


def redirect_port(s):
    s.wait_log(r"plain HTTP on http://127\.0\.0\.1:\d+/ redirects to HTTPS")
    return int(re.search(r"plain HTTP on http://127\.0\.0\.1:(\d+)/", s.log()).group(1))


# ---- a hand-made ClientHello ----

def client_hello(suites, version=0x0303):
    """A TLS ClientHello offering exactly these cipher suites (with the
    extensions an ECDHE suite needs)."""
    def ext(kind, data):
        return struct.pack(">HH", kind, len(data)) + data
    groups = struct.pack(">HHHH", 6, 0x001d, 0x0017, 0x0018)
    sigalgs = struct.pack(">H6H", 12, 0x0401, 0x0501, 0x0804, 0x0403, 0x0503, 0x0201)
    exts = ext(0x000a, groups) + ext(0x000b, b"\x01\x00") + ext(0x000d, sigalgs)
    body = (struct.pack(">H", version) + os.urandom(32) + b"\x00" +
            struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", s) for s in suites) +
            b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def first_record(port, data, timeout=5):
    """Sends data, returns (content type, the record's first bytes) of the
    server's first TLS record, or (None, b"") if it closes without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        got = b""
        while len(got) < 7:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return (got[0], got[:7]) if got else (None, b"")
    finally:
        s.close()


def real_client_hello():
    """The ClientHello Python's ssl module (OpenSSL) sends first."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


# ---------------------------------------------------------------------------
# Protocol versions and suites
# ---------------------------------------------------------------------------

@test
def curl_speaks_tls12_and_verifies_the_certificate():
    with https_server() as s:
        rc, out, err = curl(s.port, "/t/", "-v", "--tlsv1.2", "--tls-max", "1.2")
        assert rc == 0, err
        assert out.startswith("HTTP/1.1 200 OK\r\n"), out
        assert out.endswith("\r\n\r\nhello over https"), out
        assert "SSL connection using TLSv1.2 / ECDHE-RSA-AES128-GCM-SHA256" in err, err
        assert "ALPN: server accepted http/1.1" in err, err
        # Without --tls-max: TLS 1.2 still (mbedTLS 2.28 has no TLS 1.3).
        rc, out, err = curl(s.port, "/t/", "-v")
        assert rc == 0 and "SSL connection using TLSv1.2" in err, err


@test
def openssl_s_client_speaks_tls12():
    with https_server() as s:
        out = s_client(s.port, "-tls1_2", "-verify_return_error",
                       send=b"GET /t/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert established(out) == ("New", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), out
        assert "Verify return code: 0 (ok)" in out, out
        assert "HTTP/1.1 200 OK" in out and "hello over https" in out, out


@test
def every_modern_suite_is_offered():
    with https_server() as s:
        for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                      "ECDHE-RSA-CHACHA20-POLY1305"):
            out = s_client(s.port, "-tls1_2", "-cipher", suite)
            assert established(out) == ("New", "TLSv1.2", suite), out
    with https_server(cert="ecdsa") as s:
        for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                      "ECDHE-ECDSA-CHACHA20-POLY1305"):
            out = s_client(s.port, "-tls1_2", "-cipher", suite)
            assert established(out) == ("New", "TLSv1.2", suite), out


@test
def tls10_and_tls11_are_refused():
    with https_server() as s:
        for flag, name in (("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")):
            # SECLEVEL=0: the client really offers the old version.
            out = s_client(s.port, flag, "-cipher", "DEFAULT:@SECLEVEL=0")
            assert not established(out), out
            assert "alert protocol version" in out, out
        s.wait_log(r"TLS handshake refused: .*protocol")
        assert len(re.findall(r"TLS handshake refused", s.log())) == 2, s.log()
        # The server is unharmed.
        assert "hello over https" in curl(s.port, "/t/")[1]


@test
def weak_suites_are_refused():
    weak = ["AES128-SHA",                  # RSA key exchange, CBC
            "AES256-SHA256",               # RSA key exchange, CBC
            "AES128-GCM-SHA256",           # RSA key exchange: no forward secrecy
            "DHE-RSA-AES128-GCM-SHA256",   # finite-field DHE
            "ECDHE-RSA-AES128-SHA",        # CBC
            "ECDHE-RSA-AES256-SHA384",     # CBC
            "AES128-SHA:DHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256"]   # only CBC suites
    with https_server() as s:
        for suites in weak:
            out = s_client(s.port, "-tls1_2", "-cipher", suites + ":@SECLEVEL=0")
            assert "no cipher match" not in out, "the client cannot offer %s:\n%s" % (suites, out)
            assert not established(out), (suites, out)
            assert "alert handshake failure" in out, (suites, out)


@test
def rc4_3des_null_and_export_suites_are_refused():
    """OpenSSL 3 no longer offers these at all: a hand-made ClientHello
    does, and the server answers a fatal handshake_failure alert."""
    old = [0x0004, 0x0005, 0xC011,     # RC4
           0x000A, 0xC012,             # 3DES
           0x0001, 0x0002, 0xC010,     # NULL encryption
           0x0003, 0x0006]             # export
    with https_server() as s:
        kind, record = first_record(s.port, client_hello(old))
        assert kind == 0x15 and record == b"\x15\x03\x03\x00\x02\x02\x28", record   # alert: handshake_failure
        # The same ClientHello offering a modern suite is answered with a ServerHello.
        kind, record = first_record(s.port, client_hello([0xC02F]))
        assert kind == 0x16 and record[5] == 0x02, record


@test
def sessions_resume_across_workers():
    with https_server(workers=2) as s:
        sess = os.path.join(s.tmp, "session.pem")
        out = s_client(s.port, "-tls1_2", "-sess_out", sess)
        assert established(out)[0] == "New", out
        for _ in range(6):   # the kernel spreads them over both workers; the cache is shared
            out = s_client(s.port, "-tls1_2", "-sess_in", sess)
            assert established(out) == ("Reused", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), out


# ---------------------------------------------------------------------------
# The event loop: stalled handshakes and the handshake timeout
# ---------------------------------------------------------------------------

@test
def a_stalled_handshake_blocks_no_one_and_is_closed_after_the_timeout():
    with https_server(args=["--handshake-timeout", "1"]) as s:
        hello = real_client_hello()
        assert hello[0] == 0x16 and len(hello) > 100, hello
        stalled = []
        for _ in range(20):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10 * SLOW)
            c.sendall(hello[:len(hello) // 2])    # half a ClientHello, then nothing
            stalled.append(c)
        started = time.time()
        # Meanwhile, other clients are served at once (one worker).
        for i in range(5):
            t0 = time.time()
            c = TLSClient(s.port)
            r = c.get("/t/id/%d" % i)
            c.close()
            assert r.status == 200 and r.text == "id %d" % i, r
            assert time.time() - t0 < 0.5 * SLOW, time.time() - t0
        # And the stalled ones are closed once the timeout (1 s) has passed.
        for c in stalled:
            c.settimeout(5 * SLOW)
            try:
                assert c.recv(100) == b""
            except ConnectionResetError:
                pass
            c.close()
        elapsed = time.time() - started
        assert 0.7 < elapsed < 1.0 + 1.5 * SLOW, elapsed
        s.wait_log(r"closed: the TLS handshake took longer than 1\.0 s")
        assert len(re.findall(r"TLS handshake took longer", s.log())) == 20, s.log()


@test
def a_client_that_never_starts_its_handshake_is_closed_too():
    with https_server(args=["--handshake-timeout", "0.5"]) as s:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW)
        t0 = time.time()
        assert c.recv(100) == b""
        assert 0.4 < time.time() - t0 < 0.5 + 1.5 * SLOW
        c.close()


@test
def plain_http_to_the_https_port_gets_a_readable_400():
    with https_server() as s:
        c = Client(s.port)
        c.send(b"GET /t/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = c.read_response()
        assert r.status == 400 and r.text == "This port speaks HTTPS: use an https:// URL.\n", r
        assert c.closed()
        c.close()


# ---------------------------------------------------------------------------
# HTTP over TLS
# ---------------------------------------------------------------------------

@test
def keep_alive_and_pipelining_over_tls():
    with https_server() as s:
        c = TLSClient(s.port)
        for i in range(3):
            r = c.get("/t/id/%d" % i)
            assert r.status == 200 and r.text == "id %d" % i, r
            assert r.header("connection") is None, r
        # Five requests in one write (one TLS record), one of them waiting.
        c.send(b"".join(b"GET /t/%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % p
                        for p in (b"id/a", b"slow/b", b"id/c", b"slow/d", b"id/e")))
        texts = [c.read_response().text for _ in range(5)]
        assert texts == ["id a", "slow b", "id c", "slow d", "id e"], texts
        # A request cut across several records, and a body.
        c.send(b"POST /t/echo HTTP/1.1\r\nHo")
        time.sleep(0.05)
        c.send(b"st: localhost\r\nContent-Length: 10\r\n\r\n01234")
        time.sleep(0.05)
        c.send(b"56789")
        r = c.read_response()
        assert r.status == 200 and r.text == "10:0123456789", r
        c.close()


@test
def a_large_request_body_over_tls():
    with https_server() as s:
        body = os.urandom(3 * 1024 * 1024)
        c = TLSClient(s.port)
        r = c.request("POST", "/t/echo", {"Content-Type": "application/octet-stream"}, body)
        assert r.status == 200 and r.body == b"%d:" % len(body) + body[:16], r
        c.close()


@test
def large_responses_over_tls_arrive_intact():
    with https_server() as s:
        c = TLSClient(s.port)
        r = c.get("/t/big/80")                        # 5 MiB, streamed (chunked)
        assert r.status == 200 and r.header("transfer-encoding") == "chunked", r
        assert hashlib.sha256(r.body).digest() == hashlib.sha256(PIECE * 80).digest(), len(r.body)
        r = c.get("/t/whole/40")                      # 2.5 MiB with a Content-Length
        assert r.status == 200 and r.body == PIECE * 40, len(r.body)
        c.close()
        # A client that reads slowly: the server waits for it (backpressure).
        c = TLSClient(s.port)
        c.send(b"GET /t/big/64 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /t/id/after HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(0.5)
        got = b""
        while len(got) < 1024 * 1024:
            chunk = c.sock.recv(65536)
            assert chunk
            got += chunk
            time.sleep(0.002)
        c.buf = got
        r = c.read_response()
        assert r.body == PIECE * 64, len(r.body)
        assert c.read_response().text == "id after"
        c.close()
        # curl agrees.
        p = subprocess.run(["curl", "-sS", "--cacert", CA, "--resolve", "localhost:%d:127.0.0.1" % s.port,
                            "https://localhost:%d/t/big/32" % s.port], stdout=subprocess.PIPE, timeout=60 * SLOW)
        assert p.returncode == 0 and p.stdout == PIECE * 32, len(p.stdout)


@test
def the_server_ends_a_session_with_close_notify():
    with https_server() as s:
        c = TLSClient(s.port, ragged_eofs=False)
        r = c.request("GET", "/t/", {"Connection": "close"})
        assert r.status == 200 and r.header("connection") == "close", r
        # An EOF without close_notify would raise SSLEOFError here.
        assert c.sock.recv(100) == b""
        c.close()


@test
def hsts_on_every_https_response_and_never_on_plain_http():
    with https_server(args=["--redirect-http", "127.0.0.1:0"]) as s:
        c = TLSClient(s.port)
        for path, status in (("/t/", 200), ("/healthz", 200), ("/nowhere", 404), ("/t/big/1", 200),
                             ("/t", 301)):
            r = c.get(path)
            assert r.status == status, (path, r)
            assert r.headers.get("strict-transport-security") == [HSTS], (path, r)
        # The connection's own answers too (a malformed request: 400, then close).
        c.send(b"GET /t/ HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 400 and r.headers.get("strict-transport-security") == [HSTS], r
        c.close()
        plain = Client(redirect_port(s))
        for path in ("/t/", "/healthz"):
            r = plain.get(path)
            assert "strict-transport-security" not in r.headers, r
        plain.close()


@test
def cookies_are_secure_and_the_request_knows_it_is_https():
    with https_server() as s:
        c = TLSClient(s.port)
        assert c.get("/t/scheme").text == "https true"
        r = c.get("/t/form")
        cookie = r.header("set-cookie")
        assert re.fullmatch(r"borough_csrf=[0-9a-f]{32}; Path=/; HttpOnly; SameSite=Lax; Secure", cookie), cookie
        r = c.get("/t/?lang=cy")
        assert "borough_lang=cy; Path=/; Max-Age=31536000; SameSite=Lax; Secure" in r.headers["set-cookie"], r
        c.close()
    with Server(APPS) as s:
        c = Client(s.port)
        assert c.get("/t/scheme").text == "http false"
        cookie = c.get("/t/form").header("set-cookie")
        assert cookie.endswith("SameSite=Lax"), cookie
        c.close()


@test
def request_ids_on_the_connections_own_answers():
    with https_server() as s:
        c = TLSClient(s.port)
        c.send(b"GET /t/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        assert c.read_response().status == 400
        c.close()
        s.wait_log(r"id=\w+\.1-\w+ 127\.0\.0\.1: 400 Bad Request")


# ---------------------------------------------------------------------------
# The redirect listener
# ---------------------------------------------------------------------------

@test
def the_redirect_listener_sends_browsers_to_https():
    with https_server(args=["--redirect-http", "127.0.0.1:0"]) as s:
        port = redirect_port(s)
        c = Client(port)
        r = c.get("/t/id/7?a=1&b=%20x")
        assert r.status == 301, r
        assert r.header("location") == "https://127.0.0.1:%d/t/id/7?a=1&b=%%20x" % s.port, r
        r = c.request("HEAD", "/t/")
        assert r.status == 301 and r.header("location") == "https://127.0.0.1:%d/t/" % s.port, r
        # The host the browser asked for, without its port; a form's POST stays a POST (308).
        r = c.request("POST", "/t/echo", {"Host": "council.example:8080"}, "a=1")
        assert r.status == 308 and r.header("location") == "https://council.example:%d/t/echo" % s.port, r
        r = c.request("GET", "/", {"Host": "[::1]:80"})
        assert r.header("location") == "https://[::1]:%d/" % s.port, r
        # Kept alive throughout; /healthz is answered here for load balancers.
        r = c.get("/healthz")
        assert r.status == 200 and r.text == "ok\n", r
        # A Host that is not a host name: 400, no redirect anywhere.
        for bad in ("evil.example/x", "a b", "x:y", ""):
            r = c.request("GET", "/t/", {"Host": bad})
            assert r.status == 400 and r.header("location") is None, (bad, r)
        c.close()
        # curl follows it to the HTTPS site.
        p = subprocess.run(["curl", "-sS", "-L", "--cacert", CA,
                            "--resolve", "localhost:%d:127.0.0.1" % s.port,
                            "--resolve", "localhost:%d:127.0.0.1" % port,
                            "http://localhost:%d/t/scheme" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
        assert p.returncode == 0 and p.stdout == b"https true", p


# ---------------------------------------------------------------------------
# Certificates at start and on reload
# ---------------------------------------------------------------------------

def start_fails(args):
    tmp = tempfile.mkdtemp(prefix="borough-e2e-")
    try:
        os.makedirs(os.path.join(tmp, "apps"))
        p = subprocess.run([BOROUGH, "serve", os.path.join(tmp, "apps"), "--listen", "127.0.0.1:0",
                            "--data", os.path.join(tmp, "data"), "--workers", "1", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def bad_certificate_or_key_files_stop_the_start_with_one_line():
    P = cert_path
    openssl("rsa", "-in", "server.key", "-aes128", "-passout", "pass:secret", "-out", "encrypted.key")
    cases = [
        (P("missing.pem"), P("server.key"), "TLS: cannot read the certificate %s: No such file or directory"
         % P("missing.pem")),
        (P("server.pem"), P("missing.key"), "TLS: cannot read the key %s: No such file or directory"
         % P("missing.key")),
        (CERTS, P("server.key"), "TLS: cannot read the certificate %s: not a file" % CERTS),
        (P("garbage.pem"), P("server.key"), "TLS: the certificate %s: no certificate in it "
         "(PEM, -----BEGIN CERTIFICATE-----)" % P("garbage.pem")),
        (P("server.key"), P("server.key"), "TLS: the certificate %s: no certificate in it "
         "(PEM, -----BEGIN CERTIFICATE-----)" % P("server.key")),
        (P("server.pem"), P("garbage.pem"), "TLS: the key %s: no private key in it "
         "(PEM, -----BEGIN PRIVATE KEY-----)" % P("garbage.pem")),
        (P("server.pem"), P("server.pem"), "TLS: the key %s: no private key in it "
         "(PEM, -----BEGIN PRIVATE KEY-----)" % P("server.pem")),
        (P("server.pem"), P("encrypted.key"), "TLS: the key %s: it is encrypted; give it without a passphrase"
         % P("encrypted.key")),
        (P("server.pem"), P("other.key"), "TLS: the certificate %s and the key %s do not go together "
         "(the key is not the certificate's)" % (P("server.pem"), P("other.key"))),
    ]
    for cert, key, line in cases:
        status, out, err = start_fails(["--tls-cert", cert, "--tls-key", key])
        lines = err.strip().splitlines()
        assert status == 1, (cert, key, status, err)
        assert len(lines) == 1 and re.fullmatch(r"\S+ error " + re.escape(line), lines[0]), (line, err)
        assert "listening" not in out + err
    status, out, err = start_fails(["--tls-cert", P("server.pem")])
    assert status == 2 and "--tls-cert and --tls-key go together" in err, err
    status, out, err = start_fails(["--redirect-http", "127.0.0.1:0"])
    assert status == 2 and "--redirect-http" in err, err


def subject(port):
    out = s_client(port, "-tls1_2")
    m = re.search(r"^subject=(.*)$", out, re.M)
    assert m, out
    return m.group(1)


@test
def the_certificate_reloads_on_sighup_and_borough_reload():
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "site.pem"), os.path.join(d, "site.key")
        shutil.copy(cert_path("server.pem"), cert)
        shutil.copy(cert_path("server.key"), key)
        with Server(APPS, args=["--tls-cert", cert, "--tls-key", key]) as s:
            assert "O = first" in subject(s.port)
            kept = TLSClient(s.port)
            assert kept.get("/t/").status == 200
            # Renewed (as certbot does: new files in place), then SIGHUP.
            shutil.copy(cert_path("renewed.pem"), cert + ".new")
            shutil.copy(cert_path("renewed.key"), key + ".new")
            os.rename(cert + ".new", cert)
            os.rename(key + ".new", key)
            s.signal(signal.SIGHUP)
            s.wait_log(r"TLS: new connections get the certificate reloaded from")
            assert "O = renewed" in subject(s.port)
            assert kept.get("/t/").status == 200      # an open connection keeps its session
            kept.close()
            # A broken one is refused; the running one keeps serving.
            with open(cert, "w") as f:
                f.write("broken\n")
            status, out, err = reload(s.data_dir)
            assert status == 1 and "the running certificate keeps serving" in err, (status, out, err)
            assert "O = renewed" in subject(s.port)
            # Fixed again: borough reload says so; unchanged files are left alone.
            shutil.copy(cert_path("server.pem"), cert)
            shutil.copy(cert_path("server.key"), key)
            status, out, err = reload(s.data_dir)
            assert status == 0 and "tls: certificate reloaded from %s" % cert in out, (status, out, err)
            assert "O = first" in subject(s.port)
            status, out, err = reload(s.data_dir)
            assert status == 0 and "tls:" not in out, (out, err)


run()
