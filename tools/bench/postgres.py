#!/usr/bin/env python3
"""The SPEC workloads (../shared/bench/SPEC.md) on PostgreSQL beside SQLite,
on this machine: one borough worker, wrk -t1 -c64, each workload after a
warm-up. PostgreSQL is a throwaway cluster (tests/e2e/pglib.py) reached
over TCP on 127.0.0.1 (the network round trip a managed database adds,
without the wire) and over its Unix socket. Prints a markdown table of
requests/s and p99 per workload and backend.

    python3 tools/bench/postgres.py            # DURATION=5s WARMUP=2s CONNS=64

The app is tools/bench/apps/bench with one change on both backends: the
referral's time is written by Lua (os.date), not SQLite's strftime, which
is outside the portable subset."""
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pglib  # noqa: E402

SHARED = os.environ.get("BENCH_HARNESS", os.path.join(ROOT, "..", "shared", "bench"))
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
DURATION, WARMUP, CONNS = os.environ.get("DURATION", "5s"), os.environ.get("WARMUP", "2s"), os.environ.get("CONNS", "64")
WORK = tempfile.mkdtemp(prefix="borough-bench-pg-")
WORKLOADS = [("hello", "/hello", None), ("resident", "/residents/1", "resident.lua"),
             ("page", "/residents?page=1", "page.lua"), ("referral", "/referrals", "referral.lua")]


def app_dir():
    d = os.path.join(WORK, "apps", "bench")
    os.makedirs(d)
    src = open(os.path.join(ROOT, "tools", "bench", "apps", "bench", "app.lua")).read()
    src = src.replace('''VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", tonumber(rid), kind, f.note or "")''',
                      '''VALUES (?, ?, ?, ?)", tonumber(rid), kind, f.note or "", os.date("!%Y-%m-%dT%H:%M:%SZ"))''')
    assert "os.date" in src
    with open(os.path.join(d, "app.lua"), "w") as f:
        f.write(src)
    return os.path.dirname(d)


def serve(apps, data, env):
    port_file = os.path.join(data, "..", "log-%d" % time.time_ns())
    log = open(port_file, "wb")
    p = subprocess.Popen(["taskset", "-c", "0", BOROUGH, "serve", apps, "--listen", "127.0.0.1:0", "--data", data,
                          "--workers", "1", "--no-access-log"], stdout=log, stderr=subprocess.STDOUT, env=env)
    for _ in range(500):
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", open(port_file, "rb").read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.02)
    raise SystemExit("borough did not start:\n" + open(port_file).read())


def wrk(port, path, script):
    args = ["taskset", "-c", "1", "wrk", "-t1", "-c" + CONNS]
    if script:
        args += ["-s", os.path.join(SHARED, "wrk", script)]
    base = "http://127.0.0.1:%d" % port
    subprocess.run(args + ["-d" + WARMUP, base + path], stdout=subprocess.DEVNULL, check=True)
    out = subprocess.run(args + ["-d" + DURATION, "--latency", base + path], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return rps, p99_ms


def run_all(port):
    return {name: wrk(port, path, script) for name, path, script in WORKLOADS}


def main():
    apps = app_dir()
    seed = os.path.join(WORK, "seed.db")
    subprocess.run([os.path.join(SHARED, "tools", "seed.sh"), seed], check=True, stdout=subprocess.DEVNULL)
    results = {}
    # SQLite: the app's database is the seeded file.
    data = os.path.join(WORK, "sqlite")
    os.makedirs(os.path.join(data, "bench"))
    shutil.copy(seed, os.path.join(data, "bench", "app.db"))
    p, port = serve(apps, data, dict(os.environ))
    try:
        results["SQLite"] = run_all(port)
    finally:
        p.terminate()
        p.wait()
    # PostgreSQL: the same rows in the app's schema, owned by its role.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    free = sock.getsockname()[1]
    sock.close()
    cluster = pglib.Cluster(tcp_port=free).start()
    try:
        env = dict(os.environ, **cluster.env())
        rows = sqlite3.connect(seed).execute("SELECT id, name, postcode, vulnerable FROM residents").fetchall()
        for label, url_of in (("PostgreSQL, TCP 127.0.0.1", lambda n: "postgresql://%s@127.0.0.1:%d/%s"
                               % (n, cluster.tcp_port, n)),
                              ("PostgreSQL, Unix socket", cluster.url)):
            url = cluster.new_database()
            name = pglib.name_of(url)
            data = os.path.join(WORK, "pg-" + name)
            os.makedirs(data)
            with open(os.path.join(data, "site.conf"), "w") as f:
                f.write("database = %s\n" % url_of(name))
            p, port = serve(apps, data, env)
            try:                                      # the first query makes the app's role and schema
                urllib.request.urlopen("http://127.0.0.1:%d/residents/1" % port, timeout=10)
            except Exception:
                pass                                  # (no table yet)
            p.terminate()
            p.wait()
            role = cluster.query(name, "SELECT role FROM borough.app_roles WHERE app = 'bench'")[0]["role"]
            values = ",".join("(%d,%s,%s,%d)" % (r[0], pglib.literal(r[1]), pglib.literal(r[2]), r[3]) for r in rows)
            script = ("SET search_path = app_bench;"
                         "CREATE TABLE residents (id BIGINT PRIMARY KEY, name TEXT, postcode TEXT, vulnerable BIGINT);"
                         "CREATE TABLE referrals (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                         "resident_id BIGINT, kind TEXT, note TEXT, created_at TEXT);"
                         "INSERT INTO residents VALUES " + values + ";"
                         "ALTER TABLE residents OWNER TO %s; ALTER TABLE referrals OWNER TO %s; ANALYZE;"
                      % (role, role))
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cluster.sock, "-p", str(cluster.tcp_port),
                            "-U", "postgres", "-d", name], input=script.encode(), check=True)
            p, port = serve(apps, data, env)
            try:
                results[label] = run_all(port)
            finally:
                p.terminate()
                p.wait()
    finally:
        cluster.close()
        shutil.rmtree(WORK, ignore_errors=True)
    print("| workload | " + " | ".join("%s req/s (p99 ms)" % k for k in results) + " |")
    print("|---|" + "---|" * len(results))
    for name, _, _ in WORKLOADS:
        print("| %s | " % name + " | ".join("%.0f (%.2f)" % results[k][name] for k in results) + " |")


if __name__ == "__main__":
    main()
