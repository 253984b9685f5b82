#!/usr/bin/env python3
"""live.py - live updates and the data feed, measured (docs/performance.md,
"Live updates and the data feed").

  1. STREAMS event streams open on a server of two workers; the server's
     resident memory before and after, per stream; then one publish (a POST
     whose handler calls borough.events.publish) and the time from the
     start of that request until the last stream has the event;
  2. a data feed of ROWS records paged through as JSON (500 a page, by the
     next link, on one keep-alive connection, with an API token): the whole
     walk and each page; and the same records as one CSV.

Each measurement runs ROUNDS times and the best is reported (the host is
shared and noisy). Usage: tools/bench/live.py [--streams N] [--rows N]
[--rounds N]. Environment: BOROUGH (default ./borough), WORK (default
/tmp/borough-bench-live).
"""
import argparse
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
WORK = os.environ.get("WORK", "/tmp/borough-bench-live")

APP = '''
local app = borough.app { title = "Bench", mount = "/bench", public = true }
local Measures = borough.entity "measures" {
  { "name", "text", required = true },
  { "status", "choice", options = { "open", "closed" }, index = true },
  { "amount", "money" },
  { "reported_on", "date" },
}
app:events("/live", function(req) return { "measures" } end)
app:post("/publish", { csrf = false }, function(req)
  borough.events.publish("measures", { id = 1 })
  return "ok"
end)
app:post("/seed", { csrf = false }, function(req)
  return db.tx(function()
    for i = 1, tonumber(req.query.n) do
      Measures:create { name = "Measure " .. i, status = i % 3 == 0 and "closed" or "open", amount = i * 125,
                        reported_on = "2024-04-01" }
    end
    return "ok"
  end)
end)
borough.feed { Measures }:mount(app, "/_feed")
return app
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def request(port, method, path, headers=None, sock=None):
    """One request on sock (or a new connection); returns (status, body)."""
    own = sock is None
    if own:
        sock = socket.create_connection(("127.0.0.1", port))
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    sock.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n%s\r\n" % (method, path, h)).encode())
    f = sock.makefile("rb")
    status = int(f.readline().split()[1])
    length, chunked = None, False
    while True:
        line = f.readline().strip()
        if not line:
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding":
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                f.readline()
                break
            body += f.read(size)
            f.readline()
    else:
        body = f.read(length or 0)
    f.close()
    if own:
        sock.close()
    return status, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--rows", type=int, default=12000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(os.path.join(WORK, "apps", "bench"))
    with open(os.path.join(WORK, "apps", "bench", "app.lua"), "w") as f:
        f.write(APP)
    data = os.path.join(WORK, "data")
    port = free_port()
    log = open(os.path.join(WORK, "server.log"), "wb")
    server = subprocess.Popen([BOROUGH, "serve", os.path.join(WORK, "apps"), "--listen", "127.0.0.1:%d" % port,
                               "--data", data, "--workers", "2", "--no-access-log"], stdout=log, stderr=log)
    try:
        for _ in range(200):
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        request(port, "POST", "/bench/publish")       # the events table exists; warm
        streams(port, server.pid, a.streams, a.rounds)
        feed(port, data, a.rows, a.rounds)
    finally:
        server.terminate()
        server.wait()
        log.close()


def open_streams(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /bench/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        socks.append(s)
    for s in socks:               # each head (and its retry line) read
        buf = b""
        while b"retry:" not in buf:
            buf += s.recv(4096)
        assert buf.startswith(b"HTTP/1.1 200"), buf[:100]
        s.setblocking(False)
    return socks


def streams(port, pid, n, rounds):
    warm = open_streams(port, 20)        # the hubs' connections and buffers made
    for s in warm:
        s.close()
    time.sleep(0.5)
    before = rss_kib(pid)
    socks = open_streams(port, n)
    time.sleep(0.5)
    after = rss_kib(pid)
    print("%d streams open: resident memory %.1f MiB -> %.1f MiB, %.1f KiB per stream"
          % (n, before / 1024, after / 1024, (after - before) / n))
    best = None
    for r in range(rounds):
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        waiting = set(socks)
        t0 = time.perf_counter()
        request(port, "POST", "/bench/publish")
        t_publish = time.perf_counter() - t0
        while waiting:
            for key, _ in sel.select(timeout=10):
                s = key.fileobj
                if s in waiting and b"data:" in s.recv(65536):
                    waiting.discard(s)
                    sel.unregister(s)
        last = time.perf_counter() - t0
        sel.close()
        print("  round %d: publish answered in %.1f ms; the last of %d streams had the event after %.1f ms"
              % (r + 1, t_publish * 1000, n, last * 1000))
        best = last if best is None else min(best, last)
        time.sleep(0.3)
    print("one publish to %d streams: %.1f ms until the last received it (best of %d)" % (n, best * 1000, rounds))
    for s in socks:
        s.close()


def feed(port, data, rows, rounds):
    status, _ = request(port, "POST", "/bench/seed?n=%d" % rows)
    assert status == 200, status
    out = subprocess.run([BOROUGH, "token", "create", "bench", "--entities", "measures", "--name", "bench",
                          "--data", data], capture_output=True, text=True)
    token = out.stdout.strip()
    auth = {"Authorization": "Bearer " + token}
    best = best_csv = None
    for r in range(rounds):
        sock = socket.create_connection(("127.0.0.1", port))
        t0 = time.perf_counter()
        path, pages, got, slowest = "/bench/_feed/measures.json", 0, 0, 0
        while path:
            tp = time.perf_counter()
            status, body = request(port, "GET", path, auth, sock)
            slowest = max(slowest, time.perf_counter() - tp)
            assert status == 200, (status, body[:200])
            doc = json.loads(body)
            got += len(doc["value"])
            pages += 1
            link = doc.get("@odata.nextLink")
            path = (urlsplit(link).path + "?" + urlsplit(link).query) if link else None
        total = time.perf_counter() - t0
        sock.close()
        assert got == rows, got
        t0 = time.perf_counter()
        status, body = request(port, "GET", "/bench/_feed/measures.csv", auth)
        csv_s = time.perf_counter() - t0
        assert status == 200 and body.count(b"\n") == rows + 1, (status, body.count(b"\n"))
        print("  round %d: %d rows in %d JSON pages, %.0f ms (%.1f ms a page, slowest %.1f ms); CSV %.0f ms"
              % (r + 1, got, pages, total * 1000, total * 1000 / pages, slowest * 1000, csv_s * 1000))
        best = total if best is None else min(best, total)
        best_csv = csv_s if best_csv is None else min(best_csv, csv_s)
    print("the feed: %d rows paged as JSON in %.0f ms (%.1f ms a page of 500), as one CSV in %.0f ms (best of %d)"
          % (rows, best * 1000, best * 1000 / ((rows + 499) // 500), best_csv * 1000, rounds))


if __name__ == "__main__":
    sys.exit(main())
