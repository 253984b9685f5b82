#!/usr/bin/env python3
"""bench.py - the data-layer benchmarks of docs/performance.md ("Data").

  1. `borough import` of a generated shielding list of 23,000 rows and of
     1,000,000 rows (tools/gen_shielding.py: fake names, postcodes, NHS
     numbers with valid check digits) into an empty data folder, through the
     app tools/bench/records/apps/shielding (11 fields checked per row, a
     unique NHS number, an index on the name, a search index over three
     fields, one audit row per record);
  2. `borough import` of 23,000 generated grant applications (grants_file
     below: a reference, names, a postcode, a date, a whole number, two
     amounts of money, a score and yes/no) through the app
     tools/bench/records/apps/grants, the records with numbers and money;
  3. on the 1,000,000 records, request latency of a paged list (25 a page,
     ordered by surname and first name, pages 1 to 400 at random), of the same list by id
     after a given id (keyset), of a deep page (offset 500,000), and of a
     full-text search (a first name, a surname, or both, as typed prefixes),
     each over one keep-alive connection, one request at a time, so the
     figures are the server's latency and not queueing.

Each measurement runs ROUNDS times; the best round is reported (the VM is
shared and noisy). Usage: tools/bench/records/bench.py [--rounds N] [--quick]
(--quick: 100,000 rows instead of 1,000,000, for a try-out;
--imports-only: no request latencies).
Environment: BOROUGH (the binary, default ./borough), WORK (a scratch
folder, default /tmp/borough-bench-data; generated files are kept there).
"""
import argparse
import csv
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
WORK = os.environ.get("WORK", "/tmp/borough-bench-data")
APPS = os.path.join(ROOT, "tools", "bench", "records", "apps")
APP = os.path.join(APPS, "shielding")
GRANTS = os.path.join(APPS, "grants")
FIRST = ["Oliver", "Amelia", "Grace", "Harry", "Noah", "Isla", "Margaret", "Brian", "Priya", "Aisha"]
LAST = ["Smith", "Jones", "Patel", "Khan", "Taylor", "Begum", "Wilson", "Okafor", "Nowak", "Hughes"]


def probe():
    """Seconds for a fixed CPU-bound SQLite job (the probe of ../shared/bench):
    about 0.3 on a quiet host; higher means the host was slower then."""
    t0 = time.time()
    subprocess.run(["sqlite3", ":memory:", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                    "WHERE x < 2000000) SELECT count(*) FROM c"], capture_output=True, check=True)
    return time.time() - t0


def csv_file(rows):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "shielding-%d.csv" % rows)
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as out:
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), str(rows)],
                           stdout=out, check=True)
        os.rename(path + ".tmp", path)
    return path


def grants_file(rows):
    """A FAKE list of grant applications (the same every time): money as
    people write it ("£1,250.50", "800", "2,500.00"), whole numbers with
    and without commas, a score with a decimal or none."""
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "grants-%d.csv" % rows)
    if os.path.exists(path):
        return path
    rng = random.Random(11)
    groups = ["Friends of Elm Grove Park", "Northside Food Bank", "Brook Lane Youth Club", "Castle Street Choir",
              "Meadow View Allotments", "Chapel Street Lunch Club", ""]
    with open(path + ".tmp", "w", newline="") as out:
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["Reference", "Applicant", "Organisation", "Postcode", "Applied On", "People Helped", "Amount",
                    "Match Funding", "Score", "Approved"])
        for i in range(rows):
            pence = rng.randint(100, 2_500_000)
            amount = rng.choice(["£{:,}.{:02d}".format(pence // 100, pence % 100), str(pence // 100),
                                 "{:,}.{:02d}".format(pence // 100, pence % 100)])
            helped = rng.randint(0, 5000)
            w.writerow(["GR-%06d" % i, "%s %s" % (rng.choice(FIRST), rng.choice(LAST)), rng.choice(groups),
                        "LS%d %d%s%s" % (rng.randint(1, 29), rng.randint(0, 9), rng.choice("ABDEFGHJ"),
                                         rng.choice("LNPQRSTU")),
                        "%d/%d/2025" % (rng.randint(1, 28), rng.randint(1, 12)),
                        "{:,}".format(helped) if rng.random() < 0.5 else str(helped), amount,
                        "" if rng.random() < 0.6 else "£%d" % rng.randint(50, 5000),
                        rng.choice(["%d" % rng.randint(0, 10), "%d.%d" % (rng.randint(0, 9), rng.randint(0, 9))]),
                        rng.choice(["yes", "no", ""])])
    os.rename(path + ".tmp", path)
    return path


def import_once(app, entity, path, data):
    shutil.rmtree(data, ignore_errors=True)
    t0 = time.time()
    p = subprocess.run([BOROUGH, "import", app, entity, path, "--data", data], capture_output=True, text=True)
    wall = time.time() - t0
    m = re.match(r"imported (\d+) %s from .* in (\d+\.\d+) s" % entity, p.stdout)
    if p.returncode != 0 or not m:
        sys.exit("import failed: %s%s" % (p.stdout, p.stderr))
    return int(m.group(1)), float(m.group(2)), wall


def bench_import(rows, rounds, what="rows", app=APP, entity="residents", path=None):
    path = path or csv_file(rows)
    data = os.path.join(WORK, "data-%s-%d" % (entity, rows))
    results = [import_once(app, entity, path, data) for _ in range(rounds)]
    n = results[0][0]
    best = min(results, key=lambda r: r[1])
    print("import of %d %s (%d records): best %.2f s (%.0f records/s; whole command %.2f s); all rounds: %s"
          % (rows, what, n, best[1], n / best[1], best[2], ", ".join("%.2f" % r[1] for r in results)))
    return data


class Server:
    def __init__(self, data):
        self.data = data

    def __enter__(self):
        self.log = open(os.path.join(WORK, "server.log"), "w")
        self.proc = subprocess.Popen([BOROUGH, "serve", APPS, "--listen", "127.0.0.1:0", "--data", self.data,
                                      "--workers", "1", "--no-access-log"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(os.path.join(WORK, "server.log")) as f:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", f.read())
            if m:
                self.port = int(m.group(1))
                return self
            time.sleep(0.05)
        sys.exit("the server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def latencies(port, paths):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    out = []
    for path in paths:
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        out.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            sys.exit("%s: %d %s" % (path, r.status, body[:200]))
    conn.close()
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_queries(data, rounds, count):
    rng = random.Random(5)
    with Server(data) as s:
        conn = http.client.HTTPConnection("127.0.0.1", s.port)
        conn.request("GET", "/shielding/residents?order=id&page=1")
        total = json.loads(conn.getresponse().read())
        conn.close()
        assert len(total["residents"]) == 25
        workloads = {
            "paged list, by name, pages 1-400": lambda: "/shielding/residents?page=%d" % rng.randint(1, 400),
            "paged list, by id, after an id (keyset)": lambda: "/shielding/residents?order=id&after=%d"
                                                                % rng.randint(0, 990000),
            "deep page, by id, offset 500,000": lambda: "/shielding/residents?order=id&page=20001",
            "search, first name or surname or both": lambda: "/shielding/search?q=%s" % rng.choice([
                rng.choice(FIRST), rng.choice(LAST), rng.choice(FIRST) + "+" + rng.choice(LAST),
                rng.choice(LAST)[:3]]),
        }
        for name, make in workloads.items():
            n = count // 10 if name.startswith("deep") else count      # each one reads half the table
            latencies(s.port, [make() for _ in range(min(n, 50))])    # warm the cache
            rounds_out = []
            for _ in range(rounds):
                ms = latencies(s.port, [make() for _ in range(n)])
                rounds_out.append((pct(ms, 99), statistics.median(ms), pct(ms, 90), max(ms)))
            best = min(rounds_out)
            print("%-42s p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (best of %d rounds of %d; p99 of each: %s)"
                  % (name, best[1], best[2], best[0], best[3], rounds, n,
                     ", ".join("%.2f" % r[0] for r in rounds_out)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--queries-only", action="store_true", help="reuse the data of an earlier run")
    ap.add_argument("--imports-only", action="store_true", help="no request latencies")
    args = ap.parse_args()
    big = 100_000 if args.quick else 1_000_000
    print("%s; kernel %s" % (subprocess.run([BOROUGH, "version"], capture_output=True, text=True).stdout.strip(),
                             os.uname().release))
    before = probe()
    if args.queries_only:
        data = os.path.join(WORK, "data-residents-%d" % big)
    else:
        bench_import(23_000, args.rounds)
        bench_import(23_000, args.rounds, "grant applications", GRANTS, "grants", grants_file(23_000))
        data = bench_import(big, args.rounds)
    if not args.imports_only:
        bench_queries(data, args.rounds, args.requests)
    print("CPU speed probe (seconds; about 0.3 on a quiet host): %.2f before, %.2f after" % (before, probe()))


if __name__ == "__main__":
    main()
