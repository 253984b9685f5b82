#!/usr/bin/env python3
"""reload.py - the hot-reload benchmark of docs/performance.md.

Runs the shielding app (apps/shielding, as a council runs it) on a
database of 5,000 residents made by tools/gen_shielding.py and imported
with `borough import`, signed in as a call handler, and measures:

  1. the time from `borough reload shielding` to the swap: the wall time of
     the command, which returns once every worker serves the new version
     (and the server's own figures from its log: judging the new version on
     the main thread, and publishing to the last worker's acknowledgement);
  2. request latency under a steady load (wrk, a resident's page: queries
     and a GOV.UK page rendered, for a signed-in member of staff) with no
     reloads, and with a reload every RELOAD_EVERY seconds throughout.

Each part runs ROUNDS times; the figures quoted are the best round (the VM
is shared and noisy). Usage: tools/bench/reload.py [--rounds N]
Environment: BOROUGH (the binary, default ./borough), WORKERS (default 2).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
APP = os.path.join(ROOT, "apps", "shielding")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shielding as bench  # noqa: E402  (its sign-in and account, shared)
WORKERS = int(os.environ.get("WORKERS", "2"))
RESIDENTS = 5000
RELOADS = 20
RELOAD_EVERY = 0.25
WRK_SECONDS = 10


def start(apps, data):
    path = os.path.join(data, "..", "server.log")
    log = open(path, "ab")
    seen = log.tell()
    p = subprocess.Popen([BOROUGH, "serve", apps, "--listen", "127.0.0.1:0", "--data", data,
                          "--workers", str(WORKERS), "--no-access-log"], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        m = re.findall(r"listening on http://127\.0\.0\.1:(\d+)/", open(path).read()[seen:])
        if m:
            return p, int(m[-1])
        time.sleep(0.025)
    raise SystemExit("the server did not start:\n" + open(path).read())


def stop(p):
    p.terminate()
    p.wait(30)


def borough(*args):
    r = subprocess.run([BOROUGH, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("borough %s failed: %s" % (args[0], r.stderr))


def seed(work, data):
    """5,000 residents from the fake list, imported as a council would, and
    a call handler's account."""
    listing = os.path.join(work, "list.csv")
    with open(listing, "wb") as out:
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), str(RESIDENTS)],
                       stdout=out, check=True)
    borough("import", APP, "residents", listing, "--data", data)
    password = os.path.join(work, "password")
    with open(password, "w") as f:
        f.write(bench.PASSWORD + "\n")
    borough("user", "add", bench.EMAIL, "--name", "Bench Caller", "--password-file", password, "--data", data)
    borough("user", "role", bench.EMAIL, "shielding", "call_handler", "--data", data)


def reload_round(data, log_path):
    times = []
    before = len(open(log_path).read())
    for _ in range(RELOADS):
        t0 = time.perf_counter()
        r = subprocess.run([BOROUGH, "reload", "shielding", "--data", data], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            raise SystemExit("reload failed: %s" % r.stderr.decode())
    log = open(log_path).read()[before:]
    judged = [float(x) for x in re.findall(r"\[shielding\] reloaded: generation \d+ \(loaded in ([\d.]+) ms\)", log)]
    swapped = [float(x) for x in re.findall(r"every worker serves the new catalog \(([\d.]+) ms\)", log)]
    return times, judged, swapped


def wrk(port, cookie):
    out = subprocess.run(["wrk", "-t1", "-c16", "-d%ds" % WRK_SECONDS, "--latency", "-H", "Cookie: " + cookie,
                          "http://127.0.0.1:%d/shielding/residents/17" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    def ms(label):
        m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    maxm = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    mx = float(maxm.group(1))
    mx = mx / 1000 if maxm.group(2) == "us" else mx * 1000 if maxm.group(2) == "s" else mx
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50%"),
            "p99": ms("99%"), "max": mx, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sock.group(1) if sock else "none"}


def reloading(data, stop_flag, count):
    while not stop_flag.is_set():
        r = subprocess.run([BOROUGH, "reload", "shielding", "--data", data], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise SystemExit("reload failed: %s" % r.stderr.decode())
        count[0] += 1
        stop_flag.wait(RELOAD_EVERY)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="borough-reload-bench-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    log_path = os.path.join(work, "server.log")
    try:
        apps = os.path.join(work, "apps")      # a copy: reloads touch nothing in the repository
        shutil.copytree(APP, os.path.join(apps, "shielding"))
        seed(work, data)
        p, port = start(apps, data)
        try:
            cookie = bench.sign_in(port)
            rounds = [reload_round(data, log_path) for _ in range(args.rounds)]
            quiet, busy = [], []
            for _ in range(args.rounds):
                quiet.append(wrk(port, cookie))
                flag, count = threading.Event(), [0]
                t = threading.Thread(target=reloading, args=(data, flag, count))
                t.start()
                r = wrk(port, cookie)
                flag.set()
                t.join()
                r["reloads"] = count[0]
                busy.append(r)
        finally:
            stop(p)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("borough reload of apps/shielding, %d workers, %d reloads a round:" % (WORKERS, RELOADS))
    for i, (times, judged, swapped) in enumerate(rounds, 1):
        print("  round %d: command %.1f ms median (min %.1f, max %.1f); judged %.1f ms median; "
              "published to every worker's swap %.1f ms median (min %.1f, max %.1f)"
              % (i, statistics.median(times), min(times), max(times), statistics.median(judged),
                 statistics.median(swapped), min(swapped), max(swapped)))
    print("wrk -t1 -c16 -d%ds GET /shielding/residents/17:" % WRK_SECONDS)
    for name, runs in (("no reloads", quiet), ("reload every %.2f s" % RELOAD_EVERY, busy)):
        for i, r in enumerate(runs, 1):
            print("  %s, round %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, non-2xx %d, socket errors %s%s"
                  % (name, i, r["rps"], r["p50"], r["p99"], r["max"], r["non2xx"], r["socket_errors"],
                     ", %d reloads" % r["reloads"] if "reloads" in r else ""))


if __name__ == "__main__":
    main()
