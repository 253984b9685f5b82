#!/usr/bin/env python3
"""Memory across reloads: a server whose app is reloaded 1,000 times (with
alternating code, under a light load) must come back to the resident
memory it had after its first reloads, within a small bound. A generation
that was never freed (a Lua state is about 0.3 MiB here, and each reload
makes one per worker plus the main thread's) would add hundreds of MiB.

The bound: the resident size is measured after 50 warm-up reloads, when
the allocator's arenas (one per thread that loads: the main thread and
libuv's pool threads) have reached their working size, and again after
1,000 more. It may grow by at most 4 MiB: the allocator's arenas keep some
free memory, and glibc does not return all of it, which showed as 0.2 to
1.5 MiB of growth on the machines measured (docs/performance.md). Under
the sanitizers, whose allocator keeps freed memory in quarantine, resident
size means nothing: there the test runs 100 reloads and relies on the leak
checker at exit and on the count of loaded generations.
"""
import os
import sys
import textwrap
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, SLOW, SANITIZED, control  # noqa: E402

RELOADS = 100 if SANITIZED else 1000
WARMUP = 50
BOUND_KIB = 4 * 1024


def app_files(v):
    """A small app of a few modules and a view, so a reload has real work."""
    return {
        "app.lua": textwrap.dedent('''
            local app = borough.app { public = true, title = "Mem", mount = "/mem" }
            local cases = require "lib.cases"
            local words = require "lib.words"
            for i = 1, 20 do
              app:get("/r" .. i .. "/:id", function(req) return cases.show(req.params.id) end)
            end
            app:get("/", function(req) return borough.view("page", { word = words.word, n = #cases.list }) end)
            return app
        '''),
        "lib/cases.lua": "local M = { list = {} }\nfor i = 1, 500 do M.list[i] = { id = i, name = 'case ' .. i } end\n"
                         "function M.show(id) return 'case ' .. id end\nreturn M\n",
        "lib/words.lua": 'return { word = "%s" }\n' % v,
        "views/page.html": "<p>{{ word }} of {{ n }}</p>\n",
    }


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def write_version(s, v):
    path = os.path.join(s.apps_dir, "mem", "lib", "words.lua")
    with open(path + ".tmp", "w") as f:
        f.write('return { word = "%s" }\n' % v)
    os.replace(path + ".tmp", path)


@test
def resident_memory_comes_back_after_1000_reloads():
    with Server({"mem": app_files("v0")}, workers=2, args=["--no-access-log"]) as s:
        stop = threading.Event()
        failures = []

        def load():
            c = Client(s.port)
            while not stop.is_set():
                r = c.request("GET", "/mem/")
                if r.status != 200:
                    failures.append(r)
                stop.wait(0.005)
            c.close()
        t = threading.Thread(target=load)
        t.start()
        try:
            start = rss_kib(s.proc.pid)
            for i in range(WARMUP + RELOADS):
                if i == WARMUP:
                    warm = rss_kib(s.proc.pid)
                write_version(s, "v%d" % (i % 2))
                out = control(s.data_dir, b"reload mem\n").decode()
                assert out == "out mem: reloaded (generation %d)\nexit 0\n" % (i + 2), out
            end = rss_kib(s.proc.pid)
        finally:
            stop.set()
            t.join(30 * SLOW)
        assert not failures, failures[:3]
        print("  resident KiB: at start %d, after %d reloads %d, after %d more %d (%+d)"
              % (start, WARMUP, warm, RELOADS, end, end - warm))
        c = Client(s.port)
        text = c.request("GET", "/metrics").body.decode()
        c.close()
        # One generation per worker: every replaced one was freed.
        assert 'borough_generations_loaded{app="mem"} 2\n' in text, text
        if not SANITIZED:
            assert end - warm <= BOUND_KIB, (start, warm, end)


run()
