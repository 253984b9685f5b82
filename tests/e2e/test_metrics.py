#!/usr/bin/env python3
"""End-to-end tests of what an operator watches: GET /metrics (Prometheus
text, loopback only unless --metrics-from says otherwise) and the request
log (one line per request, text or --log-format json, written in batches
per worker but always whole lines, in order)."""
import json
import os
import re
import sys
import textwrap
import subprocess
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, SLOW, BOROUGH, metrics, reload  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


APP = {"app.lua": lua('''
    local app = borough.app { public = true, title = "Shop", mount = "/shop" }
    app:get("/", function(req) return "shop" end)
    app:get("/fail", function(req) error("on purpose") end)
    app:get("/slow", function(req) borough.sleep(0.03) return "slow" end)
    return app
''')}

BOUNDS = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
          "5", "10", "+Inf"]


def get(port, path, host="127.0.0.1"):
    c = Client(port)
    try:
        return c.request("GET", path, host=host)
    finally:
        c.close()


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@test
def metrics_count_requests_latency_errors_and_apps():
    with Server({"shop": APP}, workers=2) as s:
        for _ in range(3):
            assert get(s.port, "/shop/").status == 200
        assert get(s.port, "/shop/fail").status == 500
        assert get(s.port, "/shop/slow").status == 200
        assert get(s.port, "/shop/nothing").status == 404
        assert get(s.port, "/nowhere").status == 404
        r = get(s.port, "/metrics")
        assert r.status == 200, r
        assert r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8", r.headers
        assert r.header("cache-control") == "no-store"
        text = r.body.decode()
        m = samples(text)
        assert m['borough_requests_total{app="shop",status="200"}'] == 4, text
        assert m['borough_requests_total{app="shop",status="404"}'] == 1, text
        assert m['borough_requests_total{app="shop",status="500"}'] == 1, text
        assert m['borough_requests_total{app="-",status="404"}'] == 1, text
        assert m['borough_lua_errors_total{app="shop"}'] == 1, text
        assert m['borough_reloads_total{app="shop"}'] == 0
        assert m['borough_reload_failures_total{app="shop"}'] == 0
        assert m['borough_app_up{app="shop"}'] == 1
        assert m['borough_app_generation{app="shop"}'] == 1
        assert m['borough_generations_loaded{app="shop"}'] == 2          # one per worker
        # Only this one is open (the server may not have seen the others close yet).
        deadline = time.time() + 5 * SLOW
        while metrics(s.port)['borough_open_connections'] != 1:
            assert time.time() < deadline, "connections never closed"
            time.sleep(0.01)
        assert m['borough_build_info{version="0.1.0"}'] == 1
        # The histogram: cumulative buckets ending in the count; the slow
        # request (30 ms) is above 0.025 s and within 0.05 s.
        label = 'app="shop",status="200"'
        counts = [m['borough_request_duration_seconds_bucket{%s,le="%s"}' % (label, b)] for b in BOUNDS]
        assert counts == sorted(counts) and counts[-1] == 4, counts
        assert m['borough_request_duration_seconds_count{%s}' % label] == 4
        assert counts[BOUNDS.index("0.025")] == 3 and counts[BOUNDS.index("0.05")] == 4, counts
        assert 0.03 <= m['borough_request_duration_seconds_sum{%s}' % label] < 1, text
        # Every family is declared once, before its samples.
        for family, kind in [("borough_requests_total", "counter"),
                             ("borough_request_duration_seconds", "histogram"),
                             ("borough_lua_errors_total", "counter"), ("borough_reloads_total", "counter"),
                             ("borough_reload_failures_total", "counter"), ("borough_app_up", "gauge"),
                             ("borough_app_generation", "gauge"), ("borough_generations_loaded", "gauge"),
                             ("borough_open_connections", "gauge"), ("borough_build_info", "gauge")]:
            assert text.count("# TYPE %s %s\n" % (family, kind)) == 1, family
            assert text.count("# HELP %s " % family) == 1, family


@test
def metrics_show_unavailable_apps_and_reload_failures():
    broken = {"app.lua": "error('not today')\n"}
    with Server({"shop": APP, "broken": broken}) as s:
        m = metrics(s.port)
        assert m['borough_app_up{app="broken"}'] == 0 and m['borough_app_up{app="shop"}'] == 1, m
        with open(os.path.join(s.apps_dir, "shop", "app.lua"), "w") as f:
            f.write("error('nor today')\n")
        assert reload(s.data_dir, "shop")[0] == 1
        m = metrics(s.port)
        assert m['borough_reload_failures_total{app="shop"}'] == 1, m
        assert m['borough_app_up{app="shop"}'] == 1, m          # the running version serves on


@test
def metrics_are_for_loopback_unless_allowed():
    with Server({"shop": APP}, args=["--metrics-from", "10.0.0.0/8"]) as s:
        r = get(s.port, "/metrics")
        assert r.status == 403, r
        assert b"borough_requests_total" not in r.body
    with Server({"shop": APP}, args=["--metrics-from", "10.0.0.0/8", "--metrics-from", "127.0.0.1"]) as s:
        assert get(s.port, "/metrics").status == 200
        c = Client(s.port)
        r = c.request("POST", "/metrics")
        c.close()
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS", r
    for bad in ["10.0.0.0/33", "nonsense", "::1/129", "10.0.0.0/"]:
        p = subprocess.run([BOROUGH, "serve", "--metrics-from", bad], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30 * SLOW)
        assert p.returncode == 2, (bad, p)
        assert p.stderr.decode().startswith(
            "borough serve: --metrics-from wants an address range such as 10.0.0.0/8, not %s\n" % bad), p.stderr


ACCESS_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) (\S+) (\S+) (\d{3}) ([\d.]+)ms (\d+)B "
                         r"id=(\S+) ip=127\.0\.0\.1$")


@test
def the_request_log_has_one_line_per_request():
    with Server({"shop": APP}) as s:
        ids = []
        for path in ["/shop/", "/shop/nothing", "/nowhere"]:
            c = Client(s.port)
            r = c.request("GET", path)
            c.close()
            ids.append((path, r.status, len(r.body)))
        s.wait_log(r"- GET /nowhere 404 ")
        lines = [l for l in s.log().splitlines() if ACCESS_TEXT.match(l)]
        got = [ACCESS_TEXT.match(l).groups() for l in lines]
        assert [(g[0], g[1], g[2], int(g[3])) for g in got] == [
            ("shop", "GET", "/shop/", 200), ("shop", "GET", "/shop/nothing", 404), ("-", "GET", "/nowhere", 404)], got
        assert all(int(g[5]) > n for g, (_, _, n) in zip(got, ids)), (got, ids)   # head and body
        assert len({g[6] for g in got}) == 3, got


@test
def the_json_log_has_every_field():
    with Server({"shop": APP}, args=["--log-format", "json"]) as s:
        r = get(s.port, "/shop/?q=1")
        assert r.status == 200
        s.wait_log(r'"path":"/shop/"')
        records = [json.loads(l) for l in s.log().splitlines()]
        access = [x for x in records if x.get("method")]
        assert len(access) == 1, records
        a = access[0]
        assert sorted(a) == ["app", "bytes", "id", "ip", "level", "method", "ms", "path", "status", "time"], a
        assert (a["app"], a["method"], a["path"], a["status"], a["ip"], a["level"]) == \
            ("shop", "GET", "/shop/", 200, "127.0.0.1", "info"), a
        assert a["bytes"] > len(r.body) and 0 <= a["ms"] < 1000, a
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", a["time"]), a
        assert any(x.get("msg", "").startswith("listening on http://127.0.0.1:") for x in records), records


@test
def batched_log_lines_stay_whole_and_complete_under_load():
    """Access lines are written in batches per worker: under concurrent
    load every request still has exactly one whole line, and an error line
    of a request comes after the access lines its worker wrote before it."""
    with Server({"shop": APP}, workers=2) as s:
        per_thread = 150

        def hammer():
            c = Client(s.port)
            for _ in range(per_thread):
                assert c.request("GET", "/shop/").status == 200
            c.close()
        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * SLOW)
        assert get(s.port, "/shop/fail").status == 500
        s.wait_log(r"shop GET /shop/fail 500 ")
        log = s.log()
        lines = log.splitlines()
        ok = [l for l in lines if " shop GET /shop/ 200 " in l]
        assert len(ok) == 6 * per_thread, len(ok)
        assert all(ACCESS_TEXT.match(l) for l in ok), [l for l in ok if not ACCESS_TEXT.match(l)][:3]
        assert all(ACCESS_TEXT.match(l) or " info " in l or " error " in l or " debug " in l for l in lines), \
            [l for l in lines if not (ACCESS_TEXT.match(l) or " info " in l or " error " in l)][:3]
        # The handler's error line is written before its request's access line.
        err = next(i for i, l in enumerate(lines) if "on purpose" in l)
        acc = next(i for i, l in enumerate(lines) if "GET /shop/fail 500" in l)
        assert err < acc, (err, acc)


run()
