#!/usr/bin/env python3
"""`borough migrate-to-postgres`: a SQLite installation with real app data
(records with encrypted fields, blind indexes and a search index, the
app's audit trail, queued jobs, the Notify outbox, staff accounts and their
sessions, the platform audit log, an API token) moved into PostgreSQL while
its server runs, then served from PostgreSQL: the same records read back
through HTTP, decrypted the same, found by the same searches, and the
platform audit log still verifies. A tampered source and a target that
already holds data are refused with one line. And apps/shielding, with a
generated list imported on SQLite: its export is the same file for file
before and after the move.

The source is SQLite whatever the run; the target is the cluster of a
`make test-postgres` run, or a throwaway one of its own under `make test`."""
import atexit
import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pglib
from lib import BOROUGH, Client, Server, post_json, run, test
from ssolib import Browser

if not pglib.shared():
    _own = pglib.Cluster().start()
    atexit.register(_own.close)
    os.environ["BOROUGH_TEST_PG"] = _own.path
    os.environ.update(_own.env())
CLUSTER = pglib.shared()

MODELS = '''
local M = {}
M.teams = borough.entity "teams" { { "name", "text", required = true } }
M.residents = borough.entity "residents" {
  search = { "name", "notes" },
  { "name", "text", required = true },
  { "nhs_number", "nhs_number", encrypted = true, lookup = true, unique = true },
  { "notes", "text" },
  { "grant", "money" },
  { "shielding", "boolean" },
  { "team", "reference", to = "teams" },
}
return M
'''

APP = '''
local app = borough.app { title = "Shield", mount = "/shield", public = true }
local m = require "models"
app:post("/teams", { csrf = false }, function(req) return borough.json(m.teams:create(json.decode(req.body))) end)
app:post("/residents", { csrf = false }, function(req)
  local r, errors = m.residents:create(json.decode(req.body))
  if not r then return borough.json({ errors = errors }, 422) end
  return borough.json(r)
end)
app:post("/residents/:id", { csrf = false }, function(req)
  return borough.json(m.residents:update(req.params.id, json.decode(req.body)))
end)
app:get("/residents/:id", function(req)
  local r = m.residents:find(req.params.id)
  if not r then return borough.status(404) end
  return borough.json(r)
end)
app:get("/by-nhs/:n", function(req)
  local list = m.residents:where({ nhs_number = req.params.n })
  local ids = json.array({})
  for i, r in ipairs(list) do ids[i] = r.id end
  return borough.json(ids)
end)
app:get("/search", function(req)
  local ids = json.array({})
  for i, r in ipairs(m.residents:search(req.query.q)) do ids[i] = r.id end
  return borough.json(ids)
end)
app:get("/history/:id", function(req) return borough.json(m.residents:history(req.params.id)) end)
app:get("/me", function(req) return borough.text(req.user and req.user.email or "anonymous") end)
app:job("remind", function(args) end)
app:post("/remind", { csrf = false }, function(req)
  return borough.json({ id = jobs.enqueue("remind", json.decode(req.body), { delay = 86400 }) })
end)
app:post("/tell", { csrf = false }, function(req)
  notify.email { email_address = "someone@example.com", template_id = "f33517ff-2a88-4f6e-b855-c550268ce08a",
                 personalisation = { name = "x" } }
  return borough.json({ ok = true })
end)
return app
'''

PASSWORD = "correct horse battery staple"
PEOPLE = [
    {"name": "Ada Lovelace", "nhs_number": "9434765919", "notes": "Needs a food parcel", "grant": "\u00a31,250.50",
     "shielding": "yes", "team": 1},
    {"name": "Zo\u00eb \u00c5ngstr\u00f6m", "nhs_number": "4010232137", "notes": "Line one; \"quoted\" two", "grant": "-5",
     "shielding": "no", "team": 2},
    {"name": "Grace Hopper", "nhs_number": "4857773457"},
]


def apps_dir(tmp):
    d = os.path.join(tmp, "apps", "shield")
    os.makedirs(d)
    with open(os.path.join(d, "app.lua"), "w") as f:
        f.write(APP)
    with open(os.path.join(d, "models.lua"), "w") as f:
        f.write(MODELS)
    return os.path.join(tmp, "apps")


class SQLiteServer(Server):
    """A server on SQLite files, whatever engine the run tests."""

    def start(self):
        saved = os.environ.pop("BOROUGH_TEST_PG", None)
        try:
            return super().start()
        finally:
            if saved:
                os.environ["BOROUGH_TEST_PG"] = saved


def borough(*args):
    return subprocess.run([BOROUGH] + list(args), capture_output=True, text=True, timeout=300)


def post(port, path, doc):
    r = post_json(port, path, doc)
    assert r.status == 200, (path, r)
    return json.loads(r.body)


def seed(s):
    for name in ("North", "South"):
        post(s.port, "/shield/teams", {"name": name})
    for p in PEOPLE:
        post(s.port, "/shield/residents", p)
    post(s.port, "/shield/residents/3", {"notes": "Moved to sheltered housing"})
    post(s.port, "/shield/remind", {"resident": 1})
    post(s.port, "/shield/remind", {"resident": 2})
    post(s.port, "/shield/tell", {})


def read_all(port):
    c = Client(port)
    try:
        out = {}
        for i in (1, 2, 3):
            r = c.get("/shield/residents/%d" % i)
            assert r.status == 200, r
            out[i] = json.loads(r.body)
        for q in ("lovelace", "parcel", "sheltered", "zoe"):
            out[q] = json.loads(c.get("/shield/search?q=" + q).body)
        out["nhs"] = json.loads(c.get("/shield/by-nhs/4010232137").body)
        out["history"] = json.loads(c.get("/shield/history/3").body)
        return out
    finally:
        c.close()


NOTES = '''
local app = borough.app { title = "Notes", mount = "/alpha", public = true }
local Notes = borough.entity "notes" { { "text", "text" } }
app:post("/", { csrf = false }, function(req) return borough.json(Notes:create(json.decode(req.body))) end)
return app
'''


def installation(second=False):
    """A SQLite installation with data: (tmp, apps, the server still running).
    second: with another app, alpha, moved before shield."""
    tmp = os.path.join(CLUSTER.path, "mv-%d" % len(os.listdir(CLUSTER.path)))
    os.makedirs(tmp)
    apps = apps_dir(tmp)
    if second:
        os.makedirs(os.path.join(apps, "alpha"))
        with open(os.path.join(apps, "alpha", "app.lua"), "w") as f:
            f.write(NOTES)
    s = SQLiteServer(apps).start()
    seed(s)
    if second:
        post(s.port, "/alpha/", {"text": "kept once"})
    path = os.path.join(tmp, "password")
    with open(path, "w") as f:
        f.write(PASSWORD + "\n")
    p = borough("user", "add", "jo@example.gov.uk", "--name", "Jo Bloggs", "--password-file", path, "--data", s.data_dir)
    assert p.returncode == 0, p
    return tmp, apps, s


def sqlite_rows(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@test
def a_running_sqlite_installation_moves_into_postgresql_and_serves_the_same():
    tmp, apps, s = installation()
    try:
        token = borough("token", "create", "shield", "--entities", "residents", "--name", "feed", "--data", s.data_dir)
        assert token.returncode == 0, token
        jo = Browser(s.port)
        r = jo.sign_in_password("jo@example.gov.uk", PASSWORD, "/shield")
        assert r.status == 303, r
        assert jo.request("GET", "/shield/me").body == b"jo@example.gov.uk"
        before = read_all(s.port)
        assert before["lovelace"] == [1] and before["nhs"] == [2] and before[1]["nhs_number"] == "9434765919", before
        url = CLUSTER.new_database()
        # While the server still runs (it is read through one snapshot).
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps)
        assert p.returncode == 0, p
        assert re.search(r"^moved shield: \d+ tables, \d+ rows, the same on both sides$", p.stdout, re.M), p.stdout
        assert "moved the platform:" in p.stdout and "its audit log verifies" in p.stdout, p.stdout
        assert p.stdout.rstrip().endswith("put them on storage every node shares)"), p.stdout
        s.stop()
        # What is stored moved as stored: sealed values and blind indexes byte for byte.
        src = os.path.join(s.data_dir, "shield", "app.db")
        db = pglib.name_of(url)
        sealed = sqlite_rows(src, "SELECT id, nhs_number, nhs_number__blind FROM residents ORDER BY id")
        moved = CLUSTER.query(db, "SELECT id, nhs_number, nhs_number__blind FROM residents ORDER BY id",
                              schema="app_shield")
        assert [(r["id"], r["nhs_number"], r["nhs_number__blind"]) for r in moved] == \
            [(i, bytes(v) if isinstance(v, bytes) else v, k) for i, v, k in sealed], (moved, sealed)
        for table in ("_borough_audit", "_borough_jobs", "_borough_outbox"):
            n = sqlite_rows(src, "SELECT count(*) FROM " + table)[0][0]
            assert n > 0 and CLUSTER.query(db, "SELECT count(*) AS n FROM " + table, schema="app_shield") == [{"n": n}], table
        for table in ("users", "sessions", "api_tokens", "platform_audit"):
            n = sqlite_rows(os.path.join(s.data_dir, "borough.db"), "SELECT count(*) FROM " + table)[0][0]
            got = CLUSTER.query(db, "SELECT count(*) AS n FROM " + table, schema="borough")[0]["n"]
            assert got == n + (table == "platform_audit"), (table, n, got)      # + the move's own row
        # Served from PostgreSQL with the same data folder (its keys).
        with open(os.path.join(s.data_dir, "site.conf"), "a") as f:
            f.write("database = %s\n" % url)
        pg = Server(apps)
        shutil.rmtree(pg.tmp)
        pg.tmp, pg.data_dir = s.tmp, s.data_dir
        pg.log_path = os.path.join(s.tmp, "server-pg.log")
        pg.start()
        try:
            assert "database: postgresql" in pg.log(), pg.log()
            after = read_all(pg.port)
            assert after == before, (before, after)
            # The session made on SQLite is good on PostgreSQL.
            jo.port = pg.port
            assert jo.request("GET", "/shield/me").body == b"jo@example.gov.uk"
            # New records get new ids after the moved ones.
            r = post_json(pg.port, "/shield/residents", {"name": "Alan Turing", "nhs_number": "9434765919"})
            assert (r.status, json.loads(r.body)) == (422, {"errors": {
                "nhs_number": "A resident with this NHS number already exists"}}), r    # found by its blind index
            r = post(pg.port, "/shield/residents", {"name": "Alan Turing"})
            assert r["id"] == 4, r
            r = post(pg.port, "/shield/teams", {"name": "East"})
            assert r["id"] == 3, r
        finally:
            pg.stop()
        v = borough("audit", "verify", "--data", s.data_dir)
        assert v.returncode == 0 and v.stdout.startswith("the audit log is intact:"), v
        last = CLUSTER.query(db, "SELECT action, detail FROM platform_audit WHERE action = ?", "migrate-to-postgres",
                             schema="borough")
        assert last == [{"action": "migrate-to-postgres", "detail": "from=%s apps=1 rows=%d" % (
            s.data_dir, int(re.search(r"\((\d+) rows\) from", p.stdout).group(1)))}], last
        # Moving again into the same database is refused: it holds data now.
        again = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps)
        assert again.returncode == 1 and again.stderr.count("\n") == 1, again
        assert again.stderr.startswith("borough migrate-to-postgres: the database already holds data ("), again.stderr
    finally:
        s.stop()


@test
def a_tampered_source_audit_log_moves_nothing():
    tmp, apps, s = installation()
    try:
        s.stop()
        db = sqlite3.connect(os.path.join(s.data_dir, "borough.db"))
        db.execute("DROP TRIGGER platform_audit_no_update")
        db.execute("UPDATE platform_audit SET who = 'someone else' WHERE id = 1")
        db.commit()
        db.close()
        url = CLUSTER.new_database()
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps)
        assert p.returncode == 1 and p.stdout == "", p
        assert p.stderr == ("borough migrate-to-postgres: %s/borough.db: the platform audit log has been tampered "
                            "with: row 1 does not match its hash (edited, or inserted by hand); nothing moved\n"
                            % s.data_dir), p.stderr
        assert CLUSTER.query(pglib.name_of(url), "SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE 'app_%'") \
            == [{"n": 0}]
    finally:
        s.stop()


@test
def a_failure_leaves_the_part_unmoved_and_the_usage_is_checked():
    tmp, apps, s = installation(second=True)
    try:
        s.stop()
        url = CLUSTER.new_database()
        # The app's code is needed to make its tables: without it, nothing moves.
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", os.path.join(tmp, "none"))
        assert p.returncode == 1 and p.stderr.startswith(
            "borough migrate-to-postgres: %s/alpha/app.db has no app to load: " % s.data_dir), p
        assert CLUSTER.query(pglib.name_of(url), "SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE 'app_%'") \
            == [{"n": 0}]
        p = borough("migrate-to-postgres", "--data", s.data_dir)
        assert p.returncode == 2 and "needs --database" in p.stderr, p
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", "mysql://x/y")
        assert p.returncode in (1, 2) and p.stderr.startswith("borough"), p
        # A value PostgreSQL refuses (text where the declarations now want a number) stops that part whole.
        db = sqlite3.connect(os.path.join(s.data_dir, "shield", "app.db"))
        db.execute("UPDATE residents SET \"grant\" = 'lots' WHERE id = 2")
        db.commit()
        db.close()
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps)
        assert p.returncode == 1 and p.stderr.startswith(
            "borough migrate-to-postgres: shield: residents rows 1 to 3: invalid input syntax for type bigint: \"lots\""), p
        assert p.stdout.startswith("moved alpha: "), p          # the part before it stays moved
        db = pglib.name_of(url)
        assert CLUSTER.query(db, "SELECT count(*) AS n FROM residents", schema="app_shield") == [{"n": 0}]
        assert CLUSTER.query(db, "SELECT count(*) AS n FROM users", schema="borough") == [{"n": 0}]
        # Mended, it moves again only when told to replace what the first run moved.
        mend = sqlite3.connect(os.path.join(s.data_dir, "shield", "app.db"))
        mend.execute("UPDATE residents SET \"grant\" = -500 WHERE id = 2")
        mend.commit()
        mend.close()
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps)
        assert (p.returncode, p.stderr) == (1, "borough migrate-to-postgres: the database already holds data (alpha: "
                                               "_borough_audit has 1 row): move into an empty database, or give --replace\n"), p
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps, "--replace")
        assert p.returncode == 0 and "moved 2 apps and the platform" in p.stdout, p
        assert CLUSTER.query(db, "SELECT text FROM notes", schema="app_alpha") == [{"text": "kept once"}]
        assert CLUSTER.query(db, "SELECT count(*) AS n FROM residents", schema="app_shield") == [{"n": 3}]
        p = borough("migrate-to-postgres", "--data", s.data_dir, "--database", url, "--apps", apps, "--replace")
        assert p.returncode == 1 and "(the platform audit log is append-only)" in p.stderr, p
    finally:
        s.stop()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@test
def the_shielding_app_exports_the_same_before_and_after_the_move():
    """apps/shielding with 5100 residents of the generated government list
    (encrypted NHS numbers and phones, blind indexes, the search index; more
    than a page of bo_db_scan): its export from SQLite and its export from
    PostgreSQL after the move, values decrypted with the same keys, are the
    same file for file."""
    tmp = os.path.join(CLUSTER.path, "mv-shielding")
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), "5100", "--seed", "5"],
                         stdout=subprocess.PIPE, check=True)
    listing = os.path.join(tmp, "list.csv")
    with open(listing, "wb") as f:
        f.write(gen.stdout)
    apps = os.path.join(ROOT, "apps")
    p = borough("import", os.path.join(apps, "shielding"), "residents", listing, "--data", data)
    assert p.returncode == 0 and p.stdout.startswith("imported 5100 residents"), p
    p = borough("export", "shielding", os.path.join(tmp, "before"), "--data", data)
    assert p.returncode == 0, p
    url = CLUSTER.new_database()
    p = borough("migrate-to-postgres", "--data", data, "--database", url, "--apps", apps)
    assert p.returncode == 0 and "moved shielding: " in p.stdout, p
    with open(os.path.join(data, "site.conf"), "a") as f:
        f.write("database = %s\n" % url)
    p = borough("export", "shielding", os.path.join(tmp, "after"), "--data", data)
    assert p.returncode == 0 and "a backup of the schema app_shielding" in p.stdout, p
    before, after = os.path.join(tmp, "before"), os.path.join(tmp, "after")
    names = sorted(n for n in os.listdir(before) if n.endswith(".csv"))
    assert "residents.csv" in names and names == sorted(n for n in os.listdir(after) if n.endswith(".csv")), names
    for name in names:
        with open(os.path.join(before, name), "rb") as a, open(os.path.join(after, name), "rb") as b:
            assert a.read() == b.read(), name
    with open(os.path.join(after, "residents.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 5101 and re.match(r"^\d{10}$", rows[1][1]) and rows[1][7].startswith("0"), rows[:2]      # opened
    manifest = [json.load(open(os.path.join(d, "manifest.json"))) for d in (before, after)]
    assert manifest[0]["entities"] == manifest[1]["entities"], manifest
    shutil.rmtree(tmp)


run()
