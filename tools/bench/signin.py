#!/usr/bin/env python3
"""Sign-in latency: starts borough (one worker) with a small app, then
measures on one keep-alive connection
  - POST <mount>/_account/sign-in (argon2id dominates: m=19 MiB, t=2, p=1),
  - GET of a staff page signed in (one session lookup in borough.db) against
    the same page public and anonymous (no lookup at all),
and prints a Markdown table for docs/performance.md. Sequential requests:
latency, not throughput. Run it on a quiet machine:

    tools/bench/signin.py [--sign-ins N] [--pages N]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
APP = '''local app = borough.app { title = "Bench", mount = "/b" }
app:get("/open", { public = true }, function(req) return "hello" end)
app:get("/staff", function(req) return "hello" end)
return app
'''
EMAIL, PASSWORD = "bench@example.gov.uk", "a bench password of some length"


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method, path, headers=None, body=b""):
        h = {"Host": "127.0.0.1", "Content-Length": str(len(body))}
        h.update(headers or {})
        head = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join("%s: %s\r\n" % kv for kv in h.items()))
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        n = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(rest) < n:
            rest += self.sock.recv(65536)
        self.buf = rest[n:]
        return int(head[9:12]), head.decode("latin-1"), rest[:n]


def timed(fn, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return statistics.median(out), out[min(len(out) - 1, int(len(out) * 0.99))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sign-ins", type=int, default=30)
    ap.add_argument("--pages", type=int, default=3000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="borough-signin-bench-")
    try:
        os.makedirs(tmp + "/apps/b")
        with open(tmp + "/apps/b/app.lua", "w") as f:
            f.write(APP)
        log = open(tmp + "/log", "wb")
        proc = subprocess.Popen([BOROUGH, "serve", tmp + "/apps", "--listen", "127.0.0.1:0", "--data", tmp + "/data",
                                 "--workers", "1", "--no-access-log"], stdout=log, stderr=subprocess.STDOUT)
        port = None
        for _ in range(500):
            m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", open(tmp + "/log", "rb").read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.02)
        assert port, open(tmp + "/log").read()
        subprocess.run([BOROUGH, "user", "add", EMAIL, "--name", "Bench", "--data", tmp + "/data"],
                       input=(PASSWORD + "\n").encode(), check=True, stdout=subprocess.DEVNULL)
        c = Conn(port)
        status, head, body = c.request("GET", "/b/_account/sign-in")
        csrf_cookie = re.search(r"borough_csrf=([^;]+)", head).group(1)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
        form = urlencode({"csrf_token": token, "email": EMAIL, "password": PASSWORD}).encode()
        session = []

        def sign_in():
            status, head, _ = c.request("POST", "/b/_account/sign-in", {
                "Cookie": "borough_csrf=" + csrf_cookie,
                "Content-Type": "application/x-www-form-urlencoded"}, form)
            assert status == 303, head
            session[:] = [re.search(r"borough_session=([^;]+)", head).group(1)]

        sign_in_ms = timed(sign_in, a.sign_ins)
        signed = {"Cookie": "borough_session=" + session[0]}
        assert c.request("GET", "/b/staff", signed)[0] == 200
        timed(lambda: c.request("GET", "/b/open"), 200)               # warm up
        anon_ms = timed(lambda: c.request("GET", "/b/open"), a.pages)
        staff_ms = timed(lambda: c.request("GET", "/b/staff", signed), a.pages)
        proc.terminate()
        proc.wait()
        print("| request | p50 ms | p99 ms |")
        print("|---|---|---|")
        print("| POST /_account/sign-in (argon2id m=19 MiB t=2 p=1), %d sign-ins | %.2f | %.2f |" % (a.sign_ins, *sign_in_ms))
        print("| GET a public page, anonymous (no session lookup), %d requests | %.3f | %.3f |" % (a.pages, *anon_ms))
        print("| GET a staff page, signed in (one session lookup), %d requests | %.3f | %.3f |" % (a.pages, *staff_ms))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
