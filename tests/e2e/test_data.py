#!/usr/bin/env python3
"""End-to-end tests of the app database as the server keeps it (core/db.c,
core/ldb.c): the SQL authorizer's refusals, one by one; the JSON coder held
to the request's budget; many writers on several workers with no
SQLITE_BUSY reaching anyone and every acknowledged write kept; and
durability: kill -9 under write load loses no write that was answered.
"""
import json
import os
import signal
import socket
import sqlite3
import sys
import textwrap
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, SLOW, query, sqlite_only  # noqa: E402
import pglib  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


SQL_APP = {"sql": {"app.lua": lua('''
    local app = borough.app { title = "SQL", mount = "/sql", public = true, limits = { instructions = 1000000 } }
    borough.entity "notes" { { "text", "text" } }
    -- Runs the body as one statement; answers the first row, or the error.
    app:post("/", { csrf = false }, function(req)
      local ok, row = pcall(db.one, req.body)
      if not ok then return borough.text(row, 400) end
      return borough.json(row or json.null)
    end)
    app:get("/platform", function(req)
      return borough.text(tostring(borough._platform()))     -- taken by the platform before app code ran
    end)
    app:get("/fan", function(req)
      local t = { "x" }
      for i = 1, 20 do t = { t, t } end       -- a million leaves, from twenty tables
      return borough.text(tostring(#json.encode(t)))
    end)
    app:get("/decode", function(req)
      local text = "[" .. string.rep("1,", 200000) .. "1]"
      return borough.text(tostring(#json.decode(text)))
    end)
    return app
''')}}


def sql(port, statement):
    c = Client(port)
    try:
        r = c.request("POST", "/sql/", {"Content-Type": "text/plain"}, statement)
        return r.status, r.body.decode()
    finally:
        c.close()


REFUSED = [
    ("ATTACH DATABASE '/tmp/other.db' AS other", "db: not authorized"),
    ("DETACH DATABASE main", "db: not authorized"),
    ("SELECT load_extension('/tmp/evil.so')", "db: not authorized to use function: load_extension"),
    ("VACUUM", "db: VACUUM is not allowed"),
    ("VACUUM INTO '/tmp/copy.db'", "db: VACUUM is not allowed"),
    ("  /* hidden */ vacuum into '/tmp/copy.db'", "db: VACUUM is not allowed"),
    ("PRAGMA journal_mode = DELETE", "db: not authorized"),
    ("PRAGMA foreign_keys = OFF", "db: not authorized"),
    ("PRAGMA writable_schema = ON", "db: not authorized"),
    ("PRAGMA synchronous = OFF", "db: not authorized"),
    ("PRAGMA main.cache_size = 1", "db: not authorized"),
    ("UPDATE sqlite_master SET sql = 'x' WHERE name = 'notes'", "db: table sqlite_master may not be modified"),
    ("DELETE FROM sqlite_schema", "db: table sqlite_master may not be modified"),
    ("INSERT INTO _borough_audit (at, who, entity, record_id, action) VALUES ('', 'me', 'notes', 1, 'create')",
     "db: not authorized"),
    ("UPDATE _borough_audit SET who = 'someone else'", "db: not authorized"),
    ("DELETE FROM _borough_audit", "db: not authorized"),
    ("DROP TABLE _borough_audit", "db: not authorized"),
    ("ALTER TABLE _borough_audit ADD COLUMN x", "db: not authorized"),
    ("CREATE TRIGGER t AFTER INSERT ON _borough_audit BEGIN SELECT 1; END", "db: not authorized"),
    ("CREATE TABLE _borough_mine (x)", "db: not authorized"),
    ("DELETE FROM _borough_migrations", "db: not authorized"),
    ("CREATE VIRTUAL TABLE s USING dbstat", "db: not authorized"),
    ("BEGIN", "db: transaction statements are not allowed; use db.tx(fn) for a transaction"),
    ("SELECT 1; SELECT 2", "db: only one SQL statement is allowed per call"),
]


@test
@sqlite_only
def the_authorizer_refuses_each_way_out():
    with Server(SQL_APP) as s:
        failures = []
        for statement, want in REFUSED:
            got = sql(s.port, statement)
            if got != (400, want):
                failures.append("%r: got %r, want %r" % (statement, got, (400, want)))
        assert not failures, "\n".join(failures)
        # Reads stay open: read-only pragmas, the schema, the platform's tables.
        assert sql(s.port, "PRAGMA foreign_keys") == (200, '{"foreign_keys":1}')
        assert sql(s.port, "PRAGMA journal_mode") == (200, '{"journal_mode":"wal"}')
        assert sql(s.port, "SELECT count(*) AS n FROM _borough_audit") == (200, '{"n":0}')
        assert sql(s.port, "SELECT name FROM sqlite_master WHERE name = 'notes'") == (200, '{"name":"notes"}')
        assert sql(s.port, "SELECT * FROM pragma_table_info('notes') WHERE name = 'text'")[0] == 200
        # The platform's private functions were handed out once, before app code ran.
        r = Client(s.port).get("/sql/platform")
        assert (r.status, r.text) == (200, "nil"), r
        # Nothing refused reached the files.
        assert not os.path.exists("/tmp/copy.db") or os.path.getmtime("/tmp/copy.db") < time.time() - 60


@test
@sqlite_only
def the_database_has_the_platform_settings():
    with Server(SQL_APP) as s:
        db = sqlite3.connect(os.path.join(s.data_dir, "sql", "app.db"))
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT name FROM _borough_entities").fetchall() == [("notes",)]
        db.close()
        assert sql(s.port, "PRAGMA synchronous") == (200, '{"synchronous":1}')        # NORMAL
        assert sql(s.port, "PRAGMA busy_timeout") == (200, '{"timeout":5000}')


@test
def json_work_counts_against_the_request_budget():
    with Server(SQL_APP) as s:
        c = Client(s.port)
        r = c.get("/sql/fan")
        assert r.status == 500, r
        s.wait_log(r"the code ran too many instructions \(limits\.instructions\)")
        r = Client(s.port).get("/sql/decode")
        assert r.status == 500, r
        assert s.log().count("the code ran too many instructions (limits.instructions)") == 2, s.log()


WRITE_APP = {"w": {"app.lua": lua('''
    local app = borough.app { title = "Writes", mount = "/w", public = true }
    local Entries = borough.entity "entries" {
      { "client", "integer", required = true },
      { "n", "integer", required = true },
      { "text", "text" },
    }
    app:post("/", { csrf = false }, function(req)
      local r, errors = Entries:create(req.form)
      if not r then return borough.json({ errors = errors }, 422) end
      return borough.json({ id = r.id })
    end)
    return app
''')}}


def writer(port, client, count, acked, failures, stop=None):
    """Posts count entries over one keep-alive connection; records the id
    of each one answered 200, and anything else as a failure."""
    try:
        c = Client(port, timeout=30)
        for n in range(count):
            if stop and stop.is_set():
                break
            r = c.post_form("/w/", {"client": client, "n": n, "text": "c%d n%d" % (client, n)})
            if r.status != 200:
                failures.append((client, n, r.status, r.body[:200]))
                continue
            acked.append((json.loads(r.body)["id"], client, n))
        c.close()
    except (OSError, EOFError, AssertionError) as e:
        if not (stop and stop.is_set()):
            failures.append((client, -1, repr(e), b""))


@test
def many_writers_on_four_workers_all_succeed():
    with Server(WRITE_APP, workers=4) as s:
        acked, failures = [], []
        threads = [threading.Thread(target=writer, args=(s.port, i, 40, acked, failures)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, failures[:5]
        assert len(acked) == 16 * 40
        path = os.path.join(s.data_dir, "w", "app.db")
        rows = {r["id"]: (r["client"], r["n"]) for r in query(path, "SELECT id, client, n FROM entries")}
        audits = query(path, "SELECT count(*) AS n FROM _borough_audit WHERE action = 'create'")[0]["n"]
        assert all(rows.get(i) == (c, n) for i, c, n in acked)
        assert len(rows) == len(acked) == audits
        log = s.log().lower()
        assert "busy" not in log and "locked" not in log


@test
def kill_9_under_write_load_keeps_every_answered_write():
    s = Server(WRITE_APP, workers=2, expect_exit=None)
    s.start()
    try:
        acked, failures, stop = [], [], threading.Event()
        threads = [threading.Thread(target=writer, args=(s.port, i, 100000, acked, failures, stop)) for i in range(6)]
        for t in threads:
            t.start()
        deadline = time.time() + 10 * SLOW
        while len(acked) < 300 and time.time() < deadline:
            time.sleep(0.01)
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        assert len(acked) >= 300, len(acked)
        assert not [f for f in failures if f[1] != -1], failures[:5]
        # A new server opens the database (recovering the WAL) and still has every answered write.
        s.stop()
        s.start()
        path = os.path.join(s.data_dir, "w", "app.db")
        rows = {r["id"]: (r["client"], r["n"]) for r in query(path, "SELECT id, client, n FROM entries")}
        if not pglib.shared():
            assert query(path, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
        missing = [(i, c, n) for i, c, n in acked if rows.get(i) != (c, n)]
        assert not missing, missing[:5]
        c = Client(s.port)
        assert c.post_form("/w/", {"client": 99, "n": 0}).status == 200
        c.close()
    finally:
        s.stop()


run()
