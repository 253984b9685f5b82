#!/usr/bin/env python3
"""sitrep.py - the situation report's benchmark (docs/performance.md, "SitRep").

  1. fake data (tools/gen_sitrep.py: 35 departments, 595 manager rows for
     500 managers, 50 measures, 12,000 updates ending today, ~17,000
     answers) imported with `borough import`, timed;
  2. on one worker over one keep-alive connection, one request at a time,
     the render time of today's position (`/sitrep/dashboard`: the RAG
     grid, its chart and today's escalations), of a measure over time
     (`/sitrep/measures/N`, its line chart), of late and missing (14 days)
     and of the escalations list, p50 and p99;
  3. STREAMS event streams open on `/sitrep/live` (a command officer's, on
     a server of two workers); the server's resident memory before and
     after, per stream; then a manager sends today's update (a form POST)
     and the time from sending it until the last stream has the event;
  4. the data feed: an API token of the BI tool (role reporting) pages
     through `/sitrep/_feed/updates.json` (500 a page, by the next link)
     and reads `/sitrep/_feed/answers.csv` whole, timed.

Each measurement runs ROUNDS times and the best round is reported (the host
is shared and noisy). Usage: tools/bench/sitrep.py [--updates N]
[--requests N] [--streams N] [--rounds N]; `--updates 1000 --requests 50
--streams 20` is a quick try-out. Environment: BOROUGH (default
./borough), WORK (a scratch folder, default /tmp/borough-bench-sitrep).
"""
import argparse
import datetime
import http.client
import json
import os
import random
import re
import selectors
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shielding import PASSWORD, free_port, latencies, sign_in, summary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
WORK = os.environ.get("WORK", "/tmp/borough-bench-sitrep")
ENTITIES = ("departments", "members", "measures", "updates", "answers")
COMMAND, MANAGER = "bench.command@example.org", "bench.manager@example.org"


def borough(*args):
    p = subprocess.run([BOROUGH, *args], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("borough %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout + p.stderr


def prepare(updates, data):
    shutil.rmtree(WORK, ignore_errors=True)
    out = os.path.join(WORK, "csv")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_sitrep.py"), out, "--updates", str(updates),
                    "--seed", "12"], check=True)
    t0 = time.time()
    for e in ENTITIES:
        borough("import", "sitrep", e, os.path.join(out, e + ".csv"), "--data", data)
    print("import: %d updates and their answers in %.2f s" % (updates, time.time() - t0))
    db = sqlite3.connect(os.path.join(data, "sitrep", "app.db"))
    db.execute("DELETE FROM updates WHERE department = 1 AND date = ?", (datetime.date.today().isoformat(),))
    db.commit()
    db.close()
    members = os.path.join(WORK, "members.csv")
    with open(members, "w") as f:
        f.write("Name,Email,Department\nBench Manager,%s,1\n" % MANAGER)
    borough("import", "sitrep", "members", members, "--data", data)
    pw = os.path.join(WORK, "password")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    for email, role in ((COMMAND, "command"), (MANAGER, "manager")):
        borough("user", "add", email, "--name", "Bench " + role, "--password-file", pw, "--data", data)
        borough("user", "role", email, "sitrep", role, "--data", data)


class Serving:
    def __init__(self, data, workers):
        self.port = free_port()
        self.proc = subprocess.Popen([BOROUGH, "serve", "apps", "--listen", "127.0.0.1:%d" % self.port, "--data", data,
                                      "--workers", str(workers), "--no-access-log"], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def open_stream(port, cookie):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /sitrep/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCookie: %s\r\n\r\n"
               % cookie).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("a stream was refused")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("a stream was refused: " + head.split(b"\r\n")[0].decode())
    s.setblocking(False)
    return s


def send_update(port, cookie, fields):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/sitrep/departments/1/update", headers={"Cookie": cookie})
    page = c.getresponse().read().decode()
    fields = dict(fields, csrf_token=re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))
    body = urllib.parse.urlencode(fields)
    t0 = time.perf_counter()
    c.request("POST", "/sitrep/departments/1/update", body,
              {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    if r.status != 303:
        sys.exit("the update was refused: %d" % r.status)
    return t0


def fan_out(port, streams, manager, fields):
    """Seconds from sending an update until the last of the streams has its event."""
    sel = selectors.DefaultSelector()
    for s in streams:
        sel.register(s, selectors.EVENT_READ, bytearray())
    t0 = send_update(port, manager, fields)
    waiting, last = len(streams), t0
    while waiting:
        for key, _ in sel.select(timeout=30):
            data = key.fileobj.recv(65536)
            key.data.extend(data)
            if b'"channel":"updates"' in key.data:
                sel.unregister(key.fileobj)
                key.data.clear()
                waiting -= 1
                last = time.perf_counter()
        if time.perf_counter() - t0 > 60:
            sys.exit("%d streams never had the event" % waiting)
    sel.close()
    return last - t0


def feed_paging(port, token):
    h = {"Authorization": "Bearer " + token}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0, link, rows, pages = time.perf_counter(), "/sitrep/_feed/updates.json", 0, 0
    while link:
        c.request("GET", link, headers=h)
        r = c.getresponse()
        doc = json.loads(r.read())
        rows, pages = rows + len(doc["value"]), pages + 1
        nxt = doc.get("@odata.nextLink")
        link = nxt and urllib.parse.urlsplit(nxt).path + "?" + urllib.parse.urlsplit(nxt).query
    json_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    c.request("GET", "/sitrep/_feed/answers.csv", headers=h)
    body = c.getresponse().read()
    return json_s, rows, pages, time.perf_counter() - t0, body.count(b"\n") - 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=12000)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data = os.path.join(WORK, "data")
    prepare(args.updates, data)
    db = sqlite3.connect(os.path.join(data, "sitrep", "app.db"))
    numbers = [r[0] for r in db.execute("SELECT id FROM measures WHERE kind = 'number'")]
    fields = {"escalate": "none"}
    for mid, kind in db.execute("SELECT id, kind FROM measures WHERE department = 1"):
        fields["m%d" % mid] = {"number": "3", "rag": "green", "yes_no": "yes"}.get(kind, "")
    db.close()
    rng = random.Random(3)

    s = Serving(data, 1)
    try:
        command = sign_in(s.port, "/sitrep", COMMAND)
        pages = {
            "dashboard": ["/sitrep/dashboard"] * args.requests,
            "measure": ["/sitrep/measures/%d" % rng.choice(numbers) for _ in range(args.requests)],
            "late": ["/sitrep/late"] * max(1, args.requests // 5),
            "escalations": ["/sitrep/escalations?page=%d" % rng.randint(1, 10) for _ in range(args.requests // 5 or 1)],
        }
        latencies(s.port, command, [p[0] for p in pages.values()] * 10)       # warm up
        best = {}
        for _ in range(args.rounds):
            for name, paths in pages.items():
                ms = latencies(s.port, command, paths)
                p99 = sorted(ms)[max(0, int(len(ms) * 0.99) - 1)]
                if name not in best or p99 < best[name][0]:
                    best[name] = (p99, ms)
        for name in pages:
            print("%-12s %s" % (name + ":", summary(best[name][1])))
        status = subprocess.run([BOROUGH, "token", "create", "sitrep", "--entities", ",".join(ENTITIES), "--name",
                                 "Bench BI", "--role", "reporting", "--data", data], capture_output=True, text=True)
        token = status.stdout.strip()
        runs = [feed_paging(s.port, token) for _ in range(args.rounds)]
        j = min(runs, key=lambda r: r[0])
        c = min(runs, key=lambda r: r[3])
        print("feed:        %d updates in %d JSON pages in %.0f ms (%.0f rows/s); answers.csv, %d rows, in %.0f ms"
              % (j[1], j[2], j[0] * 1000, j[1] / j[0], c[4], c[3] * 1000))
    finally:
        s.stop()

    s = Serving(data, 2)
    try:
        command = sign_in(s.port, "/sitrep", COMMAND)
        manager = sign_in(s.port, "/sitrep", MANAGER)
        send_update(s.port, manager, fields)             # warm up both workers' app states
        best_t, mem = None, None
        for _ in range(args.rounds):
            time.sleep(0.5)
            before = s.rss_kib()
            streams = [open_stream(s.port, command) for _ in range(args.streams)]
            time.sleep(0.5)
            if mem is None:        # the first round's: later rounds reuse the memory the first freed
                mem = (before, s.rss_kib())
            t = fan_out(s.port, streams, manager, fields)
            for st in streams:
                st.close()
            best_t = t if best_t is None else min(best_t, t)
        print("streams:     %d open: the last has the update %.1f ms after it is sent; %.1f KiB of memory per stream "
              "(%.1f MiB -> %.1f MiB)" % (args.streams, best_t * 1000, (mem[1] - mem[0]) / args.streams,
                                         mem[0] / 1024, mem[1] / 1024))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
