#!/usr/bin/env python3
"""shielding.py - the shielding app's benchmark (docs/performance.md, "Shielding").

  1. `borough import` of a fake government list of 23,000 residents
     (tools/gen_shielding.py) into apps/shielding, timed;
  2. 100,000 call records for them (0 to 8 calls each, outcomes at random),
     imported with `borough import shielding calls`, and the residents'
     call counts and statuses brought in line with them;
  3. a call handler signed in through the sign-in page; then, on one
     worker over one keep-alive connection, one request at a time, the
     latency of the call list (`/shielding/calls?page=N`, pages 1 to 40 at
     random) and of search (`/shielding/search?q=...`: a surname, a first
     name and surname, a postcode district, an NHS number), p50 and p99.

Each measurement runs ROUNDS times and the best round is reported (the host
is shared). Usage: tools/bench/shielding.py [--residents N] [--calls N]
[--requests N] [--rounds N]; `--residents 500 --calls 2000 --requests 50`
is a quick try-out. Environment: BOROUGH (default ./borough), WORK (a scratch
folder, default /tmp/borough-bench-shielding).
"""
import argparse
import csv
import http.client
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
WORK = os.environ.get("WORK", "/tmp/borough-bench-shielding")
EMAIL, PASSWORD = "bench.caller@example.org", "correct horse battery staple 42"
OUTCOMES = ["Reached", "No answer", "No answer", "Wrong number", "Declined"]


def run(*args):
    p = subprocess.run([BOROUGH, *args], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("borough %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout + p.stderr


def prepare(residents, calls, data):
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(WORK, exist_ok=True)
    listing = os.path.join(WORK, "list-%d.csv" % residents)
    with open(listing, "wb") as out:
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), str(residents)],
                       stdout=out, check=True)
    t0 = time.time()
    out = run("import", "shielding", "residents", listing, "--data", data)
    import_s = time.time() - t0
    print("import: %s (wall %.2f s)" % (out.strip().splitlines()[-1], import_s))
    rng = random.Random(5)
    per = [0] * (residents + 1)
    path = os.path.join(WORK, "calls-%d.csv" % calls)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["resident", "outcome", "handler", "note"])
        for _ in range(calls):
            rid = rng.randint(1, residents)
            per[rid] += 1
            w.writerow([rid, rng.choice(OUTCOMES), "Bench Caller", ""])
    t0 = time.time()
    run("import", "shielding", "calls", path, "--data", data)
    print("calls: %d imported in %.2f s" % (calls, time.time() - t0))
    # The residents' counts and statuses as the calls would have left them
    # (bench set-up only: the app keeps them in step one call at a time).
    db = sqlite3.connect(os.path.join(data, "shielding", "app.db"))
    db.executescript("""
      UPDATE residents SET
        attempts = (SELECT count(*) FROM calls WHERE calls.resident = residents.id),
        failed_calls = (SELECT count(*) FROM calls WHERE calls.resident = residents.id
                        AND outcome IN ('No answer', 'Wrong number')),
        last_call_at = (SELECT max(created_at) FROM calls WHERE calls.resident = residents.id);
      UPDATE residents SET status = CASE
        WHEN EXISTS (SELECT 1 FROM calls WHERE resident = residents.id AND outcome = 'Reached') THEN 'reached'
        WHEN EXISTS (SELECT 1 FROM calls WHERE resident = residents.id AND outcome = 'Declined') THEN 'declined'
        WHEN failed_calls >= 3 THEN 'to_visit' ELSE 'to_call' END;
    """)
    db.commit()
    counts = dict(db.execute("SELECT status, count(*) FROM residents GROUP BY status").fetchall())
    db.close()
    print("residents by status: %s" % counts)
    pw = os.path.join(WORK, "password")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    run("user", "add", EMAIL, "--name", "Bench Caller", "--password-file", pw, "--data", data)
    run("user", "role", EMAIL, "shielding", "call_handler", "--data", data)
    return import_s


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sign_in(port, mount="/shielding", email=EMAIL):
    """Signs in through the app's sign-in page; returns the Cookie header value (session and CSRF cookies)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", mount + "/_account/sign-in")
    r = c.getresponse()
    page = r.read().decode()
    cookies = {}
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, value = v.split(";")[0].split("=", 1)
            cookies[name] = value
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    action = re.search(r'<form method="post" action="([^"]*)"', page).group(1) or mount + "/_account/sign-in"
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": PASSWORD})
    c.request("POST", action.replace("&amp;", "&"), body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join("%s=%s" % kv for kv in cookies.items())})
    r = c.getresponse()
    r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, value = v.split(";")[0].split("=", 1)
            cookies[name] = value
    if r.status not in (302, 303) or "borough_session" not in cookies:
        sys.exit("sign-in failed: %d" % r.status)
    return "; ".join("%s=%s" % kv for kv in cookies.items())


def latencies(port, cookie, paths):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for p in paths:
        t0 = time.perf_counter()
        c.request("GET", p, headers={"Cookie": cookie})
        r = c.getresponse()
        r.read()
        out.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            sys.exit("GET %s: %d" % (p, r.status))
    return out


def summary(ms):
    ms = sorted(ms)
    return "p50 %.2f ms, p99 %.2f ms (n=%d)" % (statistics.median(ms), ms[max(0, int(len(ms) * 0.99) - 1)], len(ms))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, default=23000)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data = os.path.join(WORK, "data")
    prepare(args.residents, args.calls, data)
    db = sqlite3.connect(os.path.join(data, "shielding", "app.db"))
    names = db.execute("SELECT first_name, last_name, postcode FROM residents ORDER BY random() LIMIT 200").fetchall()
    db.close()
    nhs = []
    with open(os.path.join(WORK, "list-%d.csv" % args.residents), newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if 0 < i <= 200:
                nhs.append(row[0])
    rng = random.Random(9)
    pages = max(1, min(40, args.residents // 25))
    call_paths = ["/shielding/calls?page=%d" % rng.randint(1, pages) for _ in range(args.requests)]
    queries = []
    for i in range(args.requests):
        first, last, postcode = rng.choice(names)
        queries.append([last, first + " " + last, postcode.split()[0], rng.choice(nhs)][i % 4])
    search_paths = ["/shielding/search?q=" + urllib.parse.quote_plus(q) for q in queries]
    port = free_port()
    server = subprocess.Popen([BOROUGH, "serve", "apps", "--listen", "127.0.0.1:%d" % port, "--data", data,
                               "--workers", "1"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        cookie = sign_in(port)
        latencies(port, cookie, call_paths[:50] + search_paths[:50])      # warm up
        best = {}
        for _ in range(args.rounds):
            for name, paths in (("call list", call_paths), ("search", search_paths)):
                ms = latencies(port, cookie, paths)
                p99 = sorted(ms)[max(0, int(len(ms) * 0.99) - 1)]
                if name not in best or p99 < best[name][0]:
                    best[name] = (p99, ms)
        for name in ("call list", "search"):
            print("%-10s %s" % (name + ":", summary(best[name][1])))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
