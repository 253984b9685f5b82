#!/usr/bin/env python3
"""End-to-end tests of hot reload (DESIGN.md, "App generation" and "Command
line"): `borough reload [APP] [--rollback]` over the control socket, SIGHUP,
`serve --watch`; versions refused for every kind of load failure while the
running one keeps serving; rollback to the snapshot of the last good
version; in-flight requests finishing on their own generation, which is then
freed; and a steady load across many reloads without one failed request.

Exact outputs throughout: the lines `borough reload` prints, its exit
status, the error text (the same `borough check` prints).
"""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import pglib  # noqa: E402
from lib import test, run, Server, Client, SLOW, BOROUGH, SANITIZED, metrics  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


def versioned(v, mount="/hello", extra=""):
    """An app whose every page says which version it is."""
    return lua('''
        local app = borough.app { public = true, title = "Hello", mount = "%s" }
        app:get("/", function(req) return "%s" end)
        app:get("/slow", function(req)
          log.info("slow request started")
          borough.sleep(0.6)
          return "%s"
        end)
        %s
        return app
    ''' % (mount, v, v, extra))


def reload(s, *args):
    return lib.reload(s.data_dir, *args)


def check(path):
    p = subprocess.run([BOROUGH, "check", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def write(s, rel, text):
    """Writes a file under the server's apps folder (atomically, as editors do)."""
    path = os.path.join(s.apps_dir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp~"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def body(port, path, host="127.0.0.1"):
    c = Client(port)
    try:
        r = c.request("GET", path, host=host)
        return r.status, r.body.decode()
    finally:
        c.close()


# ---- reload ----

@test
def reload_serves_the_new_version_once_the_command_returns():
    with Server({"hello": {"app.lua": versioned("v1")}}, workers=2) as s:
        assert body(s.port, "/hello/") == (200, "v1")
        write(s, "hello/app.lua", versioned("v2"))
        assert reload(s, "hello") == (0, "hello: reloaded (generation 2)\n", "")
        # Every worker has switched: new connections (spread over both) all see v2.
        for _ in range(20):
            assert body(s.port, "/hello/") == (200, "v2")
        s.wait_log(r"info  \[hello\] reloaded: generation 2 \(loaded in [\d.]+ ms\)")
        s.wait_log(r"info  reload: every worker serves the new catalog \([\d.]+ ms\)")


@test
def reload_of_all_apps_reloads_only_those_that_changed():
    beta = lua('''
        local app = borough.app { public = true, title = "Beta" }
        local count = 0        -- lives as long as this generation's state
        app:get("/count", function(req) count = count + 1 return tostring(count) end)
        return app
    ''')
    with Server({"alpha": {"app.lua": versioned("a1", "/alpha")}, "beta": {"app.lua": beta}}) as s:
        assert body(s.port, "/beta/count") == (200, "1")
        assert reload(s) == (0, "alpha: unchanged (generation 1)\nbeta: unchanged (generation 1)\n", "")
        write(s, "alpha/app.lua", versioned("a2", "/alpha"))
        assert reload(s) == (0, "alpha: reloaded (generation 2)\nbeta: unchanged (generation 1)\n", "")
        assert body(s.port, "/alpha/") == (200, "a2")
        # beta kept its Lua state: its counter goes on.
        assert body(s.port, "/beta/count") == (200, "2")
        # Reloading one app by name reloads it even unchanged, and only it.
        assert reload(s, "alpha") == (0, "alpha: reloaded (generation 3)\n", "")
        assert body(s.port, "/beta/count") == (200, "3")
        m = metrics(s.port)
        assert m['borough_app_generation{app="alpha"}'] == 3, m
        assert m['borough_app_generation{app="beta"}'] == 1, m
        assert m['borough_reloads_total{app="alpha"}'] == 2, m
        assert m['borough_reloads_total{app="beta"}'] == 0, m


@test
def new_folders_mount_and_removed_ones_unmount():
    with Server({"alpha": {"app.lua": versioned("a1", "/alpha")}}) as s:
        write(s, "gamma/app.lua", versioned("g1", "/gamma"))
        assert reload(s) == (0, "alpha: unchanged (generation 1)\ngamma: mounted at /gamma (generation 1)\n", "")
        assert body(s.port, "/gamma/") == (200, "g1")
        shutil.rmtree(os.path.join(s.apps_dir, "alpha"))
        assert reload(s) == (0, "alpha: unmounted\ngamma: unchanged (generation 1)\n", "")
        assert body(s.port, "/alpha/")[0] == 404
        home = body(s.port, "/")[1]
        assert 'href="/gamma/">Hello</a>' in home and "/alpha/" not in home, home
        # One new app by name.
        write(s, "delta/app.lua", versioned("d1", "/delta"))
        assert reload(s, "delta") == (0, "delta: mounted at /delta (generation 1)\n", "")
        assert body(s.port, "/delta/") == (200, "d1")
        status, out, err = reload(s, "nope")
        assert (status, out) == (1, ""), (status, out, err)
        assert err == "borough: there is no app nope (no %s/nope/app.lua)\n" % s.apps_dir, err


# Each kind of failure a new version can have, as (files, the error's pattern).
# The running version must keep serving, and the reason must name file:line.
FAILURES = {
    "syntax error": ({"app.lua": versioned("v2").replace("return app", "return app end")},
                     r"apps/hello/app\.lua:\d+: <eof> expected near 'end'"),
    "error at load": ({"app.lua": 'error("the database is not ready")\n'},
                      r"apps/hello/app\.lua:1: the database is not ready"),
    "bad route": ({"app.lua": versioned("v2", extra='app:get("/", function() end)')},
                  r"apps/hello/app\.lua:\d+:? route GET / is declared twice .*"),
    "no return app": ({"app.lua": 'local app = borough.app { public = true, mount = "/hello" }\n'},
                      r"apps/hello/app\.lua: must end with `return app`, the app made by borough\.app\{\.\.\.\}"),
    "bad manifest": ({"app.lua": 'local app = borough.app { mount = "/hello", public = "yes" }\nreturn app\n'},
                     r"apps/hello/app\.lua:1: borough\.app: public must be a boolean, not a string"),
    "broken module": ({"app.lua": 'local m = require "lib.money"\n' + versioned("v2"),
                       "lib/money.lua": "return {\n"},
                      r"apps/hello/lib/money\.lua:2: .*"),
    "bad template": ({"app.lua": versioned("v2"), "views/page.html": "<p>{% if x %}never closed</p>\n"},
                     r"apps/hello/views/page\.html:\d+: .*"),
    "endless loop at load": ({"app.lua": "while true do end\n"},
                             r"apps/hello/app\.lua:1: the code ran too many instructions .*"),
    "memory at load": ({"app.lua": 'local app = borough.app { public = true, mount = "/hello", limits = { memory = 4000000 } }\n'
                        'local t = {} for i = 1, 1e7 do t[i] = ("x"):rep(4096) .. i end\nreturn app\n'},
                       r"apps/hello/app\.lua: not enough memory while loading the app \(limits\.memory\)"),
}


@test
def a_broken_new_version_is_refused_and_the_old_one_keeps_serving():
    with Server({"hello": {"app.lua": versioned("v1")}}, workers=2) as s:
        failures = 0
        for kind, (files, why) in FAILURES.items():
            shutil.rmtree(os.path.join(s.apps_dir, "hello"))
            for rel, text in files.items():
                write(s, "hello/" + rel, text)
            status, out, err = reload(s, "hello")
            failures += 1
            # The reason is exactly what `borough check` says about the folder.
            cstatus, _, cerr = check(os.path.join(s.apps_dir, "hello"))
            assert cstatus == 1 and re.fullmatch(r"/\S*/%s\n" % why, cerr), (kind, cerr)
            assert (status, out) == (1, ""), (kind, status, out, err)
            assert err == cerr + "hello: not reloaded; generation 1 keeps serving\n", (kind, err, cerr)
            for _ in range(4):
                assert body(s.port, "/hello/") == (200, "v1"), kind
            s.wait_log(r"error \[hello\] /\S*/%s" % why)
            assert metrics(s.port)['borough_reload_failures_total{app="hello"}'] == failures, kind
        s.wait_log(r"warn  \[hello\] the new version was refused; generation 1 keeps serving")
        # And once it is fixed, it reloads.
        shutil.rmtree(os.path.join(s.apps_dir, "hello"))
        write(s, "hello/app.lua", versioned("v2"))
        assert reload(s) == (0, "hello: reloaded (generation 2)\n", "")
        assert body(s.port, "/hello/") == (200, "v2")
        m = metrics(s.port)
        assert m['borough_reloads_total{app="hello"}'] == 1 and m['borough_app_up{app="hello"}'] == 1, m


@test
def a_new_version_that_takes_another_apps_mount_is_refused():
    with Server({"alpha": {"app.lua": versioned("a1", "/alpha")},
                 "beta": {"app.lua": versioned("b1", "/beta")}}) as s:
        write(s, "beta/app.lua", versioned("b2", "/alpha"))
        status, out, err = reload(s)
        assert (status, out) == (1, "alpha: unchanged (generation 1)\n"), (status, out, err)
        assert err == ("%s/beta/app.lua: mount /alpha is already used by another app\n"
                       "beta: not reloaded; generation 1 keeps serving\n" % s.apps_dir), err
        assert body(s.port, "/alpha/") == (200, "a1")
        assert body(s.port, "/beta/") == (200, "b1")


@test
def a_new_app_that_does_not_load_is_unavailable_until_it_does():
    with Server({"alpha": {"app.lua": versioned("a1", "/alpha")}}) as s:
        write(s, "gamma/app.lua", "error('not yet')\n")
        status, out, err = reload(s, "gamma")
        assert (status, out) == (1, ""), (status, out, err)
        assert err == "%s/gamma/app.lua:1: not yet\ngamma: unavailable until it loads\n" % s.apps_dir, err
        assert body(s.port, "/gamma/")[0] == 503
        write(s, "gamma/app.lua", versioned("g1", "/gamma"))
        assert reload(s, "gamma") == (0, "gamma: reloaded (generation 1)\n", "")
        assert body(s.port, "/gamma/") == (200, "g1")


@test
def a_worker_that_cannot_build_the_judged_version_keeps_the_running_one_and_says_so():
    # The judging load is the first to run this app.lua; every later load
    # (the worker's) fails: a load that depends on the database's state.
    flaky = versioned("v2", extra='''
        db.exec("CREATE TABLE IF NOT EXISTS loads (n INTEGER)")
        db.exec("INSERT INTO loads VALUES (1)")
        if db.one("SELECT count(*) AS n FROM loads").n > 1 then error("not the first load") end
    ''')
    with Server({"hello": {"app.lua": versioned("v1")}}) as s:
        write(s, "hello/app.lua", flaky)
        status, out, err = reload(s, "hello")
        assert (status, out) == (1, "hello: reloaded (generation 2)\n"), (status, out, err)
        assert err == ("borough: a worker could not load a new version and kept the running one; "
                       "see the server's log\n"), err
        assert body(s.port, "/hello/") == (200, "v1")
        s.wait_log(r"error \[hello\] worker 1 could not load the new version \(\S+/hello/app\.lua:\d+: "
                   r"not the first load\); it keeps the running one")
        assert metrics(s.port)['borough_reload_failures_total{app="hello"}'] == 1


# ---- rollback ----

def three_part(v):
    """app.lua, a module and a view, all saying v."""
    return {
        "app.lua": lua('''
            local app = borough.app { public = true, title = "Hello", mount = "/hello" }
            local words = require "lib.words"
            app:get("/", function(req) return borough.view("page", { word = words.word }) end)
            return app
        '''),
        "lib/words.lua": 'return { word = "module %s" }\n' % v,
        "views/page.html": "<p>{{ word }}, view %s</p>\n" % v,
    }


@test
def rollback_returns_to_the_previous_version_even_when_its_files_are_gone():
    with Server({"hello": three_part("v1")}) as s:
        assert body(s.port, "/hello/") == (200, "<p>module v1, view v1</p>\n")
        for rel, text in three_part("v2").items():
            write(s, "hello/" + rel, text)
        assert reload(s, "hello") == (0, "hello: reloaded (generation 2)\n", "")
        assert body(s.port, "/hello/") == (200, "<p>module v2, view v2</p>\n")
        # The disk now holds a broken v3 nobody reloaded: rollback still
        # returns to v1's code, module and view (its snapshot).
        write(s, "hello/app.lua", "this is not Lua\n")
        os.remove(os.path.join(s.apps_dir, "hello/lib/words.lua"))
        assert reload(s, "hello", "--rollback") == (0, "hello: rolled back to generation 1\n", "")
        assert body(s.port, "/hello/") == (200, "<p>module v1, view v1</p>\n")
        # Rolling back again returns to the version rolled back from.
        assert reload(s, "hello", "--rollback") == (0, "hello: rolled back to generation 2\n", "")
        assert body(s.port, "/hello/") == (200, "<p>module v2, view v2</p>\n")
        m = metrics(s.port)
        assert m['borough_app_generation{app="hello"}'] == 2 and m['borough_reloads_total{app="hello"}'] == 3, m
        s.wait_log(r"info  \[hello\] rolled back to generation 1")


@test
def rollback_needs_an_earlier_version_and_an_app():
    with Server({"hello": {"app.lua": versioned("v1")}}) as s:
        assert reload(s, "hello", "--rollback") == (1, "", "hello: there is no earlier version to roll back to\n")
        assert reload(s, "nope", "--rollback") == (1, "", "borough: there is no app nope\n")
        status, out, err = reload(s, "--rollback")
        assert (status, out) == (2, ""), (status, out, err)
        assert err.startswith("borough reload: --rollback needs the APP to roll back\nusage: borough reload"), err
        # A refused version is not a version to roll back to.
        write(s, "hello/app.lua", "error('no')\n")
        assert reload(s, "hello")[0] == 1
        assert reload(s, "hello", "--rollback")[0] == 1
        assert body(s.port, "/hello/") == (200, "v1")


PEOPLE_APP = lua('''
    local app = borough.app { title = "People", mount = "/people", public = true }
    local M = require "models"
    app:get("/", function(req) return "version " .. VERSION .. ", " .. M.People:count() .. " people" end)
    return app
''')


def people_models(version, extra_field=""):
    return lua('''
        VERSION = "%s"
        local M = {}
        M.People = borough.entity "people" {
          { "name", "text", required = true },%s
        }
        return M
    ''') % (version, extra_field)


@test
def a_failing_migration_is_refused_and_rollback_crosses_a_migration():
    with Server({"people": {"app.lua": PEOPLE_APP, "models.lua": people_models("1")}}, workers=2) as s:
        assert body(s.port, "/people/") == (200, "version 1, 0 people")
        # v2: a new field and a migration that runs.
        write(s, "people/models.lua", people_models("2", '\n  { "phone", "text" },'))
        write(s, "people/migrations/001_index.sql", "CREATE INDEX people_name ON people (name);\n")
        assert reload(s, "people") == (0, "people: reloaded (generation 2)\n", "")
        assert body(s.port, "/people/") == (200, "version 2, 0 people")
        s.wait_log(r"info  \[people\] applied 1 migration")
        # v3: a migration that fails is refused; nothing of it is applied.
        write(s, "people/migrations/002_bad.sql", "CREATE TABLE extra (x INTEGER);\nSELECT nope FROM people;\n")
        status, out, err = reload(s, "people")
        assert (status, out) == (1, ""), (status, out, err)
        why = 'column "nope" does not exist' if pglib.shared() else "no such column: nope"
        assert err == ("%s/people/migrations/002_bad.sql:2: %s\n"
                       "people: not reloaded; generation 2 keeps serving\n" % (s.apps_dir, why)), err
        assert body(s.port, "/people/") == (200, "version 2, 0 people")
        # Rollback to v1 across the applied migration: v1 is judged again
        # against the database as it is, and serves.
        assert reload(s, "people", "--rollback") == (0, "people: rolled back to generation 1\n", "")
        assert body(s.port, "/people/") == (200, "version 1, 0 people")
        s.wait_log(r"warn  \[people\] \S+/models\.lua:\d+: people\.phone is in the database but not declared")
        assert reload(s, "people", "--rollback") == (0, "people: rolled back to generation 2\n", "")
        assert body(s.port, "/people/") == (200, "version 2, 0 people")


# ---- generations ----

@test
def in_flight_requests_finish_on_their_generation_which_is_then_freed():
    with Server({"hello": {"app.lua": versioned("v1")}}) as s:
        assert metrics(s.port)['borough_generations_loaded{app="hello"}'] == 1
        slow = {}

        def ask():
            slow["answer"] = body(s.port, "/hello/slow")
        t = threading.Thread(target=ask)
        t.start()
        s.wait_log(r"slow request started")
        write(s, "hello/app.lua", versioned("v2"))
        assert reload(s, "hello") == (0, "hello: reloaded (generation 2)\n", "")
        assert body(s.port, "/hello/") == (200, "v2")
        # v1 is retired but still holds the slow request: two generations.
        assert metrics(s.port)['borough_generations_loaded{app="hello"}'] == 2
        t.join(10 * SLOW)
        assert slow["answer"] == (200, "v1"), slow
        # Its last request ended: v1 was freed.
        assert metrics(s.port)['borough_generations_loaded{app="hello"}'] == 1


# ---- other ways to reload ----

@test
def sighup_reloads_the_apps_that_changed():
    with Server({"hello": {"app.lua": versioned("v1")}}) as s:
        write(s, "hello/app.lua", versioned("v2"))
        s.signal(signal.SIGHUP)
        s.wait_log(r"info  SIGHUP: reloading the apps that changed")
        s.wait_log(r"info  reload: every worker serves the new catalog")
        assert body(s.port, "/hello/") == (200, "v2")
        write(s, "hello/app.lua", "error('no')\n")
        s.signal(signal.SIGHUP)
        s.wait_log(r"warn  \[hello\] the new version was refused; generation 2 keeps serving")
        assert body(s.port, "/hello/") == (200, "v2")


@test
def watch_reloads_on_change():
    with Server({"hello": {"app.lua": versioned("v1")}}, args=["--watch"]) as s:
        s.wait_log(r"info  watching \S+: changes reload the apps")

        def wait_for(path, want):
            deadline = time.time() + 10 * SLOW
            while time.time() < deadline:
                got = body(s.port, path)
                if got == want:
                    return
                time.sleep(0.05)
            raise AssertionError("%s never answered %r (last %r)\n%s" % (path, want, got, s.log()))
        write(s, "hello/app.lua", versioned("v2"))
        wait_for("/hello/", (200, "v2"))
        # A module in a subfolder, and a new app folder.
        write(s, "hello/lib/x.lua", "return 1\n")
        write(s, "gamma/app.lua", versioned("g1", "/gamma"))
        wait_for("/gamma/", (200, "g1"))
        write(s, "gamma/lib/deep/word.lua", 'return "deep"\n')
        write(s, "gamma/app.lua", versioned("g2", "/gamma", 'local w = require "lib.deep.word"'))
        wait_for("/gamma/", (200, "g2"))


# ---- the control socket ----

def control(s, data, read=True):
    return lib.control(s.data_dir, data, read)


@test
def the_control_socket_is_private_and_removed_at_stop():
    s = Server({"hello": {"app.lua": versioned("v1")}}).start()
    path = os.path.join(s.data_dir, "control.sock")
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert s.stop() == 0
    assert not os.path.exists(path)
    status, out, err = reload(s)
    assert (status, out) == (1, ""), (status, out, err)
    assert err == ("borough reload: no server is running with the data folder %s (%s: No such file or directory)\n"
                   % (s.data_dir, path)), err
    shutil.rmtree(s.tmp)


@test
def a_socket_left_by_a_dead_server_is_replaced_and_a_live_one_is_not():
    s = Server({"hello": {"app.lua": versioned("v1")}})
    os.makedirs(s.data_dir)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.path.join(s.data_dir, "control.sock"))
    stale.close()                        # the file stays, nobody listens
    with s:
        assert reload(s, "hello")[0] == 0
        cmd = [BOROUGH, "serve", s.apps_dir, "--listen", "127.0.0.1:0", "--data", s.data_dir]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SLOW)
        assert p.returncode == 1, p.stdout
        assert re.search(rb"error another borough is running with this data folder \(\S+/control\.sock answers\)",
                         p.stdout), p.stdout
        assert body(s.port, "/hello/") == (200, "v1")


@test
def bad_input_on_the_control_socket_is_answered_and_harmless():
    with Server({"hello": {"app.lua": versioned("v1")}}) as s:
        usage = b"err borough: unknown request (expected reload [APP], rollback APP or status)\nexit 2\n"
        assert control(s, b"\n") == usage
        assert control(s, b"hello\n") == usage
        assert control(s, b"reload a b\n") == usage
        assert control(s, b"rollback\n") == usage
        assert control(s, b"reload ../etc\n") == b"err borough: ../etc is not an app name\nexit 2\n"
        assert control(s, b"reload \x00x\n") == b"err borough: the request line holds a NUL byte\nexit 2\n"
        assert control(s, b"x" * 5000) == b"err borough: the request line is longer than 1024 bytes\nexit 2\n"
        assert control(s, bytes(range(1, 256)) + b"\n").startswith(b"err borough: ")
        control(s, b"reload", read=False)          # a client that leaves half-way
        control(s, b"", read=False)
        # Many at once, silent (50: fewer than the 64 clients it serves at
        # once, more than a small listen backlog would hold while the loop
        # is busy): the server keeps serving and reloading.
        idle = []
        for _ in range(50):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(os.path.join(s.data_dir, "control.sock"))
            idle.append(c)
        assert control(s, b"reload hello\r\n") == b"out hello: reloaded (generation 2)\nexit 0\n"
        for c in idle:
            c.close()
        assert body(s.port, "/hello/") == (200, "v1")
        assert reload(s) == (0, "hello: unchanged (generation 2)\n", "")


# ---- the steady load ----

@test
def a_steady_load_across_many_reloads_sees_no_failure():
    """Client threads keep asking (keep-alive and new connections) while the
    app is reloaded over and over with alternating code. Every answer must
    be a 200 from v1 or v2, never an error; and every request sent after a
    reload command has returned must see the version it installed."""
    reloads = 12 if SANITIZED else 40
    with Server({"hello": {"app.lua": versioned("v1")}}, workers=2) as s:
        stop = threading.Event()
        lock = threading.Lock()
        seen = []            # (time sent, answer)
        errors = []

        def client(keep_alive):
            c = None
            while not stop.is_set():
                try:
                    if c is None:
                        c = Client(s.port)
                    sent = time.monotonic()
                    r = c.request("GET", "/hello/")
                    with lock:
                        seen.append((sent, r.status, r.body.decode()))
                    if not keep_alive:
                        c.close()
                        c = None
                except Exception as e:          # any connection error fails the test
                    errors.append(repr(e))
                    c = None
            if c:
                c.close()
        threads = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(4)]
        for t in threads:
            t.start()
        done = []            # (time the command returned, version now serving)
        begun = []           # when each reload began
        try:
            for i in range(reloads):
                v = "v2" if i % 2 == 0 else "v1"
                begun.append(time.monotonic())
                write(s, "hello/app.lua", versioned(v))
                status, out, err = reload(s, "hello")
                assert (status, out, err) == (0, "hello: reloaded (generation %d)\n" % (i + 2), ""), (status, out, err)
                done.append((time.monotonic(), v))
                time.sleep(0.02)
        finally:
            stop.set()
            for t in threads:
                t.join(30 * SLOW)
        assert not errors, errors[:5]
        assert len(seen) > reloads * 4, len(seen)
        bad = [x for x in seen if x[1] != 200 or x[2] not in ("v1", "v2")]
        assert not bad, bad[:5]
        # After reload k returned and before reload k+1 began, only its version.
        stale = []
        for (returned, v), next_start in zip(done, begun[1:] + [float("inf")]):
            for sent, _, got in seen:
                if returned < sent < next_start and got != v:
                    stale.append((v, got, sent - returned))
        assert not stale, stale[:5]
        s.wait_log(r"info  reload: every worker serves the new catalog")
        assert "error" not in s.log().replace("reload_failures", ""), s.log()[-3000:]


run()
